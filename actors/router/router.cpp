#include "actors/router/router.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "actors/fan_out.hpp"
#include "runtime/error.hpp"
#include "runtime/transport.hpp"

namespace keel {

namespace {

std::chrono::milliseconds control_timeout(router_pointer self) {
  return std::chrono::milliseconds{
    self->state.ctx->config.knobs.control_timeout_ms};
}

void forward(router_pointer self, const route& r, routed_event ev) {
  auto& st = self->state;
  transport::send(self, *st.ctx, st.node, r.node, r.handle, std::move(ev));
}

/// A route's trace fields, written straight into MessagePack (one route per
/// partition at activation).
trace_fields route_fields(const route& r) {
  trace_fields fields;
  fields.add("app", r.app)
    .add("partition", r.partition)
    .add("epoch", r.epoch)
    .add("in_transition", r.in_transition)
    .add("active", r.active.app.empty() ? std::string{} : to_string(r.active));
  return fields;
}

} // namespace

router_actor::behavior_type router_impl(router_pointer self, node_id node,
                                        context_ptr ctx) {
  auto& st = self->state;
  st.node = std::move(node);
  st.table = std::make_unique<router_state>(
    ctx->config.knobs.router_buffer_max);
  st.ctx = std::move(ctx);
  transport::place(*st.ctx, self, st.node);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& subs = self->state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](auto& s) {
                                return s.compare(msg.source) == 0;
                              }),
               subs.end());
  });
  return {
    [self](routed_event& ev) {
      if (!ev.ev) {
        // No sender makes one (a peer's always carries an event): a bug
        // upstream, made visible rather than forwarded.
        self->state.ctx->emit(self, "routed_event_dropped",
                              json{{"node", self->state.node},
                                   {"source", ev.source}, {"seq", ev.seq},
                                   {"why", "no event"}});
        return;
      }
      const route* r = nullptr;
      switch (self->state.table->on_event(ev, &r)) {
        case router_state::verdict::forward:
          forward(self, *r, std::move(ev));
          break;
        case router_state::verdict::buffered:
          break;
        case router_state::verdict::overloaded:
          transport::send(
            self, *self->state.ctx, self->state.node,
            self->state.ctx->control_node, ev.reply_to,
            event_nack{ev.ev->app, ev.partition, ev.epoch, ev.seq,
                       static_cast<uint8_t>(error_code::overloaded)});
          break;
      }
    },
    [self](subscribe_atom, route_subscriber_actor& sub) {
      auto& subs = self->state.subscribers;
      if (std::find(subs.begin(), subs.end(), sub) == subs.end()) {
        self->monitor(sub);
        subs.push_back(sub);
      }
      return self->state.table->table();
    },
    [self](set_routes_atom, std::vector<route>& routes) -> caf::result<ok_atom> {
      auto& st = self->state;
      std::vector<std::pair<route, routed_event>> flushes;
      auto changed = st.table->install(routes, flushes);
      for (auto& [r, ev] : flushes)
        forward(self, r, std::move(ev));
      for (auto& r : changed) {
        auto fields = route_fields(r);
        fields.add("router", st.node);
        st.ctx->emit(self, "route_installed", std::move(fields));
      }
      if (changed.empty())
        return ok_atom::value;
      auto promise = self->make_response_promise<ok_atom>();
      fan_out<ok_atom>(self, st.subscribers, control_timeout(self),
                       [promise](size_t) mutable {
                         promise.deliver(ok_atom::value);
                       },
                       routes_atom::value, changed);
      return promise;
    },
    [self](fence_copy_atom, copy_id& copy,
           app_support_actor& incarnation) -> caf::result<uint32_t> {
      auto& st = self->state;
      auto changed = st.table->fence_copy(copy, incarnation);
      auto count = static_cast<uint32_t>(changed.size());
      // Subscribers hear of it even when this router routes nothing to the
      // copy: a distributor may route to it as a successor it promoted.
      auto promise = self->make_response_promise<uint32_t>();
      fan_out<ok_atom>(self, st.subscribers, control_timeout(self),
                       [promise, count](size_t) mutable {
                         promise.deliver(count);
                       },
                       fence_atom::value, incarnation, changed);
      return promise;
    },
    [self](routes_atom) { return self->state.table->table(); },
  };
}

} // namespace keel
