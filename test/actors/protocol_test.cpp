// Protocol tests: real component actors under the deterministic scheduler.
#include <catch2/catch.hpp>

#include "actors/app_support/app_support.hpp"
#include "actors/fault_manager/fault_manager.hpp"
#include "actors/load_distributor/load_distributor.hpp"
#include "actors/load_manager/load_manager.hpp"
#include "actors/node_agent/node_agent.hpp"
#include "actors/router/router.hpp"
#include "apps/journal/journal.hpp"
#include "runtime/hash.hpp"
#include "test/support/deterministic.hpp"

using namespace keel;

namespace {

context_ptr make_ctx(caf::actor_system& sys, uint32_t partitions) {
  system_config cfg;
  cfg.nodes = {"n1", "n2"};
  cfg.apps = {app_config{"journal", "journal", redundancy_model::two_n, 2,
                         partitions}};
  return make_context(sys, cfg);
}

struct ack_log {
  std::vector<event_acks> acks;
  std::vector<event_nack> nacks;
};

ack_sink_actor::behavior_type recorder(ack_sink_actor::pointer,
                                       std::shared_ptr<ack_log> log) {
  return {
    [log](event_acks& a) { log->acks.push_back(std::move(a)); },
    [log](event_nack& n) { log->nacks.push_back(std::move(n)); },
    [](partition_snapshot&) {},
  };
}

app_support_actor spawn_copy(test::deterministic_system& t, context_ptr ctx,
                             uint32_t index, uint32_t partitions,
                             load_manager_actor lm) {
  copy_spec spec{copy_id{"journal", index}, "journal", partitions, {}, lm};
  app_factory factory = [] {
    return std::unique_ptr<application>{new apps::journal};
  };
  return t.sys.spawn<app_support>(
                     app_support_args{spec, node_id{"n" + std::to_string(index + 1)},
                                      ctx, factory, caf::actor{}});
}

/// A node agent of node n1 whose registry has the journal application
/// (`registry` must outlive it).
node_agent_actor spawn_agent(test::deterministic_system& t,
                             const context_ptr& ctx, app_registry& registry) {
  registry.add("journal", [] {
    return std::unique_ptr<application>{new apps::journal};
  });
  auto agent = t.sys.spawn(node_agent_impl, node_id{"n1"}, ctx, &registry,
                           caf::actor{});
  t.run();
  return agent;
}

/// Asks `agent` to start the copy of `spec`; returns its handle.
app_support_actor start_copy(test::deterministic_system& t,
                             const node_agent_actor& agent, copy_spec spec) {
  auto rh = t.self->request(agent, caf::infinite, spawn_copy_atom::value,
                            std::move(spec));
  t.run();
  app_support_actor result;
  rh.receive([&](app_support_actor& h) { result = h; },
             [](caf::error& err) { FAIL(render(err)); });
  return result;
}

template <class Handle, class... Ts>
void ask_ok(test::deterministic_system& t, const Handle& dest, Ts&&... xs) {
  auto rh = t.self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
  t.run();
  bool ok = false;
  rh.receive([&](ok_atom) { ok = true; },
             [](caf::error& err) { FAIL(render(err)); });
  CHECK(ok);
}

route route_to(const app_support_actor& h, uint32_t index, epoch_t epoch,
               bool in_transition = false) {
  route r;
  r.app = "journal";
  r.partition = 0;
  r.epoch = epoch;
  r.in_transition = in_transition;
  r.active = copy_id{"journal", index};
  r.node = node_id{"n" + std::to_string(index + 1)};
  r.handle = h;
  return r;
}

partition_state state_of(test::deterministic_system& t,
                         const app_support_actor& copy) {
  auto rh = t.self->request(copy, caf::infinite, get_state_atom::value,
                            partition_id{0});
  t.run();
  partition_state result;
  rh.receive([&](partition_state& ps) { result = std::move(ps); },
             [](caf::error& err) { FAIL(render(err)); });
  return result;
}

void shutdown(test::deterministic_system& t,
              std::initializer_list<caf::actor> actors) {
  for (auto& a : actors)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  t.run();
}

} // namespace

TEST_CASE("router: buffers a partition in transition and flushes it in order "
          "to the promoted active") {
  test::deterministic_system t;
  auto ctx = make_ctx(t.sys, 1);
  auto lm = t.sys.spawn(load_manager_impl, ctx);
  auto router = t.sys.spawn(router_impl, node_id{"n1"}, ctx);
  auto log = std::make_shared<ack_log>();
  auto sink = t.sys.spawn(recorder, log);
  auto copy = spawn_copy(t, ctx, 0, 1, lm);
  t.run();
  ask_ok(t, router, set_routes_atom::value,
         std::vector<route>{route_to(copy, 0, 1, true)});
  for (seq_t s = 1; s <= 3; ++s) {
    event ev{"journal", "k", json_value{json::object()}, "c", s};
    caf::anon_send(router, routed_event{0, 1, s, "src", sink,
                                        std::make_shared<const event>(ev)});
  }
  t.run();
  CHECK(log->acks.empty());  // held in the router, not sent to anyone
  ask_ok(t, copy, assign_roles_atom::value,
         std::vector<role_assignment>{role_assignment{
           0, role::active, 2, {}, initial_seed("journal", 0)}});
  ask_ok(t, router, set_routes_atom::value,
         std::vector<route>{route_to(copy, 0, 2)});
  std::vector<seq_t> seqs;
  for (auto& batch : log->acks) {
    CHECK(batch.epoch == 2);
    for (auto& a : batch.entries)
      seqs.push_back(a.seq);
  }
  CHECK(seqs == std::vector<seq_t>{1, 2, 3});
  CHECK(log->nacks.empty());
  std::map<std::string, std::vector<apps::journal::entry>> journal;
  REQUIRE(apps::read_journal_snapshot(state_of(t, copy).app_state.value,
                                      journal));
  auto& list = journal.at("k");
  REQUIRE(list.size() == 3);
  CHECK(list[0].second == 1);
  CHECK(list[2].second == 3);
  shutdown(t, {caf::actor_cast<caf::actor>(router),
               caf::actor_cast<caf::actor>(copy), caf::actor_cast<caf::actor>(lm),
               caf::actor_cast<caf::actor>(sink)});
}

TEST_CASE("router: past router_buffer_max the sender gets overloaded") {
  test::deterministic_system t;
  system_config cfg;
  cfg.nodes = {"n1"};
  cfg.apps = {app_config{"journal", "journal", redundancy_model::two_n, 2, 1}};
  cfg.knobs.router_buffer_max = 2;
  auto ctx = make_context(t.sys, cfg);
  auto router = t.sys.spawn(router_impl, node_id{"n1"}, ctx);
  auto log = std::make_shared<ack_log>();
  auto sink = t.sys.spawn(recorder, log);
  for (seq_t s = 1; s <= 3; ++s) {
    event ev{"journal", "k", json_value{json::object()}, "c", s};
    caf::anon_send(router, routed_event{0, 1, s, "src", sink,
                                        std::make_shared<const event>(ev)});
  }
  t.run();
  REQUIRE(log->nacks.size() == 1);
  CHECK(log->nacks[0].seq == 3);
  CHECK(log->nacks[0].code == static_cast<uint8_t>(error_code::overloaded));
  shutdown(t, {caf::actor_cast<caf::actor>(router),
               caf::actor_cast<caf::actor>(sink)});
}

/// A distributor and router on n1, copy A (journal/0) active and copy B
/// (journal/1) its standby for the one partition, in epoch 1, routed.
struct active_standby_setup {
  context_ptr ctx;
  load_manager_actor lm;
  router_actor router;
  load_distributor_actor dist;
  app_support_actor a;
  app_support_actor b;
};

/// `reaper`, if set, replaces the context's reaper.
active_standby_setup active_standby(test::deterministic_system& t,
                                    caf::actor reaper = {}) {
  context_ptr ctx = make_ctx(t.sys, 1);
  if (reaper) {
    auto own = std::make_shared<runtime_context>(*ctx);
    own->reaper = std::move(reaper);
    ctx = std::move(own);
  }
  auto lm = t.sys.spawn(load_manager_impl, ctx);
  auto router = t.sys.spawn(router_impl, node_id{"n1"}, ctx);
  auto dist = t.sys.spawn(load_distributor_impl, node_id{"n1"}, ctx, router);
  auto a = spawn_copy(t, ctx, 0, 1, lm);
  auto b = spawn_copy(t, ctx, 1, 1, lm);
  t.run();
  ask_ok(t, b, assign_roles_atom::value,
         std::vector<role_assignment>{role_assignment{0, role::standby, 1, {}}});
  ask_ok(t, a, assign_roles_atom::value,
         std::vector<role_assignment>{role_assignment{
           0, role::active, 1, {standby_ref{copy_id{"journal", 1}, "n2", b}},
           initial_seed("journal", 0)}});
  ask_ok(t, router, set_routes_atom::value,
         std::vector<route>{route_to(a, 0, 1)});
  return {ctx, lm, router, dist, a, b};
}

/// One event (key "k<rid>", request id `rid`) to the distributor.
auto request_event(test::deterministic_system& t,
                   const load_distributor_actor& dist, uint64_t rid) {
  return t.self->request(dist, caf::infinite,
                         event{"journal", "k" + std::to_string(rid),
                               json_value{json::object()}, "client", rid});
}

TEST_CASE("load_distributor: replays unacknowledged events to the promoted "
          "standby, nothing acknowledged is lost or applied twice") {
  test::deterministic_system t;
  auto setup = active_standby(t);
  auto& lm = setup.lm;
  auto& router = setup.router;
  auto& dist = setup.dist;
  auto& a = setup.a;
  auto& b = setup.b;
  auto send = [&](uint64_t rid) { return request_event(t, dist, rid); };
  auto first = send(1);
  t.run();
  first.receive([](event_reply& r) { CHECK(r.seq >= 1); },
                [](caf::error& err) { FAIL(render(err)); });
  // A dies. Events sent before anyone notices go to the dead copy.
  caf::anon_send_exit(a, caf::exit_reason::kill);
  t.run();
  auto second = send(2);
  auto third = send(3);
  t.run();
  // Isolation and promotion, as the fault manager and controller do them.
  auto fenced = t.self->request(router, caf::infinite, fence_copy_atom::value,
                                copy_id{"journal", 0}, a);
  t.run();
  fenced.receive([](uint32_t n) { CHECK(n == 1); },
                 [](caf::error& err) { FAIL(render(err)); });
  ask_ok(t, b, assign_roles_atom::value,
         std::vector<role_assignment>{role_assignment{0, role::active, 2, {}}});
  ask_ok(t, router, set_routes_atom::value,
         std::vector<route>{route_to(b, 1, 2)});
  for (auto* rh : {&second, &third})
    rh->receive([](event_reply&) {},
                [](caf::error& err) { FAIL(render(err)); });
  std::map<std::string, std::vector<apps::journal::entry>> journal;
  REQUIRE(apps::read_journal_snapshot(state_of(t, b).app_state.value,
                                      journal));
  CHECK(journal.size() == 3);
  for (auto& [key, list] : journal)
    CHECK(list.size() == 1);
  auto st = t.self->request(dist, caf::infinite, status_atom::value);
  t.run();
  st.receive(
    [](distributor_status& s) {
      CHECK(s.acknowledged == 3);
      CHECK(s.pending == 0);
      CHECK(s.replayed >= 2);
    },
    [](caf::error& err) { FAIL(render(err)); });
  shutdown(t, {caf::actor_cast<caf::actor>(router),
               caf::actor_cast<caf::actor>(dist), caf::actor_cast<caf::actor>(b),
               caf::actor_cast<caf::actor>(lm)});
}

TEST_CASE("load_manager: collects the load reports that a node agent has "
          "its copies send every interval, and answers the load query") {
  test::deterministic_system t;
  auto ctx = make_ctx(t.sys, 2);
  auto lm = t.sys.spawn(load_manager_impl, ctx);
  // The agent keeps the node's one load-report timer; the copy has none.
  app_registry registry;
  auto agent = spawn_agent(t, ctx, registry);
  auto copy = start_copy(
    t, agent, copy_spec{copy_id{"journal", 0}, "journal", 2, {}, lm});
  auto log = std::make_shared<ack_log>();
  auto sink = t.sys.spawn(recorder, log);
  t.run();
  ask_ok(t, copy, assign_roles_atom::value,
         std::vector<role_assignment>{
           role_assignment{0, role::active, 1, {}, initial_seed("journal", 0)},
           role_assignment{1, role::active, 1, {}, initial_seed("journal", 1)}});
  for (seq_t s = 1; s <= 5; ++s)
    caf::anon_send(copy, routed_event{0, 1, s, "src", sink,
                                      std::make_shared<const event>(event{
                                        "journal", "k",
                                        json_value{json::object()}, "c",
                                        s})});
  t.run();
  // Nothing is reported before the interval (1000 ms by default) passes.
  auto query = [&] {
    auto rh = t.self->request(lm, caf::infinite, get_load_atom::value);
    t.run();
    std::vector<load_report> result;
    rh.receive([&](std::vector<load_report>& xs) { result = std::move(xs); },
               [](caf::error& err) { FAIL(render(err)); });
    return result;
  };
  CHECK(query().empty());
  t.advance(std::chrono::milliseconds{1000}, std::chrono::milliseconds{100});
  auto reports = query();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].copy == copy_id{"journal", 0});
  CHECK(reports[0].events_per_s == Approx(5.0));
  REQUIRE(reports[0].partitions.size() == 2);
  CHECK(reports[0].partitions[0].applied == 5);
  CHECK(reports[0].partitions[1].applied == 0);
  // The next round reports again (the applied count has not moved).
  auto first_at = reports[0].at_us;
  t.advance(std::chrono::milliseconds{1000}, std::chrono::milliseconds{100});
  reports = query();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].at_us > first_at);
  CHECK(reports[0].events_per_s == Approx(0.0));
  shutdown(t, {caf::actor_cast<caf::actor>(agent),
               caf::actor_cast<caf::actor>(copy), caf::actor_cast<caf::actor>(lm),
               caf::actor_cast<caf::actor>(sink)});
}

namespace {

result_sink_actor::behavior_type
result_recorder(result_sink_actor::pointer,
                std::shared_ptr<std::vector<event_result>> log) {
  return {
    [log](event_results& r) {
      for (auto& x : r.results)
        log->push_back(std::move(x));
    },
  };
}

} // namespace

TEST_CASE("load_distributor: the batch ingress admits each event on its own, "
          "answers in event_results and survives a failover") {
  test::deterministic_system t;
  auto setup = active_standby(t);
  auto& lm = setup.lm;
  auto& router = setup.router;
  auto& dist = setup.dist;
  auto& a = setup.a;
  auto& b = setup.b;
  auto log = std::make_shared<std::vector<event_result>>();
  auto sink = t.sys.spawn(result_recorder, log);
  t.run();
  auto batch = [&](uint64_t from, uint64_t to) {
    event_batch b;
    b.reply_to = sink;
    for (auto rid = from; rid <= to; ++rid)
      b.events.push_back(event{"journal", "k" + std::to_string(rid),
                               json_value{json::object()}, "client", rid});
    return b;
  };
  // Five good events and one without a key: refused alone, at once.
  auto first = batch(1, 5);
  first.events.push_back(
    event{"journal", "", json_value{json::object()}, "client", 6});
  t.self->send(dist, std::move(first));
  t.run();
  REQUIRE(log->size() == 6);
  auto refused = std::count_if(log->begin(), log->end(), [](auto& r) {
    return r.code == static_cast<uint8_t>(error_code::invalid_event);
  });
  CHECK(refused == 1);
  for (auto& r : *log)
    if (r.code == 0)
      CHECK(r.request_id <= 5);
  // A dies; a batch goes to the dead copy; B is promoted and gets it.
  caf::anon_send_exit(a, caf::exit_reason::kill);
  t.run();
  t.self->send(dist, batch(7, 9));
  t.run();
  CHECK(log->size() == 6);
  auto fenced = t.self->request(router, caf::infinite, fence_copy_atom::value,
                                copy_id{"journal", 0}, a);
  t.run();
  fenced.receive([](uint32_t n) { CHECK(n == 1); },
                 [](caf::error& err) { FAIL(render(err)); });
  ask_ok(t, b, assign_roles_atom::value,
         std::vector<role_assignment>{role_assignment{0, role::active, 2, {}}});
  ask_ok(t, router, set_routes_atom::value,
         std::vector<route>{route_to(b, 1, 2)});
  REQUIRE(log->size() == 9);
  std::set<uint64_t> acked;
  for (auto& r : *log)
    if (r.code == 0)
      CHECK(acked.insert(r.request_id).second);  // each answered once
  CHECK(acked == std::set<uint64_t>{1, 2, 3, 4, 5, 7, 8, 9});
  std::map<std::string, std::vector<apps::journal::entry>> journal;
  REQUIRE(apps::read_journal_snapshot(state_of(t, b).app_state.value,
                                      journal));
  CHECK(journal.size() == 8);
  for (auto& [key, list] : journal)
    CHECK(list.size() == 1);
  shutdown(t, {caf::actor_cast<caf::actor>(router),
               caf::actor_cast<caf::actor>(dist), caf::actor_cast<caf::actor>(b),
               caf::actor_cast<caf::actor>(lm), caf::actor_cast<caf::actor>(sink)});
}

TEST_CASE("load_distributor: the events it no longer needs are freed by "
          "the reaper, in lots and at the latest at the next tick") {
  test::deterministic_system t;
  // What the reaper gets: the size of each lot of events.
  auto lots = std::make_shared<std::vector<size_t>>();
  auto reaper = t.sys.spawn([lots](caf::event_based_actor*, int) {
    return caf::behavior{[lots](deferred_free& f) {
      using released = std::vector<std::shared_ptr<const event>>;
      lots->push_back(std::static_pointer_cast<released>(f.what)->size());
    }};
  }, 0);
  auto setup = active_standby(t, reaper);
  auto log = std::make_shared<std::vector<event_result>>();
  auto sink = t.sys.spawn(result_recorder, log);
  t.run();
  event_batch b;
  b.reply_to = sink;
  for (uint64_t rid = 1; rid <= 2100; ++rid)
    b.events.push_back(event{"journal", "k" + std::to_string(rid),
                             json_value{json::object()}, "client", rid});
  t.self->send(setup.dist, std::move(b));
  t.run();
  REQUIRE(log->size() == 2100);
  // Acknowledged (2n: nothing retained): one lot once 2048 were released.
  REQUIRE(lots->size() == 1);
  CHECK(lots->front() >= 2048);
  CHECK(lots->front() < 2100);
  // The rest goes with the next retransmit tick.
  t.advance(std::chrono::milliseconds{
    setup.ctx->config.knobs.retransmit_interval_ms + 1});
  REQUIRE(lots->size() == 2);
  CHECK(lots->at(0) + lots->at(1) == 2100);
  shutdown(t, {caf::actor_cast<caf::actor>(setup.router),
               caf::actor_cast<caf::actor>(setup.dist),
               caf::actor_cast<caf::actor>(setup.a),
               caf::actor_cast<caf::actor>(setup.b),
               caf::actor_cast<caf::actor>(setup.lm),
               caf::actor_cast<caf::actor>(sink), reaper});
}

TEST_CASE("load_distributor: a dead active's partition goes to the successor "
          "its route names, in the epoch reserved for it, with the unacknowledged "
          "events, the "
          "successor takes no other epoch") {
  test::deterministic_system t;
  auto setup = active_standby(t);
  auto& router = setup.router;
  auto& dist = setup.dist;
  auto& a = setup.a;
  auto& b = setup.b;
  auto with_successor = route_to(a, 0, 1);
  with_successor.successor = copy_id{"journal", 1};
  with_successor.successor_node = "n2";
  with_successor.successor_handle = b;
  with_successor.successor_epoch = 2;
  ask_ok(t, router, set_routes_atom::value,
         std::vector<route>{with_successor});
  auto send = [&](uint64_t rid) { return request_event(t, dist, rid); };
  auto first = send(1);
  t.run();
  first.receive([](event_reply&) {},
                [](caf::error& err) { FAIL(render(err)); });
  caf::anon_send_exit(a, caf::exit_reason::kill);
  t.run();
  auto second = send(2);  // to the dead copy: stays unacknowledged
  t.run();
  // What the fault manager sends first when it sees the copy die. No fence,
  // no controller: the successor takes over on its own.
  caf::anon_send(dist, died_atom::value, a);
  t.run();
  auto third = send(3);
  t.run();
  for (auto* rh : {&second, &third})
    rh->receive([](event_reply&) {},
                [](caf::error& err) { FAIL(render(err)); });
  auto ps = state_of(t, b);
  CHECK(ps.current_role == role::active);
  CHECK(ps.epoch == 2);
  std::map<std::string, std::vector<apps::journal::entry>> journal;
  REQUIRE(apps::read_journal_snapshot(ps.app_state.value, journal));
  CHECK(journal.size() == 3);
  for (auto& [key, list] : journal)
    CHECK(list.size() == 1);
  // The controller's own promotion to the same epoch changes nothing.
  ask_ok(t, b, assign_roles_atom::value,
         std::vector<role_assignment>{role_assignment{0, role::active, 2, {}}});
  // A late or repeated successor message is refused: b is not a standby of
  // epoch 1 any more (nor would it take epoch 3 from a route of epoch 2).
  caf::anon_send(b, successor_atom::value, partition_id{0}, epoch_t{1},
                 epoch_t{2});
  caf::anon_send(b, successor_atom::value, partition_id{0}, epoch_t{2},
                 epoch_t{3});
  t.run();
  ps = state_of(t, b);
  CHECK(ps.current_role == role::active);
  CHECK(ps.epoch == 2);
  size_t refused = 0;
  for (auto& ev : setup.ctx->trace->snapshot())
    if (ev.name == "successor_refused")
      ++refused;
  CHECK(refused == 2);
  // A route of the same epoch that only changes the successor is taken
  // (it replays nothing), an older one is not.
  auto st = t.self->request(dist, caf::infinite, status_atom::value);
  t.run();
  uint64_t replayed_before = 0;
  st.receive([&](distributor_status& s) { replayed_before = s.replayed; },
             [](caf::error& err) { FAIL(render(err)); });
  auto same = route_to(b, 1, 2);
  same.successor = copy_id{"journal", 0};
  same.successor_handle = b;  // any handle: it is only compared
  same.successor_epoch = 3;
  ask_ok(t, router, set_routes_atom::value, std::vector<route>{same});
  auto st2 = t.self->request(dist, caf::infinite, status_atom::value);
  t.run();
  st2.receive(
    [&](distributor_status& s) {
      CHECK(s.replayed == replayed_before);
      CHECK(s.acknowledged == 3);
      CHECK(s.pending == 0);
    },
    [](caf::error& err) { FAIL(render(err)); });
  shutdown(t, {caf::actor_cast<caf::actor>(router),
               caf::actor_cast<caf::actor>(dist), caf::actor_cast<caf::actor>(b),
               caf::actor_cast<caf::actor>(setup.lm)});
}

namespace {

/// The copies an agent killed as hung, from the trace.
std::vector<std::string> hung_copies(const context_ptr& ctx) {
  std::vector<std::string> result;
  for (auto& ev : ctx->trace->snapshot())
    if (ev.name == "copy_hung")
      result.push_back(ev.fields.value("copy", std::string{}));
  return result;
}

} // namespace

TEST_CASE("node_agent: starts the copies of one request in order, an "
          "invalid handle for a type it lacks, the same handle when asked "
          "again") {
  test::deterministic_system t;
  auto ctx = make_ctx(t.sys, 1);
  app_registry registry;
  auto agent = spawn_agent(t, ctx, registry);
  auto spawn = [&](std::vector<copy_spec> specs) {
    auto rh = t.self->request(agent, caf::infinite, spawn_copy_atom::value,
                              std::move(specs));
    t.run();
    std::vector<app_support_actor> result;
    rh.receive([&](std::vector<app_support_actor>& hs) { result = hs; },
               [](caf::error& err) { FAIL(render(err)); });
    return result;
  };
  std::vector<copy_spec> specs{
    copy_spec{copy_id{"journal", 0}, "journal", 1, {}, {}},
    copy_spec{copy_id{"other", 0}, "no_such_type", 1, {}, {}},
    copy_spec{copy_id{"journal", 1}, "journal", 1, {}, {}}};
  auto first = spawn(specs);
  REQUIRE(first.size() == 3);
  CHECK(first[0]);
  CHECK_FALSE(first[1]);
  CHECK(first[2]);
  CHECK(first[0] != first[2]);
  auto again = spawn(specs);
  REQUIRE(again.size() == 3);
  CHECK(again[0] == first[0]);
  CHECK_FALSE(again[1]);
  CHECK(again[2] == first[2]);
  auto rh = t.self->request(agent, caf::infinite, status_atom::value);
  t.run();
  rh.receive(
    [&](std::vector<copy_id>& running) {
      CHECK(running
            == std::vector<copy_id>{copy_id{"journal", 0},
                                    copy_id{"journal", 1}});
    },
    [](caf::error& err) { FAIL(render(err)); });
  shutdown(t, {caf::actor_cast<caf::actor>(agent),
               caf::actor_cast<caf::actor>(first[0]),
               caf::actor_cast<caf::actor>(first[2])});
}

TEST_CASE("node_agent: health check rounds kill a copy that answers late "
          "or never, and keep one that answers in time") {
  test::deterministic_system t;
  auto ctx = make_ctx(t.sys, 1);  // health_check_interval_ms 100, misses 3
  app_registry registry;
  auto agent = spawn_agent(t, ctx, registry);
  auto spawn = [&](uint32_t index) {
    return start_copy(
      t, agent, copy_spec{copy_id{"journal", index}, "journal", 1, {}, {}});
  };
  auto in_time = spawn(0);   // answers 50 ms late: within a round (90 ms)
  auto too_late = spawn(1);  // 150 ms late: every answer misses its round
  auto silent = spawn(2);    // hung: never answers
  caf::anon_send(in_time, inject_atom::value,
                 fault_injection{fault_injection::slow, 50});
  caf::anon_send(too_late, inject_atom::value,
                 fault_injection{fault_injection::slow, 150});
  caf::anon_send(silent, inject_atom::value,
                 fault_injection{fault_injection::hang, 0});
  t.run();
  // Three misses in a row take 3 rounds after the first check: 4 x 90 ms
  // at most. Nothing is killed before the third miss.
  t.advance(std::chrono::milliseconds{260});
  CHECK(hung_copies(ctx).empty());
  t.advance(std::chrono::milliseconds{110});
  auto hung = hung_copies(ctx);
  std::sort(hung.begin(), hung.end());
  CHECK(hung == std::vector<std::string>{"journal/1", "journal/2"});
  // The one answering in time stays, round after round.
  t.advance(std::chrono::milliseconds{2000}, std::chrono::milliseconds{10});
  CHECK(hung_copies(ctx).size() == 2);
  auto rh = t.self->request(agent, caf::infinite, status_atom::value);
  t.run();
  rh.receive(
    [&](std::vector<copy_id>& running) {
      CHECK(running == std::vector<copy_id>{copy_id{"journal", 0}});
    },
    [](caf::error& err) { FAIL(render(err)); });
  shutdown(t, {caf::actor_cast<caf::actor>(agent),
               caf::actor_cast<caf::actor>(in_time)});
}

namespace {

fault_listener_actor::behavior_type
failure_recorder(fault_listener_actor::pointer,
                 std::shared_ptr<std::vector<copy_failed>> log,
                 std::shared_ptr<std::vector<node_failed>> nodes) {
  return {
    [log](copy_failed& f) { log->push_back(std::move(f)); },
    [nodes](node_failed& f) { nodes->push_back(std::move(f)); },
    [](majority_atom, bool) {},
    [](rejoin_atom, node_id&) {},
    [](rejoin_atom, node_handles&) {},
    [](self_fence_atom, node_id&) {},
  };
}

} // namespace

TEST_CASE("fault_manager: a down copy among many is found by its handle, "
          "and a replaced or unwatched incarnation's death is ignored") {
  test::deterministic_system t;
  auto ctx = make_ctx(t.sys, 1);
  auto log = std::make_shared<std::vector<copy_failed>>();
  auto listener = t.sys.spawn(failure_recorder, log,
                              std::make_shared<std::vector<node_failed>>());
  auto fm = t.sys.spawn(fault_manager_impl, ctx, listener,
                        load_distributor_actor{});
  t.run();
  constexpr uint32_t n = 64;
  std::vector<app_support_actor> copies;
  std::vector<copy_id> ids;
  for (uint32_t i = 0; i < n; ++i) {
    copies.push_back(spawn_copy(t, ctx, i, 1, load_manager_actor{}));
    ids.push_back(copy_id{"journal", i});
  }
  t.run();
  // Half one by one, half in one message.
  for (uint32_t i = 0; i < n / 2; ++i)
    ask_ok(t, fm, watch_copy_atom::value, ids[i], node_id{"n1"}, copies[i]);
  ask_ok(t, fm, watch_copy_atom::value,
         std::vector<copy_id>(ids.begin() + n / 2, ids.end()), node_id{"n2"},
         std::vector<app_support_actor>(copies.begin() + n / 2, copies.end()));
  auto kill = [&](const app_support_actor& h) {
    caf::anon_send_exit(h, caf::exit_reason::kill);
    t.run();
  };
  kill(copies[41]);
  REQUIRE(log->size() == 1);
  CHECK((*log)[0].copy == ids[41]);
  CHECK((*log)[0].node == node_id{"n2"});
  CHECK((*log)[0].handle == copies[41]);
  // A new incarnation of journal/7 replaces the old one: the old one's
  // death is not a failure any more, the new one's is.
  auto again = spawn_copy(t, ctx, 7, 1, load_manager_actor{});
  ask_ok(t, fm, watch_copy_atom::value, ids[7], node_id{"n1"}, again);
  kill(copies[7]);
  CHECK(log->size() == 1);
  kill(again);
  REQUIRE(log->size() == 2);
  CHECK((*log)[1].copy == ids[7]);
  CHECK((*log)[1].handle == again);
  // A copy no longer watched (a planned stop) dies unnoticed.
  ask_ok(t, fm, unwatch_copy_atom::value, ids[9]);
  kill(copies[9]);
  CHECK(log->size() == 2);
  // Each watched copy's death is reported once, as itself.
  for (uint32_t i : {0u, 31u, 32u, 63u})
    kill(copies[i]);
  REQUIRE(log->size() == 6);
  CHECK((*log)[2].copy == ids[0]);
  CHECK((*log)[3].copy == ids[31]);
  CHECK((*log)[4].copy == ids[32]);
  CHECK((*log)[5].copy == ids[63]);
  for (auto& f : *log)
    CHECK(f.reason == "kill");
  for (auto& h : copies)
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  shutdown(t, {caf::actor_cast<caf::actor>(fm),
               caf::actor_cast<caf::actor>(listener)});
}

TEST_CASE("fault_manager: a node's death takes its copies' watches with it, "
          "and a copy watched again on it is reported as itself") {
  test::deterministic_system t;
  auto ctx = make_ctx(t.sys, 1);
  auto log = std::make_shared<std::vector<copy_failed>>();
  auto nodes = std::make_shared<std::vector<node_failed>>();
  auto listener = t.sys.spawn(failure_recorder, log, nodes);
  auto fm = t.sys.spawn(fault_manager_impl, ctx, listener,
                        load_distributor_actor{});
  app_registry registry;
  auto agent = spawn_agent(t, ctx, registry);  // node n1
  auto router = t.sys.spawn(router_impl, node_id{"n1"}, ctx);
  t.run();
  ask_ok(t, fm, watch_node_atom::value, node_id{"n1"}, agent, router);
  std::vector<app_support_actor> copies;
  for (uint32_t i = 0; i < 5; ++i) {
    copies.push_back(spawn_copy(t, ctx, i, 1, load_manager_actor{}));
    // Copies 0-2 on n1, 3-4 on n2.
    ask_ok(t, fm, watch_copy_atom::value, copy_id{"journal", i},
           node_id{i < 3 ? "n1" : "n2"}, copies.back());
  }
  caf::anon_send_exit(agent, caf::exit_reason::kill);
  t.run();
  // One report for the node; its copies are isolated (killed) with it, and
  // their deaths are not reported again one by one.
  REQUIRE(nodes->size() == 1);
  CHECK((*nodes)[0].node == node_id{"n1"});
  CHECK(log->empty());
  // A new incarnation of journal/1 watched on n1 (a restart elsewhere in a
  // real system) is watched as itself.
  auto again = spawn_copy(t, ctx, 1, 1, load_manager_actor{});
  ask_ok(t, fm, watch_copy_atom::value, copy_id{"journal", 1}, node_id{"n1"},
         again);
  caf::anon_send_exit(again, caf::exit_reason::kill);
  t.run();
  REQUIRE(log->size() == 1);
  CHECK((*log)[0].copy == copy_id{"journal", 1});
  CHECK((*log)[0].handle == again);
  // n2's copies are still watched.
  caf::anon_send_exit(copies[4], caf::exit_reason::kill);
  t.run();
  REQUIRE(log->size() == 2);
  CHECK((*log)[1].copy == copy_id{"journal", 4});
  CHECK(nodes->size() == 1);
  for (auto& h : copies)
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  shutdown(t, {caf::actor_cast<caf::actor>(fm),
               caf::actor_cast<caf::actor>(listener),
               caf::actor_cast<caf::actor>(router)});
}
