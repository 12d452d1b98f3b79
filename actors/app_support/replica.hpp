// One partition of one copy: its role and epoch, the application instance,
// per-source ordering, deduplication and replication bookkeeping. Every
// decision of app_support lives here, in plain C++ (tests call it without
// an actor system); the actor only moves messages in and out.
//
// Data path of an active replica:
//   on_event -> order by per-source seq (hold early ones) -> dedupe by
//   request id -> application.handle -> log entry -> checkpoint to standbys
//   -> when every synced standby acked: ack to the source.
// A standby applies the same log entries in index order (on_checkpoint),
// through the same dedupe and handler, without sending anything.
//
// Results are not returned but appended to a `replica_outbox`, which the
// caller turns into messages. Thread safety: none; owned by one actor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/app_support/app_support_interface.hpp"
#include "actors/app_support/dedupe_table.hpp"
#include "apps/api/application.hpp"
#include "runtime/error.hpp"
#include "runtime/lazy_deque.hpp"

namespace keel {

/// Limits of one replica, from the tuning knobs.
/// 32-bit counts, as the knobs they come from: every replica keeps a copy
/// (40 bytes instead of 64; keel bench S1).
struct replica_limits {
  uint32_t reorder_buffer_max = 10000;
  uint32_t replication_log_max = 100000;
  uint32_t checkpoint_batch_max = 512;
  uint32_t dedupe_window = 1024;
  uint32_t dedupe_clients_max = 4096;
  /// Models without a standby: snapshot to the distributors every this many
  /// applied events (0: never).
  uint32_t snapshot_interval_events = 0;
  /// Hold a partial checkpoint batch up to this long (0: never hold).
  uint32_t checkpoint_flush_interval_us = 0;
  /// A checkpoint batch or transfer unacknowledged this long is sent again
  /// when the distributor resends an event waiting for it (lost on the
  /// network).
  int64_t retransmit_after_us = 250'000;
};

/// An event one application sends to another from inside handle().
struct outbound_send {
  event ev;
  /// Not empty: the target no application of this process has (the text
  /// the handler named; `ev.app` is empty). Failed without being sent.
  std::string unknown_app;
};

/// What replica calls ask the caller to send.
struct replica_outbox {
  struct ack_batch {
    std::string source;
    partition_id partition = 0;
    epoch_t epoch = 0;
    std::vector<ack_entry> entries;
  };
  struct nack {
    std::string source;
    partition_id partition = 0;
    epoch_t epoch = 0;
    seq_t seq = 0;
    error_code code = error_code::none;
  };
  struct checkpoint_out {
    copy_id to;
    partition_id partition = 0;
    epoch_t epoch = 0;
    std::vector<log_entry> entries;
  };
  struct transfer_out {
    copy_id to;
    partition_id partition = 0;
    epoch_t epoch = 0;
    log_index index = 0;
    json app_state;
    replica_meta meta;
  };
  struct synced {
    partition_id partition = 0;
    copy_id standby;
  };

  std::vector<ack_batch> acks;
  std::vector<nack> nacks;
  std::vector<checkpoint_out> checkpoints;
  std::vector<transfer_out> transfers;
  std::vector<outbound_send> sends;
  /// Snapshots for the distributors (app and copy filled in by the caller).
  std::vector<partition_snapshot> snapshots;
  /// (partition, epoch) whose first event was acknowledged by this active.
  std::vector<std::pair<partition_id, epoch_t>> first_served;
  /// Standbys whose state transfer was acknowledged.
  std::vector<synced> synced_standbys;
  /// Earliest time (us) at which a held checkpoint batch must go out; 0:
  /// none held. The caller calls replica::flush then.
  int64_t flush_at_us = 0;
  /// Standbys that reported they lost sync and got a new transfer.
  std::vector<synced> resynced_standbys;
  /// Duplicates of applied events whose reply was no longer remembered.
  uint64_t dedupe_misses = 0;
  /// Models without a standby: acknowledged events this replica's state
  /// lacks (no snapshot covered them); the stream continues at the floor.
  uint64_t stream_gaps = 0;
  /// Models with a standby: a floor above what this replica applied means
  /// its state is incomplete - a bug; the events are held, not skipped.
  bool stream_gap_held = false;

  bool empty() const noexcept {
    return acks.empty() && nacks.empty() && checkpoints.empty()
           && transfers.empty() && sends.empty() && first_served.empty()
           && synced_standbys.empty() && resynced_standbys.empty();
  }
};

class replica {
public:
  replica(copy_id self, partition_id partition,
          std::unique_ptr<application> app, replica_limits limits);

  // -- properties -------------------------------------------------------------

  partition_id partition() const noexcept {
    return partition_;
  }

  role current_role() const noexcept {
    return role_;
  }

  epoch_t epoch() const noexcept {
    return epoch_;
  }

  /// Index of the last applied log entry.
  log_index applied() const noexcept {
    return applied_;
  }

  /// Highest index every registered standby acknowledged (applied if none).
  log_index durable() const noexcept;

  /// Applied events waiting to be acknowledged.
  size_t pending_acks() const noexcept {
    return pending_.size();
  }

  /// Events applied since this replica was created.
  uint64_t applied_total() const noexcept {
    return applied_total_;
  }

  /// Standbys registered (synced or not).
  size_t standbys() const noexcept {
    return standbys_.size();
  }

  /// True if this standby holds a complete, current copy of the state.
  bool in_sync() const noexcept {
    return in_sync_;
  }

  const application& app() const noexcept {
    return *app_;
  }

  json snapshot() const {
    return app_->snapshot();
  }

  // -- role changes (controller) ----------------------------------------------

  /// Becomes standby of `epoch` (>= current). The state counts as current
  /// only after the active's state transfer arrives.
  void become_standby(epoch_t epoch);

  /// Becomes active of `epoch` (> current, or equal when repeated), keeping
  /// the applied state, and brings `standbys` in sync by state transfer.
  /// Refuses (returns false, changes nothing) if this replica is a standby
  /// that is not in sync: promoting it would serve an incomplete state.
  /// With a `seed`, the replica first replaces its state with it (models
  /// without a standby: the partition's last snapshot).
  bool become_active(epoch_t epoch, const std::vector<copy_id>& standbys,
                     replica_outbox& out,
                     const partition_snapshot* seed = nullptr);

  /// Holds no role; keeps the state until told otherwise.
  void become_offline();

  /// True if this replica serves its partition (active, or finishing as
  /// quiescing/quiesced): standbys and pending acks matter.
  bool serving() const noexcept {
    return role_ == role::active || role_ == role::quiescing
           || role_ == role::quiesced;
  }

  /// Planned switchover: an active of `epoch` stops taking events (they are
  /// refused with not_active) and finishes what it applied. Returns false
  /// if it is not the active of `epoch`.
  bool quiesce(epoch_t epoch);

  /// A quiescing replica whose applied events are all acknowledged becomes
  /// quiesced; returns true when it is (now or already).
  bool try_quiesced();

  /// Back to active after an aborted switchover.
  void resume_active();

  /// Registers a new standby and sends it a state transfer.
  void add_standby(const copy_id& standby, replica_outbox& out);

  /// Stops replicating to `standby`; acks it was holding back go out.
  void remove_standby(const copy_id& standby, replica_outbox& out);

  // -- active -----------------------------------------------------------------

  /// A routed event from `source`. See the file comment for the path.
  /// `floor` is the source's lowest unacknowledged seq (routed_event).
  /// With `settle` false the checkpoint and acks the event makes due wait
  /// for settle(): a batch of events settles once, so its events replicate
  /// and acknowledge together. (A snapshot due is taken at once: the
  /// dedupe window must cover the events between two snapshots.)
  void on_event(const std::string& source, seq_t seq, epoch_t epoch,
                std::shared_ptr<const event> ev, replica_outbox& out,
                seq_t floor = 0, bool settle = true) {
    on_event(source, seq, epoch, event_handle{std::move(ev)}, out, floor,
             settle);
  }

  /// The same with a borrowed event: copied only if the replica keeps it
  /// (in the log for standbys, or held until an earlier one arrives).
  void on_event(const std::string& source, seq_t seq, epoch_t epoch,
                const event& ev, replica_outbox& out, seq_t floor = 0,
                bool settle = true) {
    on_event(source, seq, epoch, event_handle{ev}, out, floor, settle);
  }

  /// The same with an event borrowed from `owner` (a routed_batch's): if
  /// the replica keeps it, it shares `owner` instead of copying it.
  void on_event(const std::string& source, seq_t seq, epoch_t epoch,
                const event& ev, const std::shared_ptr<const void>& owner,
                replica_outbox& out, seq_t floor = 0, bool settle = true) {
    on_event(source, seq, epoch, event_handle{ev, owner}, out, floor, settle);
  }

  /// Sends what applied events made due: a checkpoint batch to standbys
  /// with none in flight, acks of durable events, a snapshot.
  void settle(replica_outbox& out);

  /// A standby acknowledged (or lost sync).
  void on_checkpoint_ack(const checkpoint_ack& ack, replica_outbox& out);

  // -- standby ----------------------------------------------------------------

  /// Applies log entries from the active of `epoch`; returns the ack.
  checkpoint_ack on_checkpoint(epoch_t epoch,
                               const std::vector<log_entry>& entries);

  /// Replaces the state with a transfer from the active of `epoch`.
  checkpoint_ack on_transfer(const state_transfer& transfer);

  /// The time, in microseconds on the caller's clock, for batching
  /// decisions (checkpoint_flush_interval_us). Set before each call.
  void set_now(int64_t now_us) noexcept {
    now_us_ = now_us;
  }

  /// Sends checkpoint batches that were held for filling.
  void flush(replica_outbox& out);

  /// Sends again a checkpoint batch or state transfer that has waited for
  /// its ack longer than retransmit_after_us (lost on the network).
  void retransmit_stalled(replica_outbox& out);

  // -- state transfer ---------------------------------------------------------

  replica_meta meta() const;

private:
  struct standby_progress {
    copy_id copy;
    /// Holds the state as of transfer_index plus the acked entries. Until
    /// then `acked` is 0: acks wait for the transfer (G1 holds even if the
    /// active dies right after the standby joined).
    bool synced = false;
    log_index transfer_index = 0;
    log_index sent = 0;
    log_index acked = 0;
    int64_t sent_at_us = 0;  ///< last batch or transfer sent
  };

  struct pending_ack {
    log_index index = 0;
    /// The source's slot in source_names (see source_slot).
    uint32_t source = 0;
    seq_t seq = 0;
    json result;
    std::string rejection;
  };

  struct held_event {
    std::shared_ptr<const event> ev;
  };

  /// An event given to on_event: shared already, borrowed from an owner,
  /// or borrowed; shared on demand (share(), at most once), so that a
  /// borrowed one is copied only when the replica keeps it and has no
  /// owner to share.
  class event_handle {
  public:
    explicit event_handle(const event& ev) : ev_(&ev) {
    }
    event_handle(const event& ev, const std::shared_ptr<const void>& owner)
      : ev_(&ev), owner_(&owner) {
    }
    explicit event_handle(std::shared_ptr<const event> ev)
      : ev_(ev.get()), shared_(std::move(ev)) {
    }
    const event& operator*() const noexcept {
      return *ev_;
    }
    const event* operator->() const noexcept {
      return ev_;
    }
    std::shared_ptr<const event> share() {
      if (shared_)
        return std::move(shared_);
      if (owner_ != nullptr)
        return std::shared_ptr<const event>(*owner_, ev_);
      return std::make_shared<const event>(*ev_);
    }

  private:
    const event* ev_;
    const std::shared_ptr<const void>* owner_ = nullptr;
    std::shared_ptr<const event> shared_;
  };

  void on_event(const std::string& source, seq_t seq, epoch_t epoch,
                event_handle ev, replica_outbox& out, seq_t floor,
                bool settle);

  /// The app_context handed to application::handle.
  class context;

  /// Applies one event as the next log entry; returns its dedupe entry.
  const dedupe_table::entry& apply(const std::string& source, seq_t seq,
                                   const event& ev, bool emit_sends,
                                   replica_outbox* out);

  void apply_in_order(const std::string& source, seq_t seq,
                      event_handle& ev, replica_outbox& out);

  /// The shared copy of `source` for log entries (the last one is kept).
  const std::shared_ptr<const std::string>& log_source(
    const std::string& source);

  void send_transfer(standby_progress& sb, replica_outbox& out);

  void pump(replica_outbox& out);

  void release_acks(replica_outbox& out);

  /// The last applied seq of `source` (0 if none yet), to read or set.
  seq_t& seq_of(const std::string& source);

  /// The slot of a source's name in source_names, its pending acks counted
  /// (distributor incarnations are few; a slot no pending ack uses is
  /// reused).
  uint32_t source_slot(const std::string& source);

  void trim_log();

  void reset_volatile();

  /// Installs a state; false (and not in sync) if its dedupe image is
  /// inconsistent (a faulty peer): the copy must not serve from it.
  bool restore_from(const json& app_state, const replica_meta& meta,
                    log_index index);

  void maybe_snapshot(replica_outbox& out);

  copy_id self_;
  partition_id partition_;
  // The role and the flags fill the padding after partition_ (keel bench
  // S1: with limits_ at 40 bytes, a replica takes 192 bytes instead of 232).
  role role_ = role::offline;
  /// Holds a complete, current state. A new replica does not until it is
  /// seeded (activation, snapshot) or receives a state transfer.
  bool in_sync_ = false;
  bool served_in_epoch_ = false;
  std::unique_ptr<application> app_;
  replica_limits limits_;

  epoch_t epoch_ = 0;
  log_index applied_ = 0;
  uint64_t applied_total_ = 0;

  std::vector<standby_progress> standbys_;
  lazy_deque<log_entry> log_;  // applied entries some standby still needs
  lazy_deque<int64_t> log_times_;  // when each log_ entry was applied
  int64_t now_us_ = 0;
  lazy_deque<pending_ack> pending_;
  struct source_name {
    std::string name;
    size_t pending = 0;  ///< pending_ acks of this source
  };
  /// What a replica keeps about the streams of events it has seen: made
  /// with the first event or state it takes (stream()), so that a replica
  /// that has taken none stays small (keel bench S1, one idle replica a
  /// copy: 480 bytes with this inline, 232 without).
  struct stream_state {
    explicit stream_state(const replica_limits& limits)
      : dedupe(limits.dedupe_window, limits.dedupe_clients_max) {
    }
    std::map<std::string, seq_t> applied_seqs;  // per source
    /// seq_of's cache: a node of applied_seqs (stable until cleared).
    std::pair<const std::string, seq_t>* last_seq = nullptr;
    std::unordered_map<std::string, std::map<seq_t, held_event>> held;
    dedupe_table dedupe;
    std::vector<source_name> source_names;
    uint32_t last_source = 0;  ///< source_slot's cache
    std::shared_ptr<const std::string> log_source;  ///< log_source's cache
  };

  /// The stream state, made if there is none yet.
  stream_state& stream() {
    if (!stream_)
      stream_ = std::make_unique<stream_state>(limits_);
    return *stream_;
  }

  std::unique_ptr<stream_state> stream_;
  size_t applied_since_snapshot_ = 0;
};

} // namespace keel
