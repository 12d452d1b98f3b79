// Protocol of the fault_manager: detects failures of copies and nodes
// (monitors: down_msg), locates them, isolates them (kills the copy if it is
// still alive and fences its epochs at every router) and reports them to the
// controller, which recovers.
#pragma once

#include <string>

#include "actors/node_agent/node_agent_interface.hpp"
#include "actors/router/router_interface.hpp"

namespace keel {

/// fault_manager -> controller: a copy failed and is isolated. `handle`
/// names the incarnation: a report about an incarnation that was already
/// replaced is stale and ignored.
struct copy_failed {
  copy_id copy;
  node_id node;
  std::string reason;
  app_support_actor handle;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, copy_failed& x) {
  return f(caf::meta::type_name("keel_copy_failed"), x.copy, x.node,
           x.reason, x.handle);
}

/// fault_manager -> controller: a node (its agent) failed.
struct node_failed {
  node_id node;
  std::string reason;
  /// Unreachable, not crashed: its copies may come back with their state.
  bool may_return = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_failed& x) {
  return f(caf::meta::type_name("keel_node_failed"), x.node, x.reason,
           x.may_return);
}

/// What bootstrap hands the controller: every node's agent and router.
struct node_handles {
  node_id node;
  node_agent_actor agent;
  router_actor router;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_handles& x) {
  return f(caf::meta::type_name("keel_node_handles"), x.node, x.agent,
           x.router);
}

/// Who receives fault reports (the system controller).
using fault_listener_actor = caf::typed_actor<
  caf::reacts_to<copy_failed>, caf::reacts_to<node_failed>,
  // fault_manager -> controller: the control node reaches a majority of the
  // configured nodes (true) or not (false: the controller changes nothing
  // until it does again; keep-majority).
  caf::reacts_to<majority_atom, bool>,
  // fault_manager -> controller: a node declared failed is reachable again;
  // reset it and use it again. The controller answers with node_up.
  caf::reacts_to<rejoin_atom, node_id>,
  // fault_manager -> controller: a node declared failed came back as a new
  // process (cluster mode: restarted, admitted by the control node's
  // gateway) with new handles: use them, tell every agent its new peer,
  // reset it and use it again. Answered with node_up.
  caf::reacts_to<rejoin_atom, node_handles>,
  // fault_manager -> controller: a node fenced itself for want of a
  // majority but was not declared failed (its copies kept their state):
  // promote its actives again and lift the fence. Answered with node_up.
  caf::reacts_to<self_fence_atom, node_id>>;

using fault_manager_actor = caf::typed_actor<
  // controller -> fault_manager: watch a copy from now on. Replies at once.
  caf::replies_to<watch_copy_atom, copy_id, node_id, app_support_actor>::with<
    ok_atom>,
  // controller -> fault_manager: watch copies of one node (activation), the
  // copies and their handles in the same order. Replies at once.
  caf::replies_to<watch_copy_atom, std::vector<copy_id>, node_id,
                  std::vector<app_support_actor>>::with<ok_atom>,
  // controller -> fault_manager: stop watching (planned stop). Replies at
  // once; a down_msg that arrives later is ignored.
  caf::replies_to<unwatch_copy_atom, copy_id>::with<ok_atom>,
  // bootstrap -> fault_manager: watch a node's agent, and use its router for
  // isolation. Replies at once.
  caf::replies_to<watch_node_atom, node_id, node_agent_actor,
                  router_actor>::with<ok_atom>,
  // control node's agent -> fault_manager: which nodes it hears.
  caf::reacts_to<node_view>,
  // control node's gateway -> fault_manager: node `handles.node` proved the
  // cluster secret with these handles. A node that is down, or watched
  // with other handles (an older process), is watched again with these and
  // rejoins; the handles already watched are ignored.
  caf::reacts_to<rejoin_atom, node_handles>,
  // controller -> fault_manager: a rejoining node was reset (true) or could
  // not be (false: it counts as failed again).
  caf::reacts_to<node_up_atom, node_id, bool>>;

} // namespace keel
