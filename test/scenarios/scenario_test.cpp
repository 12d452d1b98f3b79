#include <catch2/catch.hpp>

#include <sstream>

#include "apps/builtin_apps.hpp"
#include "runtime/error.hpp"
#include "scenarios/engine/runner.hpp"

using namespace keel;
using namespace keel::scenarios;

namespace {

std::string error_of(const char* text) {
  auto sc = parse_scenario(json::parse(text), "s.json");
  REQUIRE_FALSE(sc);
  return context_of(sc.error());
}

const char* topology = R"("topology": {"nodes": ["n1", "n2", "n3"],
  "apps": [{"name": "journal", "model": "2n", "copies": 2, "partitions": 4}]})";

std::string doc(const std::string& rest) {
  return "{" + std::string{topology} + (rest.empty() ? "" : ", " + rest) + "}";
}

int run_file(const std::string& file, std::string& err_text) {
  apps::register_builtin_apps();
  std::ostringstream out, err;
  auto code = run_scenario_file(file, run_options{}, app_registry::global(),
                                out, err);
  err_text = err.str();
  return code;
}

} // namespace

TEST_CASE("scenario: steps and checks are validated with their JSON path") {
  auto msg = error_of(doc(R"("steps": [{"at_ms": 10, "do": "explode"}])").c_str());
  CHECK(msg.find("s.json: $.steps[0].do: unknown step \"explode\"")
        != std::string::npos);
  CHECK(msg.find("kill_copy") != std::string::npos);
  msg = error_of(doc(R"("steps": [{"at_ms": 10, "do": "crash_node",
                                   "node": "n9"}])").c_str());
  CHECK(msg.find("$.steps[0].node: no node named \"n9\"") != std::string::npos);
  msg = error_of(doc(R"("steps": [{"at_ms": 10, "do": "kill_copy",
    "app": "journal", "which": "active_of", "partition": 4}])").c_str());
  CHECK(msg.find("$.steps[0].partition: expected an integer in [0, 3]")
        != std::string::npos);
  msg = error_of(doc(R"("checks": ["no_loss"])").c_str());
  CHECK(msg.find("$.checks[0]: unknown check \"no_loss\"") != std::string::npos);
  msg = error_of(doc(R"("workload": {"rate": 5})").c_str());
  CHECK(msg.find("$.workload.rate: unknown key") != std::string::npos);
  msg = error_of(doc(R"("workload": {"ingress": "bulk"})").c_str());
  CHECK(msg.find("$.workload.ingress: expected \"request\" or \"batch\"")
        != std::string::npos);
  auto batch = parse_scenario(json::parse(doc(R"("workload": {"ingress": "batch"})")),
                              "s.json");
  REQUIRE(batch);
  CHECK(batch->workload.batch);
  auto plain = parse_scenario(json::parse(doc("")), "s.json");
  REQUIRE(plain);
  CHECK_FALSE(plain->workload.batch);
}

TEST_CASE("scenario: crashing the control plane's node needs cluster mode, "
          "the embedded runtime refuses the step and the run fails") {
  apps::register_builtin_apps();
  auto sc = parse_scenario(
    json::parse(doc(R"("workload": {"clients": 1, "rate_per_s": 100,
                                     "keys": 4, "duration_ms": 300},
                       "steps": [{"at_ms": 10, "do": "crash_node",
                                  "node": "n1"}],
                       "checks": ["no_lost_acknowledged"])")),
    "t.json");
  REQUIRE(sc);
  auto result = run_realtime(*sc, app_registry::global());
  REQUIRE(result);
  CHECK_FALSE(result->rep.passed);
  REQUIRE_FALSE(result->data.errors.empty());
  CHECK_THAT(result->data.errors.front(),
             Catch::Contains("hosts the control plane")
               && Catch::Contains("--mode process"));
}

TEST_CASE("scenario: a malformed file exits with code 2 and one line naming "
          "the JSON path") {
  std::string err;
  CHECK(run_file("test/data/bad_path.json", err) == 2);
  CHECK(err.find("$.topology.apps[0].partitions") != std::string::npos);
  CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  CHECK(run_file("test/data/bad_syntax.json", err) == 2);
  CHECK(err.find("bad_syntax.json:4:") != std::string::npos);
  CHECK(run_file("test/data/unknown_type.json", err) == 2);
  CHECK(err.find("$.topology.apps[0].type: no application type \"ledger\"")
        != std::string::npos);
  CHECK(run_file("test/data/does_not_exist.json", err) == 2);
  CHECK(err.find("cannot open") != std::string::npos);
}

TEST_CASE("scenario: killing the active under load loses nothing "
          "acknowledged") {
  apps::register_builtin_apps();
  auto sc = parse_scenario(json::parse(doc(R"(
    "seed": 7,
    "workload": {"clients": 2, "rate_per_s": 2000, "keys": 32,
                 "duration_ms": 1200},
    "steps": [{"at_ms": 400, "do": "kill_copy", "app": "journal",
               "which": "active_of", "partition": 0},
              {"at_ms": 800, "do": "kill_copy", "app": "journal",
               "which": "active_of", "partition": 1}],
    "checks": ["no_lost_acknowledged", "no_duplicates", "per_key_order",
               "single_active", "all_partitions_active"])")),
                           "inline");
  REQUIRE(sc);
  auto result = run_realtime(*sc, app_registry::global());
  REQUIRE(result);
  auto& rep = result->rep;
  INFO(summarize(rep, result->data));
  CHECK(rep.passed);
  CHECK(rep.events.sent > 1000);
  CHECK(rep.events.acknowledged == rep.events.sent);
  CHECK(rep.events.lost == 0);
  CHECK(rep.events.duplicated == 0);
  CHECK(rep.events.reordered == 0);
  // Two faults, each failing over all four partitions.
  CHECK(rep.failovers.size() == 8);
  for (auto& f : rep.failovers) {
    CHECK(f.detected_ms >= 0);
    CHECK(f.promoted_ms >= 0);
  }
}
