// Protocol of the load_manager: collects load reports from every copy and
// answers load queries. (Rebalancing plans come later; reports and the query
// are what exists now.)
#pragma once

#include <cstdint>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "runtime/atoms.hpp"
#include "runtime/types.hpp"

namespace keel {

/// Load of one partition on one copy.
struct partition_load {
  partition_id partition = 0;
  role current_role = role::offline;
  /// Events applied since the copy started holding the partition.
  uint64_t applied = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition_load& x) {
  return f(caf::meta::type_name("keel_partition_load"), x.partition,
           x.current_role, x.applied);
}

/// Periodic report of one copy.
struct load_report {
  copy_id copy;
  node_id node;
  /// Trace-clock time of the report (microseconds since system start).
  int64_t at_us = 0;
  /// Events applied per second over the last interval (active partitions).
  double events_per_s = 0;
  /// Messages waiting in the copy's mailbox when the report was made.
  uint64_t queue_length = 0;
  std::vector<partition_load> partitions;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, load_report& x) {
  return f(caf::meta::type_name("keel_load_report"), x.copy, x.node, x.at_us,
           x.events_per_s, x.queue_length, x.partitions);
}

using load_manager_actor = caf::typed_actor<
  // app_support -> load_manager, every load_report_interval_ms. No reply.
  // A newer report of the same copy replaces the older one.
  caf::reacts_to<load_report>,
  // any -> load_manager: the latest report of every live copy, sorted by
  // copy. Safe to repeat.
  caf::replies_to<get_load_atom>::with<std::vector<load_report>>,
  // system_controller -> load_manager: forget a copy that is gone.
  caf::reacts_to<unwatch_copy_atom, copy_id>>;

} // namespace keel
