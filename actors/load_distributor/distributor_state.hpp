// The load distributor's decisions: admission (validation, bounded replay
// buffer), key -> partition, per-partition sequence numbers, which acks to
// accept (epoch fencing), what to replay when a route changes and what to
// resend after a refusal. Plain C++; load_distributor.cpp moves messages.
//
// Every accepted event stays in the replay buffer until an accepted ack
// removes it, so nothing accepted is dropped: a lost message is replayed on
// the next route change, a refused one is resent by the retransmit tick.
//
// Partitions of models without a standby (no_redundancy, n_way_active) also
// keep acknowledged events (the retention log) until a snapshot from their
// active covers them; a new active starts from that snapshot and gets the
// retained events replayed, so its state misses nothing acknowledged.
//
// Thread safety: none; owned by one distributor actor.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/router/router_interface.hpp"
#include "runtime/config.hpp"
#include "runtime/error.hpp"
#include "runtime/lazy_deque.hpp"

namespace keel {

class distributor_state {
public:
  /// Identifies the client waiting for an event's reply.
  using token = uint64_t;

  struct pending {
    seq_t seq = 0;
    token client = 0;
    /// ev->request_id, kept here: acks need it when the event is long out
    /// of the cache.
    uint64_t request_id = 0;
    /// Immutable; shared with the routed_batches that carry it (for a
    /// client's event_batch, an alias of its partition's block).
    std::shared_ptr<const event> ev;
    bool acked = false;
    bool needs_resend = false;
  };

  struct admitted {
    error_code code = error_code::none;
    std::string why;
    partition_id partition = 0;
    seq_t seq = 0;
    /// The application's position here (valid when code is none).
    size_t app_index = 0;
  };

  struct completed {
    token client = 0;
    partition_id partition = 0;
    seq_t seq = 0;
    uint64_t request_id = 0;
    ack_entry ack;
  };

  /// An event to send: to `target` if set, else to the router.
  struct dispatch {
    partition_id partition = 0;
    epoch_t epoch = 0;
    const route* target = nullptr;
    const pending* item = nullptr;
    /// Lowest unacknowledged seq of the partition (see routed_event).
    seq_t floor = 0;
  };

  distributor_state(std::string source, const system_config& config);

  const std::string& source() const noexcept {
    return source_;
  }

  /// Validates `ev`, picks its partition and sequence number and keeps it.
  /// On error nothing is kept.
  admitted admit(std::shared_ptr<const event> ev, token client);

  /// admit() for an event not shared yet: makes its shared copy.
  admitted admit(event ev, token client) {
    return admit(std::make_shared<const event>(std::move(ev)), client);
  }

  /// A client batch's events as immutable blocks, one per place
  /// (application and partition), each in the batch's order, for admit()
  /// to alias (decisions.md 48): a routed_batch then holds one reference to
  /// its block instead of one per event. The events admit() will refuse
  /// (invalid, unknown application, past their partition's limits) go last,
  /// in a block of their own, so that no refused event lives as long as an
  /// accepted one; admitting the blocks in order gives each event the
  /// outcome it would have had alone, in the batch's order. A partition's
  /// events in a block are consecutive in its seq order, so whatever holds a
  /// partition's events (replay buffer, retention log, a router's or a
  /// copy's buffers) keeps alive at most its own limit's events and the
  /// partial blocks at its two ends. A batch for one place, all of it
  /// admissible, is taken as it is, nothing moved. Empties `events`.
  std::vector<std::shared_ptr<const std::vector<event>>>
  blocks_of(std::vector<event>& events);

  /// Where an event admit() just accepted goes now.
  /// (Written in place: a returned dispatch read back as a whole stalled
  /// on the stores admit() had just made to the replay buffer.)
  void route_of(const admitted& adm, dispatch& out);

  dispatch route_of(const admitted& adm) {
    dispatch d;
    route_of(adm, d);
    return d;
  }

  /// Accepts acks of an epoch that is not fenced; returns what completed.
  /// Stale acks are counted and ignored.
  std::vector<completed> on_acks(event_acks acks);

  /// A copy or router refused `seq`: keep it, resend on the next tick.
  void on_nack(const event_nack& nack);

  /// Installs newer routes; appends to `replays` every unacknowledged event
  /// of a partition that got a (new) active.
  void install(const std::vector<route>& routes,
               std::vector<dispatch>& replays);

  /// A successor promotion: the distributor tells `to` to take `partition`
  /// in `to.epoch` after `from_epoch` (successor_atom).
  struct succession {
    app_name app;
    partition_id partition = 0;
    epoch_t from_epoch = 0;
    route to;
    /// How many of the dispatches appended to `replays` are this
    /// partition's (they follow the previous succession's).
    size_t replays = 0;
  };

  /// The routed active `dead` died (a down message, not a lost link):
  /// every partition it is the active of (not in transition) and that
  /// names a successor gets the successor as active in the epoch reserved
  /// for it, and its unacknowledged events are appended to `replays`,
  /// partition after partition. Returns the promotions to send; each must
  /// go out before its partition's replays.
  std::vector<succession> on_active_down(const caf::actor_addr& dead,
                                         std::vector<dispatch>& replays);

  /// Fences partitions (their epoch's acks are rejected from now on).
  void fence(const std::vector<route>& routes);

  /// Fences every partition routed to the copy incarnation `isolated`
  /// (routes this distributor installed itself included).
  void fence_incarnation(const caf::actor_addr& isolated);

  /// Stores a snapshot (if newer than the stored one) and forgets the
  /// retained events it covers. Returns false if ignored.
  bool on_snapshot(partition_snapshot snap);

  /// The stored snapshot of a partition (present = false if none).
  partition_snapshot snapshot_of(const app_name& app,
                                 partition_id partition) const;

  /// Events this table no longer needs (acknowledged, or covered by a
  /// snapshot), not yet destroyed: the caller frees them off its own
  /// thread (see load_distributor.cpp). Freeing an event is the last
  /// touch of memory the copies used last, a cache miss per event.
  size_t released_count() const noexcept {
    return released_.size();
  }

  /// Hands over the released events (the table keeps none afterwards).
  std::vector<std::shared_ptr<const event>> take_released() noexcept {
    return std::move(released_);
  }

  /// Acknowledged events kept for replay, over all partitions.
  uint64_t retained_total() const noexcept {
    return retained_total_;
  }

  /// Events refused earlier, to send again now (clears their flags).
  std::vector<dispatch> resend_due();

  /// Like resend_due, and also every unacknowledged event of a partition
  /// whose acks have not moved for `after_us`: it (or its ack) was lost on
  /// the network. The copy drops what it already applied and acks again.
  std::vector<dispatch> resend_due(int64_t now_us, int64_t after_us);

  /// Unacknowledged events over all partitions.
  uint64_t pending_total() const noexcept {
    return pending_total_;
  }

  uint64_t stale_acks() const noexcept {
    return stale_acks_;
  }

  uint64_t replayed() const noexcept {
    return replayed_;
  }

  /// The installed route of a partition (epoch 0 if none).
  const route& route_for(const app_name& app, partition_id partition) const;

private:
  /// install() for one route.
  void install_one(const route& r, std::vector<dispatch>& replays);

  /// What a partition of a model without a standby keeps besides its
  /// buffer, made with its first retained event or snapshot.
  struct retention {
    /// Acknowledged events after `snapshot`.
    lazy_deque<pending> log;
    /// The latest snapshot, if any.
    std::unique_ptr<partition_snapshot> snapshot;
    /// The snapshot's position in this distributor's stream.
    seq_t snapshot_seq = 0;
  };

  /// 256 bytes, so that an application's 64 take jemalloc's 16 KiB class
  /// instead of 20 KiB (keel bench S1): the retention apart, the resend flag
  /// in the progress time's word.
  struct partition_entry {
    partition_entry() : progress_us(0), resend_flagged(false) {
    }

    seq_t next_seq = 1;
    lazy_deque<pending> buffer;  // ordered by seq
    route current;               // epoch 0: none installed yet
    /// Last time an ack moved this partition on (or it became idle).
    int64_t progress_us : 63;
    bool resend_flagged : 1;
    std::unique_ptr<retention> kept;

    retention& retain() {
      if (!kept)
        kept = std::make_unique<retention>();
      return *kept;
    }

    /// The lowest seq a new active can still be given (cached: every
    /// routed event carries it, and the front of the retention log is
    /// long out of the cache).
    seq_t floor() const {
      return floor_seq;
    }
    /// Call after removing from the front of `buffer` or the retention log
    /// (appending never moves the floor).
    void refresh_floor() {
      if (kept && !kept->log.empty())
        floor_seq = kept->log.front().seq;
      else
        floor_seq = buffer.empty() ? next_seq : buffer.front().seq;
    }
    seq_t floor_seq = 1;
  };

  struct app_entry {
    app_name name;
    bool retain = false;
    std::vector<partition_entry> partitions;
  };

  /// How many more events admit() takes for `entry` now.
  size_t room_of(const partition_entry& entry) const;

  static constexpr size_t no_app = static_cast<size_t>(-1);

  /// The index of `app` in apps_, or no_app.
  size_t index_of(const app_name& app) const;

  app_entry* app_of(const app_name& app);

  partition_entry* find(const app_name& app, partition_id partition);
  const partition_entry* find(const app_name& app,
                              partition_id partition) const;

  static bool newer(const route& next, const route& current);

  /// Moves `item`'s event to released_ (see released_count).
  void release(pending& item) {
    released_.push_back(std::move(item.ev));
  }

  std::string source_;
  std::vector<std::shared_ptr<const event>> released_;
  /// blocks_of's scratch, kept between batches: a place's block, a
  /// partition's block (of the batch's main application), each event's
  /// block.
  std::unordered_map<uint64_t, uint32_t> places_;
  std::vector<uint32_t> by_partition_;
  std::vector<uint32_t> block_of_;
  size_t replay_buffer_max_;
  std::vector<app_entry> apps_;
  std::unordered_map<app_name, size_t> app_index_;
  mutable size_t last_app_ = no_app;  ///< index_of's cache
  uint64_t pending_total_ = 0;
  uint64_t stale_acks_ = 0;
  uint64_t replayed_ = 0;
  uint64_t retained_total_ = 0;
  int64_t now_us_ = 0;  ///< time of the last resend_due(now, after)
  size_t retention_max_;
  route no_route_;
};

} // namespace keel
