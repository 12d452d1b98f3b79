#include "actors/app_support/replica.hpp"

#include <algorithm>
#include <stdexcept>

namespace keel {

// -- the context handed to application::handle ---------------------------------

class replica::context : public app_context {
public:
  context(const copy_id& self, partition_id partition, const event& ev,
          bool emit_sends, replica_outbox* out)
    : self_(self), partition_(partition), ev_(ev), emit_(emit_sends),
      out_(out) {
  }

  const copy_id& copy() const override {
    return self_;
  }

  partition_id partition() const override {
    return partition_;
  }

  void send(std::string_view app, std::string key, json payload) override {
    if (sends_ >= 64)
      throw std::length_error("more than 64 app_context::send calls in one "
                              "handle()");
    auto index = sends_++;
    if (!emit_ || out_ == nullptr)
      return;
    // Never interned here: the name may come from a client's payload.
    auto target = symbol::find(app);
    event out{target ? *target : app_name{}, std::move(key),
              json_value{std::move(payload)},
              self_.app + "/" + ev_.client_id, ev_.request_id * 64 + index};
    pending_.push_back(outbound_send{
      std::move(out), target ? std::string{} : std::string{app.substr(0, 256)}});
  }

  /// The handler returned normally: its sends leave.
  void commit() {
    if (out_)
      for (auto& s : pending_)
        out_->sends.push_back(std::move(s));
  }

private:
  const copy_id& self_;
  partition_id partition_;
  const event& ev_;
  bool emit_;
  replica_outbox* out_;
  uint32_t sends_ = 0;
  std::vector<outbound_send> pending_;
};

// -- construction and properties -----------------------------------------------

replica::replica(copy_id self, partition_id partition,
                 std::unique_ptr<application> app, replica_limits limits)
  : self_(std::move(self)), partition_(partition), app_(std::move(app)),
    limits_(limits) {
}

log_index replica::durable() const noexcept {
  auto result = applied_;
  for (auto& sb : standbys_)
    result = std::min(result, sb.acked);
  return result;
}

replica_meta replica::meta() const {
  replica_meta result;  // no stream state: what an empty one gives
  if (stream_) {
    result.applied_seqs.assign(stream_->applied_seqs.begin(),
                               stream_->applied_seqs.end());
    result.dedupe = stream_->dedupe.image();
  }
  return result;
}

void replica::flush(replica_outbox& out) {
  pump(out);
}

void replica::reset_volatile() {
  pending_.clear();
  if (stream_) {
    stream_->held.clear();
    for (auto& n : stream_->source_names)
      n.pending = 0;
  }
  log_.clear();
  log_times_.clear();
  standbys_.clear();
}

// -- role changes ------------------------------------------------------------

void replica::become_standby(epoch_t epoch) {
  if (epoch < epoch_ || (epoch == epoch_ && role_ == role::standby))
    return;
  role_ = role::standby;
  epoch_ = epoch;
  served_in_epoch_ = false;
  reset_volatile();
  // Current only once the active's state transfer arrives (even a fresh
  // replica: the active may already hold state).
  in_sync_ = false;
}

bool replica::restore_from(const json& app_state, const replica_meta& meta,
                           log_index index) {
  app_->restore(app_state);
  applied_ = index;
  if (!stream_ && meta.applied_seqs.empty() && meta.dedupe.clients.empty()
      && meta.dedupe.clock == 0) {
    in_sync_ = true;  // an empty stream state, as there is none yet
    return true;
  }
  auto& stream = this->stream();
  stream.applied_seqs.clear();
  stream.last_seq = nullptr;
  for (auto& [source, seq] : meta.applied_seqs)
    stream.applied_seqs[source] = seq;
  in_sync_ = stream.dedupe.restore(meta.dedupe);
  return in_sync_;
}

void replica::maybe_snapshot(replica_outbox& out) {
  if (limits_.snapshot_interval_events == 0
      || applied_since_snapshot_ < limits_.snapshot_interval_events)
    return;
  applied_since_snapshot_ = 0;
  partition_snapshot snap;
  snap.partition = partition_;
  snap.epoch = epoch_;
  snap.index = applied_;
  snap.app_state = json_value{app_->snapshot()};
  snap.meta = meta();
  out.snapshots.push_back(std::move(snap));
}

bool replica::become_active(epoch_t epoch,
                            const std::vector<copy_id>& standbys,
                            replica_outbox& out,
                            const partition_snapshot* seed) {
  if (epoch < epoch_ || (role_ != role::active && !in_sync_ && !seed))
    return false;
  if (seed && (epoch > epoch_ || role_ != role::active)) {
    reset_volatile();
    if (!restore_from(seed->app_state.value, seed->meta, seed->index))
      return false;  // an inconsistent seed: refuse the role
  }
  if (epoch > epoch_ || role_ != role::active) {
    role_ = role::active;
    epoch_ = epoch;
    served_in_epoch_ = false;
    reset_volatile();
    in_sync_ = true;
  }
  for (auto& sb : standbys)
    add_standby(sb, out);
  return true;
}

bool replica::quiesce(epoch_t epoch) {
  if (role_ == role::quiescing || role_ == role::quiesced)
    return epoch == epoch_;
  if (role_ != role::active || epoch != epoch_)
    return false;
  role_ = role::quiescing;
  if (stream_)
    stream_->held.clear();  // never applied: the distributor still has them
  return true;
}

bool replica::try_quiesced() {
  if (role_ == role::quiescing && pending_.empty())
    role_ = role::quiesced;
  return role_ == role::quiesced;
}

void replica::resume_active() {
  if (role_ == role::quiescing || role_ == role::quiesced)
    role_ = role::active;
}

void replica::become_offline() {
  role_ = role::offline;
  reset_volatile();
}

void replica::add_standby(const copy_id& standby, replica_outbox& out) {
  if (role_ != role::active || standby == self_)
    return;
  auto i = std::find_if(standbys_.begin(), standbys_.end(),
                        [&](auto& sb) { return sb.copy == standby; });
  if (i == standbys_.end()) {
    standbys_.push_back(standby_progress{standby});
    i = standbys_.end() - 1;
  }
  send_transfer(*i, out);
}

void replica::remove_standby(const copy_id& standby, replica_outbox& out) {
  auto i = std::find_if(standbys_.begin(), standbys_.end(),
                        [&](auto& sb) { return sb.copy == standby; });
  if (i == standbys_.end())
    return;
  standbys_.erase(i);
  trim_log();
  release_acks(out);
}

void replica::send_transfer(standby_progress& sb, replica_outbox& out) {
  sb.synced = false;
  sb.transfer_index = applied_;
  sb.sent = applied_;
  sb.acked = 0;
  sb.sent_at_us = now_us_;
  out.transfers.push_back(replica_outbox::transfer_out{
    sb.copy, partition_, epoch_, applied_, app_->snapshot(), meta()});
}

// -- applying events -----------------------------------------------------------

const dedupe_table::entry& replica::apply(const std::string& source, seq_t seq,
                                          const event& ev, bool emit_sends,
                                          replica_outbox* out) {
  ++applied_;
  ++applied_total_;
  seq_of(source) = seq;
  auto& dedupe = stream().dedupe;
  if (auto hit = dedupe.find(ev.client_id, ev.request_id))
    return *hit;  // a retry: same reply, no state change (G2)
  context ctx{self_, partition_, ev, emit_sends, out};
  reply r;
  try {
    r = app_->handle(ev, ctx);
    ctx.commit();
  } catch (const std::exception& e) {
    // A throwing handler rejects the event instead of crashing the copy: a
    // crash would come back on every standby the event is replayed to. The
    // rejection is deterministic, so a standby applying it agrees.
    r = reply::reject(std::string{"handler threw: "} + e.what());
  } catch (...) {
    r = reply::reject("handler threw a non-standard exception");
  }
  return dedupe.record(ev.client_id, ev.request_id,
                       dedupe_table::entry{applied_, std::move(r.value),
                                           std::move(r.rejection)});
}

const std::shared_ptr<const std::string>&
replica::log_source(const std::string& source) {
  auto& cached = stream().log_source;
  if (!cached || *cached != source)
    cached = std::make_shared<const std::string>(source);
  return cached;
}

void replica::apply_in_order(const std::string& source, seq_t seq,
                             event_handle& ev, replica_outbox& out) {
  auto& result = apply(source, seq, *ev, true, &out);
  ++applied_since_snapshot_;
  pending_.push_back(
    pending_ack{applied_, source_slot(source), seq, result.result,
                result.rejection});
  if (!standbys_.empty()) {
    log_.push_back(log_entry{applied_, log_source(source), seq, ev.share()});
    log_times_.push_back(now_us_);
  }
}

void replica::on_event(const std::string& source, seq_t seq, epoch_t epoch,
                       event_handle ev, replica_outbox& out, seq_t floor,
                       bool settle_now) {
  auto nack = [&](error_code code) {
    out.nacks.push_back(
      replica_outbox::nack{source, partition_, epoch, seq, code});
  };
  if (epoch < epoch_)
    return nack(error_code::stale_epoch);
  if (role_ != role::active || epoch > epoch_)
    return nack(error_code::not_active);
  auto& last = seq_of(source);
  if (floor > last + 1) {
    if (limits_.snapshot_interval_events > 0) {
      // No standby, and no snapshot covered what the floor says was
      // acknowledged (e.g. the distributor's retention was lost with it):
      // continue the stream at the floor instead of waiting for ever.
      out.stream_gaps += floor - 1 - last;
      last = floor - 1;
    } else {
      // With standbys an active always holds every acknowledged event; an
      // incomplete state must not serve. Hold the events (visible as
      // unavailability) and say so once.
      out.stream_gap_held = true;
    }
  }
  if (seq <= last) {
    // Applied before (a replay after failover, or a resend): answer again
    // with the remembered reply once that entry is durable.
    auto hit = stream().dedupe.find(ev->client_id, ev->request_id);
    if (!hit)
      ++out.dedupe_misses;
    pending_.push_back(pending_ack{hit ? hit->index : applied_,
                                   source_slot(source), seq,
                                   hit ? hit->result : json{},
                                   hit ? hit->rejection : std::string{}});
    release_acks(out);
    // A resend of something applied but not yet acknowledged: the
    // distributor waited long; replication may have lost a message.
    if (!pending_.empty())
      retransmit_stalled(out);
    return;
  }
  if (seq > last + 1) {
    // An earlier event of this source is missing: hold this one (G3).
    auto& held = stream().held[source];
    if (held.count(seq) > 0)
      return;
    if (held.size() >= limits_.reorder_buffer_max)
      return nack(error_code::overloaded);
    held.emplace(seq, held_event{ev.share()});
    return;
  }
  if (log_.size() >= limits_.replication_log_max)
    return nack(error_code::overloaded);
  apply_in_order(source, seq, ev, out);
  // Apply held events that are now in order.
  auto& all_held = stream().held;
  if (auto i = all_held.empty() ? all_held.end() : all_held.find(source);
      i != all_held.end()) {
    auto& held = i->second;
    while (!held.empty()) {
      auto first = held.begin();
      auto next = seq_of(source) + 1;
      if (first->first < next) {
        held.erase(first);  // a duplicate of something applied meanwhile
        continue;
      }
      if (first->first > next)
        break;
      if (log_.size() >= limits_.replication_log_max) {
        out.nacks.push_back(replica_outbox::nack{
          source, partition_, epoch_, first->first, error_code::overloaded});
        held.erase(first);
        continue;
      }
      event_handle held_ev{std::move(first->second.ev)};
      auto held_seq = first->first;
      held.erase(first);
      apply_in_order(source, held_seq, held_ev, out);
    }
    if (held.empty())
      all_held.erase(i);
  }
  if (settle_now)
    settle(out);
  else
    maybe_snapshot(out);  // per event: snapshots stay within the interval
}

void replica::settle(replica_outbox& out) {
  pump(out);
  release_acks(out);
  maybe_snapshot(out);
}

// -- replication (active side) ---------------------------------------------------

void replica::pump(replica_outbox& out) {
  if (log_.empty())
    return;
  auto first_index = log_.front().index;
  for (auto& sb : standbys_) {
    if (!sb.synced || sb.sent > sb.acked || sb.sent >= applied_)
      continue;  // transfer or batch in flight, or nothing new
    auto from = sb.sent + 1;
    if (from < first_index)
      continue;  // cannot happen: trim_log keeps what standbys need
    auto to = std::min<log_index>(applied_,
                                  sb.sent + limits_.checkpoint_batch_max);
    auto hold = limits_.checkpoint_flush_interval_us;
    if (hold > 0 && to - sb.sent < limits_.checkpoint_batch_max) {
      // A partial batch waits to fill, up to the flush interval.
      auto due = log_times_[from - first_index] + hold;
      if (now_us_ < due) {
        out.flush_at_us = out.flush_at_us == 0
                            ? due
                            : std::min(out.flush_at_us, due);
        continue;
      }
    }
    replica_outbox::checkpoint_out cp{sb.copy, partition_, epoch_, {}};
    cp.entries.reserve(to - from + 1);
    for (auto idx = from; idx <= to; ++idx)
      cp.entries.push_back(log_[idx - first_index]);
    sb.sent = to;
    sb.sent_at_us = now_us_;
    out.checkpoints.push_back(std::move(cp));
  }
}

void replica::retransmit_stalled(replica_outbox& out) {
  for (auto& sb : standbys_) {
    if (now_us_ - sb.sent_at_us < limits_.retransmit_after_us)
      continue;
    if (!sb.synced) {
      send_transfer(sb, out);  // the transfer or its ack was lost
    } else if (sb.sent > sb.acked) {
      sb.sent = sb.acked;  // the batch or its ack was lost: from the ack on
    }
  }
  pump(out);
}

void replica::trim_log() {
  if (standbys_.empty()) {
    log_.clear();
    log_times_.clear();
    return;
  }
  auto needed_after = applied_;
  for (auto& sb : standbys_)
    needed_after = std::min(needed_after,
                            sb.synced ? sb.acked : sb.transfer_index);
  while (!log_.empty() && log_.front().index <= needed_after) {
    log_.pop_front();
    log_times_.pop_front();
  }
}

seq_t& replica::seq_of(const std::string& source) {
  // Events come in runs from one source: check the last one first.
  auto& stream = this->stream();
  if (stream.last_seq == nullptr || stream.last_seq->first != source)
    stream.last_seq = &*stream.applied_seqs.try_emplace(source, 0).first;
  return stream.last_seq->second;
}

uint32_t replica::source_slot(const std::string& source) {
  // Events come in runs from one source: check the last one first.
  auto& names = stream().source_names;
  auto& last = stream_->last_source;
  if (last < names.size() && names[last].name == source) {
    ++names[last].pending;
    return last;
  }
  uint32_t free = static_cast<uint32_t>(names.size());
  for (uint32_t i = 0; i < names.size(); ++i) {
    auto& n = names[i];
    if (n.name == source) {
      ++n.pending;
      return last = i;
    }
    if (n.pending == 0 && free == names.size())
      free = i;
  }
  if (free == names.size())
    names.emplace_back();
  names[free].name = source;
  names[free].pending = 1;
  return last = free;
}

void replica::release_acks(replica_outbox& out) {
  auto limit = durable();
  // Set once out.acks.back() is this partition's batch of batch_source.
  uint32_t batch_source = 0;
  bool batch_open = false;
  while (!pending_.empty() && pending_.front().index <= limit) {
    auto& p = pending_.front();
    auto& name = stream().source_names[p.source];
    if (!batch_open || p.source != batch_source) {
      batch_source = p.source;
      batch_open = true;
      if (out.acks.empty() || out.acks.back().source != name.name
          || out.acks.back().partition != partition_) {
        out.acks.push_back(
          replica_outbox::ack_batch{name.name, partition_, epoch_, {}});
        out.acks.back().entries.reserve(pending_.size());
      }
    }
    --name.pending;
    out.acks.back().entries.push_back(ack_entry{
      p.seq, json_value{std::move(p.result)}, std::move(p.rejection)});
    pending_.pop_front();
    if (!served_in_epoch_) {
      served_in_epoch_ = true;
      out.first_served.emplace_back(partition_, epoch_);
    }
  }
}

void replica::on_checkpoint_ack(const checkpoint_ack& ack,
                                replica_outbox& out) {
  if (ack.epoch > epoch_) {
    // A standby already serves a newer epoch: this copy was deposed. Fence
    // itself; what it could not acknowledge is replayed to the new active.
    become_offline();
    return;
  }
  if (!serving() || ack.epoch != epoch_)
    return;
  auto i = std::find_if(standbys_.begin(), standbys_.end(),
                        [&](auto& sb) { return sb.copy == ack.from; });
  if (i == standbys_.end())
    return;
  auto& sb = *i;
  if (!ack.in_sync) {
    send_transfer(sb, out);
    out.resynced_standbys.push_back(replica_outbox::synced{partition_, sb.copy});
  } else if (!sb.synced) {
    if (ack.upto < sb.transfer_index)
      return;  // an ack of an earlier transfer
    sb.synced = true;
    sb.acked = ack.upto;
    sb.sent = std::max(sb.sent, ack.upto);
    out.synced_standbys.push_back(replica_outbox::synced{partition_, sb.copy});
  } else {
    sb.acked = std::max(sb.acked, ack.upto);
  }
  trim_log();
  pump(out);
  release_acks(out);
}

// -- replication (standby side) --------------------------------------------------

checkpoint_ack replica::on_checkpoint(epoch_t epoch,
                                      const std::vector<log_entry>& entries) {
  checkpoint_ack ack{partition_, epoch_, self_, applied_, true};
  if (epoch < epoch_) {
    ack.in_sync = false;  // the sender is deposed; our epoch tells it so
    return ack;
  }
  if (role_ != role::standby || epoch != epoch_ || !in_sync_) {
    ack.epoch = epoch;
    ack.in_sync = false;
    return ack;
  }
  for (auto& entry : entries) {
    if (entry.index <= applied_)
      continue;  // already applied (a resent batch)
    if (entry.index != applied_ + 1) {
      in_sync_ = false;  // a gap: only a new transfer can fix it
      ack.in_sync = false;
      break;
    }
    apply(*entry.source, entry.seq, *entry.ev, false, nullptr);
  }
  ack.upto = applied_;
  return ack;
}

checkpoint_ack replica::on_transfer(const state_transfer& transfer) {
  if (transfer.epoch < epoch_
      || (transfer.epoch == epoch_ && role_ == role::active))
    return checkpoint_ack{partition_, epoch_, self_, applied_, false};
  role_ = role::standby;
  epoch_ = transfer.epoch;
  reset_volatile();
  // An inconsistent state leaves this standby out of sync (not promotable);
  // the active sees in_sync false and sends a transfer again.
  auto ok = restore_from(transfer.app_state.value, transfer.meta,
                         transfer.index);
  return checkpoint_ack{partition_, epoch_, self_, applied_, ok};
}

} // namespace keel
