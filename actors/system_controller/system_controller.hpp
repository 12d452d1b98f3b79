// The system_controller actor: see system_controller_interface.hpp for its
// protocol and controller_state.hpp for its decisions.
//
// Recoveries run one at a time, in arrival order (a work queue): each is a
// short chain of fan-out steps (promote, install routes, restart and sync).
// Every step emits a trace event, so each failover has a timeline.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>

#include "actors/request_deadlines.hpp"
#include "actors/system_controller/controller_state.hpp"
#include "actors/system_controller/system_controller_interface.hpp"
#include "runtime/context.hpp"

namespace keel {

struct switchover_run;

struct system_controller_actor_state {
  using work_item = std::function<void(std::function<void()> done)>;

  context_ptr ctx;
  std::unique_ptr<controller_state> plan;
  activation handles;
  std::map<node_id, node_handles> nodes;
  /// Nodes back as new processes whose rejoin waits in the queue: the node
  /// agents learn of the new agent at once (send_peers), so that heartbeats
  /// flow again. Without that a control node that fenced itself while the
  /// node restarted never heard a majority again, and the queue that would
  /// have told the agents never ran.
  std::map<node_id, node_handles> restarted;
  std::map<copy_id, app_support_actor> copies;
  std::deque<work_item> work;
  bool busy = false;
  /// Keep-majority: false while the control node does not reach a majority
  /// of the configured nodes; queued work waits.
  bool has_majority = true;
  /// The switchover running now, if any (system_controller.cpp).
  std::shared_ptr<switchover_run> switchover;
  bool activated = false;
  /// The node this controller runs on (the first configured node, or the
  /// standby control node after a takeover).
  node_id control_node;
  /// Snapshots sent to the standby control plane.
  uint64_t replicated = 0;
  /// The deadlines of the requests this controller sent.
  request_deadlines deadlines;
  static inline const char* name = "keel.system_controller";
};

using system_controller_pointer
  = system_controller_actor::stateful_pointer<system_controller_actor_state>;

system_controller_actor::behavior_type
system_controller_impl(system_controller_pointer self, context_ptr ctx);

} // namespace keel
