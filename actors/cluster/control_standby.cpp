#include "actors/cluster/control_standby.hpp"

#include <iostream>

#include <caf/all.hpp>

#include "runtime/error.hpp"

namespace keel {

namespace {

/// Processes killed together lose their connections within milliseconds of
/// each other: the decision waits this long to count them all.
constexpr auto takeover_grace = std::chrono::milliseconds{20};

bool has_majority(control_standby_pointer self) {
  auto& st = self->state;
  auto& nodes = st.ctx->config.nodes;
  size_t alive = 0;
  for (auto& n : nodes)
    if (st.down.count(n) == 0 && st.unreachable.count(n) == 0)
      ++alive;
  return alive * 2 > nodes.size();
}

void take_over(control_standby_pointer self, const std::string& why) {
  auto& st = self->state;
  if (st.taking_over)
    return;
  if (!st.have_snapshot) {
    st.ctx->emit(self, "takeover_impossible",
                 json{{"node", st.node}, {"reason", "no snapshot received"}});
    return;
  }
  if (!has_majority(self)) {
    st.ctx->emit(self, "takeover_withheld",
                 json{{"node", st.node},
                      {"reason", "no majority"},
                      {"down", std::vector<node_id>(st.down.begin(),
                                                    st.down.end())}});
    return;  // tried again when a view shows the majority back
  }
  st.taking_over = true;
  st.ctx->emit(self, "takeover_started",
               json{{"node", st.node},
                    {"reason", why},
                    {"snapshot", st.snapshot.version}});
  std::cerr << "keel node " << st.node << ": taking over the control plane ("
            << why << ")" << std::endl;
  activation act;
  act.nodes = st.snapshot.nodes;
  act.fault_manager = st.dormant.fault_manager;
  act.load_manager = st.dormant.load_manager;
  act.distributor = st.dormant.distributor;
  act.snapshots = st.dormant.distributor;
  auto timeout = std::chrono::milliseconds{
    st.ctx->config.knobs.control_timeout_ms * 5};
  self
    ->request(st.dormant.controller, timeout, takeover_atom::value, act,
              st.snapshot.table, st.node)
    .then(
      [self](ok_atom) {
        auto& st = self->state;
        auto reply = st.cell->get();
        reply.ready = true;
        reply.controller = st.dormant.controller;
        reply.distributor = st.dormant.distributor;
        reply.fault_manager = st.dormant.fault_manager;
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
                     node_id node, control_plane dormant,
                     std::shared_ptr<gateway_cell> cell) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.node = std::move(node);
  st.dormant = std::move(dormant);
  st.cell = std::move(cell);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (st.watched_agents.count(msg.source) > 0) {
      // Only the node's current agent counts (a restarted node's old one
      // going down says nothing about the new process).
      for (auto& h : st.snapshot.nodes)
        if (h.agent.address() == msg.source)
          st.down.insert(h.node);
      return;
    }
    if (msg.source != st.active || st.controller_lost)
      return;
    st.controller_lost = true;
    st.lost_reason = "active controller down: " + caf::to_string(msg.reason);
    self->delayed_send(self, takeover_grace, takeover_atom::value);
  });
  return {
    [self](control_snapshot& snap) {
      auto& st = self->state;
      if (st.taking_over || st.controller_lost)
        return;  // the old controller is not followed any more
      auto sender = self->current_sender();
      if (!sender)
        return;
      // The first sender is the active controller (it learned this actor at
      // activation); later snapshots must come from it.
      if (!st.active) {
        st.active = sender->address();
        self->monitor(caf::actor_cast<caf::actor>(sender));
      } else if (sender->address() != st.active) {
        return;
      }
      if (!st.have_snapshot || snap.version > st.snapshot.version) {
        st.snapshot = std::move(snap);
        st.have_snapshot = true;
        for (auto& h : st.snapshot.nodes) {
          if (!h.agent)
            continue;
          if (st.watched_agents.insert(h.agent.address()).second) {
            // A new agent for this node (it restarted): not down any more
            // unless this one goes down too.
            st.down.erase(h.node);
            self->monitor(h.agent);
          }
        }
      }
    },
    [self](node_view& view) {
      // A control node that merely misses heartbeats (stopped, cut off) may
      // come back and act: it is taken over once its connections are
      // dropped (its down_msg). The view counts for the majority.
      auto& st = self->state;
      st.unreachable = std::set<node_id>(view.unreachable.begin(),
                                         view.unreachable.end());
      if (st.controller_lost && !st.taking_over && has_majority(self))
        take_over(self, st.lost_reason + " (majority back)");
    },
    [self](takeover_atom) {
      auto& st = self->state;
      take_over(self, st.lost_reason);
    },
  };
}

} // namespace keel
