// The router's decisions: the routing table, which routes replace which,
// buffering of events for partitions in transition, and what to flush when a
// partition gets an active. Plain C++; router.cpp moves the messages.
//
// Thread safety: none; owned by one router actor.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "actors/router/router_interface.hpp"
#include "runtime/lazy_deque.hpp"

namespace keel {

class router_state {
public:
  explicit router_state(size_t buffer_max) : buffer_max_(buffer_max) {
  }

  using key = std::pair<app_name, partition_id>;

  /// What on_event decided.
  enum class verdict {
    forward,     ///< send to the returned route's handle now
    buffered,    ///< held until the partition gets an active
    overloaded,  ///< buffer full: nack the sender
  };

  /// An event arrives: forward it, buffer it or refuse it. On `forward`,
  /// `ev.epoch` is stamped with the route's epoch and `*out` set.
  verdict on_event(routed_event& ev, const route** out);

  /// Installs `routes` (newer epochs replace older ones; at the same epoch,
  /// a fence replaces an active route). Returns the routes that changed and
  /// appends to `flushes` the buffered events to forward, in order, each
  /// paired with its route.
  std::vector<route>
  install(const std::vector<route>& routes,
          std::vector<std::pair<route, routed_event>>& flushes);

  /// Puts every partition whose routed active is this incarnation of `copy`
  /// (same handle) in transition. Returns the routes that changed.
  std::vector<route> fence_copy(const copy_id& copy,
                                const app_support_actor& incarnation);

  /// The whole table, ordered by (app, partition).
  std::vector<route> table() const;

  /// Events buffered for `(app, partition)`.
  size_t buffered(const app_name& app, partition_id partition) const;

private:
  static bool replaces(const route& next, const route& current);

  struct entry {
    route current;
    lazy_deque<routed_event> buffer;
  };

  size_t buffer_max_;
  std::map<key, entry> entries_;
};

} // namespace keel
