#include <catch2/catch.hpp>

#include "scenarios/engine/checker.hpp"
#include "scenarios/engine/invariants.hpp"

using namespace keel;
using namespace keel::scenarios;

namespace {

scenario checked_scenario() {
  scenario sc;
  sc.title = "t";
  sc.checks = {{"no_lost_acknowledged", 0}, {"no_duplicates", 0},
               {"per_key_order", 0}, {"single_active", 0}};
  return sc;
}

/// Client "c" sent requests 1..n on key "k", all acknowledged.
run_data acknowledged(uint64_t n) {
  run_data data;
  auto log = std::make_shared<client_log>();
  log->client_id = "c";
  for (uint64_t rid = 1; rid <= n; ++rid) {
    request_record r;
    r.request_id = rid;
    r.key = "k";
    r.result = request_record::outcome::acknowledged;
    r.done_us = 10;
    log->requests.push_back(r);
  }
  data.clients.push_back(log);
  data.journal_read = true;
  return data;
}

const check_result& check(const report& rep, const std::string& name) {
  for (auto& c : rep.checks)
    if (c.name == name)
      return c;
  FAIL("no check " << name);
  throw std::logic_error("unreachable");
}

trace_event active_role(std::string copy, partition_id p, epoch_t e) {
  return trace_event{0, "role_changed",
                     json{{"copy", copy},
                          {"app", "journal"},
                          {"partition", p},
                          {"epoch", e},
                          {"role", "active"}}};
}

} // namespace

TEST_CASE("checker: a complete journal passes every check") {
  auto data = acknowledged(3);
  data.journal["k"] = {{"c", 1}, {"c", 2}, {"c", 3}};
  auto rep = check_run(checked_scenario(), data, {}, 0);
  CHECK(rep.passed);
  CHECK(rep.events.acknowledged == 3);
  CHECK(rep.events.lost == 0);
}

TEST_CASE("checker: finds an acknowledged event missing from the journal") {
  auto data = acknowledged(3);
  data.journal["k"] = {{"c", 1}, {"c", 3}};
  auto rep = check_run(checked_scenario(), data, {}, 0);
  CHECK_FALSE(rep.passed);
  CHECK(rep.events.lost == 1);
  CHECK_FALSE(check(rep, "no_lost_acknowledged").passed);
}

TEST_CASE("checker: finds duplicates and reordering") {
  auto data = acknowledged(3);
  data.journal["k"] = {{"c", 1}, {"c", 3}, {"c", 2}, {"c", 3}};
  auto rep = check_run(checked_scenario(), data, {}, 0);
  CHECK(rep.events.duplicated == 1);
  CHECK(rep.events.reordered == 1);
  CHECK_FALSE(check(rep, "no_duplicates").passed);
  CHECK_FALSE(check(rep, "per_key_order").passed);
  CHECK(check(rep, "no_lost_acknowledged").passed);
}

TEST_CASE("checker: a journal entry nobody sent fails the loss check") {
  auto data = acknowledged(1);
  data.journal["k"] = {{"c", 1}, {"ghost", 1}};
  auto rep = check_run(checked_scenario(), data, {}, 0);
  CHECK(rep.events.unexpected == 1);
  CHECK_FALSE(check(rep, "no_lost_acknowledged").passed);
}

TEST_CASE("checker: an unread journal fails instead of passing vacuously") {
  auto data = acknowledged(2);
  data.journal_read = false;
  auto rep = check_run(checked_scenario(), data, {}, 0);
  CHECK_FALSE(check(rep, "no_lost_acknowledged").passed);
}

TEST_CASE("checker: two copies active for one partition in one epoch "
          "violate single_active") {
  auto data = acknowledged(0);
  std::vector<trace_event> trace{active_role("journal/0", 0, 1),
                                 active_role("journal/1", 0, 2)};
  CHECK(check(check_run(checked_scenario(), data, trace, 0), "single_active")
          .passed);
  trace.push_back(active_role("journal/0", 0, 2));
  auto rep = check_run(checked_scenario(), data, trace, 0);
  CHECK_FALSE(check(rep, "single_active").passed);
  CHECK(check(rep, "single_active").detail.find("epoch 2")
        != std::string::npos);
}

TEST_CASE("checker: builds failover timelines from the trace") {
  std::vector<trace_event> trace{
    {1000, "fault_injected",
     json{{"fault", 0}, {"copies", {"journal/0"}}, {"nodes", {"n1"}}}},
    {1100, "copy_down", json{{"copy", "journal/0"}}},
    {1500, "partition_promoted",
     json{{"app", "journal"}, {"partition", 3}, {"epoch", 2},
          {"cause", "journal/0"}}},
    {1900, "first_event_served",
     json{{"app", "journal"}, {"partition", 3}, {"epoch", 2}}},
  };
  auto fo = failover_timelines(trace);
  REQUIRE(fo.size() == 1);
  CHECK(fo[0].partition == 3);
  CHECK(fo[0].detected_ms == Approx(0.1));
  CHECK(fo[0].promoted_ms == Approx(0.5));
  CHECK(fo[0].first_event_ms == Approx(0.9));
}

TEST_CASE("checker: a failover superseded by the next one is recovered when "
          "the partition serves again in the later epoch") {
  auto sc = checked_scenario();
  sc.checks = {{"recovered_within_ms", 10}};
  auto promoted = [](int64_t t, epoch_t epoch, std::string cause) {
    return trace_event{t, "partition_promoted",
                       json{{"app", "journal"}, {"partition", 0},
                            {"epoch", epoch}, {"cause", cause}}};
  };
  std::vector<trace_event> trace{
    {0, "fault_injected", json{{"fault", 0}, {"copies", {"journal/0"}}}},
    promoted(1000, 2, "journal/0"),
    {2000, "fault_injected", json{{"fault", 1}, {"copies", {"journal/1"}}}},
    promoted(3000, 3, "journal/1"),
    {4000, "first_event_served",
     json{{"app", "journal"}, {"partition", 0}, {"epoch", 3}}},
  };
  auto rep = check_run(sc, acknowledged(0), trace, 0);
  REQUIRE(rep.failovers.size() == 2);
  CHECK(rep.failovers[0].superseded);
  CHECK(rep.failovers[0].first_event_ms == Approx(4.0));
  CHECK_FALSE(rep.failovers[1].superseded);
  CHECK(check(rep, "recovered_within_ms").passed);
  // Served only long after: the first failover took too long.
  trace.back().t_us = 40000;
  CHECK_FALSE(check(check_run(sc, acknowledged(0), trace, 0),
                    "recovered_within_ms").passed);
  // Never served again: it never recovered.
  trace.resize(4);
  CHECK_FALSE(check(check_run(sc, acknowledged(0), trace, 0),
                    "recovered_within_ms").passed);
}

TEST_CASE("checker: two incarnations of one copy active in one epoch violate "
          "single_active, one incarnation reported twice does not") {
  auto data = acknowledged(0);
  auto incarnation = [](trace_event ev, uint64_t id) {
    ev.fields["incarnation"] = id;
    return ev;
  };
  std::vector<trace_event> trace{
    incarnation(active_role("journal/1", 0, 2), 40),
    incarnation(active_role("journal/1", 0, 2), 40)};
  CHECK(check(check_run(checked_scenario(), data, trace, 0), "single_active")
          .passed);
  // A restarted journal/1 (another actor) active in the same epoch.
  trace.push_back(incarnation(active_role("journal/1", 0, 2), 57));
  auto rep = check_run(checked_scenario(), data, trace, 0);
  CHECK_FALSE(check(rep, "single_active").passed);
  CHECK(check(rep, "single_active").detail.find("journal/1#40, journal/1#57")
        != std::string::npos);
  // The per-step monitor of simulations sees it too.
  safety_monitor monitor;
  CHECK_FALSE(monitor.observe({trace[0], trace[1]}));
  CHECK(monitor.observe({trace[2]}));
}
