#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "runtime/error.hpp"
#include "scenarios/engine/fuzz.hpp"
#include "scenarios/engine/fuzz_runner.hpp"

using namespace keel;
using namespace keel::scenarios;

namespace {

/// Five nodes, a 2n app and an n_way_active app, every kind listed.
json base_doc() {
  return json::parse(R"({
    "topology": {"nodes": ["n1", "n2", "n3", "n4", "n5"],
      "apps": [{"name": "journal", "model": "2n", "copies": 2, "partitions": 8},
               {"name": "spread", "type": "journal", "model": "n_way_active",
                "copies": 3, "partitions": 6}]},
    "workload": {"duration_ms": 4000, "rate_per_s": 500},
    "steps": [{"at_ms": 1000, "do": "kill_copy", "app": "journal",
               "which": "active_of", "partition": 0}],
    "fuzz": {"faults": 6, "from_ms": 500, "until_ms": 3000, "min_gap_ms": 100,
      "kinds": {"kill_copy": 2, "crash_node": 1, "hang_copy": 1,
                "slow_copy": 1, "partition": 2, "delay_link": 1,
                "drop_link": 1, "hang_node": 1, "overload": 1,
                "switchover": 1},
      "fault_ms": [100, 800]}
  })");
}

fuzzable_scenario load(const json& doc) {
  auto result = parse_fuzzable_scenario(doc, "f.json");
  if (!result)
    FAIL(context_of(result.error()));
  REQUIRE(result->fuzz);
  return std::move(*result);
}

std::string error_of(json doc) {
  auto result = parse_fuzzable_scenario(std::move(doc), "f.json");
  REQUIRE_FALSE(result);
  return context_of(result.error());
}

uint32_t field(const json& step, const char* key) {
  return step.contains(key) ? step.at(key).get<uint32_t>() : 0;
}

bool takes_copies(const std::string& kind) {
  return kind != "delay_link" && kind != "drop_link" && kind != "overload";
}

} // namespace

TEST_CASE("fuzz: the same seed draws the same faults, another seed others") {
  auto f = load(base_doc());
  auto a = generate_faults(f.sc, *f.fuzz, 7);
  auto b = generate_faults(f.sc, *f.fuzz, 7);
  auto c = generate_faults(f.sc, *f.fuzz, 8);
  REQUIRE_FALSE(a.empty());
  CHECK(a == b);
  CHECK(a != c);
  // Different seeds mostly differ.
  std::set<std::string> distinct;
  for (uint64_t seed = 1; seed <= 50; ++seed)
    distinct.insert(json(generate_faults(f.sc, *f.fuzz, seed)).dump());
  CHECK(distinct.size() == 50);
}

TEST_CASE("fuzz: every generated fault lies in [from_ms, until_ms] and has "
          "ended by until_ms, and parses as a scenario step") {
  auto f = load(base_doc());
  std::set<std::string> kinds_seen;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    auto faults = generate_faults(f.sc, *f.fuzz, seed);
    CHECK(faults.size() <= f.fuzz->faults);
    for (auto& step : faults) {
      INFO("seed " << seed << ": " << step.dump());
      kinds_seen.insert(step.at("do").get<std::string>());
      auto at = field(step, "at_ms");
      CHECK(at >= f.fuzz->from_ms);
      CHECK(at + field(step, "for_ms") <= f.fuzz->until_ms);
    }
    // The run document is a valid scenario holding the file's own step too.
    auto doc = fuzz_document(f.doc, faults, seed);
    auto sc = parse_scenario(doc, "f.json");
    if (!sc)
      FAIL("seed " << seed << ": " << context_of(sc.error()));
    CHECK(sc->seed == seed);
    CHECK(sc->steps.size() == faults.size() + 1);
    CHECK(std::is_sorted(sc->steps.begin(), sc->steps.end(),
                         [](auto& x, auto& y) { return x.at_ms < y.at_ms; }));
  }
  CHECK(kinds_seen.size() == fuzzable_kinds().size());
}

TEST_CASE("fuzz: faults that take copies away come one at a time, crashes "
          "spare the first node and a majority, partitions cut a minority") {
  auto f = load(base_doc());
  auto& knobs = f.sc.system.knobs;
  auto detection = knobs.health_check_interval_ms
                   * (knobs.health_check_misses + 1);
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    uint32_t quiet_at = 0;
    size_t crashes = 0;
    for (auto& step : generate_faults(f.sc, *f.fuzz, seed)) {
      INFO("seed " << seed << ": " << step.dump());
      auto kind = step.at("do").get<std::string>();
      auto at = field(step, "at_ms");
      if (kind == "crash_node") {
        ++crashes;
        CHECK(step.at("node") != "n1");
      }
      if (kind == "partition")
        CHECK(2 * (step.at("nodes").size() + crashes) < 5);
      if (!takes_copies(kind))
        continue;
      CHECK(at >= quiet_at);
      auto until = at;
      if (kind == "hang_copy" || kind == "slow_copy")
        until = at + detection;
      if (kind == "partition" || kind == "hang_node")
        until = at + field(step, "for_ms");
      quiet_at = until + f.fuzz->min_gap_ms;
    }
    CHECK(crashes <= f.fuzz->crash_nodes_max);
  }
}

TEST_CASE("fuzz: only the kinds the file lists are drawn") {
  auto doc = base_doc();
  doc["fuzz"]["kinds"] = {{"switchover", 1}, {"kill_copy", 0}};
  auto f = load(doc);
  for (uint64_t seed = 1; seed <= 50; ++seed)
    for (auto& step : generate_faults(f.sc, *f.fuzz, seed)) {
      CHECK(step.at("do") == "switchover");
      CHECK(step.at("app") == "journal");  // the only app with a standby
    }
}

TEST_CASE("fuzz: the section's errors name the JSON path") {
  auto with = [](const char* key, json value) {
    auto doc = base_doc();
    doc["fuzz"][key] = std::move(value);
    return doc;
  };
  CHECK(error_of(with("kinds", {{"explode", 1}}))
          .find("f.json: $.fuzz.kinds.explode: unknown step kind")
        != std::string::npos);
  CHECK(error_of(with("kinds", {{"heal", 1}}))
          .find("$.fuzz.kinds.heal: step \"heal\" is not drawn by the fuzzer")
        != std::string::npos);
  CHECK(error_of(with("kinds", {{"kill_copy", 0}}))
          .find("$.fuzz.kinds: expected at least one kind")
        != std::string::npos);
  CHECK(error_of(with("until_ms", 3800))
          .find("$.fuzz.until_ms: expected at most 3500")
        != std::string::npos);
  CHECK(error_of(with("faults", 40))
          .find("$.fuzz.faults: 40 faults 100 ms apart do not fit")
        != std::string::npos);
  CHECK(error_of(with("fault_ms", json::array({800, 100})))
          .find("$.fuzz.fault_ms[1]: expected an integer")
        != std::string::npos);
  CHECK(error_of(with("crash_nodes_max", 3))
          .find("$.fuzz.crash_nodes_max: expected an integer in [0, 2]")
        != std::string::npos);
  CHECK(error_of(with("bogus", 1)).find("$.fuzz.bogus: unknown key")
        != std::string::npos);
  auto no_standby = base_doc();
  no_standby["topology"]["apps"][0]["model"] = "n_way_active";
  no_standby["topology"]["apps"][0]["copies"] = 3;
  CHECK(error_of(no_standby).find("$.fuzz.kinds.switchover: no application "
                                  "has a standby")
        != std::string::npos);
}

TEST_CASE("fuzz: shrinking keeps the fewest faults that still fail") {
  // Fails while faults 1 and 3 are both present.
  std::vector<json> faults{0, 1, 2, 3, 4};
  size_t runs = 0;
  auto kept = shrink_faults(faults, [&](const std::vector<json>& xs) {
    ++runs;
    auto has = [&](int x) {
      return std::find(xs.begin(), xs.end(), json(x)) != xs.end();
    };
    return has(1) && has(3);
  });
  CHECK(kept == std::vector<json>{1, 3});
  CHECK(runs <= 2 * faults.size());
}

TEST_CASE("fuzz: --seeds takes A..B with A <= B or one seed") {
  auto range = parse_seed_range("3..17");
  REQUIRE(range);
  CHECK(range->first == 3);
  CHECK(range->last == 17);
  auto one = parse_seed_range("42");
  REQUIRE(one);
  CHECK(one->first == 42);
  CHECK(one->last == 42);
  for (auto bad : {"5..2", "x", "", "1..", "..3", "1...3", "-1..2", "1..2x"})
    CHECK_FALSE(parse_seed_range(bad));
}
