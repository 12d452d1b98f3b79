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
  /// The highest epoch reserved for a successor or blocked (a controller
  /// taking over issues none up to it).
  epoch_t reserved_upto = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition_assignment& x) {
  return f(caf::meta::type_name("keel_partition_assignment"), x.app,
           x.partition, x.epoch, x.active, x.active_handle, x.standbys,
           x.reserved_upto);
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

/// Active controller -> standby control plane (cluster mode), after every
/// change: what a takeover starts from.
struct control_snapshot {
  uint64_t version = 0;
  assignment_table table;
  std::vector<node_handles> nodes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, control_snapshot& x) {
  return f(caf::meta::type_name("keel_control_snapshot"), x.version, x.table,
           x.nodes);
}

/// The standby control plane's watcher (actors/cluster/control_standby):
/// gets the snapshots and, as its node agent's listener, the node views.
using control_standby_actor = caf::typed_actor<caf::reacts_to<control_snapshot>,
                                               caf::reacts_to<node_view>,
                                               // self -> self: decide now
                                               caf::reacts_to<takeover_atom>>;

/// What bootstrap hands the controller to activate the system.
struct activation {
  std::vector<node_handles> nodes;
  fault_manager_actor fault_manager;
  load_manager_actor load_manager;
  /// Where copies send app-to-app events.
  event_sink_actor distributor;
  /// Where the latest snapshots of partitions without a standby are.
  snapshot_source_actor snapshots;
  /// Cluster mode: the standby control plane on `standby_node` (none if
  /// invalid), which gets a control_snapshot after every change.
  control_standby_actor standby;
  node_id standby_node;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, activation& x) {
  return f(caf::meta::type_name("keel_activation"), x.nodes, x.fault_manager,
           x.load_manager, x.distributor, x.snapshots, x.standby,
           x.standby_node);
}

using system_controller_actor = fault_listener_actor::extend<
  // bootstrap -> controller: spawn every copy, assign roles, install routes.
  // Replies when the system serves events. Not safe to repeat.
  caf::replies_to<activate_atom, activation>::with<ok_atom>,
  // standby control plane -> its (dormant) controller: take over from a
  // lost active controller. `act` holds every node and the new control
  // plane's fault manager, load manager and distributor; `table` is the last
  // replicated assignment; `here` is this controller's node. The controller
  // adopts the table, reconciles its epochs with the copies' own (the
  // replication may lag), tells the agents and the fault manager, which
  // finds the lost node down and has it recovered. Replies when it acts.
  caf::replies_to<takeover_atom, activation, assignment_table, node_id>::with<
    ok_atom>,
  // control node's gateway -> controller: a (restarted) standby control
  // plane on this node; replicate to it from now on.
  caf::reacts_to<standby_atom, control_standby_actor, node_id>,
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
  caf::reacts_to<run_queue_atom>,
  // self -> self: the requests of this round of deadlines that are still
  // unanswered time out (request_deadlines.hpp). From anyone else: ignored.
  caf::reacts_to<deadline_atom, uint64_t>>;

} // namespace keel
