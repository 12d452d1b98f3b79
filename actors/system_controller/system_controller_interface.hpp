// Protocol of the system_controller: activation (spawn copies, compute and
// apply the initial assignment), recovery from faults reported by the
// fault_manager (promote standbys, restart copies within the restart
// intensity, replace copies of failed nodes), and the assignment query.
#pragma once

#include <vector>

#include "actors/fault_manager/fault_manager_interface.hpp"

namespace keel {

/// One partition's assignment as the controller sees it.
struct partition_assignment {
  app_name app;
  partition_id partition = 0;
  epoch_t epoch = 0;
  /// Empty app name: no active now (waiting for a copy).
  copy_id active;
  app_support_actor active_handle;
  std::vector<copy_id> standbys;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition_assignment& x) {
  return f(caf::meta::type_name("keel_partition_assignment"), x.app,
           x.partition, x.epoch, x.active, x.active_handle, x.standbys);
}

/// One copy as the controller sees it.
struct copy_info {
  copy_id copy;
  node_id node;
  bool alive = false;
  app_support_actor handle;
  uint32_t restarts = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, copy_info& x) {
  return f(caf::meta::type_name("keel_copy_info"), x.copy, x.node, x.alive,
           x.handle, x.restarts);
}

struct assignment_table {
  std::vector<partition_assignment> partitions;
  std::vector<copy_info> copies;
  std::vector<node_id> failed_nodes;
  /// Recoveries queued or running; 0 means the controller is idle.
  uint32_t recoveries_pending = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, assignment_table& x) {
  return f(caf::meta::type_name("keel_assignment_table"), x.partitions,
           x.copies, x.failed_nodes, x.recoveries_pending);
}

/// What bootstrap hands the controller to activate the system.
struct activation {
  std::vector<node_handles> nodes;
  fault_manager_actor fault_manager;
  load_manager_actor load_manager;
  /// Where copies send app-to-app events.
  event_sink_actor distributor;
  /// Where the latest snapshots of partitions without a standby are.
  snapshot_source_actor snapshots;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, activation& x) {
  return f(caf::meta::type_name("keel_activation"), x.nodes, x.fault_manager,
           x.load_manager, x.distributor, x.snapshots);
}

using system_controller_actor = fault_listener_actor::extend<
  // bootstrap -> controller: spawn every copy, assign roles, install routes.
  // Replies when the system serves events. Not safe to repeat.
  caf::replies_to<activate_atom, activation>::with<ok_atom>,
  // any -> controller: the current assignment. Safe to repeat.
  caf::replies_to<get_assignment_atom>::with<assignment_table>,
  // admin -> controller: planned switchover of one partition: its active
  // quiesces (finishes what it applied, takes nothing new), its first
  // standby is promoted with epoch + 1, the old active becomes a standby.
  // Replies with the new epoch. Queued with recoveries; not safe to repeat
  // blindly (each call moves the role again).
  caf::replies_to<switchover_atom, app_name, partition_id>::with<epoch_t>,
  // admin -> controller: switch over every partition a copy is active for
  // (maintenance of that copy or its node). Replies with the number moved.
  caf::replies_to<switchover_atom, copy_id>::with<uint32_t>,
  // self -> self: add a standby again whose addition failed (a request or
  // its answer was lost); skipped if the assignment moved on.
  caf::reacts_to<retry_standby_atom, app_name, partition_id, copy_id>,
  // self -> self: start the work queue (after the mailbox's reports).
  caf::reacts_to<run_queue_atom>>;

} // namespace keel
