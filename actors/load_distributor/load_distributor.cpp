#include "actors/load_distributor/load_distributor.hpp"

#include <algorithm>
#include <optional>

#include <caf/all.hpp>

#include "runtime/transport.hpp"

namespace keel {

namespace {

void send_dispatch(load_distributor_pointer self,
                   const distributor_state::dispatch& d) {
  auto& st = self->state;
  routed_event re{d.partition, d.epoch,  d.item->seq,
                  st.table->source(), self, d.item->ev, d.floor};
  if (d.target)
    transport::send(self, *st.ctx, st.node, d.target->node, d.target->handle,
                    std::move(re));
  else
    transport::send(self, *st.ctx, st.node, st.node, st.router,
                    std::move(re));
}

constexpr distributor_state::token batch_token = uint64_t{1} << 63;
constexpr size_t batch_sinks_max = 4096;
constexpr size_t batch_events_max = 65536;
/// Released events go to the reaper in lots of this many (and at each
/// tick): the distributor is the serial part of the data path.
constexpr size_t reap_lot = 2048;

/// The slot of a batch client, registered (and monitored) on first use;
/// nullopt if batch_sinks_max clients are registered.
std::optional<uint32_t> slot_of(load_distributor_pointer self,
                                const result_sink_actor& sink) {
  auto& st = self->state;
  auto addr = sink.address();
  if (auto i = st.sink_index.find(addr); i != st.sink_index.end())
    return i->second;
  uint32_t slot;
  if (!st.free_sinks.empty()) {
    slot = st.free_sinks.back();
    st.free_sinks.pop_back();
  } else if (st.sinks.size() < batch_sinks_max) {
    slot = static_cast<uint32_t>(st.sinks.size());
    st.sinks.emplace_back();
  } else {
    return std::nullopt;
  }
  st.sinks[slot].sink = sink;
  ++st.sinks[slot].generation;
  st.sink_index.emplace(addr, slot);
  self->monitor(sink);
  return slot;
}

distributor_state::token token_of(load_distributor_pointer self,
                                  uint32_t slot) {
  return batch_token
         | (uint64_t{self->state.sinks[slot].generation} << 32) | slot;
}

/// The live batch client of `token`, or nullptr (gone since).
const result_sink_actor* sink_of(load_distributor_pointer self,
                                 distributor_state::token token) {
  auto& st = self->state;
  auto slot = static_cast<uint32_t>(token & 0xffffffffu);
  auto generation = static_cast<uint32_t>((token >> 32) & 0x7fffffffu);
  if (slot >= st.sinks.size() || !st.sinks[slot].sink
      || (st.sinks[slot].generation & 0x7fffffffu) != generation)
    return nullptr;
  return &st.sinks[slot].sink;
}

void on_sink_down(load_distributor_pointer self, const caf::down_msg& msg) {
  auto& st = self->state;
  auto i = st.sink_index.find(msg.source);
  if (i == st.sink_index.end())
    return;
  st.sinks[i->second].sink = nullptr;
  st.free_sinks.push_back(i->second);
  st.sink_index.erase(i);
}

/// Sends dispatches; the ones for a partition's active go in one
/// routed_batch per partition (at most 1024 events each), in order. A
/// failover under load replays thousands; a client batch spans partitions.
void send_dispatches(load_distributor_pointer self,
                     const distributor_state::dispatch* first,
                     const distributor_state::dispatch* last) {
  constexpr size_t batch_max = 1024;
  auto count = static_cast<size_t>(last - first);
  auto& st = self->state;
  std::vector<std::pair<const route*, routed_batch>> groups;
  // Sends the group's events so far; its header stays for the next ones.
  auto send = [&](std::pair<const route*, routed_batch>& g) {
    transport::send(self, *st.ctx, st.node, g.first->node, g.first->handle,
                    g.second.take());
  };
  for (auto i = first; i != last; ++i) {
    auto& d = *i;
    if (!d.target || !d.item) {
      send_dispatch(self, d);
      continue;
    }
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](auto& x) { return x.first == d.target; });
    if (g == groups.end()) {
      groups.emplace_back(d.target, routed_batch{d.partition, d.epoch,
                                                 st.table->source(), self,
                                                 d.floor});
      g = groups.end() - 1;
      g->second.reserve(std::min(count, batch_max));
    } else if (g->second.items().size() >= batch_max) {
      send(*g);
    }
    g->second.add(d.item->seq, d.item->ev);
  }
  for (auto& g : groups)
    send(g);
}

void send_dispatches(load_distributor_pointer self,
                     const std::vector<distributor_state::dispatch>& ds) {
  send_dispatches(self, ds.data(), ds.data() + ds.size());
}

/// Hands the events the table released to the context's reaper once
/// there are `at_least` of them, so that their last reference drops (and
/// their memory is freed) on another thread.
void reap(load_distributor_pointer self, size_t at_least = reap_lot) {
  auto& st = self->state;
  auto n = st.table->released_count();
  if (n == 0 || n < at_least)
    return;
  free_later(*st.ctx,
             std::make_shared<std::vector<std::shared_ptr<const event>>>(
               st.table->take_released()));
}

/// Admits a batch: each event as if sent alone (send_dispatches groups
/// what goes straight to an active).
void admit_batch(load_distributor_pointer self, event_batch& batch) {
  auto& st = self->state;
  if (!batch.reply_to) {
    // Nobody to answer: take nothing (a client that wants no answers
    // still has to learn about refusals).
    st.refused += batch.events.size();
    st.ctx->emit(self, "batch_refused",
                 json{{"events", batch.events.size()},
                      {"why", "event_batch without reply_to"}});
    return;
  }
  event_results refused;
  auto refuse = [&](uint64_t request_id, error_code code, std::string why) {
    ++st.refused;
    refused.results.push_back(event_result{
      request_id, 0, 0, static_cast<uint8_t>(code), std::move(why), {}});
  };
  auto slot = slot_of(self, batch.reply_to);
  if (!slot || batch.events.size() > batch_events_max) {
    auto why = slot ? "a batch holds at most " + std::to_string(batch_events_max)
                        + " events"
                    : "more than " + std::to_string(batch_sinks_max)
                        + " batch clients";
    auto code = slot ? error_code::invalid_event : error_code::overloaded;
    for (auto& ev : batch.events)
      refuse(ev.request_id, code, why);
    self->send(batch.reply_to, std::move(refused));
    return;
  }
  auto token = token_of(self, *slot);
  auto& ds = st.batch_dispatches;
  ds.clear();
  ds.reserve(batch.events.size());
  for (auto& block : st.table->blocks_of(batch.events)) {
    for (auto& ev : *block) {
      auto request_id = ev.request_id;
      auto adm = st.table->admit(std::shared_ptr<const event>(block, &ev),
                                 token);
      if (adm.code != error_code::none) {
        refuse(request_id, adm.code, std::move(adm.why));
        continue;
      }
      ++st.accepted;
      // References into the replay buffer stay valid while it grows.
      st.table->route_of(adm, ds.emplace_back());
    }
  }
  send_dispatches(self, ds);
  if (ds.capacity() > 4096)
    std::vector<distributor_state::dispatch>{}.swap(ds);
  if (!refused.results.empty())
    self->send(batch.reply_to, std::move(refused));
}

void install(load_distributor_pointer self, const std::vector<route>& routes) {
  std::vector<distributor_state::dispatch> replays;
  self->state.table->install(routes, replays);
  send_dispatches(self, replays);
}

/// The fault manager saw `dead` die: its successors take over now, ahead
/// of the controller's recovery, which confirms them. Each partition's
/// promotion goes out with its replays behind it, so that the successor
/// serves a partition as soon as it has taken it, not after taking all.
void on_active_down(load_distributor_pointer self,
                    const app_support_actor& dead) {
  auto& st = self->state;
  std::vector<distributor_state::dispatch> replays;
  auto promoted = st.table->on_active_down(dead.address(), replays);
  auto next = replays.data();
  for (auto& s : promoted) {
    transport::send(self, *st.ctx, st.node, s.to.node, s.to.handle,
                    successor_atom::value, s.partition, s.from_epoch,
                    s.to.epoch);
    trace_fields fields;
    fields.add("app", s.app)
      .add("partition", s.partition)
      .add("copy", to_string(s.to.active))
      .add("epoch", s.to.epoch);
    st.ctx->emit(self, "successor_routed", std::move(fields));
    send_dispatches(self, next, next + s.replays);
    next += s.replays;
  }
}

} // namespace

load_distributor_actor::behavior_type
load_distributor_impl(load_distributor_pointer self, node_id node,
                      context_ptr ctx, router_actor router) {
  auto& st = self->state;
  auto source = "distributor@" + node + "#" + std::to_string(self->id());
  st.table = std::make_unique<distributor_state>(source, ctx->config);
  st.node = std::move(node);
  st.router = router;
  st.ctx = std::move(ctx);
  transport::place(*st.ctx, self, st.node);
  auto timeout = std::chrono::milliseconds{
    st.ctx->config.knobs.control_timeout_ms};
  route_subscriber_actor me = self;
  self->request(router, timeout, subscribe_atom::value, me)
    .then([self](std::vector<route>& table) { install(self, table); },
          [self](caf::error& err) {
            self->state.ctx->emit(self, "distributor_subscribe_failed",
                                  json{{"error", render(err)}});
          });
  auto interval = std::chrono::milliseconds{
    st.ctx->config.knobs.retransmit_interval_ms};
  self->delayed_send(self, interval, tick_atom::value);
  self->set_down_handler(
    [self](caf::down_msg& msg) { on_sink_down(self, msg); });
  return {
    [self](event& ev) -> caf::result<event_reply> {
      auto& st = self->state;
      auto token = st.next_token++;
      auto adm = st.table->admit(std::move(ev), token);
      if (adm.code != error_code::none) {
        ++st.refused;
        return make_error(adm.code, std::move(adm.why));
      }
      ++st.accepted;
      auto promise = self->make_response_promise<event_reply>();
      st.clients.emplace(token, promise);
      send_dispatch(self, st.table->route_of(adm));
      return promise;
    },
    [self](event_batch& batch) { admit_batch(self, batch); },
    [self](event_acks& acks) {
      auto& st = self->state;
      // Outcomes for batch clients: one event_results per client.
      std::vector<std::pair<const result_sink_actor*, event_results>> out;
      auto completed = st.table->on_acks(std::move(acks));
      for (auto& done : completed) {
        if (done.client & batch_token) {
          auto sink = sink_of(self, done.client);
          if (sink == nullptr)
            continue;
          ++st.acknowledged;
          auto o = std::find_if(out.begin(), out.end(),
                                [&](auto& x) { return x.first == sink; });
          if (o == out.end()) {
            out.emplace_back(sink, event_results{});
            o = out.end() - 1;
            o->second.results.reserve(completed.size());
          }
          auto code = done.ack.rejection.empty() ? error_code::none
                                                 : error_code::app_rejected;
          o->second.results.push_back(event_result{
            done.request_id, done.partition, done.seq,
            static_cast<uint8_t>(code), std::move(done.ack.rejection),
            std::move(done.ack.result)});
          continue;
        }
        auto i = st.clients.find(done.client);
        if (i == st.clients.end())
          continue;
        ++st.acknowledged;
        if (done.ack.rejection.empty())
          i->second.deliver(event_reply{done.partition, done.seq,
                                        std::move(done.ack.result)});
        else
          i->second.deliver(
            make_error(error_code::app_rejected, done.ack.rejection));
        st.clients.erase(i);
      }
      for (auto& [sink, results] : out)
        self->send(*sink, std::move(results));
      reap(self);
    },
    [self](event_nack& nack) { self->state.table->on_nack(nack); },
    [self](died_atom, app_support_actor& dead) { on_active_down(self, dead); },
    [self](partition_snapshot& snap) {
      self->state.table->on_snapshot(std::move(snap));
      reap(self);
    },
    [self](get_snapshot_atom, app_name& app, partition_id partition) {
      return self->state.table->snapshot_of(app, partition);
    },
    [self](routes_atom, std::vector<route>& routes) {
      install(self, routes);
      return ok_atom::value;
    },
    [self](fence_atom, app_support_actor& incarnation,
           std::vector<route>& routes) {
      self->state.table->fence(routes);
      self->state.table->fence_incarnation(incarnation.address());
      return ok_atom::value;
    },
    [self](status_atom) {
      auto& st = self->state;
      return distributor_status{st.table->source(), st.accepted,
                                st.acknowledged,    st.table->replayed(),
                                st.refused,         st.table->pending_total(),
                                st.table->stale_acks()};
    },
    [self](tick_atom) {
      auto& st = self->state;
      // Ticks that queued up while the node was stopped: keep one chain.
      auto now = st.ctx->now_us(self);
      if (now < st.next_tick_us)
        return;
      st.next_tick_us
        = now + int64_t{st.ctx->config.knobs.retransmit_interval_ms} * 500;
      auto after = int64_t{st.ctx->config.knobs.resend_after_ms} * 1000;
      send_dispatches(self, st.table->resend_due(now, after));
      reap(self, 1);
      auto interval = std::chrono::milliseconds{
        st.ctx->config.knobs.retransmit_interval_ms};
      self->delayed_send(self, interval, tick_atom::value);
    },
  };
}

} // namespace keel
