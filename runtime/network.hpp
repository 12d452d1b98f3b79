// The simulated network between logical nodes.
//
// In simulation every message that may cross nodes goes through
// runtime/transport, which asks this object what happens to it: delivered
// now, delivered later (delay and jitter, order per link kept, as TCP keeps
// it), or lost (a partition, or a lossy link). Realtime and cluster runs
// have no network object: transport is a plain CAF send.
//
// It also knows which logical node each actor lives on, so that the
// simulation can stop a whole node (hang_node, as SIGSTOP would): its
// actors are not scheduled, what is sent to them waits in their mailboxes,
// and they run again, with everything queued, when it resumes.
//
// Deterministic: one seeded generator draws jitter and loss, and the
// simulation runs one actor at a time, so no locking is needed; a mutex
// still guards the state so that a misuse under threads stays safe.
#pragma once

#include <cstdint>
#include <functional>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "runtime/random.hpp"
#include "runtime/types.hpp"

namespace keel {

/// An actor that takes every message and never answers: requests the
/// simulated network does not let through go here and time out.
caf::actor spawn_blackhole(caf::actor_system& sys);

class network {
public:
  explicit network(uint64_t seed);

  /// What happens to one message from `from` to `to`.
  struct verdict {
    enum kind_t { deliver, drop } kind = deliver;
    int64_t delay_us = 0;  ///< for deliver: after this long
  };

  /// Decides the fate of one message sent at `now_us` (virtual time).
  /// Messages within a node always arrive at once.
  verdict route(const node_id& from, const node_id& to, int64_t now_us);

  /// Whether a request from `from` to `to` can get through now (no
  /// partition). Requests are neither delayed nor lost on a lossy link.
  bool reachable(const node_id& from, const node_id& to);

  /// Cuts `side` off from every other node of `all` (both directions), as
  /// cut number `id`.
  void partition(uint64_t id, const std::vector<node_id>& side,
                 const std::vector<node_id>& all);

  /// Ends cut `id` (other cuts stay).
  void heal(uint64_t id);

  /// Ends every partition.
  void heal();

  /// Adds latency to the link between `a` and `b` (both directions);
  /// zero delay and jitter clears it.
  void set_delay(const node_id& a, const node_id& b, int64_t delay_us,
                 int64_t jitter_us);

  /// Loses each message between `a` and `b` with `probability`; 0 clears.
  void set_loss(const node_id& a, const node_id& b, double probability);

  /// Stops a node: its actors are not scheduled until `resume`.
  void hang(const node_id& node);
  void resume(const node_id& node);

  /// Records that actor `id` lives on `node` (components call this once).
  void place(caf::actor_id id, const node_id& node);
  void forget(caf::actor_id id);

  /// Whether the simulation may run actor `id` now (its node is not hung).
  bool runnable(caf::actor_id id) const;

private:
  using link = std::pair<node_id, node_id>;

  static link undirected(const node_id& a, const node_id& b) {
    return a < b ? link{a, b} : link{b, a};
  }

  bool blocked(const node_id& from, const node_id& to) const;

  mutable std::mutex mtx_;
  random_source rng_;
  void recompute_cut();

  std::map<uint64_t, std::set<link>> cuts_;      ///< by cut id
  std::set<link> cut_;                           ///< union of cuts_
  std::map<link, std::pair<int64_t, int64_t>> delay_;  ///< undirected
  std::map<link, double> loss_;                  ///< undirected
  std::map<link, int64_t> last_arrival_;         ///< directed: FIFO per link
  std::set<node_id> hung_;
  std::map<caf::actor_id, node_id> placed_;
};

} // namespace keel
