#include "actors/app_support/app_support.hpp"

#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include <caf/all.hpp>

#include "runtime/transport.hpp"

namespace keel {

app_support_state::~app_support_state() {
  if (!args.ctx || replicas.empty())
    return;
  auto doomed = std::make_shared<replica_table::container>(replicas.release());
  free_later(*args.ctx, std::move(doomed));
}

namespace {

/// The copy whose messages the running thread is handling, set by
/// app_support::resume: `self` for the shared handlers.
thread_local app_support* running_copy = nullptr;

app_support_pointer this_copy() {
  if (running_copy == nullptr) {
    // A handler ran outside app_support::resume: CAF changed underneath.
    std::fputs("keel: an app_support handler ran outside resume()\n", stderr);
    std::abort();
  }
  return running_copy;
}

/// The fields every trace event of a copy's partition starts with.
trace_fields copy_fields(app_support_pointer self, partition_id partition) {
  auto& copy = self->state.args.spec.copy;
  trace_fields fields;
  fields.add("copy", to_string(copy))
    .add("app", copy.app)
    .add("partition", partition)
    .add("node", self->state.args.node);
  return fields;
}

/// How long a replica waits for a standby's ack before sending again.
int64_t retransmit_after_us(const app_support_args& args) {
  return int64_t{args.ctx->config.knobs.resend_after_ms} * 1000 / 2;
}

/// The limits of this copy's replicas, from the knobs and its application's
/// model.
replica_limits limits_of(const app_support_args& args) {
  auto& knobs = args.ctx->config.knobs;
  replica_limits limits{knobs.reorder_buffer_max,
                        knobs.replication_log_max,
                        knobs.checkpoint_batch_max,
                        knobs.dedupe_window,
                        knobs.dedupe_clients_max,
                        0,
                        knobs.checkpoint_flush_interval_us};
  if (auto app = args.ctx->config.find_app(args.spec.copy.app);
      app
      && (app->model == redundancy_model::no_redundancy
          || app->model == redundancy_model::n_way_active))
    limits.snapshot_interval_events = knobs.snapshot_interval_events;
  limits.retransmit_after_us = retransmit_after_us(args);
  return limits;
}

replica& replica_for(app_support_pointer self, partition_id partition) {
  auto& st = self->state;
  auto& r = st.replicas.get_or_make(partition, [&] {
    return std::make_unique<replica>(st.args.spec.copy, partition,
                                     st.args.factory(), limits_of(st.args));
  });
  r.set_now(st.args.ctx->now_us(self));
  return r;
}

/// The replica of `partition` with its clock set, or nullptr.
replica* replica_at(app_support_pointer self, partition_id partition) {
  auto& st = self->state;
  auto r = st.replicas.find(partition);
  if (r)
    r->set_now(st.args.ctx->now_us(self));
  return r;
}

/// Replies once every (partition, standby) in `wait_for` has synced, or
/// with an error after control_timeout_ms.
caf::typed_response_promise<ok_atom>
wait_for_sync(app_support_pointer self,
              std::set<std::pair<partition_id, copy_id>> wait_for) {
  auto& st = self->state;
  auto promise = self->make_response_promise<ok_atom>();
  auto& traffic = st.traffic();
  auto id = traffic.next_waiter++;
  traffic.waiters.push_back(
    app_support_state::sync_waiter{id, std::move(wait_for), promise});
  self->delayed_send(self,
                     std::chrono::milliseconds{
                       st.args.ctx->config.knobs.control_timeout_ms},
                     sync_timeout_atom::value, id);
  if (!st.retransmit_scheduled) {
    st.retransmit_scheduled = true;
    self->delayed_send(self,
                       std::chrono::microseconds{retransmit_after_us(st.args)},
                       retransmit_atom::value);
  }
  return promise;
}

void resolve_waiters(app_support_pointer self, partition_id partition,
                     const copy_id& standby) {
  auto traffic = self->state.traffic_if();
  if (!traffic)
    return;
  auto& waiters = traffic->waiters;
  for (auto i = waiters.begin(); i != waiters.end();) {
    i->remaining.erase({partition, standby});
    if (i->remaining.empty()) {
      i->promise.deliver(ok_atom::value);
      i = waiters.erase(i);
    } else {
      ++i;
    }
  }
}

/// Sends app-to-app event `id` to the distributor. A refusal that may pass
/// (overloaded, unavailable, timeout) is retried after
/// retransmit_interval_ms; a final one (unknown app, invalid event, the
/// target app rejected it) is traced and dropped.
void send_outbound(app_support_pointer self, uint64_t id) {
  auto& st = self->state;
  auto& outbound = st.traffic().outbound;
  auto i = outbound.find(id);
  if (i == outbound.end())
    return;
  auto timeout = std::chrono::milliseconds{
    st.args.ctx->config.knobs.app_send_timeout_ms};
  self
    ->request(transport::via(*st.args.ctx, st.args.node,
                             st.args.ctx->control_node,
                             st.args.spec.distributor),
              timeout, i->second)
    .then([self, id](const event_reply&) {
            self->state.traffic().outbound.erase(id);
          },
          [self, id](caf::error& err) {
            auto& st = self->state;
            auto i = st.traffic().outbound.find(id);
            if (i == st.traffic().outbound.end())
              return;
            auto code = code_of(err);
            bool final = code == error_code::unknown_app
                         || code == error_code::invalid_event
                         || code == error_code::app_rejected;
            st.args.ctx->emit(self, final ? "app_send_failed"
                                          : "app_send_retry",
                              json{{"copy", to_string(st.args.spec.copy)},
                                   {"to_app", i->second.app},
                                   {"key", i->second.key},
                                   {"error", render(err)}});
            if (final) {
              st.traffic().outbound.erase(i);
              return;
            }
            self->delayed_send(self,
                               std::chrono::milliseconds{
                                 st.args.ctx->config.knobs
                                   .retransmit_interval_ms},
                               retry_send_atom::value, id);
          });
}

/// For routed events from `source`: remembers where its acks go (the
/// latest handle), and returns the replica of `partition` if it takes
/// events now; else calls `refuse` with the reason and returns nullptr.
template <class Refuse>
replica* accepting_replica(app_support_pointer self, const std::string& source,
                           const ack_sink_actor& reply_to,
                           partition_id partition, Refuse refuse) {
  auto& st = self->state;
  auto& sources = st.traffic().sources;
  auto i = sources.find(source);
  if (i == sources.end())
    sources.emplace(source, reply_to);
  else if (i->second != reply_to)
    i->second = reply_to;
  auto r = replica_at(self, partition);
  if (r == nullptr) {
    refuse(error_code::not_active);
    return nullptr;
  }
  if (st.traffic().outbound.size() >= st.args.ctx->config.knobs.app_send_max) {
    // Back-pressure: app-to-app events this copy sent are not accepted
    // yet; the distributor keeps the events and resends them.
    refuse(error_code::overloaded);
    return nullptr;
  }
  return r;
}

/// Turns a replica outbox into messages and trace events.
void flush(app_support_pointer self, replica_outbox& out) {
  auto& st = self->state;
  auto& app = st.args.spec.copy.app;
  auto& ctx = *st.args.ctx;
  auto& node = st.args.node;
  // Sources and peers: none if the copy never needed its traffic state.
  static const app_support_state::traffic_state none;
  auto& known = st.traffic_if() ? *st.traffic_if() : none;
  // Traced before the acks leave: whoever gets the reply finds it traced.
  for (auto& [partition, epoch] : out.first_served) {
    auto fields = copy_fields(self, partition);
    fields.add("epoch", epoch);
    st.args.ctx->emit(self, "first_event_served", std::move(fields));
  }
  for (auto& batch : out.acks) {
    auto i = known.sources.find(batch.source);
    if (i != known.sources.end())
      transport::send(self, ctx, node, ctx.control_node, i->second,
                      event_acks{app, batch.partition, batch.epoch,
                                 std::move(batch.entries)});
  }
  for (auto& nack : out.nacks) {
    auto i = known.sources.find(nack.source);
    if (i != known.sources.end())
      transport::send(self, ctx, node, ctx.control_node, i->second,
                      event_nack{app, nack.partition, nack.epoch, nack.seq,
                                 static_cast<uint8_t>(nack.code)});
  }
  for (auto& cp : out.checkpoints) {
    auto i = known.peers.find(cp.to);
    if (i != known.peers.end())
      transport::send(self, ctx, node, i->second.node, i->second.handle,
                      checkpoint{cp.partition, cp.epoch, st.args.spec.copy,
                                 st.args.node, self, std::move(cp.entries)});
  }
  for (auto& tr : out.transfers) {
    auto i = known.peers.find(tr.to);
    if (i != known.peers.end())
      transport::send(self, ctx, node, i->second.node, i->second.handle,
                      state_transfer{tr.partition, tr.epoch, st.args.spec.copy,
                                     st.args.node, self, tr.index,
                                     json_value{std::move(tr.app_state)},
                                     std::move(tr.meta)});
  }
  for (auto& send : out.sends) {
    if (!send.unknown_app.empty()) {
      st.args.ctx->emit(self, "app_send_failed",
                        json{{"copy", to_string(st.args.spec.copy)},
                             {"to_app", send.unknown_app},
                             {"key", send.ev.key},
                             {"error",
                              render(make_error(error_code::unknown_app,
                                                "no application named \""
                                                  + send.unknown_app + "\""))}});
      continue;
    }
    auto& traffic = st.traffic();
    auto id = traffic.next_outbound++;
    traffic.outbound.emplace(id, std::move(send.ev));
    send_outbound(self, id);
  }
  for (auto& s : out.synced_standbys) {
    auto fields = copy_fields(self, s.partition);
    fields.add("standby", to_string(s.standby));
    st.args.ctx->emit(self, "standby_synced", std::move(fields));
    resolve_waiters(self, s.partition, s.standby);
  }
  for (auto& s : out.resynced_standbys) {
    auto fields = copy_fields(self, s.partition);
    fields.add("standby", to_string(s.standby));
    st.args.ctx->emit(self, "standby_resync", std::move(fields));
  }
  if (out.flush_at_us > 0 && !st.flush_scheduled) {
    st.flush_scheduled = true;
    auto delay = out.flush_at_us - st.args.ctx->now_us(self);
    self->delayed_send(self,
                       std::chrono::microseconds{std::max<int64_t>(delay, 0)},
                       flush_atom::value);
  }
  for (auto& snap : out.snapshots) {
    snap.app = app;
    snap.from = st.args.spec.copy;
    // A copy for each source but the last, which gets this one.
    size_t left = known.sources.size();
    for (auto& [source, sink] : known.sources)
      if (--left > 0)
        transport::send(self, ctx, node, ctx.control_node, sink, snap);
      else
        transport::send(self, ctx, node, ctx.control_node, sink,
                        std::move(snap));
  }
  if (out.stream_gap_held)
    st.args.ctx->emit(self, "stream_gap_held",
                      json{{"copy", to_string(st.args.spec.copy)}});
  if (out.stream_gaps > 0)
    st.args.ctx->emit(self, "state_gap",
                      json{{"copy", to_string(st.args.spec.copy)},
                           {"events_missing", out.stream_gaps}});
  if (out.dedupe_misses > 0)
    st.args.ctx->emit(self, "dedupe_miss",
                      json{{"copy", to_string(st.args.spec.copy)},
                           {"count", out.dedupe_misses}});
}

void trace_role(app_support_pointer self, const replica& r);

/// Answers the node agent's health check of `round`.
void answer_health(app_support_pointer self, uint64_t round) {
  auto& st = self->state;
  if (st.args.agent)
    self->send(caf::actor_cast<node_agent_actor>(st.args.agent),
               health_atom::value, st.args.spec.copy, round);
}

/// Answers quiesce requests whose partition has drained.
void check_quiesced(app_support_pointer self) {
  auto& st = self->state;
  if (!st.traffic_if())
    return;  // never asked
  auto& quiescing = st.traffic().quiescing;
  for (auto i = quiescing.begin(); i != quiescing.end();) {
    auto r = st.replicas.find(i->first);
    if (r && r->try_quiesced()) {
      trace_role(self, *r);
      i->second.deliver(r->applied());
      i = quiescing.erase(i);
    } else {
      ++i;
    }
  }
}

void trace_role(app_support_pointer self, const replica& r) {
  auto fields = copy_fields(self, r.partition());
  // Which incarnation: a restarted copy keeps its name (single_active tells
  // two incarnations of one copy apart by it).
  fields.add("role", to_string(r.current_role()))
    .add("epoch", r.epoch())
    .add("incarnation", self->id());
  self->state.args.ctx->emit(self, "role_changed", std::move(fields));
}

/// Registers (and monitors) a standby this copy replicates to.
void add_peer(app_support_pointer self, const standby_ref& sb) {
  auto& peers = self->state.traffic().peers;
  auto i = peers.find(sb.copy);
  if (sb.handle && (i == peers.end() || i->second.handle != sb.handle))
    self->monitor(sb.handle);  // a new copy or a new incarnation
  peers[sb.copy] = sb;
}

/// Applies one role assignment; adds the standbys the reply waits for.
/// Returns false if the assignment was refused.
bool assign(app_support_pointer self, const role_assignment& ra,
            replica_outbox& out,
            std::set<std::pair<partition_id, copy_id>>& wait_for) {
  auto& st = self->state;
  if (ra.partition >= st.args.spec.partitions)
    return false;
  auto& r = replica_for(self, ra.partition);
  auto before = std::make_pair(r.current_role(), r.epoch());
  switch (ra.new_role) {
    case role::active: {
      std::vector<copy_id> standbys;
      for (auto& sb : ra.standbys)
        standbys.push_back(sb.copy);
      if (!r.become_active(ra.epoch, standbys, out,
                           ra.seed.present ? &ra.seed : nullptr))
        return false;
      for (auto& sb : ra.standbys) {
        add_peer(self, sb);
        wait_for.emplace(ra.partition, sb.copy);
      }
      break;
    }
    case role::standby:
      r.become_standby(ra.epoch);
      break;
    default:
      r.become_offline();
      break;
  }
  if (before != std::make_pair(r.current_role(), r.epoch()))
    trace_role(self, r);
  return true;
}

void on_peer_down(app_support_pointer self, const caf::down_msg& msg) {
  auto& st = self->state;
  if (!st.traffic_if())
    return;  // no standbys
  auto& peers = st.traffic().peers;
  for (auto i = peers.begin(); i != peers.end();) {
    if (i->second.handle.compare(msg.source) != 0) {
      ++i;
      continue;
    }
    auto gone = i->first;
    i = peers.erase(i);
    replica_outbox out;
    for (auto& r : st.replicas) {
      if (!r || !r->serving())
        continue;
      auto before = r->standbys();
      r->remove_standby(gone, out);
      if (r->standbys() != before) {
        auto fields = copy_fields(self, r->partition());
        fields.add("standby", to_string(gone));
        st.args.ctx->emit(self, "standby_lost", std::move(fields));
      }
      resolve_waiters(self, r->partition(), gone);
    }
    flush(self, out);
    check_quiesced(self);
  }
}

/// True while an injected hang is active: the copy does nothing at all.
bool hung(app_support_pointer self) {
  auto traffic = self->state.traffic_if();
  return traffic && traffic->fault.kind == fault_injection::hang;
}

void report_load(app_support_pointer self) {
  auto& st = self->state;
  load_report rep;
  rep.copy = st.args.spec.copy;
  rep.node = st.args.node;
  rep.at_us = st.args.ctx->now_us(self);
  uint64_t total = 0;
  for (auto& r : st.replicas) {
    if (!r)
      continue;
    total += r->applied_total();
    rep.partitions.push_back(
      partition_load{r->partition(), r->current_role(), r->applied_total()});
  }
  auto elapsed_us = rep.at_us - st.last_report_us;
  if (elapsed_us > 0)
    rep.events_per_s = static_cast<double>(total - st.applied_at_last_report)
                       * 1e6 / static_cast<double>(elapsed_us);
  rep.queue_length = self->mailbox().size();
  st.applied_at_last_report = total;
  st.last_report_us = rep.at_us;
  transport::send(self, *st.args.ctx, st.args.node, st.args.ctx->control_node,
                  st.args.spec.load_manager, std::move(rep));
}

/// The handlers of every copy, built once and shared (see app_support).
app_support_actor::behavior_type make_handlers() {
  return {
    [](routed_event& re) {
      auto self = this_copy();
      if (hung(self))
        return;
      if (!re.ev) {
        // No sender makes one (a peer's always carries an event): a bug
        // upstream, made visible rather than applied or acknowledged.
        self->state.args.ctx->emit(
          self, "routed_event_dropped",
          json{{"copy", to_string(self->state.args.spec.copy)},
               {"source", re.source}, {"seq", re.seq},
               {"why", "no event"}});
        return;
      }
      replica_outbox out;
      auto r = accepting_replica(self, re.source, re.reply_to, re.partition,
                                 [&](error_code code) {
                                   out.nacks.push_back(replica_outbox::nack{
                                     re.source, re.partition, re.epoch,
                                     re.seq, code});
                                 });
      if (r != nullptr)
        r->on_event(re.source, re.seq, re.epoch, std::move(re.ev), out,
                    re.floor);
      flush(self, out);
    },
    [](const routed_batch& rb) {
      auto self = this_copy();
      if (hung(self))
        return;
      replica_outbox out;
      auto r = accepting_replica(self, rb.source, rb.reply_to, rb.partition,
                                 [&](error_code code) {
                                   for (auto& item : rb.items())
                                     out.nacks.push_back(replica_outbox::nack{
                                       rb.source, rb.partition, rb.epoch,
                                       item.seq, code});
                                 });
      if (r != nullptr) {
        auto& st = self->state;
        auto sends_max = st.args.ctx->config.knobs.app_send_max;
        for (auto& item : rb.items()) {
          if (st.traffic().outbound.size() + out.sends.size() >= sends_max) {
            // Back-pressure per event, as for single events: the rest is
            // refused and resent by the distributor.
            out.nacks.push_back(replica_outbox::nack{
              rb.source, rb.partition, rb.epoch, item.seq,
              error_code::overloaded});
            continue;
          }
          // Borrowed from the batch's owner, shared only if kept.
          assert(item.ev != nullptr && item.owner < rb.owner_count());
          r->on_event(rb.source, item.seq, rb.epoch, *item.ev,
                      rb.owner_of(item), out, rb.floor, false);
        }
        r->settle(out);
      }
      flush(self, out);
    },
    [](checkpoint& cp) {
      auto self = this_copy();
      auto& st = self->state;
      if (hung(self))
        return;
      checkpoint_ack ack{cp.partition, 0, st.args.spec.copy, 0, false};
      if (auto r = st.replicas.find(cp.partition))
        ack = r->on_checkpoint(cp.epoch, cp.entries);
      transport::send(self, *st.args.ctx, st.args.node, cp.from_node,
                      cp.reply_to, ack);
    },
    [](checkpoint_ack& ack) {
      auto self = this_copy();
      auto& st = self->state;
      if (hung(self))
        return;
      auto rp = replica_at(self, ack.partition);
      if (rp == nullptr)
        return;
      auto& r = *rp;
      auto was_active = r.current_role() == role::active;
      replica_outbox out;
      r.on_checkpoint_ack(ack, out);
      if (was_active && r.current_role() != role::active) {
        auto fields = copy_fields(self, ack.partition);
        fields.add("epoch", r.epoch());
        fields.add("newer_epoch", ack.epoch);
        st.args.ctx->emit(self, "fenced", std::move(fields));
        trace_role(self, r);
      }
      flush(self, out);
      check_quiesced(self);
    },
    [](state_transfer& tr) {
      auto self = this_copy();
      auto& st = self->state;
      if (hung(self))
        return;
      if (tr.partition >= st.args.spec.partitions)
        return;
      auto& r = replica_for(self, tr.partition);
      auto before = std::make_pair(r.current_role(), r.epoch());
      auto ack = r.on_transfer(tr);
      if (before != std::make_pair(r.current_role(), r.epoch()))
        trace_role(self, r);
      if (!ack.in_sync && r.current_role() == role::standby
          && r.epoch() == tr.epoch) {
        auto fields = copy_fields(self, tr.partition);
        fields.add("from", to_string(tr.from));
        fields.add("why", "inconsistent dedupe table in the state transfer");
        st.args.ctx->emit(self, "state_transfer_refused", std::move(fields));
      }
      transport::send(self, *st.args.ctx, st.args.node, tr.from_node,
                      tr.reply_to, ack);
    },
    [](assign_roles_atom, std::vector<role_assignment>& roles)
      -> caf::result<ok_atom> {
      auto self = this_copy();
      if (hung(self))
        return caf::delegated<ok_atom>{};
      self->state.node_fenced = false;  // the controller speaks to us again
      replica_outbox out;
      std::set<std::pair<partition_id, copy_id>> wait_for;
      std::string refused;
      for (auto& ra : roles)
        if (!assign(self, ra, out, wait_for))
          refused += (refused.empty() ? "" : ", ")
                     + std::to_string(ra.partition);
      if (!refused.empty()) {
        flush(self, out);
        return make_error(error_code::not_active,
                          to_string(self->state.args.spec.copy)
                            + " refused the role for partition(s) " + refused
                            + " (not in sync, or an older epoch)");
      }
      if (wait_for.empty()) {
        flush(self, out);
        return ok_atom::value;
      }
      auto promise = wait_for_sync(self, std::move(wait_for));
      flush(self, out);
      return promise;
    },
    [](add_standby_atom, role_assignment& ra) -> caf::result<ok_atom> {
      auto self = this_copy();
      auto& st = self->state;
      if (hung(self))
        return caf::delegated<ok_atom>{};
      auto active = st.replicas.find(ra.partition);
      if (!active || active->current_role() != role::active)
        return make_error(error_code::not_active,
                          to_string(st.args.spec.copy) + " is not active for "
                            "partition "
                            + std::to_string(ra.partition));
      replica_outbox out;
      std::set<std::pair<partition_id, copy_id>> wait_for;
      for (auto& sb : ra.standbys) {
        add_peer(self, sb);
        active->add_standby(sb.copy, out);
        wait_for.emplace(ra.partition, sb.copy);
      }
      auto promise = wait_for_sync(self, std::move(wait_for));
      flush(self, out);
      return promise;
    },
    [](remove_standby_atom, partition_id partition, copy_id& standby,
       caf::actor_addr& incarnation) {
      auto self = this_copy();
      auto& st = self->state;
      if (hung(self))
        return;
      auto r = st.replicas.find(partition);
      if (!r)
        return;
      // Late (a slow link): the copy came back since and was added again.
      if (auto traffic = st.traffic_if(); traffic && incarnation) {
        auto peer = traffic->peers.find(standby);
        if (peer != traffic->peers.end() && peer->second.handle
            && peer->second.handle.address() != incarnation)
          return;
      }
      replica_outbox out;
      r->remove_standby(standby, out);
      resolve_waiters(self, partition, standby);
      flush(self, out);
      check_quiesced(self);
    },
    [](quiesce_atom, partition_id partition,
       epoch_t epoch) -> caf::result<log_index> {
      auto self = this_copy();
      auto& st = self->state;
      if (hung(self))
        return caf::delegated<log_index>{};
      auto rp = st.replicas.find(partition);
      if (!rp || !rp->quiesce(epoch))
        return make_error(error_code::not_active,
                          to_string(st.args.spec.copy)
                            + " is not the active of partition "
                            + std::to_string(partition) + " in epoch "
                            + std::to_string(epoch));
      auto& r = *rp;
      trace_role(self, r);
      if (r.try_quiesced()) {
        trace_role(self, r);
        return r.applied();
      }
      auto promise = self->make_response_promise<log_index>();
      st.traffic().quiescing[partition] = promise;
      self->delayed_send(self,
                         std::chrono::milliseconds{
                           st.args.ctx->config.knobs.control_timeout_ms / 2},
                         quiesce_timeout_atom::value, partition);
      return promise;
    },
    [](resume_atom, partition_id partition,
       epoch_t epoch) -> caf::result<ok_atom> {
      auto self = this_copy();
      auto& st = self->state;
      if (hung(self))
        return caf::delegated<ok_atom>{};
      auto r = replica_at(self, partition);
      if (r == nullptr || r->epoch() != epoch)
        return ok_atom::value;  // moved on: nothing to resume
      if (auto traffic = st.traffic_if()) {
        auto& quiescing = traffic->quiescing;
        if (auto i = quiescing.find(partition); i != quiescing.end()) {
          i->second.deliver(make_error(error_code::unavailable,
                                       "switchover abandoned"));
          quiescing.erase(i);
        }
      }
      auto before = r->current_role();
      r->resume_active();
      if (before != r->current_role())
        trace_role(self, *r);
      return ok_atom::value;
    },
    [](quiesce_timeout_atom, partition_id partition) {
      auto self = this_copy();
      auto& st = self->state;
      auto traffic = st.traffic_if();
      if (!traffic)
        return;
      auto i = traffic->quiescing.find(partition);
      if (i == traffic->quiescing.end())
        return;
      auto& r = *st.replicas.find(partition);  // quiescing: it exists
      r.resume_active();
      trace_role(self, r);
      i->second.deliver(make_error(error_code::unavailable,
                                   "partition did not drain within "
                                   "control_timeout_ms; back to active"));
      traffic->quiescing.erase(i);
    },
    [](get_state_atom,
       partition_id partition) -> caf::result<partition_state> {
      auto self = this_copy();
      auto& st = self->state;
      if (hung(self))
        return caf::delegated<partition_state>{};
      partition_state result;
      result.partition = partition;
      if (auto rp = st.replicas.find(partition)) {
        auto& r = *rp;
        result.current_role = r.current_role();
        result.epoch = r.epoch();
        result.applied = r.applied();
        result.app_state = json_value{r.snapshot()};
      }
      return result;
    },
    [](status_atom) -> caf::result<copy_status> {
      auto self = this_copy();
      auto& st = self->state;
      if (hung(self))
        return caf::delegated<copy_status>{};
      copy_status result{st.args.spec.copy, st.args.node, {}};
      for (auto& r : st.replicas)
        if (r)
          result.partitions.push_back(partition_status{
            r->partition(), r->current_role(), r->epoch(), r->applied(),
            r->pending_acks(), static_cast<uint32_t>(r->standbys())});
      return result;
    },
    [](retry_send_atom, uint64_t id) {
      auto self = this_copy();
      if (!hung(self))
        send_outbound(self, id);
    },
    [](health_atom, uint64_t round) {
      auto self = this_copy();
      auto& st = self->state;
      if (hung(self))
        return;
      if (auto traffic = st.traffic_if();
          traffic && traffic->fault.kind == fault_injection::slow)
        self->delayed_send(self,
                           std::chrono::milliseconds{traffic->fault.delay_ms},
                           health_due_atom::value, round);
      else
        answer_health(self, round);
    },
    [](health_due_atom, uint64_t round) {
      auto self = this_copy();
      if (!hung(self))
        answer_health(self, round);
    },
    [](inject_atom, fault_injection& fault) {
      auto self = this_copy();
      // Also handled while hung: `none` resumes a hung copy.
      auto& st = self->state;
      st.traffic().fault = fault;
      st.args.ctx->emit(self, "fault_active",
                        json{{"copy", to_string(st.args.spec.copy)},
                             {"kind", fault.kind == fault_injection::hang
                                        ? "hang"
                                        : fault.kind == fault_injection::slow
                                            ? "slow"
                                            : "none"},
                             {"delay_ms", fault.delay_ms}});
    },
    [](flush_atom) {
      auto self = this_copy();
      auto& st = self->state;
      st.flush_scheduled = false;
      if (hung(self))
        return;
      replica_outbox out;
      auto now = st.args.ctx->now_us(self);
      for (auto& r : st.replicas) {
        r->set_now(now);
        r->flush(out);
      }
      flush(self, out);
    },
    [](sync_timeout_atom, uint64_t id) {
      auto self = this_copy();
      auto traffic = self->state.traffic_if();
      if (!traffic)
        return;
      auto& waiters = traffic->waiters;
      for (auto i = waiters.begin(); i != waiters.end(); ++i)
        if (i->id == id) {
          i->promise.deliver(make_error(
            error_code::unavailable,
            to_string(self->state.args.spec.copy)
              + ": standbys did not sync within control_timeout_ms"));
          waiters.erase(i);
          return;
        }
    },
    [](retransmit_atom) {
      auto self = this_copy();
      auto& st = self->state;
      st.retransmit_scheduled = false;
      if (!st.traffic_if() || st.traffic_if()->waiters.empty() || hung(self))
        return;
      replica_outbox out;
      auto now = st.args.ctx->now_us(self);
      for (auto& r : st.replicas)
        if (r->serving()) {
          r->set_now(now);
          r->retransmit_stalled(out);
        }
      flush(self, out);
      st.retransmit_scheduled = true;
      self->delayed_send(
        self, std::chrono::microseconds{retransmit_after_us(st.args)},
        retransmit_atom::value);
    },
    [](successor_atom, partition_id partition, epoch_t epoch,
       epoch_t next) {
      auto self = this_copy();
      auto& st = self->state;
      if (hung(self))
        return;
      auto rp = replica_at(self, partition);
      auto fields = copy_fields(self, partition);
      fields.add("epoch", next);
      if (rp == nullptr || st.node_fenced || next <= epoch
          || rp->current_role() != role::standby || rp->epoch() != epoch
          || !rp->in_sync()) {
        st.args.ctx->emit(self, "successor_refused", std::move(fields));
        return;
      }
      replica_outbox out;
      rp->become_active(next, {}, out, nullptr);
      st.args.ctx->emit(self, "successor_promoted", std::move(fields));
      trace_role(self, *rp);
      flush(self, out);
    },
    [](self_fence_atom) {
      auto self = this_copy();
      auto& st = self->state;
      st.node_fenced = true;
      for (auto& r : st.replicas)
        if (r && r->serving()) {
          r->become_offline();
          trace_role(self, *r);
        }
      // Quiesce requests in flight will not be answered: the controller
      // sees their timeouts.
    },
    [](tick_atom) {
      auto self = this_copy();
      auto& st = self->state;
      // Ticks that queued up while the node was stopped arrive together:
      // only the first reports.
      auto now = st.args.ctx->now_us(self);
      if (now < st.next_tick_us)
        return;
      st.next_tick_us
        = now
          + int64_t{st.args.ctx->config.knobs.load_report_interval_ms} * 500;
      if (!hung(self))
        report_load(self);
    },
  };
}

} // namespace

app_support::app_support(caf::actor_config& cfg, app_support_args args)
  : super(cfg) {
  state.args = std::move(args);
}

caf::resumable::resume_result app_support::resume(caf::execution_unit* ctx,
                                                  size_t max_throughput) {
  struct restore {
    app_support* outer;
    ~restore() {
      running_copy = outer;
    }
  } guard{std::exchange(running_copy, this)};
  return super::resume(ctx, max_throughput);
}

app_support_actor::behavior_type app_support::make_behavior() {
  app_support_pointer self = this;
  auto& st = state;
  transport::place(*st.args.ctx, self, st.args.node);
  st.last_report_us = st.args.ctx->now_us(self);
  if (st.args.agent)
    monitor(st.args.agent);
  set_down_handler([self](caf::down_msg& msg) {
    if (msg.source == self->state.args.agent.address()) {
      self->quit(msg.reason);  // our node went down
      return;
    }
    on_peer_down(self, msg);
  });
  static const app_support_actor::behavior_type handlers = make_handlers();
  return handlers;
}

} // namespace keel
