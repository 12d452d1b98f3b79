// The generic supervisor: starts children from child specs, links to them,
// restarts them within a restart intensity, and escalates (exits) past it.
// Written once, after OTP's supervisor.erl; components supply only specs.
//
// Protocol: supervisor_actor answers `which_children` with its children.
// Children are linked to the supervisor: when it exits, they get an
// exit_msg. A child that traps exits (set_exit_handler) must quit when that
// exit_msg comes from its parent (see `is_parent_exit`).
//
// Escalation: when the restart intensity is exceeded the supervisor exits
// with error_code::unavailable ("restart intensity exceeded"); its own
// parent, or whoever monitors it, sees that as a failure of the whole group.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/system_messages.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "runtime/atoms.hpp"

namespace keel {

/// When a child is restarted (OTP's restart types).
enum class restart_policy : uint8_t {
  permanent,  ///< always restarted
  transient,  ///< restarted only after an abnormal exit
  temporary,  ///< never restarted
};

/// Which children a restart affects.
enum class restart_strategy : uint8_t {
  one_for_one,  ///< only the failed child
  one_for_all,  ///< all children, stopped and started again in spec order
};

/// How to start one child. `start` spawns it and returns its handle;
/// `parent` is the supervisor.
struct child_spec {
  std::string name;
  std::function<caf::actor(caf::actor_system& sys, const caf::actor& parent)>
    start;
  restart_policy restart = restart_policy::permanent;
};

struct supervisor_spec {
  std::string name;
  restart_strategy strategy = restart_strategy::one_for_one;
  /// At most `intensity` restarts within `period`; 0 escalates at once.
  uint32_t intensity = 3;
  std::chrono::milliseconds period{5000};
  std::vector<child_spec> children;
  /// Called inside the supervisor after each (re)start of a child.
  std::function<void(const std::string& child, const caf::actor& handle)>
    on_start;
};

/// A child as reported by `which_children`.
struct child_info {
  std::string name;
  caf::actor handle;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  return f(caf::meta::type_name("keel_child_info"), x.name, x.handle);
}

using supervisor_actor = caf::typed_actor<
  // Any sender -> the live children in spec order. Safe to repeat.
  caf::replies_to<which_children_atom>::with<std::vector<child_info>>>;

/// Spawns a supervisor that starts `spec.children` in order. If a start
/// function returns an invalid handle, the supervisor exits at once.
supervisor_actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec);

/// True if `msg` is the exit of `parent` (a trapping child must then quit).
bool is_parent_exit(const caf::exit_msg& msg, const caf::actor& parent);

} // namespace keel
