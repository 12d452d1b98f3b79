#include <catch2/catch.hpp>

#include "runtime/config.hpp"
#include "runtime/error.hpp"

using namespace keel;

namespace {

std::string error_of(const char* text) {
  auto result = parse_system_config(json::parse(text));
  REQUIRE_FALSE(result);
  CHECK(code_of(result.error()) == error_code::invalid_config);
  return context_of(result.error());
}

} // namespace

TEST_CASE("config: a valid document loads with defaults for omitted knobs") {
  auto cfg = parse_system_config(json::parse(R"({
    "topology": {"nodes": ["n1", "n2"],
                 "apps": [{"name": "journal", "model": "2n", "copies": 2,
                           "partitions": 8}]},
    "tuning": {"replay_buffer_max": 50}})"));
  REQUIRE(cfg);
  CHECK(cfg->nodes.size() == 2);
  CHECK(cfg->apps.at(0).model == redundancy_model::two_n);
  CHECK(cfg->apps.at(0).type == "journal");
  CHECK(cfg->knobs.replay_buffer_max == 50);
  CHECK(cfg->knobs.router_buffer_max == tuning{}.router_buffer_max);
}

TEST_CASE("config: a bad value names its JSON path and the expected form") {
  auto msg = error_of(R"({"topology": {"nodes": ["n1"],
    "apps": [{"name": "j", "model": "2n", "copies": "two", "partitions": 8}]}})");
  CHECK(msg.find("$.topology.apps[0].copies") != std::string::npos);
  CHECK(msg.find("expected an integer") != std::string::npos);
  CHECK(msg.find("\"two\"") != std::string::npos);
}

TEST_CASE("config: an unknown key is an error naming its path") {
  auto msg = error_of(R"({"topology": {"nodes": ["n1"],
    "apps": [{"name": "j", "model": "2n", "copies": 2, "partitions": 8,
              "replicas": 3}]}})");
  CHECK(msg.find("$.topology.apps[0].replicas: unknown key") != std::string::npos);
  auto knob = error_of(R"({"topology": {"nodes": ["n1"],
    "apps": [{"name": "j", "model": "2n", "copies": 2, "partitions": 8}]},
    "tuning": {"replay_buffer": 5}})");
  CHECK(knob.find("$.tuning.replay_buffer: unknown key") != std::string::npos);
}

TEST_CASE("config: model-specific rules are checked") {
  CHECK(error_of(R"({"topology": {"nodes": ["n1"],
    "apps": [{"name": "j", "model": "2n", "copies": 3, "partitions": 8}]}})")
          .find("$.topology.apps[0].copies: model 2n needs exactly 2")
        != std::string::npos);
  CHECK(error_of(R"({"topology": {"nodes": ["n1"],
    "apps": [{"name": "j", "model": "3n", "copies": 3, "partitions": 8}]}})")
          .find("$.topology.apps[0].model: expected one of")
        != std::string::npos);
  CHECK(error_of(R"({"topology": {"nodes": ["n1", "n1"],
    "apps": [{"name": "j", "model": "2n", "copies": 2, "partitions": 8}]}})")
          .find("$.topology.nodes[1]: duplicate node name")
        != std::string::npos);
  CHECK(error_of(R"({"topology": {"nodes": ["n1"],
    "apps": [{"name": "j", "model": "n_way", "copies": 3, "partitions": 8,
              "standbys_per_partition": 3}]}})")
          .find("standbys_per_partition") != std::string::npos);
}

TEST_CASE("config: a knob out of range is refused") {
  CHECK(error_of(R"({"topology": {"nodes": ["n1"],
    "apps": [{"name": "j", "model": "2n", "copies": 2, "partitions": 8}]},
    "tuning": {"replay_buffer_max": 0}})")
          .find("$.tuning.replay_buffer_max: expected an integer in [1,")
        != std::string::npos);
}

TEST_CASE("config: every knob has a help text and a default within range") {
  for (auto& k : knobs()) {
    INFO(k.name);
    CHECK(std::string{k.help}.size() > 10);
    CHECK(k.default_value >= k.min);
    CHECK(k.default_value <= k.max);
  }
}
