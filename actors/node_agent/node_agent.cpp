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
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    if (is_parent_exit(msg, st.parent)) {
      self->quit(msg.reason);
      return;
    }
    for (auto i = st.copies.begin(); i != st.copies.end(); ++i)
      if (i->second.address() == msg.source) {
        st.copies.erase(i);
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
      auto handle = self->spawn<caf::linked>(
        app_support_impl, app_support_args{std::move(spec), st.node, st.ctx,
                                           *factory});
      st.copies.emplace(id, handle);
      st.ctx->emit(self, "copy_started",
                   json{{"copy", to_string(id)}, {"node", st.node}});
      return handle;
    },
    [self](stop_copy_atom, copy_id& copy) {
      auto& st = self->state;
      if (auto i = st.copies.find(copy); i != st.copies.end()) {
        self->unlink_from(i->second);
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
