// Protocol of the load_distributor, the ALDM: the ingress of external
// events. It hashes an event's key to a partition, gives it the partition's
// next sequence number, keeps it in a bounded replay buffer until the active
// copy acknowledges it, and replays the unacknowledged ones to a newly
// promoted active. Clients get their reply only after the event is applied
// and replicated.
#pragma once

#include <cstdint>
#include <string>

#include "actors/router/router_interface.hpp"

namespace keel {

struct distributor_status {
  std::string source;
  /// Events accepted, acknowledged, replayed and refused since start.
  uint64_t accepted = 0;
  uint64_t acknowledged = 0;
  uint64_t replayed = 0;
  uint64_t refused = 0;
  /// Events waiting for an acknowledgement now.
  uint64_t pending = 0;
  /// Acks rejected because their epoch was fenced.
  uint64_t stale_acks = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, distributor_status& x) {
  return f(caf::meta::type_name("keel_distributor_status"), x.source,
           x.accepted, x.acknowledged, x.replayed, x.refused, x.pending,
           x.stale_acks);
}

using load_distributor_actor = event_sink_actor::extend_with<
  ack_sink_actor, route_subscriber_actor, snapshot_source_actor>::extend<
  // client -> distributor: the batch ingress (see event_batch); outcomes
  // go to event_batch::reply_to. At most 65536 events per batch and 4096
  // batch clients at a time (beyond: every event refused, with the reason).
  // A batch without reply_to is not taken (trace event batch_refused).
  caf::reacts_to<event_batch>,
  // fault_manager -> distributor: this copy incarnation died (a crash or a
  // kill, not a lost link). Partitions it is the routed active of and whose
  // route names a successor get the successor as active in its reserved
  // epoch at once (successor_atom), and their unacknowledged events replayed
  // to it;
  // the controller's recovery confirms the same promotion afterwards.
  caf::reacts_to<died_atom, app_support_actor>,
  // any -> distributor: counters. Safe to repeat.
  caf::replies_to<status_atom>::with<distributor_status>,
  // self -> self: resend events a copy or router refused.
  caf::reacts_to<tick_atom>>;

} // namespace keel
