// Protocol of the router (one per node): keeps the routing table
// (app, partition) -> the current active copy, shares it with the
// distributors that subscribe, buffers events for partitions in transition
// and flushes them, in order, to the new active once it is promoted.
//
// On the happy path a distributor sends straight to the active copy's handle
// (CAF's location-transparent addressing carries it); the router adds no
// hop. Only traffic for a partition in transition waits here.
#pragma once

#include <cstdint>
#include <vector>

#include "actors/app_support/app_support_interface.hpp"

namespace keel {

/// One entry of the routing table.
///
/// `in_transition` means `epoch` is fenced: its active lost the role, acks
/// of that epoch are rejected, and events wait in the router's buffer until
/// a route with a higher epoch arrives.
struct route {
  // The layout packs `partition` and `in_transition` into the tail padding of
  // the copy ids before them ([[no_unique_address]]: a copy id is 12 bytes of
  // data in 16), so that a route is 88 bytes and a router's entry, and 64 of
  // a distributor's partition entries, fit jemalloc's 128-byte and 8 KiB
  // classes (keel bench S1).
  app_name app;
  [[no_unique_address]] copy_id active;
  partition_id partition = 0;
  /// The active's successor (see successor_atom): the partition's one
  /// in-sync standby, which `successor_epoch` is reserved for. Empty handle: none;
  /// the controller names one only when the partition has exactly one
  /// standby. A distributor that sees the active die promotes it at once.
  [[no_unique_address]] copy_id successor;
  bool in_transition = true;
  epoch_t epoch = 0;
  node_id node;
  app_support_actor handle;
  node_id successor_node;
  app_support_actor successor_handle;
  /// The epoch reserved for the successor (> epoch).
  epoch_t successor_epoch = 0;

  /// The lowest epoch whose acks are still accepted for this partition.
  epoch_t min_ack_epoch() const noexcept {
    return in_transition ? epoch + 1 : epoch;
  }

  /// `next` is this route with only its successor changed.
  bool same_but_successor(const route& next) const noexcept {
    return next.epoch == epoch && next.in_transition == in_transition
           && next.handle == handle
           && (next.successor_handle != successor_handle
               || next.successor != successor
               || next.successor_epoch != successor_epoch);
  }
};

static_assert(sizeof(route) == 88, "route: see its layout comment");
// Hazard of that layout: never std::copy, memcpy, memset or placement-new a
// single copy id into `active` or `successor` (libstdc++ 12.2's std::copy of
// one trivially copyable object moves sizeof(T) bytes, PR108846, and would
// overwrite `partition` or `in_transition`). Assignment is safe.

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, route& x) {
  return f(caf::meta::type_name("keel_route"), x.app, x.partition, x.epoch,
           x.in_transition, x.active, x.node, x.handle, x.successor,
           x.successor_node, x.successor_handle, x.successor_epoch);
}

/// What a router pushes to its subscribers (the distributors).
using route_subscriber_actor = caf::typed_actor<
  // router -> subscriber: routes that changed (new epoch or new active).
  // The subscriber replays its unacknowledged events of these partitions to
  // the new active. Replies once installed. Safe to repeat: a route whose
  // epoch is not newer than the installed one is ignored.
  caf::replies_to<routes_atom, std::vector<route>>::with<ok_atom>,
  // router -> subscriber: the copy incarnation (the handle) is isolated and
  // these partitions are now in transition (their epoch is fenced); so is
  // every partition the subscriber itself routes to that incarnation (a
  // successor it promoted, which the router does not know of). From the
  // reply on, acks of the fenced epochs are rejected. Safe to repeat.
  caf::replies_to<fence_atom, app_support_actor, std::vector<route>>::with<
    ok_atom>>;

using router_actor = caf::typed_actor<
  // distributor -> router: an event for a partition in transition. Buffered
  // (bounded by router_buffer_max; past it: event_nack overloaded) and
  // flushed in arrival order to the next active; forwarded at once if the
  // partition already has an active.
  caf::reacts_to<routed_event>,
  // distributor -> router: subscribe to route changes; replies with the
  // whole table. The router monitors subscribers and forgets dead ones.
  caf::replies_to<subscribe_atom, route_subscriber_actor>::with<
    std::vector<route>>,
  // controller -> router: install routes, flush buffers of partitions that
  // got an active, push the changes to subscribers. Replies when every
  // subscriber installed them (or timed out). Safe to repeat.
  caf::replies_to<set_routes_atom, std::vector<route>>::with<ok_atom>,
  // fault_manager -> router: isolate a failed copy incarnation (the
  // handle): every partition it is the routed active of goes in transition
  // (its epoch fenced) here and at every subscriber. A newer incarnation of
  // the same copy is not touched. Replies with the number of partitions
  // fenced once every subscriber confirmed. Safe to repeat.
  caf::replies_to<fence_copy_atom, copy_id, app_support_actor>::with<uint32_t>,
  // any -> router: the whole routing table.
  caf::replies_to<routes_atom>::with<std::vector<route>>>;

} // namespace keel
