// Protocol of the node_agent (one per node): spawns and stops the copies
// placed on its node, on the controller's command, and health-checks them:
// a copy that misses health_check_misses checks in a row is hung; the agent
// kills it, and the fault manager sees it go down like any crash. When the
// node goes down, its copies go down with it.
#pragma once

#include <string>

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

using node_agent_actor = caf::typed_actor<
  // controller -> agent: start a copy (all partitions offline). Error
  // unknown_app if the type is not registered here.
  caf::replies_to<spawn_copy_atom, copy_spec>::with<app_support_actor>,
  // controller -> agent: stop a copy (no-op if unknown). Replies at once.
  caf::replies_to<stop_copy_atom, copy_id>::with<ok_atom>,
  // any -> agent: the copies running here. Also a liveness probe.
  caf::replies_to<status_atom>::with<std::vector<copy_id>>,
  // self -> self: health-check one copy (incarnation number).
  caf::reacts_to<probe_atom, copy_id, uint64_t>>;

} // namespace keel
