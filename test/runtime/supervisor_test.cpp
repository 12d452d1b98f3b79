#include <catch2/catch.hpp>

#include "runtime/error.hpp"
#include "runtime/supervisor.hpp"
#include "test/support/deterministic.hpp"

using namespace keel;
using namespace std::chrono_literals;

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;

caf::behavior crasher(caf::event_based_actor* self,
                      std::shared_ptr<int> starts) {
  ++*starts;
  return {[self](crash_atom) { self->quit(caf::exit_reason::user_shutdown); }};
}

child_spec crashing_child(std::string name, std::shared_ptr<int> starts,
                          restart_policy policy = restart_policy::permanent) {
  return child_spec{std::move(name),
                    [starts](caf::actor_system& sys, const caf::actor&) {
                      return sys.spawn(crasher, starts);
                    },
                    policy};
}

std::vector<child_info> children(test::deterministic_system& t,
                                 const supervisor_actor& sup) {
  std::vector<child_info> result;
  auto rh = t.self->request(sup, caf::infinite, which_children_atom::value);
  t.run();
  rh.receive([&](std::vector<child_info>& xs) { result = std::move(xs); },
             [](caf::error&) { FAIL("which_children failed"); });
  return result;
}

} // namespace

TEST_CASE("supervisor: restarts a crashed child within its intensity") {
  test::deterministic_system t;
  auto starts = std::make_shared<int>(0);
  supervisor_spec spec{"sup", restart_strategy::one_for_one, 2, 5000ms,
                       {crashing_child("a", starts)}, {}};
  auto sup = spawn_supervisor(t.sys, spec);
  t.run();
  CHECK(*starts == 1);
  auto first = children(t, sup).at(0).handle;
  caf::anon_send(first, crash_atom::value);
  t.run();
  CHECK(*starts == 2);
  auto second = children(t, sup).at(0).handle;
  CHECK(first != second);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  t.run();
}

TEST_CASE("supervisor: escalates when the intensity is exceeded") {
  test::deterministic_system t;
  auto starts = std::make_shared<int>(0);
  supervisor_spec spec{"sup", restart_strategy::one_for_one, 1, 5000ms,
                       {crashing_child("a", starts)}, {}};
  auto sup = spawn_supervisor(t.sys, spec);
  t.run();
  t.self->monitor(sup);
  caf::anon_send(children(t, sup).at(0).handle, crash_atom::value);
  t.run();
  CHECK(*starts == 2);  // one restart allowed
  caf::anon_send(children(t, sup).at(0).handle, crash_atom::value);
  t.run();
  CHECK(*starts == 2);  // the second crash escalates instead
  bool down = false;
  t.self->receive(
    [&](caf::down_msg& msg) {
      down = true;
      CHECK(code_of(msg.reason) == error_code::unavailable);
    },
    caf::after(std::chrono::seconds(0)) >> [] {});
  CHECK(down);
}

TEST_CASE("supervisor: one_for_all restarts every child") {
  test::deterministic_system t;
  auto a = std::make_shared<int>(0);
  auto b = std::make_shared<int>(0);
  supervisor_spec spec{"sup", restart_strategy::one_for_all, 3, 5000ms,
                       {crashing_child("a", a), crashing_child("b", b)}, {}};
  auto sup = spawn_supervisor(t.sys, spec);
  t.run();
  caf::anon_send(children(t, sup).at(1).handle, crash_atom::value);
  t.run();
  CHECK(*a == 2);
  CHECK(*b == 2);
  CHECK(children(t, sup).size() == 2);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  t.run();
}

TEST_CASE("supervisor: a temporary child is never restarted") {
  test::deterministic_system t;
  auto starts = std::make_shared<int>(0);
  supervisor_spec spec{"sup", restart_strategy::one_for_one, 5, 5000ms,
                       {crashing_child("a", starts, restart_policy::temporary)},
                       {}};
  auto sup = spawn_supervisor(t.sys, spec);
  t.run();
  caf::anon_send(children(t, sup).at(0).handle, crash_atom::value);
  t.run();
  CHECK(*starts == 1);
  CHECK(children(t, sup).empty());
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  t.run();
}
