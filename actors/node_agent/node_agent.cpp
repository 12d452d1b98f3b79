#include "actors/node_agent/node_agent.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "actors/app_support/app_support.hpp"
#include "runtime/supervisor.hpp"
#include "runtime/transport.hpp"

namespace keel {

namespace {

/// Health checks run in rounds, every 90 % of health_check_interval_ms, one
/// timer for all copies of the node: each round judges the last check of
/// every copy and sends the next. A check not answered before the next
/// round is a miss; after health_check_misses misses in a row the copy is
/// hung and killed. A copy that hangs is killed at most (misses + 1) rounds
/// later, 0.9 x interval x (misses + 1): inside the documented interval x
/// (misses + 1) with room for scheduling delays.
std::chrono::microseconds health_period(node_agent_pointer self) {
  auto us = int64_t{self->state.ctx->config.knobs.health_check_interval_ms}
            * 900;
  return std::chrono::microseconds{std::max<int64_t>(us, 1)};
}

void schedule_health(node_agent_pointer self) {
  self->delayed_send(self, health_period(self), probe_atom::value,
                     ++self->state.health_seq);
}

/// Load reports run in rounds too: every load_report_interval_ms the agent
/// asks each of its copies to report (a copy has no timer of its own).
void schedule_load_reports(node_agent_pointer self) {
  self->delayed_send(self,
                     std::chrono::milliseconds{
                       self->state.ctx->config.knobs.load_report_interval_ms},
                     tick_atom::value, ++self->state.load_seq);
}

void health_round(node_agent_pointer self) {
  auto& st = self->state;
  auto now = st.ctx->now_us(self);
  auto period = health_period(self).count();
  // This node was stopped or starved: its copies had no fair chance to
  // answer. Count no miss this round (answers still count), but never two
  // rounds in a row: a starved agent must still find hung copies.
  auto late = st.last_health_us > 0 && now - st.last_health_us > 2 * period
              && !st.health_skipped;
  st.health_skipped = late;
  st.last_health_us = now;
  auto round = ++st.health_round;
  std::vector<std::pair<copy_id, app_support_actor>> hung;
  for (auto& [id, c] : st.copies) {
    if (c.killed)
      continue;
    if (c.checked_round > 0) {
      if (c.answered)
        c.misses = 0;
      else if (!late)
        ++c.misses;
      if (c.misses >= st.ctx->config.knobs.health_check_misses) {
        hung.emplace_back(id, c.handle);
        continue;
      }
    }
    c.checked_round = round;
    c.answered = false;
    self->send(c.handle, health_atom::value, round);
  }
  for (auto& [id, handle] : hung) {
    auto& c = st.copies[id];
    c.killed = true;
    st.ctx->emit(self, "copy_hung",
                 json{{"copy", to_string(id)},
                      {"node", st.node},
                      {"misses", c.misses}});
    // The fault manager sees the kill as a down_msg and recovers.
    self->send_exit(handle, caf::exit_reason::kill);
  }
}

/// One heartbeat round: tell every peer we are alive, then judge what we
/// heard. A node that does not hear a majority (itself included) demotes
/// its actives: an isolated minority must not serve, because the majority
/// side may promote their standbys meanwhile (keep-majority).
void heartbeat_round(node_agent_pointer self) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  auto now = ctx.now_us(self);
  for (auto& [node, p] : st.peers)
    transport::send(self, ctx, st.node, node, p.agent,
                    heartbeat{st.node, st.fenced});
  auto interval = int64_t{ctx.config.knobs.heartbeat_interval_ms} * 1000;
  auto window = interval * ctx.config.knobs.heartbeat_misses;
  auto late = st.last_round_us > 0 && now - st.last_round_us > 2 * interval;
  st.last_round_us = now;
  if (late)
    return;  // this node was stopped: the peers' heartbeats queued behind
             // this tick; judge them next round
  node_view view;
  view.from = st.node;
  size_t heard = 1;  // this node
  for (auto& [node, p] : st.peers) {
    if (now - p.last_heard_us > window)
      view.unreachable.push_back(node);
    else
      ++heard;
    if (p.fenced)
      view.fenced.push_back(node);
  }
  if (st.fenced)
    view.fenced.push_back(st.node);  // the listener must learn it too
  view.majority = heard * 2 > st.peers.size() + 1;
  if (!view.majority && !st.fenced) {
    st.fenced = true;
    ctx.emit(self, "node_self_fenced",
             json{{"node", st.node},
                  {"reachable", heard},
                  {"nodes", st.peers.size() + 1}});
    for (auto& [id, c] : st.copies)
      self->send(c.handle, self_fence_atom::value);
  }
  // Every round, not only on change: the listener acts on a view in
  // steps (declare, then rejoin once declared).
  if (st.listener)
    self->send(st.listener, std::move(view));
}

/// Lifts the self-fence and stops every copy not in `keep`.
void reset_node(node_agent_pointer self, const std::vector<copy_id>& keep) {
  auto& st = self->state;
  size_t stopped = 0;
  for (auto i = st.copies.begin(); i != st.copies.end();) {
    if (std::find(keep.begin(), keep.end(), i->first) != keep.end()) {
      ++i;
      continue;
    }
    self->demonitor(i->second.handle.address());
    self->send_exit(i->second.handle, caf::exit_reason::user_shutdown);
    ++stopped;
    i = st.copies.erase(i);
  }
  st.ctx->emit(self, "node_reset",
               json{{"node", st.node},
                    {"copies_stopped", stopped},
                    {"copies_kept", st.copies.size()},
                    {"was_fenced", st.fenced}});
  st.fenced = false;
  // Tell the peers at once, so nobody sees the old fence after this.
  for (auto& [node, p] : st.peers)
    transport::send(self, *st.ctx, st.node, node, p.agent,
                    heartbeat{st.node, false});
}

void schedule_heartbeat(node_agent_pointer self) {
  auto& st = self->state;
  self->delayed_send(self,
                     std::chrono::milliseconds{
                       st.ctx->config.knobs.heartbeat_interval_ms},
                     hb_tick_atom::value, ++st.tick_seq);
}

/// Starts a copy (all partitions offline), or finds it running already (a
/// repeated request). Error unknown_app if its type is not registered here.
caf::expected<app_support_actor> start_copy(node_agent_pointer self,
                                            copy_spec spec) {
  auto& st = self->state;
  auto factory = st.registry->find(spec.type);
  if (!factory)
    return make_error(error_code::unknown_app,
                      "node " + st.node + " has no application type \""
                        + spec.type + "\"");
  if (auto i = st.copies.find(spec.copy); i != st.copies.end())
    return i->second.handle;
  auto id = spec.copy;
  auto handle = self->spawn<app_support, caf::monitored>(
    app_support_args{std::move(spec), st.node, st.ctx, *factory,
                     caf::actor_cast<caf::actor>(self)});
  st.copies.emplace(id, node_agent_state::running_copy{handle});
  st.ctx->emit(self, "copy_started",
               trace_fields{}.add("copy", to_string(id)).add("node", st.node));
  return handle;
}

} // namespace

node_agent_actor::behavior_type node_agent_impl(node_agent_pointer self,
                                                node_id node, context_ptr ctx,
                                                const app_registry* registry,
                                                caf::actor parent) {
  auto& st = self->state;
  st.node = std::move(node);
  st.ctx = std::move(ctx);
  transport::place(*st.ctx, self, st.node);
  st.registry = registry;
  st.parent = std::move(parent);
  // Copies are monitored, not linked: CAF 0.17 propagates exit_reason::kill
  // through links even to actors that trap exits, so a killed copy would
  // take its agent (and the whole node) down. Each copy monitors the agent
  // in turn and quits with it.
  schedule_health(self);
  schedule_load_reports(self);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& copies = self->state.copies;
    for (auto i = copies.begin(); i != copies.end(); ++i)
      if (i->second.handle.compare(msg.source) == 0) {
        copies.erase(i);
        return;
      }
  });
  return {
    [self](spawn_copy_atom, copy_spec& spec) -> caf::result<app_support_actor> {
      auto handle = start_copy(self, std::move(spec));
      if (!handle)
        return std::move(handle.error());
      return std::move(*handle);
    },
    [self](spawn_copy_atom, std::vector<copy_spec>& specs) {
      std::vector<app_support_actor> handles;
      handles.reserve(specs.size());
      for (auto& spec : specs) {
        auto handle = start_copy(self, std::move(spec));
        handles.push_back(handle ? std::move(*handle) : app_support_actor{});
      }
      return handles;
    },
    [self](stop_copy_atom, copy_id& copy) {
      auto& st = self->state;
      if (auto i = st.copies.find(copy); i != st.copies.end()) {
        self->demonitor(i->second.handle.address());
        self->send_exit(i->second.handle, caf::exit_reason::user_shutdown);
        st.copies.erase(i);
      }
      return ok_atom::value;
    },
    [self](status_atom) {
      std::vector<copy_id> result;
      for (auto& [id, _] : self->state.copies)
        result.push_back(id);
      return result;
    },
    [self](probe_atom, uint64_t seq) {
      // One chain of rounds (a stale tick, should one ever exist, stops).
      if (seq != self->state.health_seq)
        return;
      health_round(self);
      schedule_health(self);
    },
    [self](tick_atom, uint64_t seq) {
      if (seq != self->state.load_seq)
        return;
      for (auto& [_, c] : self->state.copies)
        if (!c.killed)
          self->send(c.handle, tick_atom::value);
      schedule_load_reports(self);
    },
    [self](health_atom, copy_id& copy, uint64_t round) {
      auto& copies = self->state.copies;
      // Only an answer to the copy's last check counts: a late one does not.
      if (auto i = copies.find(copy);
          i != copies.end() && i->second.checked_round == round)
        i->second.answered = true;
    },
    [self](peers_atom, agent_peers& msg) {
      auto& st = self->state;
      auto now = st.ctx->now_us(self);
      // A peer whose agent is unchanged keeps what was heard of it (an
      // update after a restart elsewhere must not hide a silent peer).
      auto before = std::move(st.peers);
      st.peers.clear();
      for (size_t i = 0; i < msg.nodes.size() && i < msg.agents.size(); ++i) {
        if (msg.nodes[i] == st.node)
          continue;
        auto agent = caf::actor_cast<node_agent_actor>(msg.agents[i]);
        auto old = before.find(msg.nodes[i]);
        if (old != before.end() && old->second.agent == agent)
          st.peers[msg.nodes[i]] = old->second;
        else
          st.peers[msg.nodes[i]] = node_agent_state::peer{agent, now, false};
      }
      st.listener = msg.listener;
      if (st.ctx->member)
        st.ctx->member->store(true);
      bool first = before.empty();
      heartbeat_round(self);
      if (first)
        schedule_heartbeat(self);
    },
    [self](heartbeat& hb) {
      auto& st = self->state;
      if (auto i = st.peers.find(hb.from); i != st.peers.end()) {
        auto now = st.ctx->now_us(self);
        // Measures starvation: the longest gap between two heartbeats from
        // one peer, traced whenever it grows past one interval (a gap of
        // heartbeat_misses intervals is a detection).
        auto gap = now - i->second.last_heard_us;
        auto interval = int64_t{st.ctx->config.knobs.heartbeat_interval_ms}
                        * 1000;
        if (gap > st.max_gap_us && gap > interval) {
          st.max_gap_us = gap;
          st.ctx->emit(self, "heartbeat_gap_max",
                       json{{"node", st.node},
                            {"from", hb.from},
                            {"gap_ms", static_cast<double>(gap) / 1000.0}});
        }
        i->second.last_heard_us = now;
        i->second.fenced = hb.fenced;
      }
    },
    [self](hb_tick_atom, uint64_t seq) {
      // After a hang the timers that fired meanwhile arrive together: only
      // the latest one goes on.
      if (seq != self->state.tick_seq)
        return;
      heartbeat_round(self);
      schedule_heartbeat(self);
    },
    [self](reset_atom, bool stop_copies) {
      std::vector<copy_id> keep;
      if (!stop_copies)
        for (auto& [id, c] : self->state.copies)
          keep.push_back(id);
      reset_node(self, keep);
      return ok_atom::value;
    },
    [self](reset_atom, std::vector<copy_id>& keep) {
      reset_node(self, keep);
      std::vector<app_support_actor> handles;
      for (auto& id : keep) {
        auto i = self->state.copies.find(id);
        handles.push_back(i != self->state.copies.end() ? i->second.handle
                                                        : app_support_actor{});
      }
      return handles;
    },
  };
}

} // namespace keel
