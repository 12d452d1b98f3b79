#include "actors/load_distributor/load_distributor.hpp"

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

void install(load_distributor_pointer self, const std::vector<route>& routes) {
  std::vector<distributor_state::dispatch> replays;
  self->state.table->install(routes, replays);
  for (auto& d : replays)
    send_dispatch(self, d);
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
  return {
    [self](event& ev) -> caf::result<event_reply> {
      auto& st = self->state;
      auto token = st.next_token++;
      auto app = ev.app;
      auto adm = st.table->admit(std::move(ev), token);
      if (adm.code != error_code::none) {
        ++st.refused;
        return make_error(adm.code, std::move(adm.why));
      }
      ++st.accepted;
      auto promise = self->make_response_promise<event_reply>();
      st.clients.emplace(token, promise);
      send_dispatch(self, st.table->route_of(app, adm.partition, adm.seq));
      return promise;
    },
    [self](event_acks& acks) {
      auto& st = self->state;
      for (auto& done : st.table->on_acks(acks)) {
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
    },
    [self](event_nack& nack) { self->state.table->on_nack(nack); },
    [self](partition_snapshot& snap) {
      self->state.table->on_snapshot(std::move(snap));
    },
    [self](get_snapshot_atom, app_name& app, partition_id partition) {
      return self->state.table->snapshot_of(app, partition);
    },
    [self](routes_atom, std::vector<route>& routes) {
      install(self, routes);
      return ok_atom::value;
    },
    [self](fence_atom, std::vector<route>& routes) {
      self->state.table->fence(routes);
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
      for (auto& d : st.table->resend_due(now, after))
        send_dispatch(self, d);
      auto interval = std::chrono::milliseconds{
        st.ctx->config.knobs.retransmit_interval_ms};
      self->delayed_send(self, interval, tick_atom::value);
    },
  };
}

} // namespace keel
