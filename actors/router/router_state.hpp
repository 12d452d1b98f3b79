// The router's decisions: the routing table, which routes replace which,
// buffering of events for partitions in transition, and what to flush when a
// partition gets an active. Plain C++; router.cpp moves the messages.
//
// Thread safety: none; owned by one router actor.
#pragma once

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "actors/router/router_interface.hpp"
#include "runtime/lazy_deque.hpp"

namespace keel {

class router_state {
public:
  explicit router_state(size_t buffer_max) : buffer_max_(buffer_max) {
  }

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

  /// A partition's route and transition buffer. Keyed by the route's own
  /// app and partition, which never change once the entry exists (a map
  /// keyed by a copy of them took 64 bytes more a partition: keel bench
  /// S1); the rest is mutable in the set.
  struct entry {
    mutable route current;
    mutable lazy_deque<routed_event> buffer;
  };

  /// Orders entries by (app, partition), and looks them up by a
  /// (app, partition) pair of references without building a key.
  struct by_partition {
    using is_transparent = void;
    using ref = std::pair<const app_name&, partition_id>;

    static ref of(const entry& e) {
      return {e.current.app, e.current.partition};
    }
    static ref of(const ref& r) {
      return r;
    }
    template <class X, class Y>
    bool operator()(const X& x, const Y& y) const {
      auto a = of(x);
      auto b = of(y);
      auto c = a.first.compare(b.first);
      return c != 0 ? c < 0 : a.second < b.second;
    }
  };

  /// The entry of (app, partition), made (in transition, no route) if
  /// there is none.
  const entry& get_or_make(const app_name& app, partition_id partition);

  size_t buffer_max_;
  std::set<entry, by_partition> entries_;
};

} // namespace keel
