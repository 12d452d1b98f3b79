// The scenario driver: an actor that runs one scenario against a started
// system. It spawns the workload clients, carries out the steps at their
// times (on the actor clock), waits for the clients to finish and the
// system to settle, and collects the final state into `run_data`.
//
// Protocol: the runner sends (run_atom) as a request; the reply (ok_atom)
// comes once `run_data` is complete. Everything else is internal.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include <caf/behavior.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/bootstrap.hpp"
#include "scenarios/engine/run_data.hpp"
#include "scenarios/engine/scenario.hpp"
#include "scenarios/engine/workload_client.hpp"

namespace keel::scenarios {

using run_atom = caf::atom_constant<caf::atom("run")>;
using step_atom = caf::atom_constant<caf::atom("step")>;
using settle_atom = caf::atom_constant<caf::atom("settle")>;
using flap_atom = caf::atom_constant<caf::atom("flap")>;
using undo_atom = caf::atom_constant<caf::atom("undo")>;
using live_atom = caf::atom_constant<caf::atom("live")>;

/// Process mode (--mode process): carries out a node fault on the node's
/// real process. `kind` is crash_node (SIGKILL), hang_node (SIGSTOP),
/// resume_node (SIGCONT) or restart_node. Returns an empty string, or why it
/// could not be done. Unset in the other modes.
using node_fault_fn
  = std::function<std::string(const std::string& kind, const node_id& node)>;

struct driver_state {
  std::shared_ptr<const scenario> sc;
  system_handles handles;
  std::shared_ptr<run_data> data;
  node_fault_fn node_faults;
  caf::response_promise done;
  size_t clients_done = 0;
  /// Every workload client spawned (they get switch_atom).
  std::vector<caf::actor> clients;
  /// Clients started by overload steps (they report done like the others).
  size_t extra_clients = 0;
  caf::actor_clock::time_point settle_deadline;
  caf::actor_clock::time_point started;
  /// Process mode: signal steps already run together with an earlier step
  /// of the same time (one assignment for all: a step that stops the
  /// control node must not hold back the next one's request).
  std::set<uint32_t> run_together;
  static inline const char* name = "keel.scenario_driver";
};

caf::behavior scenario_driver(caf::stateful_actor<driver_state>* self,
                              std::shared_ptr<const scenario> sc,
                              system_handles handles,
                              std::shared_ptr<run_data> data,
                              node_fault_fn node_faults);

/// Runs `driver` (run_atom) and waits for its answer, at most the run's own
/// length plus every timeout it may wait and a minute. The error, if any.
caf::error await_driver(caf::actor_system& sys, const caf::actor& driver,
                        const scenario& sc);

} // namespace keel::scenarios
