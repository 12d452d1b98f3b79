// The composition root: configuration -> the actor tree of a keel system.
// Embedded runs, tests and (later) cluster and simulation runs all build
// their actors here, so that every mode runs the same tree:
//
//   node supervisor "node/<n>" (one per node, one_for_all, intensity 0)
//     router, node_agent -> copies (app_support), linked to the agent
//   control supervisor "control" (one_for_all, intensity 0)
//     load_manager, load_distributor (on the first node), system_controller,
//     fault_manager
//
// Intensity 0: a crashed router or agent is a node failure, which the
// controller recovers from (a restarted router would have no routes). The
// control plane is one group until controller takeover exists.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include "actors/load_distributor/load_distributor_interface.hpp"
#include "actors/system_controller/system_controller_interface.hpp"
#include "apps/api/app_registry.hpp"
#include "runtime/network.hpp"
#include "runtime/context.hpp"
#include "runtime/supervisor.hpp"

namespace keel {

/// Registers every message type of keel (runtime and actors) and the error
/// category. Call on every node before constructing the actor_system.
void register_message_types(caf::actor_system_config& cfg);

/// Applies keel's CAF settings (scheduler threads from the tuning knobs) and
/// registers the message types.
void configure_actor_system(caf::actor_system_config& cfg,
                            const system_config& config);

/// Checks that every configured application type is registered. The error
/// names the JSON path of the offending app.
caf::error check_app_types(const system_config& config,
                           const app_registry& registry);

/// Handles of a running system.
struct system_handles {
  context_ptr ctx;
  supervisor_actor control;
  std::map<node_id, supervisor_actor> node_supervisors;
  std::map<node_id, node_handles> nodes;
  system_controller_actor controller;
  fault_manager_actor fault_manager;
  load_manager_actor load_manager;
  load_distributor_actor distributor;

  /// Stops every actor of the system; returns once all exit messages are
  /// sent. Safe to call twice.
  void shutdown();
};

/// One node's part of the tree: its supervisor (router, node agent).
struct spawned_node {
  supervisor_actor supervisor;
  node_handles handles;
};

/// Spawns node `node`'s supervisor with its router and agent and waits until
/// both run. `pump` as in start_system.
caf::expected<spawned_node>
spawn_node(caf::actor_system& sys, const context_ptr& ctx,
           const app_registry& registry, const node_id& node,
           std::chrono::milliseconds timeout,
           std::function<void(caf::blocking_actor*)> pump = {});

/// The control plane (on ctx->control_node, or `here`: a standby control
/// plane): load manager, distributor, controller, fault manager under one
/// supervisor.
struct control_plane {
  supervisor_actor control;
  system_controller_actor controller;
  fault_manager_actor fault_manager;
  load_manager_actor load_manager;
  load_distributor_actor distributor;
};

/// Spawns the control plane; the distributor follows `control_router`'s
/// routes (the control node's router).
caf::expected<control_plane>
spawn_control_plane(caf::actor_system& sys, const context_ptr& ctx,
                    const router_actor& control_router,
                    std::chrono::milliseconds timeout,
                    std::function<void(caf::blocking_actor*)> pump = {},
                    const node_id& here = {});

/// Tells every node agent its peers (heartbeats start) and has the
/// controller activate the system on `nodes` (local or remote handles).
/// `standby` (cluster mode, may be invalid): the standby control plane on
/// node `standby_node`, replicated to; its node's agent reports to it.
caf::error activate_system(caf::actor_system& sys, const context_ptr& ctx,
                           const std::map<node_id, node_handles>& nodes,
                           const control_plane& control,
                           std::chrono::milliseconds timeout,
                           std::function<void(caf::blocking_actor*)> pump = {},
                           const control_standby_actor& standby = {},
                           const node_id& standby_node = {});

/// Spawns the actor tree for `ctx->config` and activates it: every copy is
/// running, every partition has its active and standbys, routes are
/// installed. Blocks the calling thread (not an actor) up to `timeout`.
/// Under a deterministic scheduler nothing runs unless driven: `pump` is
/// called after each request with the waiting actor, and runs the system
/// until that actor has its answer.
caf::expected<system_handles>
start_system(caf::actor_system& sys, context_ptr ctx,
             const app_registry& registry, std::chrono::milliseconds timeout,
             std::function<void(caf::blocking_actor*)> pump = {});

/// Makes a context: config, trace sink (optionally echoed to `trace_out`)
/// and the time origin taken from `sys`'s clock. With `net` (simulation),
/// cross-node traffic goes through that simulated network.
/// `origin`, if set, is the time origin instead of now (cluster processes
/// of one scenario run share one, so that their traces merge).
/// `detached_agents`: see runtime_context (cluster mode sets it).
context_ptr make_context(caf::actor_system& sys, system_config config,
                         std::ostream* trace_out = nullptr,
                         std::shared_ptr<network> net = nullptr,
                         std::optional<caf::actor_clock::time_point> origin
                         = std::nullopt,
                         bool detached_agents = false);

} // namespace keel
