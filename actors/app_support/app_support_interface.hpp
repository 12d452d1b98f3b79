// Protocol of app_support, the ADSM: one actor per application copy. It runs
// the application's callbacks for each partition it holds, in the role the
// controller gives it (active, standby), replicates to standbys before it
// acknowledges, deduplicates by request id and fences older epochs.
//
// Also defined here, because app_support is the one that speaks them:
//   ack_sink_actor   - whoever sends routed events receives acks and nacks
//   event_sink_actor - where a copy sends app-to-app events (a distributor)
#pragma once

#include <cassert>

#include <cstdint>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/app_support/dedupe_table.hpp"
#include "actors/load_manager/load_manager_interface.hpp"
#include "runtime/atoms.hpp"
#include "runtime/event.hpp"
#include "runtime/types.hpp"

namespace keel {

// -- acks back to the sender of routed events ---------------------------------

/// One acknowledged event: applied and replicated to every standby.
struct ack_entry {
  seq_t seq = 0;
  json_value result;
  /// Non-empty if the application rejected the event (final, deduplicated).
  std::string rejection;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ack_entry& x) {
  return f(caf::meta::type_name("keel_ack_entry"), x.seq, x.result,
           x.rejection);
}

/// app_support -> distributor: acknowledgements of one partition, in
/// sequence order, from the active of `epoch`.
struct event_acks {
  app_name app;
  partition_id partition = 0;
  epoch_t epoch = 0;
  std::vector<ack_entry> entries;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_acks& x) {
  return f(caf::meta::type_name("keel_event_acks"), x.app, x.partition,
           x.epoch, x.entries);
}

/// app_support or router -> distributor: event `seq` was not taken.
/// `code` is error_code::stale_epoch, not_active or overloaded. The
/// distributor keeps the event and sends it again (never a silent drop).
struct event_nack {
  app_name app;
  partition_id partition = 0;
  epoch_t epoch = 0;
  seq_t seq = 0;
  uint8_t code = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_nack& x) {
  return f(caf::meta::type_name("keel_event_nack"), x.app, x.partition,
           x.epoch, x.seq, x.code);
}

/// The replicated state of a partition besides the application's own:
/// where each source's sequence stands, and the deduplication table.
struct replica_meta {
  std::vector<std::pair<std::string, seq_t>> applied_seqs;
  dedupe_image dedupe;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_meta& x) {
  return f(caf::meta::type_name("keel_replica_meta"), x.applied_seqs,
           x.dedupe);
}

/// A partition's whole state as of log index `index`, for models without a
/// standby: the active sends one to its distributors every
/// snapshot_interval_events; a distributor keeps the latest and the
/// acknowledged events after it, and a new active starts from it (seeded
/// through its role assignment) and the events replayed after it.
struct partition_snapshot {
  app_name app;
  partition_id partition = 0;
  epoch_t epoch = 0;
  copy_id from;
  log_index index = 0;
  json_value app_state;
  replica_meta meta;
  /// False: no snapshot is stored (get_snapshot's answer).
  bool present = true;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition_snapshot& x) {
  return f(caf::meta::type_name("keel_partition_snapshot"), x.app,
           x.partition, x.epoch, x.from, x.index, x.app_state, x.meta,
           x.present);
}

/// Whoever sends routed events to a copy: gets its acks and nacks, and, for
/// models without a standby, its partition snapshots.
using ack_sink_actor
  = caf::typed_actor<caf::reacts_to<event_acks>, caf::reacts_to<event_nack>,
                     caf::reacts_to<partition_snapshot>>;

/// Where the controller finds a partition's latest snapshot (a
/// distributor). Answers with present = false if it has none.
using snapshot_source_actor = caf::typed_actor<
  caf::replies_to<get_snapshot_atom, app_name, partition_id>::with<
    partition_snapshot>>;

/// Ingress of events: a client (or a copy, for app-to-app traffic) sends an
/// event and gets its reply once it is applied and replicated, or an error
/// (overloaded, unknown_app, invalid_event, app_rejected).
using event_sink_actor
  = caf::typed_actor<caf::replies_to<event>::with<event_reply>>;

// -- the data path ------------------------------------------------------------

/// distributor (or router, from its buffer) -> active copy: one event with
/// its per-(source, partition) sequence number. The copy applies events of
/// one source in sequence order, holding early ones, and answers on
/// `reply_to` with event_acks or event_nack. Repeating it is safe: the copy
/// recognizes an applied seq and acks it again.
struct routed_event {
  partition_id partition = 0;
  epoch_t epoch = 0;
  seq_t seq = 0;
  /// The distributor incarnation that assigned `seq`.
  std::string source;
  ack_sink_actor reply_to;
  /// Shared, immutable: the distributor's replay buffer holds the same
  /// event (in-process no copy is made; across the middleman it travels by
  /// value). Never null.
  std::shared_ptr<const event> ev;
  /// The source's lowest unacknowledged seq for the partition: everything
  /// below was acknowledged by some active. A copy whose state lacks those
  /// events (no standby held them) starts the source's stream here instead
  /// of waiting forever for them. 0: unknown.
  seq_t floor = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, routed_event& x) {
  // On the wire the event is a value, as before it was shared.
  if constexpr (Inspector::reads_state) {
    static const event none{};
    return f(caf::meta::type_name("keel_routed_event"), x.partition, x.epoch,
             x.seq, x.source, x.reply_to,
             const_cast<event&>(x.ev ? *x.ev : none), x.floor);
  } else {
    auto ev = std::make_shared<event>();
    auto load = [&]() -> caf::error {
      x.ev = std::move(ev);
      return caf::none;
    };
    return f(caf::meta::type_name("keel_routed_event"), x.partition, x.epoch,
             x.seq, x.source, x.reply_to, *ev, x.floor,
             caf::meta::load_callback(load));
  }
}

/// One event of a routed_batch: borrowed from the batch's owner number
/// `owner`, which keeps it alive. In-process the event is the one the distributor's
/// replay buffer holds (immutable, no copy made); across the middleman it
/// travels by value, as any event.
struct routed_item {
  seq_t seq = 0;
  const event* ev = nullptr;
  uint32_t owner = 0;
};

/// Writes a routed_item as its wire form: its seq and its event by value
/// (the bytes of the former per-item shared event). Only a routed_batch
/// reads items back (as detail::routed_item_value, into one block).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, routed_item& x) {
  static_assert(Inspector::reads_state, "read as routed_item_value");
  static const event none{};
  return f(caf::meta::type_name("keel_routed_item"), x.seq,
           const_cast<event&>(x.ev ? *x.ev : none));
}

/// distributor -> active copy: several events of one partition, in
/// sequence order, in one message; exactly like one routed_event per item
/// (same epoch, source, reply_to and floor), but the copy replicates and
/// acknowledges them together.
///
/// The events are owned per batch, not per item: the distributor keeps a
/// client's event_batch as one block per partition, so a batch usually has
/// one owner, and the copy that drops the message releases one reference,
/// not one per event (an atomic on a line the distributor wrote, per event,
/// was the largest single cost of T1; decisions.md 48). Invariant: each
/// item's event lives in its owner; add() is the only way in.
class routed_batch {
public:
  partition_id partition = 0;
  epoch_t epoch = 0;
  std::string source;
  ack_sink_actor reply_to;
  seq_t floor = 0;

  routed_batch() = default;

  routed_batch(partition_id partition, epoch_t epoch, std::string source,
               ack_sink_actor reply_to, seq_t floor)
    : partition(partition),
      epoch(epoch),
      source(std::move(source)),
      reply_to(std::move(reply_to)),
      floor(floor) {
  }

  /// Appends `ev` (shared with whoever else holds it), reusing the last
  /// owner if `ev` shares it.
  void add(seq_t seq, const std::shared_ptr<const event>& ev) {
    assert(ev && ev.use_count() > 0);  // an event with an owner
    if (owners_.empty() || owners_.back().owner_before(ev)
        || ev.owner_before(owners_.back()))
      owners_.emplace_back(ev);
    items_.push_back(
      routed_item{seq, ev.get(), static_cast<uint32_t>(owners_.size() - 1)});
  }

  void reserve(size_t items) {
    items_.reserve(items);
  }

  const std::vector<routed_item>& items() const noexcept {
    return items_;
  }

  /// What keeps `item`'s event alive.
  const std::shared_ptr<const void>& owner_of(const routed_item& item) const {
    return owners_[item.owner];
  }

  size_t owner_count() const noexcept {
    return owners_.size();
  }

  /// A batch with this one's header and items; this one keeps its header
  /// and no items.
  routed_batch take() {
    routed_batch result{partition, epoch, source, reply_to, floor};
    result.owners_.swap(owners_);
    result.items_.swap(items_);
    return result;
  }

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f,
                                                 routed_batch& x);

private:
  std::vector<std::shared_ptr<const void>> owners_;
  std::vector<routed_item> items_;
};

namespace detail {

/// A routed_item as read from the wire: its seq and its event by value.
struct routed_item_value {
  seq_t seq = 0;
  event ev;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, routed_item_value& x) {
  return f(caf::meta::type_name("keel_routed_item"), x.seq, x.ev);
}

} // namespace detail

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, routed_batch& x) {
  if constexpr (Inspector::reads_state) {
    return f(caf::meta::type_name("keel_routed_batch"), x.partition, x.epoch,
             x.source, x.reply_to, x.floor, x.items_);
  } else {
    // A received batch owns its events as one block.
    auto block = std::make_shared<std::vector<detail::routed_item_value>>();
    auto load = [&]() -> caf::error {
      x.owners_.clear();
      x.items_.clear();
      x.items_.reserve(block->size());
      for (auto& item : *block)
        x.items_.push_back(routed_item{item.seq, &item.ev, 0});
      x.owners_.emplace_back(std::move(block));
      return caf::none;
    };
    return f(caf::meta::type_name("keel_routed_batch"), x.partition, x.epoch,
             x.source, x.reply_to, x.floor, *block,
             caf::meta::load_callback(load));
  }
}

/// One applied event in a copy's per-partition log: the unit of replication.
/// The source name and the event are shared, immutable: the log, the
/// checkpoints that carry an entry and the distributor's replay buffer hold
/// one copy of the event in-process (across the middleman an entry travels
/// by value; never null).
struct log_entry {
  log_index index = 0;
  std::shared_ptr<const std::string> source;
  seq_t seq = 0;
  std::shared_ptr<const event> ev;

  static log_entry make(log_index index, std::string source, seq_t seq,
                        event ev) {
    return log_entry{index,
                     std::make_shared<const std::string>(std::move(source)),
                     seq, std::make_shared<const event>(std::move(ev))};
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, log_entry& x) {
  if constexpr (Inspector::reads_state) {
    static const std::string no_source;
    static const event none{};
    return f(caf::meta::type_name("keel_log_entry"), x.index,
             const_cast<std::string&>(x.source ? *x.source : no_source),
             x.seq, const_cast<event&>(x.ev ? *x.ev : none));
  } else {
    auto source = std::make_shared<std::string>();
    auto ev = std::make_shared<event>();
    auto load = [&]() -> caf::error {
      x.source = std::move(source);
      x.ev = std::move(ev);
      return caf::none;
    };
    return f(caf::meta::type_name("keel_log_entry"), x.index, *source, x.seq,
             *ev, caf::meta::load_callback(load));
  }
}

/// A fault a scenario (or an operator drill) injects into a copy.
struct fault_injection {
  enum kind_t : uint8_t {
    none = 0,  ///< back to normal
    hang = 1,  ///< stop handling anything: no replies, no progress
    slow = 2,  ///< answer health checks `delay_ms` late; all else normal
  };
  uint8_t kind = none;
  uint32_t delay_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fault_injection& x) {
  return f(caf::meta::type_name("keel_fault_injection"), x.kind, x.delay_ms);
}

/// The seed of a partition's first active: the empty initial state.
inline partition_snapshot initial_seed(const app_name& app,
                                       partition_id partition) {
  partition_snapshot seed;
  seed.app = app;
  seed.partition = partition;
  seed.app_state = json_value{nullptr};
  seed.present = true;
  return seed;
}

struct checkpoint;
struct checkpoint_ack;
struct state_transfer;
struct role_assignment;
struct partition_state;
struct copy_status;

/// The ADSM's protocol.
using app_support_actor = caf::typed_actor<
  // distributor/router -> active copy. Replies go to routed_event::reply_to.
  caf::reacts_to<routed_event>,
  // distributor -> active copy: several events of one partition.
  caf::reacts_to<routed_batch>,
  // active -> standby: log entries in index order. Answered with
  // checkpoint_ack on checkpoint::reply_to. Entries of an older epoch are
  // rejected (fencing: a deposed active never gets a standby's ack).
  caf::reacts_to<checkpoint>,
  // standby -> active: everything up to `upto` is applied.
  caf::reacts_to<checkpoint_ack>,
  // active -> new standby: the whole partition state; answered with a
  // checkpoint_ack whose `upto` is the transfer's index.
  caf::reacts_to<state_transfer>,
  // controller -> copy: set roles for some partitions. Replies once applied
  // (an active has started its state transfers to its standbys). Safe to
  // repeat with the same epoch.
  caf::replies_to<assign_roles_atom, std::vector<role_assignment>>::with<
    ok_atom>,
  // controller -> active: register a new standby and send it the state.
  // Replies when the standby acknowledged the transfer. Timeout: the
  // standby is dropped again.
  caf::replies_to<add_standby_atom, role_assignment>::with<ok_atom>,
  // controller -> active: stop replicating partition's events to `copy`,
  // the incarnation with that address (none: whichever). A removal that
  // arrives after a newer incarnation of the copy was added is ignored.
  caf::reacts_to<remove_standby_atom, partition_id, copy_id, caf::actor_addr>,
  // any -> copy: role, epoch and application snapshot of one partition.
  caf::replies_to<get_state_atom, partition_id>::with<partition_state>,
  // any -> copy: roles and counters of all its partitions.
  caf::replies_to<status_atom>::with<copy_status>,
  // node agent -> copy: report the load now (every
  // load_report_interval_ms; the agent keeps the one timer of its node).
  caf::reacts_to<tick_atom>,
  // self -> self: a reply waiting for standbys to sync gives up (error
  // unavailable) after control_timeout_ms.
  caf::reacts_to<sync_timeout_atom, uint64_t>,
  // self -> self: send an app-to-app event again after a refusal.
  caf::reacts_to<retry_send_atom, uint64_t>,
  // node agent -> copy: are you alive? (the agent's check round). Answered
  // at once with (health_atom, copy id, round) to the agent (or late, or
  // never, under an injected fault): a plain message, so that a check
  // costs the agent no timer per copy. The agent kills a copy that misses
  // health_check_misses checks in a row.
  caf::reacts_to<health_atom, uint64_t>,
  // self -> self: answer a delayed health check (its round).
  caf::reacts_to<health_due_atom, uint64_t>,
  // scenario driver -> copy: inject a fault (see fault_injection).
  caf::reacts_to<inject_atom, fault_injection>,
  // node agent -> copy: this node lost the majority; every partition this
  // copy serves goes offline at once (it no longer acks anything). Only
  // the controller brings the copy back (after a reset of the node).
  caf::reacts_to<self_fence_atom>,
  // distributor -> standby: the active of `partition` in the first epoch
  // died (its down message, not a lost link) and the routes named this
  // copy its successor: become active in the second epoch, which the
  // controller reserved for it, without standbys (the partition had this
  // one only). Taken only by an in-sync standby of exactly the first epoch
  // on a node that has not fenced itself; otherwise ignored (the
  // controller's recovery decides). The controller's own promotion to the
  // reserved epoch follows and is a no-op.
  caf::reacts_to<successor_atom, partition_id, epoch_t, epoch_t>,
  // self -> self, while a role change waits for standbys to sync: send
  // again transfers and checkpoints whose acks are overdue (lost).
  caf::reacts_to<retransmit_atom>,
  // controller -> active: planned switchover, step 1. The partition goes
  // quiescing (new events are refused with not_active and stay with the
  // distributor), and the reply, the last applied index, comes once every
  // applied event is acknowledged (quiesced). Timeout: control_timeout_ms,
  // after which the copy goes back to active.
  caf::replies_to<quiesce_atom, partition_id, epoch_t>::with<log_index>,
  // self -> self: a quiesce did not finish in time (half of
  // control_timeout_ms, so that the copy gives up before the controller).
  caf::reacts_to<quiesce_timeout_atom, partition_id>,
  // controller -> quiescing/quiesced copy: the switchover was abandoned;
  // serve the partition again in `epoch`. Safe to repeat.
  caf::replies_to<resume_atom, partition_id, epoch_t>::with<ok_atom>,
  // self -> self: send checkpoint batches held to fill (see
  // checkpoint_flush_interval_us).
  caf::reacts_to<flush_atom>>;

/// A standby as the active sees it.
struct standby_ref {
  copy_id copy;
  node_id node;
  app_support_actor handle;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, standby_ref& x) {
  return f(caf::meta::type_name("keel_standby_ref"), x.copy, x.node, x.handle);
}

/// A role for one partition. For an active, `standbys` are the copies it
/// must bring in sync (by state transfer) and replicate to; `seed`, if
/// present, is the state it starts from (models without a standby).
struct role_assignment {
  partition_id partition = 0;
  role new_role = role::offline;
  epoch_t epoch = 0;
  std::vector<standby_ref> standbys;
  partition_snapshot seed{{}, 0, 0, {}, 0, {}, {}, false};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, role_assignment& x) {
  return f(caf::meta::type_name("keel_role_assignment"), x.partition,
           x.new_role, x.epoch, x.standbys, x.seed);
}

struct checkpoint {
  partition_id partition = 0;
  epoch_t epoch = 0;
  copy_id from;
  node_id from_node;
  app_support_actor reply_to;
  std::vector<log_entry> entries;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, checkpoint& x) {
  return f(caf::meta::type_name("keel_checkpoint"), x.partition, x.epoch,
           x.from, x.from_node, x.reply_to, x.entries);
}

/// standby -> active. `in_sync` false means the standby saw a gap or an
/// unexpected epoch and needs a new state transfer.
struct checkpoint_ack {
  partition_id partition = 0;
  epoch_t epoch = 0;
  copy_id from;
  log_index upto = 0;
  bool in_sync = true;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, checkpoint_ack& x) {
  return f(caf::meta::type_name("keel_checkpoint_ack"), x.partition, x.epoch,
           x.from, x.upto, x.in_sync);
}

struct state_transfer {
  partition_id partition = 0;
  epoch_t epoch = 0;
  copy_id from;
  node_id from_node;
  app_support_actor reply_to;
  log_index index = 0;
  json_value app_state;
  replica_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, state_transfer& x) {
  return f(caf::meta::type_name("keel_state_transfer"), x.partition, x.epoch,
           x.from, x.from_node, x.reply_to, x.index, x.app_state, x.meta);
}

struct partition_state {
  partition_id partition = 0;
  role current_role = role::offline;
  epoch_t epoch = 0;
  log_index applied = 0;
  json_value app_state;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition_state& x) {
  return f(caf::meta::type_name("keel_partition_state"), x.partition,
           x.current_role, x.epoch, x.applied, x.app_state);
}

struct partition_status {
  partition_id partition = 0;
  role current_role = role::offline;
  epoch_t epoch = 0;
  log_index applied = 0;
  /// Applied events waiting for standby acknowledgement.
  uint64_t pending_acks = 0;
  uint32_t standbys = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition_status& x) {
  return f(caf::meta::type_name("keel_partition_status"), x.partition,
           x.current_role, x.epoch, x.applied, x.pending_acks, x.standbys);
}

struct copy_status {
  copy_id copy;
  node_id node;
  std::vector<partition_status> partitions;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, copy_status& x) {
  return f(caf::meta::type_name("keel_copy_status"), x.copy, x.node,
           x.partitions);
}

} // namespace keel
