#include "actors/bootstrap.hpp"

#include "runtime/quiet_clock.hpp"

#include <caf/all.hpp>

#include "actors/cluster/gateway_interface.hpp"
#include "actors/fault_manager/fault_manager.hpp"
#include "actors/load_distributor/load_distributor.hpp"
#include "actors/load_manager/load_manager.hpp"
#include "actors/node_agent/node_agent.hpp"
#include "actors/router/router.hpp"
#include "actors/system_controller/system_controller.hpp"
#include "runtime/type_registry.hpp"

namespace keel {

void register_message_types(caf::actor_system_config& cfg) {
  register_runtime_types(cfg);
  // load_manager
  cfg.add_message_type<partition_load>("keel_partition_load");
  cfg.add_message_type<load_report>("keel_load_report");
  cfg.add_message_type<std::vector<load_report>>("keel_load_reports");
  // app_support
  cfg.add_message_type<ack_entry>("keel_ack_entry");
  cfg.add_message_type<event_acks>("keel_event_acks");
  cfg.add_message_type<event_nack>("keel_event_nack");
  cfg.add_message_type<routed_event>("keel_routed_event");
  cfg.add_message_type<detail::routed_item_value>("keel_routed_item");
  cfg.add_message_type<routed_batch>("keel_routed_batch");
  cfg.add_message_type<log_entry>("keel_log_entry");
  cfg.add_message_type<standby_ref>("keel_standby_ref");
  cfg.add_message_type<role_assignment>("keel_role_assignment");
  cfg.add_message_type<std::vector<role_assignment>>("keel_role_assignments");
  cfg.add_message_type<fault_injection>("keel_fault_injection");
  cfg.add_message_type<partition_snapshot>("keel_partition_snapshot");
  cfg.add_message_type<checkpoint>("keel_checkpoint");
  cfg.add_message_type<checkpoint_ack>("keel_checkpoint_ack");
  cfg.add_message_type<replica_meta>("keel_replica_meta");
  cfg.add_message_type<state_transfer>("keel_state_transfer");
  cfg.add_message_type<partition_state>("keel_partition_state");
  cfg.add_message_type<partition_status>("keel_partition_status");
  cfg.add_message_type<copy_status>("keel_copy_status");
  cfg.add_message_type<app_support_actor>("keel_app_support_actor");
  cfg.add_message_type<std::vector<app_support_actor>>(
    "keel_app_support_actors");
  // router / distributor
  cfg.add_message_type<route>("keel_route");
  cfg.add_message_type<std::vector<route>>("keel_routes");
  cfg.add_message_type<route_subscriber_actor>("keel_route_subscriber_actor");
  cfg.add_message_type<distributor_status>("keel_distributor_status");
  // node agent
  cfg.add_message_type<copy_spec>("keel_copy_spec");
  cfg.add_message_type<std::vector<copy_spec>>("keel_copy_specs");
  cfg.add_message_type<std::vector<copy_id>>("keel_copy_ids");
  // fault manager
  cfg.add_message_type<copy_failed>("keel_copy_failed");
  cfg.add_message_type<node_failed>("keel_node_failed");
  cfg.add_message_type<node_agent_actor>("keel_node_agent_actor");
  cfg.add_message_type<heartbeat>("keel_heartbeat");
  cfg.add_message_type<agent_peers>("keel_agent_peers");
  cfg.add_message_type<node_view>("keel_node_view");
  cfg.add_message_type<std::vector<caf::actor>>("keel_actors");
  cfg.add_message_type<router_actor>("keel_router_actor");
  // controller
  cfg.add_message_type<partition_assignment>("keel_partition_assignment");
  cfg.add_message_type<copy_info>("keel_copy_info");
  cfg.add_message_type<assignment_table>("keel_assignment_table");
  cfg.add_message_type<node_handles>("keel_node_handles");
  cfg.add_message_type<activation>("keel_activation");
  cfg.add_message_type<control_snapshot>("keel_control_snapshot");
  cfg.add_message_type<std::vector<node_handles>>("keel_node_handles_list");
  // cluster gateway
  cfg.add_message_type<join_request>("keel_join_request");
  cfg.add_message_type<join_reply>("keel_join_reply");
}

void configure_actor_system(caf::actor_system_config& cfg,
                            const system_config& config) {
  cfg.set("scheduler.max-threads",
          static_cast<size_t>(config.knobs.scheduler_max_threads));
  cfg.set("scheduler.max-throughput",
          static_cast<size_t>(config.knobs.scheduler_max_throughput));
  // CAF's idle workers sleep up to 10 ms between steal attempts; work that
  // lands in a busy worker's queue then waits that long for an idle one.
  cfg.set("work-stealing.relaxed-sleep-duration",
          caf::timespan{std::chrono::microseconds{
            config.knobs.scheduler_idle_sleep_us}});
  use_quiet_clock(cfg);
  register_message_types(cfg);
}

caf::error check_app_types(const system_config& config,
                           const app_registry& registry) {
  for (size_t i = 0; i < config.apps.size(); ++i) {
    auto& app = config.apps[i];
    if (!registry.find(app.type)) {
      std::string known;
      for (auto& name : registry.names())
        known += (known.empty() ? "" : ", ") + name;
      return make_error(error_code::invalid_config,
                        "$.topology.apps[" + std::to_string(i)
                          + "].type: no application type \"" + app.type
                          + "\" is registered (registered: " + known + ")");
    }
  }
  return caf::none;
}

context_ptr make_context(caf::actor_system& sys, system_config config,
                         std::ostream* trace_out,
                         std::shared_ptr<network> net,
                         std::optional<caf::actor_clock::time_point> origin,
                         bool detached_agents) {
  auto ctx = std::make_shared<runtime_context>();
  ctx->trace = std::make_shared<trace_sink>(config.knobs.trace_buffer_max,
                                            trace_out);
  ctx->config = std::move(config);
  ctx->start = origin ? *origin : sys.clock().now();
  ctx->detached_agents = detached_agents;
  if (detached_agents)
    ctx->member = std::make_shared<std::atomic<bool>>(false);
  ctx->control_node = ctx->config.nodes.front();
  // With an argument: CAF 0.17 hands an argument-less spawn a null tuple.
  ctx->reaper = sys.spawn(
    [](caf::event_based_actor*, int) -> caf::behavior {
      return {[](deferred_free&) {}};  // freed with the message
    },
    0);
  if (net) {
    ctx->net = std::move(net);
    ctx->blackhole = spawn_blackhole(sys);
  }
  return ctx;
}

void system_handles::shutdown() {
  if (control)
    caf::anon_send_exit(control, caf::exit_reason::user_shutdown);
  for (auto& [node, sup] : node_supervisors)
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  control = nullptr;
  node_supervisors.clear();
  nodes.clear();
  controller = nullptr;
  fault_manager = nullptr;
  load_manager = nullptr;
  distributor = nullptr;
}

namespace {

/// Handles filled in by the start functions of a supervisor's children.
/// Written in the supervisor's thread, read after `which_children` answered
/// (message passing orders the two).
struct node_cells {
  router_actor router;
  node_agent_actor agent;
};

struct control_cells {
  load_manager_actor load_manager;
  load_distributor_actor distributor;
  system_controller_actor controller;
  fault_manager_actor fault_manager;
};

template <class Handle>
caf::actor untyped(const Handle& h) {
  return caf::actor_cast<caf::actor>(h);
}

} // namespace

namespace {

/// Asks `sup` for its children (all started) and waits for the answer.
caf::error wait_children(caf::scoped_actor& self, const supervisor_actor& sup,
                         std::chrono::milliseconds timeout,
                         const std::function<void(caf::blocking_actor*)>& pump) {
  caf::error failure;
  auto rh = self->request(sup, timeout, which_children_atom::value);
  if (pump)
    pump(self.ptr());
  std::move(rh).receive([](std::vector<child_info>&) {},
                        [&](caf::error& err) { failure = std::move(err); });
  return failure;
}

} // namespace

caf::expected<spawned_node>
spawn_node(caf::actor_system& sys, const context_ptr& ctx,
           const app_registry& registry, const node_id& node,
           std::chrono::milliseconds timeout,
           std::function<void(caf::blocking_actor*)> pump) {
  caf::scoped_actor self{sys};
  auto cells = std::make_shared<node_cells>();
  supervisor_spec spec;
  spec.name = "node/" + node;
  spec.strategy = restart_strategy::one_for_all;
  spec.intensity = 0;
  spec.children.push_back(child_spec{
    "router", [cells, node, ctx](caf::actor_system& sys, const caf::actor&) {
      cells->router = sys.spawn(router_impl, node, ctx);
      return untyped(cells->router);
    }});
  spec.children.push_back(child_spec{
    "node_agent", [cells, node, ctx, reg = &registry](
                    caf::actor_system& sys, const caf::actor& parent) {
      cells->agent = ctx->detached_agents
                       ? sys.spawn<caf::detached>(node_agent_impl, node, ctx,
                                                  reg, parent)
                       : sys.spawn(node_agent_impl, node, ctx, reg, parent);
      return untyped(cells->agent);
    }});
  auto sup = spawn_supervisor(sys, std::move(spec));
  if (auto err = wait_children(self, sup, timeout, pump)) {
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    return err;
  }
  return spawned_node{sup, node_handles{node, cells->agent, cells->router}};
}

caf::expected<control_plane>
spawn_control_plane(caf::actor_system& sys, const context_ptr& ctx,
                    const router_actor& control_router,
                    std::chrono::milliseconds timeout,
                    std::function<void(caf::blocking_actor*)> pump,
                    const node_id& here) {
  caf::scoped_actor self{sys};
  auto first = here.empty() ? ctx->control_node : here;
  auto cells = std::make_shared<control_cells>();
  supervisor_spec spec;
  spec.name = "control";
  spec.strategy = restart_strategy::one_for_all;
  spec.intensity = 0;
  spec.children.push_back(child_spec{
    "load_manager", [cells, ctx](caf::actor_system& sys, const caf::actor&) {
      cells->load_manager = sys.spawn(load_manager_impl, ctx);
      return untyped(cells->load_manager);
    }});
  spec.children.push_back(child_spec{
    "load_distributor",
    [cells, ctx, first, control_router](caf::actor_system& sys,
                                        const caf::actor&) {
      cells->distributor = sys.spawn(load_distributor_impl, first, ctx,
                                     control_router);
      return untyped(cells->distributor);
    }});
  spec.children.push_back(child_spec{
    "system_controller", [cells, ctx](caf::actor_system& sys,
                                      const caf::actor&) {
      cells->controller = sys.spawn(system_controller_impl, ctx);
      return untyped(cells->controller);
    }});
  spec.children.push_back(child_spec{
    "fault_manager", [cells, ctx](caf::actor_system& sys, const caf::actor&) {
      cells->fault_manager = sys.spawn(fault_manager_impl, ctx,
                                       fault_listener_actor{cells->controller},
                                       cells->distributor);
      return untyped(cells->fault_manager);
    }});
  control_plane result;
  result.control = spawn_supervisor(sys, std::move(spec));
  if (auto err = wait_children(self, result.control, timeout, pump)) {
    caf::anon_send_exit(result.control, caf::exit_reason::user_shutdown);
    return err;
  }
  result.load_manager = cells->load_manager;
  result.distributor = cells->distributor;
  result.controller = cells->controller;
  result.fault_manager = cells->fault_manager;
  return result;
}

caf::error activate_system(caf::actor_system& sys, const context_ptr& ctx,
                           const std::map<node_id, node_handles>& nodes,
                           const control_plane& control,
                           std::chrono::milliseconds timeout,
                           std::function<void(caf::blocking_actor*)> pump,
                           const control_standby_actor& standby,
                           const node_id& standby_node) {
  // Heartbeats: every agent learns the others; the control node's agent
  // reports what it hears to the fault manager (the standby control node's
  // to the standby).
  agent_peers peers;
  for (auto& [node, h] : nodes) {
    peers.nodes.push_back(node);
    peers.agents.push_back(caf::actor_cast<caf::actor>(h.agent));
  }
  for (auto& [node, h] : nodes) {
    auto msg = peers;
    if (node == ctx->control_node)
      msg.listener = caf::actor_cast<view_listener_actor>(
        control.fault_manager);
    else if (standby && node == standby_node)
      msg.listener = caf::actor_cast<view_listener_actor>(standby);
    caf::anon_send(h.agent, peers_atom::value, std::move(msg));
  }
  activation act;
  for (auto& [node, h] : nodes)
    act.nodes.push_back(h);
  act.fault_manager = control.fault_manager;
  act.load_manager = control.load_manager;
  act.distributor = control.distributor;
  act.snapshots = control.distributor;
  act.standby = standby;
  act.standby_node = standby_node;
  caf::scoped_actor self{sys};
  caf::error failure;
  auto rh = self->request(control.controller, timeout, activate_atom::value,
                          act);
  if (pump)
    pump(self.ptr());
  std::move(rh).receive([](ok_atom) {},
                        [&](caf::error& err) { failure = std::move(err); });
  return failure;
}

caf::expected<system_handles>
start_system(caf::actor_system& sys, context_ptr ctx,
             const app_registry& registry, std::chrono::milliseconds timeout,
             std::function<void(caf::blocking_actor*)> pump) {
  if (auto err = check_app_types(ctx->config, registry))
    return err;
  system_handles result;
  result.ctx = ctx;
  // 1. One supervisor per node: router, then the agent.
  for (auto& node : ctx->config.nodes) {
    auto spawned = spawn_node(sys, ctx, registry, node, timeout, pump);
    if (!spawned) {
      result.shutdown();
      return spawned.error();
    }
    result.node_supervisors.emplace(node, spawned->supervisor);
    result.nodes.emplace(node, spawned->handles);
  }
  // 2. The control plane; the distributor sits on the control node.
  auto control = spawn_control_plane(
    sys, ctx, result.nodes.at(ctx->control_node).router, timeout, pump);
  if (!control) {
    result.shutdown();
    return control.error();
  }
  result.control = control->control;
  result.load_manager = control->load_manager;
  result.distributor = control->distributor;
  result.controller = control->controller;
  result.fault_manager = control->fault_manager;
  // 3. Heartbeats and activation.
  if (auto err = activate_system(sys, ctx, result.nodes, *control, timeout,
                                 pump)) {
    result.shutdown();
    return err;
  }
  return result;
}

} // namespace keel
