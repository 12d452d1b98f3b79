#include "actors/fault_manager/fault_manager.hpp"

#include <caf/all.hpp>

#include "actors/fan_out.hpp"
#include "runtime/error.hpp"
#include "runtime/transport.hpp"

namespace keel {

namespace {

std::vector<router_actor> routers_of(fault_manager_pointer self) {
  std::vector<router_actor> result;
  auto& st = self->state;
  auto& ctx = *st.ctx;
  for (auto& [id, n] : st.nodes)
    if (st.unreachable.count(id) == 0 && st.declaring.count(id) == 0
        && st.view_unreachable.count(id) == 0)
      result.push_back(transport::via(ctx, ctx.control_node, id, n.router));
  // Routers of nodes declared unreachable are skipped: waiting for them
  // would hold every recovery for control_timeout_ms. They get the whole
  // route table when their node rejoins.
  return result;
}

std::chrono::milliseconds control_timeout(fault_manager_pointer self) {
  return std::chrono::milliseconds{
    self->state.ctx->config.knobs.control_timeout_ms};
}

/// Isolates one copy incarnation: kills it (in case it was declared failed
/// while still running) and fences its routed partitions at every router
/// and, through them, every distributor. Calls `done` when all answered.
void isolate(fault_manager_pointer self,
             const fault_manager_state::watched_copy& dead,
             std::function<void()> done, bool kill = true) {
  if (kill)
    self->send_exit(dead.handle, caf::exit_reason::kill);
  fan_out<uint32_t>(self, routers_of(self), control_timeout(self),
                    [self, dead, done](size_t failed_routers) {
                      self->state.ctx->emit(
                        self, "copy_isolated",
                        json{{"copy", to_string(dead.copy)},
                             {"node", dead.node},
                             {"routers_unreachable", failed_routers}});
                      done();
                    },
                    fence_copy_atom::value, dead.copy, dead.handle);
}

void on_copy_down(fault_manager_pointer self,
                  fault_manager_state::watched_copy dead,
                  const caf::error& reason) {
  auto& st = self->state;
  auto why = render(reason);
  st.ctx->emit(self, "copy_down",
               json{{"copy", to_string(dead.copy)},
                    {"node", dead.node},
                    {"reason", why}});
  isolate(self, dead, [self, dead, why] {
    self->send(self->state.listener,
               copy_failed{dead.copy, dead.node, why, dead.handle});
  });
  // Last, so that it runs first: CAF's scheduler runs the actor a worker
  // enqueued last first. A lost link proves no death (the copy may live on,
  // cut off), and a planned stop is the controller's own doing.
  if (st.distributor && reason != caf::exit_reason::remote_link_unreachable
      && reason != caf::exit_reason::user_shutdown)
    self->send(st.distributor, died_atom::value, dead.handle);
}

const caf::actor_control_block* block_of(const app_support_actor& handle) {
  return caf::actor_cast<caf::actor_control_block*>(handle);
}

/// Stops watching the copy at `i` (no demonitor: the caller's choice) and
/// returns it; `i` is erased.
fault_manager_state::watched_copy
forget(fault_manager_pointer self,
       std::map<copy_id, fault_manager_state::watch>::iterator i) {
  auto& st = self->state;
  if (auto j = st.copy_of.find(block_of(i->second.handle));
      j != st.copy_of.end() && j->second == i->first)
    st.copy_of.erase(j);
  auto gone = i->second.take(i->first);
  st.copies.erase(i);
  return gone;
}

/// Stops watching every copy of `node` and returns them.
std::vector<fault_manager_state::watched_copy>
take_copies_of(fault_manager_pointer self, const node_id& node) {
  auto& st = self->state;
  std::vector<fault_manager_state::watched_copy> gone;
  for (auto i = st.copies.begin(); i != st.copies.end();) {
    if (i->second.node == node) {
      self->demonitor(i->second.handle.address());
      gone.push_back(forget(self, i++));
    } else {
      ++i;
    }
  }
  return gone;
}

/// Isolates every copy in `gone` (killing them if `kill`), each traced as
/// down because its node is `state` ("down", "unreachable"); then `report`.
void isolate_all(fault_manager_pointer self,
                 const std::vector<fault_manager_state::watched_copy>& gone,
                 const std::string& state, bool kill,
                 std::function<void()> report) {
  if (gone.empty()) {
    report();
    return;
  }
  auto counter = std::make_shared<fan_out_counter>(
    gone.size(), [report](size_t) { report(); });
  for (auto& copy : gone) {
    self->state.ctx->emit(self, "copy_down",
                          json{{"copy", to_string(copy.copy)},
                               {"node", copy.node},
                               {"reason", "node " + copy.node + " " + state}});
    isolate(self, copy, [counter] { counter->answer(true); }, kill);
  }
}

/// `after` runs once the node is reported to the controller.
void on_node_down(fault_manager_pointer self,
                  fault_manager_state::watched_node dead,
                  const caf::error& reason, std::function<void()> after = {}) {
  auto& st = self->state;
  auto why = render(reason);
  st.ctx->emit(self, "node_down", json{{"node", dead.node}, {"reason", why}});
  // Every copy of the node is gone with it (they quit when their agent
  // does, a little later). Isolate them all now, stop watching them, and
  // report the node once: the controller recovers its copies.
  isolate_all(self, take_copies_of(self, dead.node), "down", true,
              [self, node = dead.node, why, after] {
                self->send(self->state.listener, node_failed{node, why});
                if (after)
                  after();
              });
}

/// A node came back as a new process (cluster mode) with `h`: watch it and
/// have the controller take it back.
void on_node_joined(fault_manager_pointer self, const node_handles& h) {
  auto& st = self->state;
  st.ctx->emit(self, "node_joined", json{{"node", h.node}});
  self->monitor(h.agent);
  st.nodes[h.node] = fault_manager_state::watched_node{h.node, h.agent,
                                                       h.router};
  st.unreachable.erase(h.node);
  st.rejoining.insert(h.node);
  self->send(st.listener, rejoin_atom::value, h);
}

/// Nodes whose agent still runs but that the control node no longer hears
/// are declared failed: their copies are fenced at every router (they cannot be killed across a partition; the epoch fence
/// and their own self-fencing keep them harmless) and the controller
/// recovers them elsewhere. It comes back through rejoin.
void declare_unreachable(
  fault_manager_pointer self,
  const std::vector<std::pair<node_id, std::string>>& declared) {
  auto& st = self->state;
  std::vector<fault_manager_state::watched_copy> gone;
  for (auto& [node, why] : declared) {
    st.declaring.insert(node);
    st.ctx->emit(self, "node_unreachable",
                 json{{"node", node}, {"reason", why}});
    auto copies = take_copies_of(self, node);
    gone.insert(gone.end(), copies.begin(), copies.end());
  }
  // Reported together once every copy is fenced: the controller learns of
  // every node gone at once (it must not place a replacement on one of
  // them), and before any of them may rejoin.
  auto report = [self, declared] {
    for (auto& [node, why] : declared) {
      self->state.declaring.erase(node);
      self->state.unreachable.insert(node);
      self->send(self->state.listener, node_failed{node, why, true});
    }
  };
  isolate_all(self, gone, "unreachable", false, std::move(report));
}

void on_view(fault_manager_pointer self, const node_view& view) {
  auto& st = self->state;
  st.view_unreachable = std::set<node_id>(view.unreachable.begin(),
                                          view.unreachable.end());
  auto now = st.ctx->now_us(self);
  if (view.majority != st.majority) {
    st.majority = view.majority;
    if (view.majority) {
      // What the view says of the other nodes is stale right after a heal:
      // give every node one detection window before judging it.
      auto& knobs = st.ctx->config.knobs;
      st.judge_after_us = now
                          + int64_t{knobs.heartbeat_interval_ms} * 1000
                              * (knobs.heartbeat_misses + 1);
    }
    st.ctx->emit(self, view.majority ? "majority_regained" : "majority_lost",
                 json{{"node", view.from},
                      {"unreachable", view.unreachable}});
    self->send(st.listener, majority_atom::value, view.majority);
  }
  if (!view.majority)
    return;  // keep-majority: a minority declares nothing
  auto listed = [](const std::vector<node_id>& xs, const node_id& x) {
    return std::find(xs.begin(), xs.end(), x) != xs.end();
  };
  // Every node to declare first, then declare them: isolating one must
  // not wait for the router of another that is gone too.
  std::vector<std::pair<node_id, std::string>> declare;
  for (auto& [node, watched] : st.nodes) {
    if (st.unreachable.count(node) > 0 || st.rejoining.count(node) > 0
        || st.declaring.count(node) > 0)
      continue;
    if (listed(view.unreachable, node)) {
      if (now >= st.judge_after_us)
        declare.emplace_back(node, "missed heartbeats");
    } else if (listed(view.fenced, node)) {
      auto grace = st.fence_grace_until_us.find(node);
      if (grace == st.fence_grace_until_us.end() || now >= grace->second) {
        // Reachable, fenced, never declared failed: its copies kept their
        // state; the controller reinstates it.
        st.ctx->emit(self, "node_fenced_reachable", json{{"node", node}});
        st.rejoining.insert(node);
        self->send(st.listener, self_fence_atom::value, node);
      }
    }
  }
  for (auto& [node, why] : declare)
    st.declaring.insert(node);
  if (!declare.empty())
    declare_unreachable(self, declare);
  for (auto i = st.unreachable.begin(); i != st.unreachable.end();) {
    if (st.nodes.count(*i) > 0 && !listed(view.unreachable, *i)) {
      st.ctx->emit(self, "node_reachable", json{{"node", *i}});
      st.rejoining.insert(*i);
      self->send(st.listener, rejoin_atom::value, *i);
      i = st.unreachable.erase(i);
    } else {
      ++i;
    }
  }
}

/// Watches `copy` from now on (a new incarnation replaces the old one).
void watch_copy(fault_manager_pointer self, const copy_id& copy,
                const node_id& node, const app_support_actor& handle) {
  auto& st = self->state;
  if (!handle)
    return;  // nothing to watch
  if (auto i = st.copies.find(copy); i != st.copies.end()) {
    self->demonitor(i->second.handle.address());
    forget(self, i);
  }
  self->monitor(handle);
  st.copies.emplace(copy, fault_manager_state::watch{node, handle});
  st.copy_of[block_of(handle)] = copy;
}

} // namespace

fault_manager_actor::behavior_type
fault_manager_impl(fault_manager_pointer self, context_ptr ctx,
                   fault_listener_actor listener,
                   load_distributor_actor distributor) {
  self->state.ctx = std::move(ctx);
  self->state.distributor = std::move(distributor);
  transport::place(*self->state.ctx, self, self->state.ctx->control_node);
  self->state.listener = std::move(listener);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    auto block = caf::actor_cast<caf::actor_control_block*>(msg.source);
    if (auto j = st.copy_of.find(block); j != st.copy_of.end()) {
      auto i = st.copies.find(j->second);
      if (i != st.copies.end() && block_of(i->second.handle) == block) {
        on_copy_down(self, forget(self, i), msg.reason);
        return;
      }
    }
    for (auto i = st.nodes.begin(); i != st.nodes.end(); ++i)
      if (i->second.agent.compare(msg.source) == 0) {
        auto dead = std::move(i->second);
        st.nodes.erase(i);
        on_node_down(self, std::move(dead), msg.reason);
        return;
      }
    // Anything else was unwatched on purpose.
  });
  return {
    [self](watch_copy_atom, copy_id& copy, node_id& node,
           app_support_actor& handle) {
      watch_copy(self, copy, node, handle);
      return ok_atom::value;
    },
    [self](watch_copy_atom, std::vector<copy_id>& copies, node_id& node,
           std::vector<app_support_actor>& handles) {
      for (size_t i = 0; i < copies.size() && i < handles.size(); ++i)
        watch_copy(self, copies[i], node, handles[i]);
      return ok_atom::value;
    },
    [self](unwatch_copy_atom, copy_id& copy) {
      auto& copies = self->state.copies;
      if (auto i = copies.find(copy); i != copies.end()) {
        self->demonitor(i->second.handle.address());
        forget(self, i);
      }
      return ok_atom::value;
    },
    [self](node_view& view) { on_view(self, view); },
    [self](rejoin_atom, node_handles& h) {
      auto& st = self->state;
      // Only this node's gateway (which checked the cluster secret) may
      // hand in a node's new handles.
      auto sender = self->current_sender();
      if (!sender || sender->node() != self->node() || !h.agent || !h.router)
        return;
      auto i = st.nodes.find(h.node);
      if (i == st.nodes.end()) {
        on_node_joined(self, h);
        return;
      }
      if (i->second.agent == h.agent)
        return;  // the process already watched
      // An older process of the node is still watched: it is gone (its
      // successor holds the endpoint); report it first.
      auto old = std::move(i->second);
      st.nodes.erase(i);
      self->demonitor(old.agent.address());
      st.unreachable.erase(h.node);
      on_node_down(self, std::move(old),
                   make_error(error_code::unavailable,
                              "replaced by a restarted process"),
                   [self, h] { on_node_joined(self, h); });
    },
    [self](node_up_atom, node_id& node, bool ok) {
      auto& st = self->state;
      st.rejoining.erase(node);
      if (ok) {
        auto& knobs = st.ctx->config.knobs;
        st.fence_grace_until_us[node]
          = st.ctx->now_us(self)
            + int64_t{knobs.heartbeat_interval_ms} * 1000
                * (knobs.heartbeat_misses + 1);
      } else if (st.nodes.count(node) > 0) {
        st.unreachable.insert(node);  // tried again when next heard
      }
    },
    [self](watch_node_atom, node_id& node, node_agent_actor& agent,
           router_actor& router) {
      self->monitor(agent);
      self->state.nodes[node]
        = fault_manager_state::watched_node{node, agent, router};
      return ok_atom::value;
    },
  };
}

} // namespace keel
