// request_deadlines: requests whose timeouts the requester keeps in rounds
// (one timer per round) time out like CAF's own, never early and at most
// one grain late; answered requests are left alone.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <vector>

#include "actors/request_deadlines.hpp"
#include "test/support/deterministic.hpp"

using namespace keel;
using namespace std::chrono_literals;

namespace {

struct outcomes {
  std::vector<int> answered;
  std::vector<int> timed_out;
  std::vector<caf::actor_clock::time_point> timed_out_at;
  std::vector<int> other_errors;
};

/// Answers multiples of `every` at once and never answers the others. (It
/// takes an argument: CAF 0.17 hands an argument-less spawn a null tuple,
/// which UBSan reports.)
caf::behavior half_silent(int every) {
  return {
    [every](int x) -> caf::result<int> {
      if (x % every == 0)
        return x;
      return caf::delegated<int>{};
    },
  };
}

struct requester_state {
  request_deadlines deadlines{10ms};
};

/// Sends `xs` as requests due within 100 ms on ("go", target, xs).
caf::behavior requester(caf::stateful_actor<requester_state>* self,
                        std::shared_ptr<outcomes> out) {
  return {
    [=](caf::actor& target, std::vector<int>& xs) {
      for (auto x : xs)
        self->state.deadlines.request(self, target, 100ms, x)
          .then([=](int y) { out->answered.push_back(y); },
                [=](caf::error& err) {
                  if (err == caf::sec::request_timeout) {
                    out->timed_out.push_back(x);
                    out->timed_out_at.push_back(self->clock().now());
                  } else {
                    out->other_errors.push_back(x);
                  }
                });
    },
    [=](deadline_atom, uint64_t round) {
      self->state.deadlines.expire(self, round);
    },
  };
}

/// A requester and a half-silent target under the deterministic scheduler.
struct fixture {
  test::deterministic_system t;
  std::shared_ptr<outcomes> out = std::make_shared<outcomes>();
  caf::actor target = t.sys.spawn(half_silent, 2);
  caf::actor req = t.sys.spawn(requester, out);

  fixture() {
    t.run();
  }

  void send(std::vector<int> xs) {
    caf::anon_send(req, target, std::move(xs));
    t.run();
  }

  ~fixture() {
    caf::anon_send_exit(req, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
    t.run();
  }
};

} // namespace

TEST_CASE("request_deadlines: a round of requests shares one timer, the "
          "unanswered ones time out after the timeout (within one grain) "
          "and the answered ones get no error") {
  fixture f;
  auto& t = f.t;
  auto& out = f.out;
  auto timers_before = t.sched.clock().schedule().size();
  auto start = t.sched.clock().now();
  f.send({1, 2, 3, 4, 5, 6});
  CHECK(out->answered == std::vector<int>{2, 4, 6});
  // Six requests, one timer: CAF's own timeouts would have set six and
  // cancelled three.
  CHECK(t.sched.clock().schedule().size() == timers_before + 1);
  t.advance(99ms);
  CHECK(out->timed_out.empty());
  t.advance(11ms);
  CHECK(out->timed_out == std::vector<int>{1, 3, 5});
  for (auto at : out->timed_out_at) {
    CHECK(at - start >= 100ms);
    CHECK(at - start <= 110ms);
  }
  CHECK(out->answered == std::vector<int>{2, 4, 6});
  CHECK(out->other_errors.empty());
  // Nothing is left filed or scheduled once the round expired.
  CHECK(t.sched.clock().schedule().size() == timers_before);
  t.advance(500ms);
  CHECK(out->timed_out.size() == 3);
}

TEST_CASE("request_deadlines: requests sent later fall into later rounds, "
          "each timing out on its own deadline") {
  fixture f;
  f.send({1});
  f.t.advance(50ms);
  f.send({3});
  f.t.advance(60ms);  // t = 110 ms: the first is due (100 ms), not the second
  CHECK(f.out->timed_out == std::vector<int>{1});
  f.t.advance(50ms);  // t = 160 ms: the second too (150 ms)
  CHECK(f.out->timed_out == std::vector<int>{1, 3});
}
