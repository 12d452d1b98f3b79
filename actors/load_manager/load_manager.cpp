#include "actors/load_manager/load_manager.hpp"

#include <caf/all.hpp>

#include "runtime/transport.hpp"

namespace keel {

load_manager_actor::behavior_type load_manager_impl(load_manager_pointer self,
                                                    context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  transport::place(*self->state.ctx, self, self->state.ctx->control_node);
  return {
    [self](load_report& rep) {
      auto& slot = self->state.latest[rep.copy];
      if (rep.at_us >= slot.at_us)
        slot = std::move(rep);
    },
    [self](get_load_atom) {
      std::vector<load_report> result;
      for (auto& [id, rep] : self->state.latest)
        result.push_back(rep);
      return result;
    },
    [self](unwatch_copy_atom, copy_id& copy) {
      self->state.latest.erase(copy);
    },
  };
}

} // namespace keel
