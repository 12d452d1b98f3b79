// A scenario: topology, workload, a schedule of steps (faults and, later,
// admin operations) and checks, read from a JSON file and validated up
// front. Errors name the file and the JSON path.
//
// Steps are registered kinds (step_kinds()): each has a name, its fields
// with defaults, and a validator; adding a kind means adding one entry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "runtime/config.hpp"

namespace keel::scenarios {

struct workload_spec {
  /// Application the clients send to (default: the first configured app).
  app_name app;
  uint32_t clients = 4;
  /// Events per second over all clients.
  double rate_per_s = 1000;
  /// Keys are "k0" .. "k<keys-1>", drawn uniformly from the seed.
  uint32_t keys = 64;
  uint32_t duration_ms = 4000;
  /// A client's timeout for one event.
  uint32_t request_timeout_ms = 10000;
  /// A client sends nothing new while this many of its events are open.
  uint32_t max_in_flight = 10000;
  /// Payload of every event.
  json payload = json::object();
  /// How clients send: one request per event ("request"), or each tick's
  /// events in one event_batch ("batch"; outcomes in event_results, an
  /// event unanswered after request_timeout_ms counts as failed).
  bool batch = false;
};

/// One scheduled step. Which fields matter depends on `kind`.
struct step_spec {
  uint32_t at_ms = 0;
  std::string kind;
  app_name app;
  /// Copy steps: "active_of" / "standby_of" (a partition's), or "copy".
  std::string which;
  partition_id partition = 0;
  uint32_t copy = 0;
  node_id node;
  /// slow_copy: how late health checks are answered.
  uint32_t delay_ms = 0;
  /// flap_node: kill the node's copies every interval_ms until until_ms.
  uint32_t interval_ms = 0;
  uint32_t until_ms = 0;
  // Network and node faults (simulation):
  std::vector<node_id> nodes;  ///< partition: the side cut off; links: the two ends
  uint32_t jitter_ms = 0;      ///< delay_link
  double probability = 0;      ///< drop_link: loss probability per message
  uint32_t for_ms = 0;         ///< partition/links/hang_node: undone after (0: never)
  uint32_t events = 0;         ///< overload: burst size
};

struct check_spec {
  std::string name;
  /// recovered_within_ms: the bound.
  double bound_ms = 0;
};

struct scenario {
  std::string origin;  ///< file name, for messages
  std::string title;
  uint64_t seed = 1;
  system_config system;
  workload_spec workload;
  std::vector<step_spec> steps;
  std::vector<check_spec> checks;
  /// How long to wait, after the load stops, for recoveries to finish.
  uint32_t settle_timeout_ms = 10000;
};

class step_reader;

/// A registered step kind: its name, help, and how to read its fields.
struct step_kind {
  const char* name;
  const char* help;
  /// Reads the kind's fields into `out` (at_ms and do are read already).
  /// Throws json_path_error.
  void (*read)(step_reader& in, step_spec& out, const scenario& sc);
  /// The fields the kind accepts besides at_ms and do.
  std::vector<std::string> fields;
};

const std::vector<step_kind>& step_kinds();

/// "a, b, c": names listed in messages.
std::string join_names(const std::vector<std::string>& xs);

/// Names of the checks a scenario may list.
const std::vector<std::string>& check_names();

/// Parses and validates a scenario document. Errors are
/// error_code::invalid_config: "<origin>: <json path>: <what>".
caf::expected<scenario> parse_scenario(const json& doc,
                                       const std::string& origin);

/// Reads, parses and validates a scenario file.
caf::expected<scenario> load_scenario(const std::string& file);

} // namespace keel::scenarios
