// The standby control plane's watcher (cluster mode). On the standby control
// node a second control plane (controller, fault manager, load manager,
// distributor) is spawned dormant at startup; this actor holds the active
// controller's latest control_snapshot and takes over when the active
// controller is lost: its down_msg (remote_link_unreachable: the process
// died, or CAF dropped its connections after middleman.connection-timeout),
// and only while a majority of the configured nodes is alive and heard (its
// node agent reports its view here; agents whose process was lost count as
// down; keep-majority: a standby cut off in a minority never takes over, and
// takes over later if the majority comes back). The decision waits
// takeover_grace so that processes lost together are all counted. A control node that only misses heartbeats (stopped) is not taken
// over before CAF drops it: it could resume and act. The dormant controller
// then adopts the snapshot (controller takeover), and this node's gateway
// hands the new control plane to clients.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "actors/bootstrap.hpp"
#include "actors/cluster/gateway.hpp"
#include "actors/system_controller/system_controller_interface.hpp"
#include "runtime/context.hpp"

namespace keel {

struct control_standby_state {
  context_ptr ctx;
  node_id node;
  /// The dormant control plane on this node.
  control_plane dormant;
  std::shared_ptr<gateway_cell> cell;
  /// The latest snapshot and who sent it (the active controller, watched).
  control_snapshot snapshot;
  bool have_snapshot = false;
  caf::actor_addr active;
  /// Nodes whose agent (as in the snapshot) went down, and the nodes this
  /// node's agent does not hear: the majority is judged from both.
  std::set<node_id> down;
  std::set<node_id> unreachable;
  std::set<caf::actor_addr> watched_agents;
  /// The active controller is lost; the takeover waits for a majority.
  bool controller_lost = false;
  std::string lost_reason;
  bool taking_over = false;
  static inline const char* name = "keel.control_standby";
};

using control_standby_pointer
  = control_standby_actor::stateful_pointer<control_standby_state>;

control_standby_actor::behavior_type
control_standby_impl(control_standby_pointer self, context_ptr ctx,
                     node_id node, control_plane dormant,
                     std::shared_ptr<gateway_cell> cell);

} // namespace keel
