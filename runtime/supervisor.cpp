#include "runtime/supervisor.hpp"

#include <caf/all.hpp>

#include "runtime/error.hpp"
#include "runtime/restart_window.hpp"

namespace keel {

namespace {

struct supervisor_state {
  supervisor_spec spec;
  std::vector<caf::actor> children;  // same index as spec.children
  restart_window window{0, {}};
  static inline const char* name = "keel.supervisor";
};

using supervisor_pointer = supervisor_actor::stateful_pointer<supervisor_state>;

bool start_child(supervisor_pointer self, size_t index) {
  auto& spec = self->state.spec.children[index];
  auto parent = caf::actor_cast<caf::actor>(self);
  auto child = spec.start(self->system(), parent);
  if (!child)
    return false;
  self->link_to(child);
  self->state.children[index] = child;
  if (self->state.spec.on_start)
    self->state.spec.on_start(spec.name, child);
  return true;
}

void escalate(supervisor_pointer self, const std::string& why) {
  self->quit(make_error(error_code::unavailable,
                        "supervisor " + self->state.spec.name + ": " + why));
}

void on_child_exit(supervisor_pointer self, size_t index,
                   const caf::error& reason) {
  auto& st = self->state;
  auto& spec = st.spec.children[index];
  st.children[index] = caf::actor{};
  bool abnormal = reason != caf::exit_reason::normal;
  bool wanted = spec.restart == restart_policy::permanent
                || (spec.restart == restart_policy::transient && abnormal);
  if (!wanted)
    return;
  if (!st.window.try_restart(restart_window::clock::now())) {
    escalate(self, "restart intensity exceeded by child " + spec.name);
    return;
  }
  if (st.spec.strategy == restart_strategy::one_for_one) {
    if (!start_child(self, index))
      escalate(self, "cannot restart child " + spec.name);
    return;
  }
  // one_for_all: stop the others (unlinked first, so their exits are not
  // mistaken for new failures), then start everyone in spec order.
  for (auto& other : st.children) {
    if (other) {
      self->unlink_from(other);
      self->send_exit(other, caf::exit_reason::kill);
      other = caf::actor{};
    }
  }
  for (size_t i = 0; i < st.children.size(); ++i)
    if (!start_child(self, i)) {
      escalate(self, "cannot restart child " + st.spec.children[i].name);
      return;
    }
}

supervisor_actor::behavior_type supervisor_impl(supervisor_pointer self,
                                                supervisor_spec spec) {
  auto& st = self->state;
  st.window = restart_window{spec.intensity, spec.period};
  st.children.resize(spec.children.size());
  st.spec = std::move(spec);
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& children = self->state.children;
    for (size_t i = 0; i < children.size(); ++i)
      if (children[i] && children[i].compare(msg.source) == 0) {
        on_child_exit(self, i, msg.reason);
        return;
      }
    // Not a child: our parent or a linked peer went down; go down with it.
    self->quit(msg.reason);
  });
  for (size_t i = 0; i < st.children.size(); ++i)
    if (!start_child(self, i)) {
      escalate(self, "cannot start child " + st.spec.children[i].name);
      break;
    }
  return {
    [self](which_children_atom) {
      std::vector<child_info> result;
      auto& st = self->state;
      for (size_t i = 0; i < st.children.size(); ++i)
        if (st.children[i])
          result.push_back(child_info{st.spec.children[i].name,
                                      st.children[i]});
      return result;
    },
  };
}

} // namespace

supervisor_actor spawn_supervisor(caf::actor_system& sys,
                                  supervisor_spec spec) {
  return sys.spawn(supervisor_impl, std::move(spec));
}

bool is_parent_exit(const caf::exit_msg& msg, const caf::actor& parent) {
  return parent && msg.source == parent.address();
}

} // namespace keel
