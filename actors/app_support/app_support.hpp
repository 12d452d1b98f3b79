// app_support, the ADSM: the CAF actor that runs one application copy.
//
// It holds one `replica` per partition the controller gave it a role for and
// turns messages into replica calls and replica outboxes into messages. All
// decisions live in replica.hpp. Spawned and linked by the node_agent.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/app_support/app_support_interface.hpp"
#include "actors/app_support/replica.hpp"
#include "actors/node_agent/node_agent_interface.hpp"
#include "apps/api/app_registry.hpp"
#include "runtime/context.hpp"

namespace keel {

/// Everything a copy needs at spawn time.
struct app_support_args {
  copy_spec spec;
  node_id node;
  context_ptr ctx;
  app_factory factory;
  /// The node agent; the copy quits when it goes down (node crash).
  caf::actor agent;
};

/// A copy's replicas, one per partition it has been given a role for,
/// ordered by partition. Sparse: a vector indexed by partition cost every
/// copy 8 bytes per partition of its application (512 B a copy in
/// `keel bench S1`, which has 64 partitions per application).
class replica_table {
public:
  using container = std::vector<std::unique_ptr<replica>>;

  /// The replica of `partition`, or nullptr.
  replica* find(partition_id partition) const {
    auto i = lower_bound(partition);
    return i != items_.end() && (*i)->partition() == partition ? i->get()
                                                               : nullptr;
  }

  /// The replica of `partition`, made by `make()` if there is none yet.
  template <class Make>
  replica& get_or_make(partition_id partition, Make make) {
    auto i = lower_bound(partition);
    if (i != items_.end() && (*i)->partition() == partition)
      return **i;
    return **items_.insert(i, make());
  }

  bool empty() const noexcept {
    return items_.empty();
  }

  container::const_iterator begin() const noexcept {
    return items_.begin();
  }

  container::const_iterator end() const noexcept {
    return items_.end();
  }

  /// Takes every replica out (the table is empty afterwards).
  container release() noexcept {
    return std::move(items_);
  }

private:
  container::const_iterator lower_bound(partition_id partition) const {
    return std::lower_bound(items_.begin(), items_.end(), partition,
                            [](const std::unique_ptr<replica>& r,
                               partition_id p) { return r->partition() < p; });
  }

  container items_;
};

struct app_support_state {
  struct sync_waiter {
    uint64_t id = 0;
    std::set<std::pair<partition_id, copy_id>> remaining;
    caf::typed_response_promise<ok_atom> promise;
  };

  /// What only a copy that has carried events, had standbys, been asked to
  /// quiesce or had a fault injected needs. Made on first use (traffic()),
  /// so that an idle copy stays small: with it inline the actor object took
  /// jemalloc's 1792-byte class instead of 1280 (keel bench S1).
  struct traffic_state {
    /// Where acks for each source go.
    std::unordered_map<std::string, ack_sink_actor> sources;
    /// Standbys this copy replicates to, by copy id.
    std::unordered_map<copy_id, standby_ref> peers;
    std::vector<sync_waiter> waiters;
    uint64_t next_waiter = 1;
    /// App-to-app events not yet answered by the distributor, by id.
    std::map<uint64_t, event> outbound;
    uint64_t next_outbound = 1;
    /// Quiesce requests waiting for their partition to drain.
    std::map<partition_id, caf::typed_response_promise<log_index>> quiescing;
    /// An injected fault (scenarios, drills).
    fault_injection fault;
  };

  app_support_args args;
  replica_table replicas;
  std::unique_ptr<traffic_state> traffic_part;
  /// Earliest time the next load tick may run (one chain of ticks).
  int64_t next_tick_us = 0;
  /// applied_total of all replicas at the previous load report.
  uint64_t applied_at_last_report = 0;
  int64_t last_report_us = 0;
  /// A retransmit check is pending (while role changes wait for syncs).
  bool retransmit_scheduled = false;
  /// A flush_atom is scheduled (checkpoint_flush_interval_us).
  bool flush_scheduled = false;
  /// This node fenced itself (lost the majority) and the controller has
  /// not assigned roles since: no successor promotion is taken.
  bool node_fenced = false;

  /// The traffic state, made if there is none yet.
  traffic_state& traffic() {
    if (!traffic_part)
      traffic_part = std::make_unique<traffic_state>();
    return *traffic_part;
  }

  /// The traffic state, or nullptr if the copy never needed one.
  traffic_state* traffic_if() const noexcept {
    return traffic_part.get();
  }

  /// Hands the replicas (the bulk of a copy's memory) to the context's
  /// reaper: CAF destroys the state before the down messages go out.
  ~app_support_state();

  static inline const char* name = "keel.app_support";
};

using app_support_pointer
  = app_support_actor::stateful_pointer<app_support_state>;

/// The copy actor. Spawned as `spawn<app_support>(args)`.
///
/// Its 23 handlers are one behavior that all copies share, built once: CAF
/// 0.17 otherwise gives every actor its own copy of its handlers, about
/// 1 KiB a copy here. The handlers capture nothing; they find their copy
/// through `resume`, which marks the copy the running thread works for while
/// CAF runs its messages. Handlers only run inside `resume`, on every
/// scheduler (CAF's workers, a detached actor's own thread, the
/// deterministic test coordinator); a handler that finds no copy aborts.
class app_support final
  : public caf::stateful_actor<app_support_state, app_support_actor::base> {
public:
  using super = caf::stateful_actor<app_support_state, app_support_actor::base>;

  app_support(caf::actor_config& cfg, app_support_args args);

  resume_result resume(caf::execution_unit* ctx,
                       size_t max_throughput) override;

protected:
  behavior_type make_behavior() override;
};

} // namespace keel
