#include "actors/node_agent/node_agent.hpp"

#include <caf/all.hpp>

#include "actors/app_support/app_support.hpp"
#include "runtime/supervisor.hpp"

namespace keel {

node_agent_actor::behavior_type node_agent_impl(node_agent_pointer self,
                                                node_id node, context_ptr ctx,
                                                const app_registry* registry,
                                                caf::actor parent) {
  auto& st = self->state;
  st.node = std::move(node);
  st.ctx = std::move(ctx);
  st.registry = registry;
  st.parent = std::move(parent);
  // Copies are monitored, not linked: CAF 0.17 propagates exit_reason::kill
  // through links even to actors that trap exits, so a killed copy would
  // take its agent (and the whole node) down. Each copy monitors the agent
  // in turn and quits with it.
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& copies = self->state.copies;
    for (auto i = copies.begin(); i != copies.end(); ++i)
      if (i->second.address() == msg.source) {
        copies.erase(i);
        return;
      }
  });
  return {
    [self](spawn_copy_atom, copy_spec& spec) -> caf::result<app_support_actor> {
      auto& st = self->state;
      auto factory = st.registry->find(spec.type);
      if (!factory)
        return make_error(error_code::unknown_app,
                          "node " + st.node + " has no application type \""
                            + spec.type + "\"");
      if (auto i = st.copies.find(spec.copy); i != st.copies.end())
        return i->second;  // repeated request: the same copy
      auto id = spec.copy;
      auto handle = self->spawn<caf::monitored>(
        app_support_impl,
        app_support_args{std::move(spec), st.node, st.ctx, *factory,
                         caf::actor_cast<caf::actor>(self)});
      st.copies.emplace(id, handle);
      st.ctx->emit(self, "copy_started",
                   json{{"copy", to_string(id)}, {"node", st.node}});
      return handle;
    },
    [self](stop_copy_atom, copy_id& copy) {
      auto& st = self->state;
      if (auto i = st.copies.find(copy); i != st.copies.end()) {
        self->demonitor(i->second.address());
        self->send_exit(i->second, caf::exit_reason::user_shutdown);
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
  };
}

} // namespace keel
