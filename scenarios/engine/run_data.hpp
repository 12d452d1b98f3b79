// What a scenario run records for the checker: every client's requests and
// outcomes, the faults injected, and the system's final state.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "actors/system_controller/system_controller_interface.hpp"
#include "runtime/types.hpp"

namespace keel::scenarios {

/// One event sent by a workload client.
struct request_record {
  enum class outcome : uint8_t {
    open,          ///< no answer (yet)
    acknowledged,  ///< applied and replicated
    refused,       ///< an explicit error (overloaded, app_rejected, ...)
    failed,        ///< timeout or lost connection: the effect is unknown
  };

  uint64_t request_id = 0;
  std::string key;
  int64_t sent_us = 0;
  int64_t done_us = -1;
  outcome result = outcome::open;
  std::string error;
};

struct client_log {
  std::string client_id;
  std::vector<request_record> requests;
};

struct fault_record {
  /// Position in run_data::faults (a step that repeats, like flap_node,
  /// records one fault per round).
  uint32_t index = 0;
  /// The scenario step that injected it.
  uint32_t step = 0;
  std::string kind;
  std::string target;
  int64_t at_us = 0;
  /// Copies that went down because of this fault.
  std::vector<copy_id> copies;
  /// The node of each copy, same order.
  std::vector<node_id> nodes;
  /// Non-empty if the step could not be carried out.
  std::string error;
};

struct run_data {
  std::vector<std::shared_ptr<client_log>> clients;
  std::vector<fault_record> faults;
  using journal_state
    = std::map<std::string, std::vector<std::pair<std::string, uint64_t>>>;
  /// Journal entries of the workload app, by key: (client id, request id).
  journal_state journal;
  bool journal_read = false;
  /// The other journal-type applications (targets of forwarded events).
  std::map<app_name, journal_state> other_journals;
  std::set<app_name> other_journals_unread;
  /// Final state.
  assignment_table final_assignment;
  std::vector<copy_status> statuses;
  /// True if recoveries finished and every partition had an active before
  /// settle_timeout_ms.
  bool settled = false;
  int64_t load_end_us = 0;
  /// Liveness: when the last fault ended (injection, or its for_ms), and
  /// when the driver first saw every partition with an active and its
  /// configured standbys after that (-1: never).
  int64_t faults_end_us = 0;
  int64_t restored_us = -1;
  /// A step or collection problem that makes the run fail.
  std::vector<std::string> errors;
  /// The driver delivered its result (simulation loops poll this).
  bool finished = false;
};

} // namespace keel::scenarios
