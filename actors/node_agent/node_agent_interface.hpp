// Protocol of the node_agent (one per node): spawns and stops the copies
// placed on its node, on the controller's command, and health-checks them:
// a copy that misses health_check_misses checks in a row is hung; the agent
// kills it, and the fault manager sees it go down like any crash. It also
// keeps the one load-report timer of its node. When the node goes down, its
// copies go down with it.
#pragma once

#include <string>
#include <vector>

#include "actors/app_support/app_support_interface.hpp"

namespace keel {

/// What the controller tells an agent to start.
struct copy_spec {
  copy_id copy;
  /// Registered application type (apps/api/app_registry).
  std::string type;
  /// Number of partitions of the application.
  uint32_t partitions = 0;
  /// Where the copy sends app-to-app events.
  event_sink_actor distributor;
  /// Where the copy sends its load reports.
  load_manager_actor load_manager;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, copy_spec& x) {
  return f(caf::meta::type_name("keel_copy_spec"), x.copy, x.type,
           x.partitions, x.distributor, x.load_manager);
}

/// Node agent -> every other node agent, every heartbeat_interval_ms,
/// through the transport seam (so partitions and lossy links cut it).
struct heartbeat {
  node_id from;
  /// The sender demoted its actives for want of a majority and waits for
  /// the controller to reset it.
  bool fenced = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, heartbeat& x) {
  return f(caf::meta::type_name("keel_heartbeat"), x.from, x.fenced);
}

/// Agent -> listener, whenever it changes: which configured nodes this
/// node does not hear (missed heartbeat_misses heartbeats), which say they
/// fenced themselves, and whether this node reaches a majority.
struct node_view {
  node_id from;
  std::vector<node_id> unreachable;
  std::vector<node_id> fenced;
  bool majority = true;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_view& x) {
  return f(caf::meta::type_name("keel_node_view"), x.from, x.unreachable,
           x.fenced, x.majority);
}

/// Who gets a node's view (the fault manager, on the control node).
using view_listener_actor = caf::typed_actor<caf::reacts_to<node_view>>;

/// Bootstrap -> every agent: the other nodes' agents, and (on the control
/// node only) the actor that gets this node's view of the others (the fault
/// manager).
struct agent_peers {
  std::vector<node_id> nodes;
  std::vector<caf::actor> agents;  ///< node agents (untyped: declared below)
  view_listener_actor listener;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_peers& x) {
  return f(caf::meta::type_name("keel_agent_peers"), x.nodes, x.agents,
           x.listener);
}

using node_agent_actor = caf::typed_actor<
  // controller -> agent: start a copy (all partitions offline). Error
  // unknown_app if the type is not registered here.
  caf::replies_to<spawn_copy_atom, copy_spec>::with<app_support_actor>,
  // controller -> agent: start several copies (activation: one request per
  // node). Replies with their handles in the order asked; an invalid handle
  // for a copy that could not start (ask for it alone to learn why).
  caf::replies_to<spawn_copy_atom, std::vector<copy_spec>>::with<
    std::vector<app_support_actor>>,
  // controller -> agent: stop a copy (no-op if unknown). Replies at once.
  caf::replies_to<stop_copy_atom, copy_id>::with<ok_atom>,
  // any -> agent: the copies running here. Also a liveness probe.
  caf::replies_to<status_atom>::with<std::vector<copy_id>>,
  // self -> self: a health check round of every copy here (a sequence
  // number: only the latest tick schedules the next).
  caf::reacts_to<probe_atom, uint64_t>,
  // copy -> agent: the answer to a health check (copy, round).
  caf::reacts_to<health_atom, copy_id, uint64_t>,
  // self -> self: every copy here reports its load, every
  // load_report_interval_ms (a sequence number: only the latest tick
  // schedules the next).
  caf::reacts_to<tick_atom, uint64_t>,
  // bootstrap -> agent: who the peers are; starts the heartbeats.
  caf::reacts_to<peers_atom, agent_peers>,
  // peer agent -> agent.
  caf::reacts_to<heartbeat>,
  // self -> self: send heartbeats, judge the peers (a sequence number: only
  // the latest tick schedules the next).
  caf::reacts_to<hb_tick_atom, uint64_t>,
  // controller -> agent, when a node that fenced itself or was declared
  // failed is back: lift the self-fence and, if `true` (it was declared
  // failed: its copies were replaced elsewhere), stop every copy here.
  // Replies when done.
  caf::replies_to<reset_atom, bool>::with<ok_atom>,
  // The same, stopping every copy except those listed (they kept the only
  // state of some partition and take their roles back). Replies with their
  // handles, in the order asked (an invalid handle: not running here).
  caf::replies_to<reset_atom, std::vector<copy_id>>::with<
    std::vector<app_support_actor>>>;

} // namespace keel
