#include "actors/cluster/control_standby.hpp"

#include <iostream>

#include <caf/all.hpp>

#include "runtime/error.hpp"

namespace keel {

namespace {

void take_over(control_standby_pointer self, const std::string& why) {
  auto& st = self->state;
  if (st.taking_over || !st.have_snapshot)
    return;
  st.taking_over = true;
  st.ctx->emit(self, "takeover_started",
               json{{"node", st.node},
                    {"reason", why},
                    {"snapshot", st.snapshot.version}});
  std::cerr << "keel node " << st.node << ": taking over the control plane ("
            << why << ")" << std::endl;
  activation act;
  act.nodes = st.snapshot.nodes;
  act.fault_manager = st.fault_manager;
  act.load_manager = st.load_manager;
  act.distributor = st.distributor;
  act.snapshots = st.distributor;
  auto timeout = std::chrono::milliseconds{
    st.ctx->config.knobs.control_timeout_ms * 5};
  self
    ->request(st.controller, timeout, takeover_atom::value, act,
              st.snapshot.table, st.node)
    .then(
      [self](ok_atom) {
        auto& st = self->state;
        auto reply = st.cell->get();
        reply.ready = true;
        reply.controller = st.controller;
        reply.distributor = st.distributor;
        reply.fault_manager = st.fault_manager;
        reply.nodes = st.snapshot.nodes;
        st.cell->set(std::move(reply));
        std::cerr << "keel node " << st.node
                  << ": control plane here now (takeover done)" << std::endl;
      },
      [self](caf::error& err) {
        auto& st = self->state;
        st.ctx->emit(self, "takeover_failed",
                     json{{"node", st.node}, {"error", render(err)}});
        std::cerr << "keel node " << st.node
                  << ": takeover failed: " << render(err) << std::endl;
      });
}

} // namespace

control_standby_actor::behavior_type
control_standby_impl(control_standby_pointer self, context_ptr ctx,
                     node_id node, control_plane_handles dormant,
                     std::shared_ptr<gateway_cell> cell) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.node = std::move(node);
  st.controller = dormant.controller;
  st.fault_manager = dormant.fault_manager;
  st.load_manager = dormant.load_manager;
  st.distributor = dormant.distributor;
  st.cell = std::move(cell);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (msg.source != st.active)
      return;
    if (!st.majority) {
      st.ctx->emit(self, "takeover_withheld",
                   json{{"node", st.node}, {"reason", "no majority"}});
      return;
    }
    take_over(self, "active controller down: " + caf::to_string(msg.reason));
  });
  return {
    [self](control_snapshot& snap) {
      auto& st = self->state;
      if (st.taking_over)
        return;  // the old controller is not followed any more
      auto sender = self->current_sender();
      if (sender && sender->address() != st.active) {
        st.active = sender->address();
        self->monitor(caf::actor_cast<caf::actor>(sender));
      }
      if (!st.have_snapshot || snap.version > st.snapshot.version) {
        st.snapshot = std::move(snap);
        st.have_snapshot = true;
      }
    },
    [self](node_view& view) {
      // Keep-majority only: a control node that merely misses heartbeats
      // (stopped, cut off) may come back and act; it is taken over once its
      // connections are dropped (its down_msg), by then it has lost the
      // majority and frozen its controller.
      self->state.majority = view.majority;
    },
  };
}

} // namespace keel
