#include "actors/fault_manager/fault_manager.hpp"

#include <caf/all.hpp>

#include "actors/fan_out.hpp"
#include "runtime/error.hpp"

namespace keel {

namespace {

void on_copy_down(fault_manager_pointer self,
                  fault_manager_state::watched_copy dead,
                  const caf::error& reason) {
  auto& st = self->state;
  auto why = render(reason);
  st.ctx->emit(self, "copy_down",
               json{{"copy", to_string(dead.copy)},
                    {"node", dead.node},
                    {"reason", why}});
  // Isolate: a copy reported down by a monitor is gone, but the kill makes
  // the same path safe for copies declared failed while still running.
  self->send_exit(dead.handle, caf::exit_reason::kill);
  std::vector<router_actor> routers;
  for (auto& [addr, n] : st.nodes)
    routers.push_back(n.router);
  auto timeout = std::chrono::milliseconds{
    st.ctx->config.knobs.control_timeout_ms};
  fan_out<uint32_t>(self, routers, timeout,
                    [self, dead, why](size_t failed_routers) {
                      auto& st = self->state;
                      st.ctx->emit(self, "copy_isolated",
                                   json{{"copy", to_string(dead.copy)},
                                        {"node", dead.node},
                                        {"routers_unreachable",
                                         failed_routers}});
                      self->send(st.listener,
                                 copy_failed{dead.copy, dead.node, why, dead.handle});
                    },
                    fence_copy_atom::value, dead.copy);
}

void on_node_down(fault_manager_pointer self,
                  fault_manager_state::watched_node dead,
                  const caf::error& reason) {
  auto& st = self->state;
  auto why = render(reason);
  st.ctx->emit(self, "node_down", json{{"node", dead.node}, {"reason", why}});
  self->send(st.listener, node_failed{dead.node, why});
}

} // namespace

fault_manager_actor::behavior_type
fault_manager_impl(fault_manager_pointer self, context_ptr ctx,
                   fault_listener_actor listener) {
  self->state.ctx = std::move(ctx);
  self->state.listener = std::move(listener);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (auto i = st.copies.find(msg.source); i != st.copies.end()) {
      auto dead = std::move(i->second);
      st.copies.erase(i);
      on_copy_down(self, std::move(dead), msg.reason);
      return;
    }
    if (auto i = st.nodes.find(msg.source); i != st.nodes.end()) {
      auto dead = std::move(i->second);
      st.nodes.erase(i);
      on_node_down(self, std::move(dead), msg.reason);
    }
    // Anything else was unwatched on purpose.
  });
  return {
    [self](watch_copy_atom, copy_id& copy, node_id& node,
           app_support_actor& handle) {
      self->monitor(handle);
      self->state.copies[handle.address()]
        = fault_manager_state::watched_copy{std::move(copy), std::move(node),
                                            handle};
      return ok_atom::value;
    },
    [self](unwatch_copy_atom, copy_id& copy) {
      auto& copies = self->state.copies;
      for (auto i = copies.begin(); i != copies.end(); ++i)
        if (i->second.copy == copy) {
          self->demonitor(i->second.handle.address());
          copies.erase(i);
          break;
        }
      return ok_atom::value;
    },
    [self](watch_node_atom, node_id& node, node_agent_actor& agent,
           router_actor& router) {
      self->monitor(agent);
      self->state.nodes[agent.address()]
        = fault_manager_state::watched_node{std::move(node), agent, router};
      return ok_atom::value;
    },
  };
}

} // namespace keel
