#include "actors/system_controller/system_controller.hpp"

#include <caf/all.hpp>

#include "actors/fan_out.hpp"
#include "actors/system_controller/request_window.hpp"
#include "runtime/error.hpp"
#include "runtime/transport.hpp"

namespace keel {

namespace {

using self_ptr = system_controller_pointer;
using partition_key = controller_state::partition_key;

std::chrono::milliseconds control_timeout(self_ptr self) {
  return std::chrono::milliseconds{
    self->state.ctx->config.knobs.control_timeout_ms};
}

/// A request due within `control_timeout_ms`, its deadline kept in rounds
/// (request_deadlines.hpp): activating thousands of copies costs a few
/// timers, not two clock operations per request.
template <class Handle, class... Ts>
auto control_request(self_ptr self, const Handle& dest, Ts&&... xs) {
  return self->state.deadlines.request(self, dest, control_timeout(self),
                                       std::forward<Ts>(xs)...);
}

void emit(self_ptr self, const char* name, json fields) {
  self->state.ctx->emit(self, name, std::move(fields));
}

// -- the work queue -----------------------------------------------------------------

void replicate(self_ptr self);

void run_next(self_ptr self) {
  auto& st = self->state;
  if (st.busy || st.work.empty() || !st.has_majority)
    return;
  st.busy = true;
  auto item = std::move(st.work.front());
  st.work.pop_front();
  item([self] {
    self->state.busy = false;
    replicate(self);
    run_next(self);
  });
}

void enqueue(self_ptr self, system_controller_actor_state::work_item item) {
  self->state.work.push_back(std::move(item));
  run_next(self);
}

/// Queues `item` but starts the queue only after the messages already in
/// the mailbox: reports that arrived together (several nodes failed at
/// once) are all known before the first recovery picks a node.
void enqueue_later(self_ptr self,
                   system_controller_actor_state::work_item item) {
  self->state.work.push_back(std::move(item));
  self->send(self, run_queue_atom::value);
}

// -- helpers ------------------------------------------------------------------------

standby_ref ref_of(self_ptr self, const copy_id& copy) {
  auto& st = self->state;
  auto rec = st.plan->find(copy);
  return standby_ref{copy, rec ? rec->node : node_id{}, st.copies.find(copy)};
}

std::vector<standby_ref> refs_of(self_ptr self,
                                 const std::vector<copy_id>& copies) {
  std::vector<standby_ref> result;
  for (auto& c : copies)
    result.push_back(ref_of(self, c));
  return result;
}

app_support_actor handle_of(self_ptr self, const copy_id& copy) {
  return self->state.copies.find(copy);
}

/// The handle a request to `copy` goes to: through the simulated network
/// from the control node (a partitioned copy's request times out).
app_support_actor reach(self_ptr self, const copy_id& copy) {
  auto& st = self->state;
  auto rec = st.plan->find(copy);
  auto handle = handle_of(self, copy);
  if (!rec)
    return handle;
  return transport::via(*st.ctx, st.ctx->control_node, rec->node, handle);
}

/// The same for the agent of `node`.
node_agent_actor reach_agent(self_ptr self, const node_id& node,
                             const node_agent_actor& agent) {
  auto& ctx = *self->state.ctx;
  return transport::via(ctx, ctx.control_node, node, agent);
}

route route_of(self_ptr self, const partition_key& key) {
  auto& st = self->state;
  auto rec = st.plan->find(key);
  route r;
  r.app = key.first;
  r.partition = key.second;
  if (!rec)
    return r;
  r.epoch = rec->epoch;
  r.in_transition = !rec->active.has_value();
  if (rec->active) {
    r.active = *rec->active;
    r.node = st.plan->find(*rec->active)->node;
    r.handle = handle_of(self, *rec->active);
    if (auto next = st.plan->successor(key)) {
      r.successor_handle = handle_of(self, next->first);
      if (r.successor_handle) {
        r.successor = next->first;
        r.successor_node = st.plan->find(next->first)->node;
        r.successor_epoch = next->second;
      }
    }
  }
  return r;
}

/// Routers of live nodes. The control node's router comes last: the
/// distributors subscribe to it, so a failover's new routes reach traffic
/// through it, and CAF's work stealing runs the actor it enqueued last
/// first (LIFO), so asking it last gets it installed first.
std::vector<router_actor> live_routers(self_ptr self) {
  auto& st = self->state;
  std::vector<router_actor> result;
  router_actor control;
  for (auto& [node, h] : st.nodes) {
    if (!st.plan->node_alive(node))
      continue;
    auto r = transport::via(*st.ctx, st.ctx->control_node, node, h.router);
    if (node == st.control_node)
      control = r;
    else
      result.push_back(r);
  }
  if (control)
    result.push_back(control);
  return result;
}

void install_routes(self_ptr self, const std::vector<partition_key>& keys,
                    std::function<void()> done) {
  if (keys.empty()) {
    done();
    return;
  }
  std::vector<route> routes;
  for (auto& k : keys)
    routes.push_back(route_of(self, k));
  fan_out<ok_atom>(self, live_routers(self), control_timeout(self),
                   [done = std::move(done)](size_t) { done(); },
                   set_routes_atom::value, routes);
}

json key_fields(const partition_key& key) {
  return json{{"app", key.first}, {"partition", key.second}};
}

// -- spawning copies ------------------------------------------------------------------

using spawn_done = std::function<void(std::optional<node_id>)>;

/// What an agent needs to start `copy`; nullopt if its app is unknown.
std::optional<copy_spec> spec_of(self_ptr self, const copy_id& copy) {
  auto& st = self->state;
  auto app = st.ctx->config.find_app(copy.app);
  if (app == nullptr)
    return std::nullopt;
  return copy_spec{copy, app->type, app->partitions, st.handles.distributor,
                   st.handles.load_manager};
}

void spawn_copy(self_ptr self, copy_id copy, node_id node, spawn_done done,
                std::set<node_id> tried = {});

/// `node` could not start `copy` (error `err` from its agent): tries the
/// next replacement node, unless the application type is unknown.
void spawn_failed(self_ptr self, const copy_id& copy, const node_id& node,
                  const node_agent_actor& agent, const caf::error& err,
                  spawn_done done, std::set<node_id> tried) {
  auto& st = self->state;
  emit(self, "copy_spawn_failed",
       json{{"copy", to_string(copy)}, {"node", node}, {"error", render(err)}});
  if (code_of(err) == error_code::unknown_app) {
    done(std::nullopt);
    return;
  }
  // A late spawn must not leave a second, unwatched incarnation.
  control_request(self, agent, stop_copy_atom::value, copy)
    .then([](ok_atom) {}, [](caf::error&) {});
  auto next = st.plan->replacement_node(copy, tried);
  if (!next) {
    done(std::nullopt);
    return;
  }
  spawn_copy(self, copy, *next, done, std::move(tried));
}

/// Spawns `copy` on `node`; if the node cannot start it (the agent is
/// gone or does not answer), tries the next replacement node. Only the
/// fault manager declares nodes failed. Calls `done(node)` with the node the
/// copy runs on, or `done(nullopt)` if it could not be started anywhere.
void spawn_copy(self_ptr self, copy_id copy, node_id node, spawn_done done,
                std::set<node_id> tried) {
  auto& st = self->state;
  auto ni = st.nodes.find(node);
  auto spec = spec_of(self, copy);
  if (ni == st.nodes.end() || !spec) {
    done(std::nullopt);
    return;
  }
  tried.insert(node);
  auto agent = reach_agent(self, node, ni->second.agent);
  control_request(self, agent, spawn_copy_atom::value, std::move(*spec))
    .then(
      [self, copy, node, done](app_support_actor& handle) {
        auto& st = self->state;
        st.copies.set(copy, handle);
        control_request(self, st.handles.fault_manager, watch_copy_atom::value,
                        copy, node, handle)
          .then([done, node](ok_atom) { done(node); },
                [done, node](caf::error&) { done(node); });
      },
      [self, copy, node, agent, done, tried](caf::error& err) {
        spawn_failed(self, copy, node, agent, err, done, tried);
      });
}

/// Spawns `copies` on `node` with one request to its agent and has the
/// fault manager watch them with one more: what activation does for each
/// node. A copy the node did not start is tried alone (spawn_copy, which
/// learns why and moves on to a replacement node); if the agent does not
/// answer, every copy goes on as spawn_copy would. Calls `done(copy, node)`
/// for each copy as spawn_copy calls its `done`.
void spawn_copies(self_ptr self, const node_id& node,
                  std::vector<copy_id> copies,
                  std::function<void(const copy_id&,
                                     std::optional<node_id>)> done) {
  auto& st = self->state;
  auto ni = st.nodes.find(node);
  auto done_for = [done](const copy_id& copy) -> spawn_done {
    return [done, copy](std::optional<node_id> where) { done(copy, where); };
  };
  std::vector<copy_spec> specs;
  std::vector<copy_id> asked;  // the copies of `specs`, in order
  for (auto& copy : copies) {
    auto spec = ni != st.nodes.end() ? spec_of(self, copy) : std::nullopt;
    if (!spec) {
      done(copy, std::nullopt);
      continue;
    }
    specs.push_back(std::move(*spec));
    asked.push_back(copy);
  }
  if (specs.empty())
    return;
  auto agent = reach_agent(self, node, ni->second.agent);
  control_request(self, agent, spawn_copy_atom::value, std::move(specs))
    .then(
      [self, node, asked, done, done_for](
        std::vector<app_support_actor>& handles) {
        auto& st = self->state;
        std::vector<copy_id> started;
        std::vector<app_support_actor> started_handles;
        for (size_t i = 0; i < asked.size(); ++i) {
          auto& copy = asked[i];
          if (i >= handles.size() || !handles[i]) {
            spawn_copy(self, copy, node, done_for(copy));
            continue;
          }
          st.copies.set(copy, handles[i]);
          started.push_back(copy);
          started_handles.push_back(handles[i]);
        }
        if (started.empty())
          return;
        auto all_done = [done, node, started](auto&&...) {
          for (auto& copy : started)
            done(copy, node);
        };
        control_request(self, st.handles.fault_manager, watch_copy_atom::value,
                        started, node, started_handles)
          .then([all_done](ok_atom) { all_done(); },
                [all_done](caf::error&) { all_done(); });
      },
      [self, node, agent, asked, done_for](caf::error& err) {
        for (auto& copy : asked)
          spawn_failed(self, copy, node, agent, err, done_for(copy), {node});
      });
}

// -- activation ---------------------------------------------------------------------

using role_lists = std::map<copy_id, std::vector<role_assignment>>;

/// Role assignments of an activation still to send or answer.
struct role_run {
  std::vector<std::pair<copy_id, std::vector<role_assignment>>> lists;
  request_window window;  // over `lists`
  std::function<void()> done;
};

/// Role requests in flight at once (see request_window). At 16384 copies
/// asked at once, activation took 13.6 us per copy against 6 at 1024.
constexpr size_t role_window = 64;

void send_role(self_ptr self, std::shared_ptr<role_run> run, size_t i);

/// Request `i` of `run` was answered: sends what the window lets out, or
/// runs `run->done` once every copy answered (or failed: a copy that is
/// gone is the fault manager's to report).
void role_answered(self_ptr self, const std::shared_ptr<role_run>& run,
                   size_t i, bool timed_out) {
  auto next = run->window.answered(i, timed_out);
  if (run->window.done()) {
    auto done = std::move(run->done);
    done();
    return;
  }
  for (auto j : next)
    send_role(self, run, j);
}

void send_role(self_ptr self, std::shared_ptr<role_run> run, size_t i) {
  auto& [copy, roles] = run->lists[i];
  control_request(self, reach(self, copy), assign_roles_atom::value,
                  std::move(roles))  // thousands make them large
    .then([self, run, i](ok_atom) { role_answered(self, run, i, false); },
          [self, run, i](caf::error& err) {
            role_answered(self, run, i, err == caf::sec::request_timeout);
          });
}

/// Assigns `roles` to their copies, then calls `next`.
void assign_all(self_ptr self, role_lists roles, std::function<void()> next) {
  if (roles.empty()) {
    next();
    return;
  }
  auto& records = self->state.plan->copies();
  std::vector<std::pair<copy_id, std::vector<role_assignment>>> lists;
  std::vector<node_id> nodes;
  for (auto& [copy, list] : roles) {
    auto rec = records.find(copy);
    nodes.push_back(rec != records.end() ? rec->second.node : node_id{});
    lists.emplace_back(copy, std::move(list));
  }
  auto run = std::make_shared<role_run>(
    role_run{std::move(lists), request_window{std::move(nodes), role_window},
             std::move(next)});
  for (auto i : run->window.start())
    send_role(self, run, i);
}

void activate(self_ptr self, caf::typed_response_promise<ok_atom> promise) {
  auto& st = self->state;
  st.plan->plan_activation();
  // 1. Spawn every copy: one request per node (spawn_copies).
  auto& copies = st.plan->copies();
  auto failures = std::make_shared<size_t>(0);
  auto after_spawn = [self, promise, failures]() mutable {
    auto& st = self->state;
    if (*failures > 0) {
      promise.deliver(make_error(error_code::unavailable,
                                 std::to_string(*failures)
                                   + " copies could not be started"));
      return;
    }
    // 2. Standby roles first, so that actives find their standbys ready.
    role_lists standby_roles, active_roles;
    for (auto& [key, part] : st.plan->partitions()) {
      for (auto& sb : part.standbys)
        standby_roles[sb].push_back(
          role_assignment{key.second, role::standby, part.epoch, {}});
      if (part.active)
        active_roles[*part.active].push_back(
          role_assignment{key.second, role::active, part.epoch,
                          refs_of(self, part.standbys),
                          initial_seed(key.first, key.second)});
    }
    // The role lists (an active's carries its partition's seed) are moved
    // along, not copied: thousands of copies make them large.
    assign_all(self, std::move(standby_roles),
               [self, promise,
                active_roles = std::move(active_roles)]() mutable {
      assign_all(self, std::move(active_roles), [self, promise]() mutable {
        // 3. Routes everywhere.
        std::vector<partition_key> keys;
        for (auto& [key, _] : self->state.plan->partitions())
          keys.push_back(key);
        install_routes(self, keys, [self, promise]() mutable {
          self->state.activated = true;
          emit(self, "system_activated",
               json{{"copies", self->state.copies.size()},
                    {"partitions", self->state.plan->partitions().size()}});
          replicate(self);
          promise.deliver(ok_atom::value);
        });
      });
    });
  };
  auto counter = std::make_shared<fan_out_counter>(
    copies.size(), [after_spawn](size_t) mutable { after_spawn(); });
  std::map<node_id, std::vector<copy_id>> by_node;
  for (auto& [id, rec] : copies)
    by_node[rec.node].push_back(id);
  for (auto& [node, ids] : by_node)
    spawn_copies(self, node, std::move(ids),
                 [self, failures, counter](const copy_id& copy,
                                           std::optional<node_id> where) {
                   if (where)
                     self->state.plan->mark_alive(copy, *where);
                   else
                     ++*failures;
                   counter->answer(where.has_value());
                 });
}

// -- recovery ---------------------------------------------------------------------

/// True for models whose partitions have no standby: a new active starts
/// from the partition's last snapshot (the distributor keeps it).
bool seeded_model(self_ptr self, const app_name& app) {
  auto cfg = self->state.ctx->config.find_app(app);
  return cfg
         && (cfg->model == redundancy_model::no_redundancy
             || cfg->model == redundancy_model::n_way_active);
}

/// Makes `copy` active for partitions that have none (steps with
/// role::active) and installs their routes; calls `done` after. Models
/// without a standby start from the distributor's last snapshot.
void activate_steps(self_ptr self, const copy_id& copy,
                    const std::vector<controller_state::rejoin_step>& steps,
                    const std::string& cause, std::function<void()> done,
                    bool own_state = false) {
  std::vector<partition_key> keys;
  for (auto& s : steps)
    keys.push_back(s.key);
  if (steps.empty()) {
    done();
    return;
  }
  auto counter = std::make_shared<fan_out_counter>(
    steps.size(),
    [self, keys, done](size_t) { install_routes(self, keys, done); });
  auto assign = [self, copy, cause, counter](
                  controller_state::rejoin_step s, partition_snapshot seed) {
    std::vector<role_assignment> roles{
      role_assignment{s.key.second, role::active, s.epoch,
                      refs_of(self, s.standbys), std::move(seed)}};
    control_request(self, reach(self, copy), assign_roles_atom::value, roles)
      .then(
        [self, counter, s, copy, cause](ok_atom) {
          auto fields = key_fields(s.key);
          fields["copy"] = to_string(copy);
          fields["epoch"] = s.epoch;
          fields["cause"] = cause;
          emit(self, "partition_promoted", std::move(fields));
          counter->answer(true);
        },
        [self, counter, s, copy](caf::error& err) {
          auto fields = key_fields(s.key);
          fields["copy"] = to_string(copy);
          fields["error"] = render(err);
          emit(self, "promotion_failed", std::move(fields));
          counter->answer(false);
        });
  };
  for (auto& s : steps) {
    auto empty = initial_seed(s.key.first, s.key.second);
    if (own_state) {
      // The copy came back with its node and kept its state: no seed (it
      // refuses if that state is not complete).
      partition_snapshot none;
      none.app = s.key.first;
      none.partition = s.key.second;
      none.present = false;
      assign(s, std::move(none));
      continue;
    }
    if (!seeded_model(self, s.key.first)) {
      // Only reached with unclean_activation: nobody holds the state.
      auto fields = key_fields(s.key);
      fields["copy"] = to_string(copy);
      emit(self, "unclean_activation", std::move(fields));
      assign(s, empty);
      continue;
    }
    control_request(self, self->state.handles.snapshots,
                    get_snapshot_atom::value, s.key.first, s.key.second)
      .then(
        [self, assign, s, empty](partition_snapshot& snap) {
          // No snapshot yet: the distributor retained every event from the
          // first on, so the empty initial state is the right start.
          auto fields = key_fields(s.key);
          fields["snapshot_index"] = snap.present ? snap.index : 0;
          emit(self, "partition_seeded", std::move(fields));
          assign(s, snap.present ? std::move(snap) : empty);
        },
        [self, assign, s, empty](caf::error& err) {
          // The copy starts empty and the distributor replays what it
          // retained; what a lost snapshot covered is gone (traced).
          auto fields = key_fields(s.key);
          fields["error"] = render(err);
          emit(self, "partition_seed_failed", std::move(fields));
          assign(s, empty);
        });
  }
}

using switchover_reply = std::function<void(caf::expected<epoch_t>)>;

void switchover(self_ptr self, partition_key key, switchover_reply reply,
                std::function<void()> done);

/// Makes `standby` a standby of `key` in `epoch` and has `active` send it
/// the state. Runs in the background: its end is traced, nobody waits.
/// n_plus_m: once an active copy is back in sync as standby of a partition
/// a dedicated standby copy serves, the role goes back to it (failback).
void add_standby(self_ptr self, const partition_key& key,
                 const copy_id& standby, const copy_id& active,
                 epoch_t epoch) {
  std::vector<role_assignment> roles{
    role_assignment{key.second, role::standby, epoch, {}}};
  auto active_handle = reach(self, active);
  auto add = role_assignment{key.second, role::standby, epoch,
                             {ref_of(self, standby)}};
  auto failed = [self, key, standby](caf::error& err) {
    auto fields = key_fields(key);
    fields["copy"] = to_string(standby);
    fields["error"] = render(err);
    emit(self, "standby_restore_failed", std::move(fields));
    // The plan counts it as a standby already: try again, or the partition
    // would stay short of one unnoticed.
    self->delayed_send(self, control_timeout(self), retry_standby_atom::value,
                       key.first, key.second, standby);
  };
  control_request(self, reach(self, standby), assign_roles_atom::value, roles)
    .then(
      [self, active_handle, add, key, standby, failed](ok_atom) {
        control_request(self, active_handle, add_standby_atom::value, add)
          .then(
            [self, key, standby](ok_atom) {
              auto fields = key_fields(key);
              fields["copy"] = to_string(standby);
              emit(self, "standby_restored", fields);
              // The routes may name it successor now (background: routes
              // of an older epoch or successor are ignored).
              install_routes(self, {key}, [] {});
              if (!self->state.plan->failback_needed(key, standby))
                return;
              emit(self, "failback", std::move(fields));
              enqueue(self, [self, key](std::function<void()> done) {
                // Checked again: the assignment may have moved on.
                auto part = self->state.plan->find(key);
                if (!part || part->standbys.empty()
                    || !self->state.plan->failback_needed(
                      key, part->standbys.front())) {
                  done();
                  return;
                }
                switchover(self, key, [](caf::expected<epoch_t>) {},
                           std::move(done));
              });
            },
            failed);
      },
      failed);
}

/// Brings every partition of `app` back to its configured number of
/// standbys where live copies allow (in the background).
void restore_redundancy(self_ptr self, const app_name& app) {
  for (auto& add : self->state.plan->restore_redundancy(app)) {
    auto fields = key_fields(add.key);
    fields["copy"] = to_string(add.standby);
    fields["active"] = to_string(add.active);
    emit(self, "redundancy_restoring", std::move(fields));
    add_standby(self, add.key, add.standby, add.active, add.epoch);
  }
}

/// The restarted `copy` takes its roles back: active where a partition has
/// none, standby elsewhere. Standbys sync in the background (the active
/// sends the state); the recovery does not wait for them.
void rejoin(self_ptr self, const copy_id& copy, const node_id& node,
            std::function<void()> done, bool with_state = false) {
  auto& st = self->state;
  auto steps = st.plan->rejoin(copy, node, with_state);
  std::vector<controller_state::rejoin_step> actives;
  for (auto& s : steps) {
    if (s.new_role == role::active) {
      actives.push_back(s);
      continue;
    }
    add_standby(self, s.key, copy, *s.active, s.epoch);
  }
  activate_steps(self, copy, actives, to_string(copy), std::move(done),
                 with_state);
}

/// Partitions left without an active because their copy will not come
/// back move to live copies of the same app (state: what that copy holds).
void reassign_orphans(self_ptr self, const app_name& app,
                      const std::string& cause, std::function<void()> done) {
  auto steps = self->state.plan->reassign_orphans(app);
  if (steps.empty()) {
    done();
    return;
  }
  // Group by target copy: each gets its own activation.
  std::map<copy_id, std::vector<controller_state::rejoin_step>> by_copy;
  for (auto& s : steps) {
    auto target = *self->state.plan->find(s.key)->active;
    auto fields = key_fields(s.key);
    fields["copy"] = to_string(target);
    fields["epoch"] = s.epoch;
    fields["cause"] = cause;
    emit(self, "partition_reassigned", std::move(fields));
    by_copy[target].push_back(s);
  }
  auto counter = std::make_shared<fan_out_counter>(
    by_copy.size(), [done](size_t) { done(); });
  for (auto& [copy, list] : by_copy)
    activate_steps(self, copy, list, cause, [counter] { counter->answer(true); });
}

/// Promotes `p.copy`; if it refuses (not in sync), the next live standby;
/// if none is left, the partition stays without an active. `done` runs
/// once the partition has its final state.
void promote(self_ptr self, controller_state::promotion p, std::string cause,
             std::shared_ptr<std::set<copy_id>> tried,
             std::function<void()> done) {
  tried->insert(p.copy);
  auto attempt = [self, p, cause, tried, done]() {
    std::vector<role_assignment> roles{role_assignment{
      p.key.second, role::active, p.epoch, refs_of(self, p.standbys)}};
    control_request(self, reach(self, p.copy), assign_roles_atom::value, roles)
      .then(
        [self, p, cause, done](ok_atom) {
          auto fields = key_fields(p.key);
          fields["copy"] = to_string(p.copy);
          fields["epoch"] = p.epoch;
          fields["cause"] = cause;
          emit(self, "partition_promoted", std::move(fields));
          done();
        },
        [self, p, cause, tried, done](caf::error& err) {
          auto fields = key_fields(p.key);
          fields["copy"] = to_string(p.copy);
          fields["error"] = render(err);
          emit(self, "promotion_failed", std::move(fields));
          auto next = self->state.plan->promotion_refused(p.key, p.copy,
                                                          *tried);
          if (next)
            promote(self, *next, cause, tried, done);
          else
            done();  // orphaned: waits for a restart or a reassignment
        });
  };
  // Remaining standbys learn the new epoch first (fencing the old active).
  if (p.standbys.empty()) {
    attempt();
    return;
  }
  auto inner = std::make_shared<fan_out_counter>(
    p.standbys.size(), [attempt](size_t) { attempt(); });
  for (auto& sb : p.standbys) {
    std::vector<role_assignment> roles{
      role_assignment{p.key.second, role::standby, p.epoch, {}}};
    control_request(self, reach(self, sb), assign_roles_atom::value, roles)
      .then([inner](ok_atom) { inner->answer(true); },
            [inner](caf::error&) { inner->answer(false); });
  }
}

void recover_copy(self_ptr self, copy_failed report,
                  std::function<void()> done) {
  auto& st = self->state;
  if (report.handle && report.handle != handle_of(self, report.copy)) {
    emit(self, "stale_fault_ignored", json{{"copy", to_string(report.copy)},
                                           {"reason", report.reason}});
    done();  // about an incarnation that was replaced already
    return;
  }
  auto plan = st.plan->plan_copy_failure(report.copy, self->clock().now());
  if (plan.failed.app.empty()) {
    done();  // already handled (reported twice, or by its node's failure)
    return;
  }
  auto cause = to_string(plan.failed);
  emit(self, "recovery_started",
       json{{"copy", cause},
            {"reason", report.reason},
            {"promotions", plan.promotions.size()},
            {"orphaned", plan.orphaned.size()},
            {"restart", plan.restart ? (plan.restart->in_place ? "in_place"
                                                               : "replace")
                                     : "none"}});
  if (!plan.escalation.empty())
    emit(self, "escalation",
         json{{"copy", cause},
              {"node", report.node},
              {"level", plan.escalation},
              {"restarts", st.plan->find(plan.failed)->restarts}});
  if (plan.node_out_of_service) {
    auto node = *plan.node_out_of_service;
    json evicted = json::array();
    for (auto& c : plan.evict)
      evicted.push_back(to_string(c));
    emit(self, "node_out_of_service",
         json{{"node", node}, {"cause", cause}, {"evicted", evicted}});
    // Stopping them makes the fault manager report them; their recovery
    // places them elsewhere (the node is no longer usable).
    if (auto ni = st.nodes.find(node); ni != st.nodes.end())
      for (auto& c : plan.evict)
        control_request(self, reach_agent(self, node, ni->second.agent),
                        stop_copy_atom::value, c)
          .then([](ok_atom) {}, [](caf::error&) {});
  }
  st.copies.erase(plan.failed);
  self->send(st.handles.load_manager, unwatch_copy_atom::value, plan.failed);
  for (auto& [key, active] : plan.lost_standbys)
    if (auto rec = st.plan->find(active))
      transport::send(self, *st.ctx, st.ctx->control_node, rec->node,
                      handle_of(self, active), remove_standby_atom::value,
                      key.second, plan.failed, report.handle.address());
  // Step 3: restart or replace, then rejoin (runs after routes). A copy
  // that does not come back hands its orphaned partitions to live copies.
  auto app = plan.failed.app;
  auto finish = [self, cause, app, done] {
    restore_redundancy(self, app);
    emit(self, "recovery_done", json{{"copy", cause}});
    done();
  };
  auto restart_step = [self, plan, app, cause, finish]() {
    if (!plan.restart) {
      reassign_orphans(self, app, cause, finish);
      return;
    }
    auto r = *plan.restart;
    if (self->state.plan->holds_lost_state(r.copy)) {
      // A promotion failed after all and the copy, cut off with its node,
      // holds the only state of a partition: it waits for its node.
      emit(self, "copy_awaits_node", json{{"copy", cause}});
      finish();
      return;
    }
    spawn_copy(self, r.copy, r.node,
               [self, r, app, cause, finish](std::optional<node_id> where) {
                 if (!where) {
                   emit(self, "copy_unplaced", json{{"copy", cause}});
                   reassign_orphans(self, app, cause, finish);
                   return;
                 }
                 // spawn_copy may have moved on to another node.
                 emit(self, "copy_restarted",
                      json{{"copy", cause},
                           {"node", *where},
                           {"in_place", *where == r.node && r.in_place}});
                 rejoin(self, r.copy, *where, finish);
               });
  };
  // Step 2: routes for every partition whose active changed or is gone.
  std::vector<partition_key> changed = plan.orphaned;
  for (auto& p : plan.promotions)
    changed.push_back(p.key);
  // Where the failed copy was the named successor, the routes name none now.
  for (auto& [key, active] : plan.lost_standbys)
    changed.push_back(key);
  // n_way_active: the failed copy's partitions move to the survivors at
  // once (the others wait for the restarted copy).
  auto cfg = st.ctx->config.find_app(app);
  bool move_now = cfg && cfg->model == redundancy_model::n_way_active
                  && !plan.orphaned.empty();
  auto routes_step = [self, changed, restart_step, move_now, app, cause]() {
    install_routes(self, changed, [self, restart_step, move_now, app, cause] {
      if (move_now)
        reassign_orphans(self, app, cause, restart_step);
      else
        restart_step();
    });
  };
  // Step 1: promotions (a refusing standby gives way to the next one).
  if (plan.promotions.empty()) {
    routes_step();
    return;
  }
  auto counter = std::make_shared<fan_out_counter>(
    plan.promotions.size(), [routes_step](size_t) { routes_step(); });
  for (auto& p : plan.promotions)
    promote(self, p, cause, std::make_shared<std::set<copy_id>>(),
            [counter] { counter->answer(true); });
}

/// A planned switchover of one partition (see the interface).
/// The run of one switchover, shared by its continuations and by the
/// fault handlers (a fault on either copy abandons the current stage at once
/// instead of waiting for a timeout).
} // namespace

struct switchover_run {
  controller_state::switchover_plan plan;
  switchover_reply reply;
  std::function<void()> done;
  caf::actor_clock::time_point started;
  json fields;
  /// Bumped by every stage; a continuation of an older stage is stale.
  int stage = 0;
  bool finished = false;
  /// Abandons the current stage with a reason (set per stage).
  std::function<void(std::string)> abandon;
};

namespace {

void finish_switchover(self_ptr self, std::shared_ptr<switchover_run> run,
                       caf::expected<epoch_t> result) {
  if (run->finished)
    return;
  run->finished = true;
  if (self->state.switchover == run)
    self->state.switchover = nullptr;
  auto reply = std::move(run->reply);
  auto done = std::move(run->done);
  reply(std::move(result));
  done();
}

/// The promotion of `to` failed: give the role back to `from`.
void revert_switchover(self_ptr self, std::shared_ptr<switchover_run> run,
                       std::string why) {
  auto stage = ++run->stage;
  auto [epoch, standbys] = self->state.plan->revert_switchover(run->plan);
  auto fields = run->fields;
  fields["error"] = why;
  fields["active"] = to_string(run->plan.from);
  fields["epoch"] = epoch;
  emit(self, "switchover_failed", fields);
  std::vector<role_assignment> roles{
    role_assignment{run->plan.key.second, role::active, epoch,
                    refs_of(self, standbys)}};
  auto routes = [self, run, why, stage] {
    install_routes(self, {run->plan.key}, [self, run, why] {
      finish_switchover(self, run,
                        make_error(error_code::unavailable,
                                   "switchover of " + run->plan.key.first
                                     + " partition "
                                     + std::to_string(run->plan.key.second)
                                     + " failed (" + why
                                     + "); the old active serves again"));
    });
    (void) stage;
  };
  control_request(self, reach(self, run->plan.from), assign_roles_atom::value,
                  roles)
    .then([routes](ok_atom) { routes(); },
          [self, run, routes](caf::error& err) {
            // Neither copy serves it now: the partition waits for recovery.
            auto fields = key_fields(run->plan.key);
            fields["error"] = render(err);
            emit(self, "partition_unavailable", std::move(fields));
            self->state.plan->promotion_refused(run->plan.key, run->plan.from,
                                                {run->plan.from,
                                                 run->plan.to});
            routes();
          });
}

/// A planned switchover of one partition (see the interface).
void switchover(self_ptr self, partition_key key, switchover_reply reply,
                std::function<void()> done) {
  auto& st = self->state;
  auto plan = st.plan->plan_switchover(key);
  if (!plan.error.empty()) {
    reply(make_error(error_code::unavailable,
                     "switchover of " + key.first + " partition "
                       + std::to_string(key.second) + ": " + plan.error));
    done();
    return;
  }
  auto run = std::make_shared<switchover_run>();
  run->plan = plan;
  run->reply = std::move(reply);
  run->done = std::move(done);
  run->started = self->clock().now();
  run->fields = key_fields(key);
  run->fields["from"] = to_string(plan.from);
  run->fields["to"] = to_string(plan.to);
  run->fields["epoch"] = plan.new_epoch;
  st.switchover = run;
  emit(self, "switchover_started", run->fields);
  // Stage 1: the active quiesces. Abandoning it resumes the active.
  auto quiesce_stage = ++run->stage;
  // (`abandon` holds the run weakly: the run owns it.)
  run->abandon = [self, weak = std::weak_ptr<switchover_run>{run},
                  quiesce_stage](std::string why) {
    auto run = weak.lock();
    if (!run || run->finished || run->stage != quiesce_stage)
      return;
    ++run->stage;
    control_request(self, reach(self, run->plan.from), resume_atom::value,
                    run->plan.key.second, run->plan.old_epoch)
      .then([](ok_atom) {}, [](caf::error&) {});
    auto fields = run->fields;
    fields["error"] = why;
    emit(self, "switchover_failed", std::move(fields));
    finish_switchover(self, run,
                      make_error(error_code::unavailable,
                                 "switchover of " + run->plan.key.first
                                   + " partition "
                                   + std::to_string(run->plan.key.second)
                                   + ": " + why));
  };
  control_request(self, reach(self, plan.from), quiesce_atom::value, key.second,
                  plan.old_epoch)
    .then(
      [self, run, quiesce_stage](log_index) {
        if (run->finished || run->stage != quiesce_stage)
          return;
        emit(self, "partition_quiesced", run->fields);
        // Stage 2: promote `to`; the old active becomes its standby through
        // the state transfer (it is demoted only by a newer epoch, so a
        // failed promotion leaves it intact).
        auto promote_stage = ++run->stage;
        self->state.plan->commit_switchover(run->plan);
        run->abandon = [self, weak = std::weak_ptr<switchover_run>{run},
                        promote_stage](std::string why) {
          auto run = weak.lock();
          if (run && !run->finished && run->stage == promote_stage)
            revert_switchover(self, run, std::move(why));
        };
        auto& plan = run->plan;
        std::vector<copy_id> others;
        for (auto& sb : plan.standbys)
          if (sb != plan.from)
            others.push_back(sb);
        auto promote_to = [self, run, promote_stage] {
          auto& plan = run->plan;
          std::vector<role_assignment> roles{
            role_assignment{plan.key.second, role::active, plan.new_epoch,
                            refs_of(self, plan.standbys)}};
          control_request(self, reach(self, plan.to), assign_roles_atom::value,
                          roles)
            .then(
              [self, run, promote_stage](ok_atom) {
                if (run->finished || run->stage != promote_stage)
                  return;
                ++run->stage;
                install_routes(self, {run->plan.key}, [self, run] {
                  auto us = std::chrono::duration_cast<
                              std::chrono::microseconds>(self->clock().now()
                                                         - run->started)
                              .count();
                  auto fields = run->fields;
                  fields["duration_ms"] = static_cast<double>(us) / 1000;
                  emit(self, "switchover_done", std::move(fields));
                  finish_switchover(self, run, run->plan.new_epoch);
                });
              },
              [self, run, promote_stage](caf::error& err) {
                if (run->finished || run->stage != promote_stage)
                  return;
                revert_switchover(self, run,
                                  "promotion of " + to_string(run->plan.to)
                                    + " failed: " + render(err));
              });
        };
        // Other standbys learn the new epoch first (fencing).
        if (others.empty()) {
          promote_to();
          return;
        }
        auto counter = std::make_shared<fan_out_counter>(
          others.size(), [promote_to](size_t) { promote_to(); });
        for (auto& sb : others) {
          std::vector<role_assignment> roles{
            role_assignment{plan.key.second, role::standby, plan.new_epoch, {}}};
          control_request(self, reach(self, sb), assign_roles_atom::value,
                          roles)
            .then([counter](ok_atom) { counter->answer(true); },
                  [counter](caf::error&) { counter->answer(false); });
        }
      },
      [run, quiesce_stage](caf::error& err) {
        if (!run->finished && run->stage == quiesce_stage)
          run->abandon("quiesce failed: " + render(err));
      });
}

/// Tells every node agent who its peers are (after a node came back with
/// new handles); the control node's agent reports to the fault manager.
/// A node back as a new process counts with its new agent even while its
/// rejoin waits in the queue (see system_controller_actor_state::restarted).
void send_peers(self_ptr self) {
  auto& st = self->state;
  auto agent_of = [&st](const node_id& node, const node_handles& h) {
    auto i = st.restarted.find(node);
    return i != st.restarted.end() ? i->second.agent : h.agent;
  };
  agent_peers peers;
  for (auto& [node, h] : st.nodes) {
    peers.nodes.push_back(node);
    peers.agents.push_back(caf::actor_cast<caf::actor>(agent_of(node, h)));
  }
  for (auto& [node, h] : st.nodes) {
    auto msg = peers;
    if (node == st.control_node)
      msg.listener = caf::actor_cast<view_listener_actor>(
        st.handles.fault_manager);
    else if (node == st.handles.standby_node && st.handles.standby)
      msg.listener = caf::actor_cast<view_listener_actor>(st.handles.standby);
    self->send(agent_of(node, h), peers_atom::value, std::move(msg));
  }
}

void abandon_switchover_of(self_ptr self, const copy_id& copy,
                           const std::string& why);

/// A node failed: its copies are recovered one by one (queued).
void on_node_failed(self_ptr self, const node_failed& report) {
  auto& st = self->state;
  if (!st.plan->node_alive(report.node))
    return;
  auto copies = st.plan->mark_node_failed(report.node, report.may_return);
  for (auto& copy : copies)
    abandon_switchover_of(self, copy, "node " + report.node + " failed");
  emit(self, "node_failed",
       json{{"node", report.node},
            {"reason", report.reason},
            {"copies", copies.size()}});
  for (auto& copy : copies) {
    copy_failed cf{copy, report.node, "node " + report.node + " failed",
                   handle_of(self, copy)};
    enqueue_later(self, [self, cf](std::function<void()> done) {
      recover_copy(self, cf, std::move(done));
    });
  }
}

/// The current assignment, as get_assignment answers it.
assignment_table table_of(self_ptr self) {
  auto& st = self->state;
  assignment_table result;
  for (auto& [key, part] : st.plan->partitions()) {
    partition_assignment pa;
    pa.app = key.first;
    pa.partition = key.second;
    pa.epoch = part.epoch;
    if (part.active) {
      pa.active = *part.active;
      pa.active_handle = handle_of(self, *part.active);
    }
    pa.standbys = part.standbys;
    pa.reserved_upto = part.blocked_upto;
    if (part.reserved_for)
      pa.reserved_upto = std::max(pa.reserved_upto, part.reserved_epoch);
    result.partitions.push_back(std::move(pa));
  }
  for (auto& [id, rec] : st.plan->copies())
    result.copies.push_back(
      copy_info{id, rec.node, rec.alive, handle_of(self, id), rec.restarts});
  for (auto& node : st.plan->failed_nodes())
    result.failed_nodes.push_back(node);
  result.recoveries_pending = static_cast<uint32_t>(st.work.size())
                              + (st.busy ? 1 : 0);
  return result;
}

/// Cluster mode: the standby control plane gets the assignment after every
/// change (a takeover starts from the last one it got).
void replicate(self_ptr self) {
  auto& st = self->state;
  if (!st.handles.standby || !st.activated)
    return;
  control_snapshot snap;
  snap.version = ++st.replicated;
  snap.table = table_of(self);
  for (auto& [node, h] : st.nodes)
    snap.nodes.push_back(h);
  self->send(st.handles.standby, std::move(snap));
}

/// Takeover, step 2: every live copy reports its roles and epochs; the
/// adopted assignment learns what the replication missed. Then the agents
/// learn the new listener and the fault manager watches everything (the
/// lost node's agent and copies are found down at once and recovered).
void finish_takeover(self_ptr self, caf::typed_response_promise<ok_atom> promise) {
  auto& st = self->state;
  st.activated = true;
  send_peers(self);
  for (auto& [node, h] : st.nodes)
    control_request(self, st.handles.fault_manager, watch_node_atom::value,
                    node, h.agent, h.router)
      .then([](ok_atom) {}, [](caf::error&) {});
  for (auto& [id, rec] : st.plan->copies())
    if (rec.alive)
      control_request(self, st.handles.fault_manager, watch_copy_atom::value,
                      id, rec.node, handle_of(self, id))
        .then([](ok_atom) {}, [](caf::error&) {});
  // Every partition whose active lives is promoted again on the same copy
  // with a new epoch that only this controller issues: whatever the lost
  // controller did after its last snapshot (or a copy that did not answer
  // the status request) is fenced, and actives and standbys agree again.
  // Partitions whose active was on the lost node wait for its recovery.
  std::vector<controller_state::promotion> again;
  for (auto& [key, part] : st.plan->partitions())
    if (part.active && st.plan->promotable(*part.active)) {
      // Standbys on the lost node are left to its recovery (a request to
      // them would only time out).
      std::vector<copy_id> live;
      for (auto& sb : part.standbys)
        if (st.plan->promotable(sb))
          live.push_back(sb);
      again.push_back(controller_state::promotion{key, *part.active,
                                                  part.epoch, live});
    }
  auto routes = [self, promise](size_t) mutable {
    // Routes from the adopted assignment everywhere (the distributor of
    // this control plane and the routers may have missed the last changes).
    std::vector<partition_key> keys;
    for (auto& [key, _] : self->state.plan->partitions())
      keys.push_back(key);
    install_routes(self, keys, [self, promise]() mutable {
      emit(self, "takeover_done",
           json{{"node", self->state.control_node},
                {"partitions", self->state.plan->partitions().size()}});
      promise.deliver(ok_atom::value);
      // The lost node's recoveries, queued meanwhile, run now.
      self->state.busy = false;
      run_next(self);
    });
  };
  if (again.empty()) {
    routes(0);
    return;
  }
  auto counter = std::make_shared<fan_out_counter>(again.size(), routes);
  for (auto& p : again) {
    p.epoch = st.plan->bump_epoch(p.key);
    promote(self, p, "takeover", std::make_shared<std::set<copy_id>>(),
            [counter] { counter->answer(true); });
  }
}

void takeover(self_ptr self, activation act, assignment_table table,
              node_id here, caf::typed_response_promise<ok_atom> promise) {
  auto& st = self->state;
  st.handles = std::move(act);
  st.control_node = std::move(here);
  for (auto& n : st.handles.nodes)
    st.nodes[n.node] = n;
  std::vector<controller_state::adopted_partition> parts;
  for (auto& pa : table.partitions) {
    controller_state::adopted_partition p;
    p.key = partition_key{pa.app, pa.partition};
    p.epoch = pa.epoch;
    if (!pa.active.app.empty())
      p.active = pa.active;
    p.standbys = pa.standbys;
    p.reserved_upto = pa.reserved_upto;
    parts.push_back(std::move(p));
  }
  std::vector<controller_state::adopted_copy> copies;
  for (auto& c : table.copies) {
    copies.push_back({c.copy, c.node, c.alive, c.restarts});
    if (c.alive && c.handle)
      st.copies.set(c.copy, c.handle);
  }
  st.plan->adopt(parts, copies, table.failed_nodes);
  emit(self, "controller_takeover",
       json{{"node", st.control_node},
            {"partitions", parts.size()},
            {"copies", copies.size()}});
  // The lost control node failed: its copies are recovered, but only once
  // the adopted assignment is reconciled (the queue waits until then), and
  // nothing below waits for it.
  st.busy = true;
  on_node_failed(self, node_failed{st.ctx->control_node,
                                   "control node lost (takeover)", false});
  std::vector<std::pair<copy_id, app_support_actor>> live;
  for (auto& c : table.copies)
    if (c.alive && c.handle && st.plan->node_alive(c.node))
      live.emplace_back(c.copy, c.handle);
  if (live.empty()) {
    finish_takeover(self, promise);
    return;
  }
  auto counter = std::make_shared<fan_out_counter>(
    live.size(), [self, promise](size_t) mutable {
      finish_takeover(self, promise);
    });
  for (auto& [id, handle] : live)
    control_request(self, handle, status_atom::value)
      .then(
        [self, counter, id = id](copy_status& cs) {
          for (auto& p : cs.partitions)
            self->state.plan->reconcile(partition_key{id.app, p.partition}, id,
                                        p.current_role, p.epoch);
          counter->answer(true);
        },
        [counter](caf::error&) { counter->answer(false); });
}

/// A rejoining node could not be reset: it counts as failed again (the
/// fault manager tries once more when it next hears it).
void rejoin_failed(self_ptr self, const node_id& node, const caf::error& err) {
  emit(self, "node_rejoin_failed",
       json{{"node", node}, {"error", render(err)}});
  self->send(self->state.handles.fault_manager, node_up_atom::value, node,
             false);
}

/// A node declared failed is reachable again: its agent stops every copy
/// it still runs (they were replaced elsewhere; any that still believed
/// itself active was fenced by epoch) and lifts its self-fence; then the
/// node is used again, every router gets the whole route table, and
/// redundancy is restored where it was short.
void rejoin_node(self_ptr self, const node_id& node,
                 std::function<void()> done) {
  auto& st = self->state;
  auto ni = st.nodes.find(node);
  if (ni == st.nodes.end()) {
    done();
    return;
  }
  // Copies that were not replaced elsewhere hold the only state of some
  // partition: they stay, and take their roles back.
  auto keep = st.plan->awaiting(node);
  control_request(self, reach_agent(self, node, ni->second.agent),
                  reset_atom::value, keep)
    .then(
      [self, node, keep, done](std::vector<app_support_actor>& handles) {
        auto& st = self->state;
        st.plan->mark_node_alive(node);
        emit(self, "node_rejoined",
             json{{"node", node}, {"copies_kept", keep.size()}});
        self->send(st.handles.fault_manager, node_up_atom::value, node, true);
        auto finish = [self, done] {
          auto& st = self->state;
          std::vector<partition_key> keys;
          std::set<app_name> apps;
          for (auto& [key, part] : st.plan->partitions()) {
            keys.push_back(key);
            apps.insert(key.first);
          }
          install_routes(self, keys, [self, apps, done] {
            for (auto& app : apps)
              restore_redundancy(self, app);
            done();
          });
        };
        if (keep.empty()) {
          finish();
          return;
        }
        auto counter = std::make_shared<fan_out_counter>(
          keep.size(), [finish](size_t) { finish(); });
        for (size_t i = 0; i < keep.size(); ++i) {
          auto& copy = keep[i];
          auto handle = i < handles.size() ? handles[i] : app_support_actor{};
          if (!handle) {
            emit(self, "copy_lost_with_node",
                 json{{"copy", to_string(copy)}, {"node", node}});
            counter->answer(false);
            continue;
          }
          st.copies.set(copy, handle);
          control_request(self, st.handles.fault_manager,
                          watch_copy_atom::value, copy, node, handle)
            .then([](ok_atom) {}, [](caf::error&) {});
          rejoin(self, copy, node, [counter] { counter->answer(true); },
                 true);
        }
      },
      [self, node, done](caf::error& err) {
        rejoin_failed(self, node, err);
        done();
      });
}

/// A node fenced itself (it lost the majority, e.g. with the controller in
/// a minority) but nobody declared it failed: its copies still hold their
/// state. Every partition whose active it holds is promoted again, on the
/// same copy, with epoch + 1 (its standbys learn the epoch first); then the
/// node lifts its fence.
void reinstate_node(self_ptr self, const node_id& node,
                    std::function<void()> done) {
  auto& st = self->state;
  auto ni = st.nodes.find(node);
  if (ni == st.nodes.end() || !st.plan->node_alive(node)) {
    self->send(st.handles.fault_manager, node_up_atom::value, node, false);
    done();
    return;
  }
  std::vector<controller_state::promotion> again;
  for (auto& [key, part] : st.plan->partitions())
    if (part.active) {
      auto rec = st.plan->find(*part.active);
      if (rec && rec->alive && rec->node == node)
        again.push_back(controller_state::promotion{
          key, *part.active, part.epoch, part.standbys});
    }
  auto finish = [self, node, done, agent = ni->second.agent](size_t) {
    control_request(self, reach_agent(self, node, agent), reset_atom::value,
                    false)
      .then(
        [self, node, done](ok_atom) {
          emit(self, "node_reinstated", json{{"node", node}});
          self->send(self->state.handles.fault_manager, node_up_atom::value,
                     node, true);
          done();
        },
        [self, node, done](caf::error& err) {
          rejoin_failed(self, node, err);
          done();
        });
  };
  if (again.empty()) {
    finish(0);
    return;
  }
  std::vector<partition_key> keys;
  for (auto& p : again)
    keys.push_back(p.key);
  auto counter = std::make_shared<fan_out_counter>(
    again.size(), [self, keys, finish](size_t) {
      install_routes(self, keys, [finish] { finish(0); });
    });
  for (auto& p : again) {
    p.epoch = st.plan->bump_epoch(p.key);
    promote(self, p, "reinstated after self-fencing",
            std::make_shared<std::set<copy_id>>(),
            [counter] { counter->answer(true); });
  }
}

/// A fault on a copy of the running switchover abandons its current stage
/// now rather than after a timeout, so the recovery queued behind it runs.
void abandon_switchover_of(self_ptr self, const copy_id& copy,
                           const std::string& why) {
  auto run = self->state.switchover;
  if (run && !run->finished
      && (run->plan.from == copy || run->plan.to == copy))
    run->abandon(to_string(copy) + " failed: " + why);
}

} // namespace

system_controller_actor::behavior_type
system_controller_impl(system_controller_pointer self, context_ptr ctx) {
  self->state.plan = std::make_unique<controller_state>(ctx->config);
  self->state.control_node = ctx->control_node;
  self->state.ctx = std::move(ctx);
  transport::place(*self->state.ctx, self, self->state.ctx->control_node);
  return {
    [self](copy_failed& report) {
      abandon_switchover_of(self, report.copy, report.reason);
      emit(self, "fault_reported",
           json{{"copy", to_string(report.copy)},
                {"node", report.node},
                {"reason", report.reason}});
      enqueue(self, [self, report](std::function<void()> done) {
        recover_copy(self, report, std::move(done));
      });
    },
    [self](node_failed& report) { on_node_failed(self, report); },
    [self](majority_atom, bool has) {
      auto& st = self->state;
      if (st.has_majority == has)
        return;
      st.has_majority = has;
      emit(self, has ? "controller_resumed" : "controller_frozen",
           json{{"queued", st.work.size()}});
      run_next(self);
    },
    [self](run_queue_atom) { run_next(self); },
    [self](deadline_atom, uint64_t round) {
      // Only the controller's own timer may time its requests out.
      if (self->current_sender() != self->ctrl())
        return;
      self->state.deadlines.expire(self, round);
    },
    [self](self_fence_atom, node_id& node) {
      enqueue(self, [self, node](std::function<void()> done) {
        reinstate_node(self, node, std::move(done));
      });
    },
    [self](rejoin_atom, node_handles& h) {
      // Heartbeats first, not queued: the queue waits for a majority that
      // may need this node's heartbeats.
      if (self->state.nodes.count(h.node) > 0) {
        self->state.restarted[h.node] = h;
        send_peers(self);
      }
      enqueue(self, [self, h](std::function<void()> done) {
        auto& st = self->state;
        if (auto i = st.restarted.find(h.node);
            i != st.restarted.end() && i->second.agent == h.agent)
          st.restarted.erase(i);
        st.nodes[h.node] = h;
        for (auto& n : st.handles.nodes)
          if (n.node == h.node)
            n = h;
        emit(self, "node_restarted", json{{"node", h.node}});
        send_peers(self);
        rejoin_node(self, h.node, std::move(done));
      });
    },
    [self](rejoin_atom, node_id& node) {
      enqueue(self, [self, node](std::function<void()> done) {
        rejoin_node(self, node, std::move(done));
      });
    },
    [self](standby_atom, control_standby_actor& standby, node_id& node) {
      auto& st = self->state;
      // Only this node's gateway (which checked the cluster secret).
      auto sender = self->current_sender();
      if (!sender || sender->node() != self->node()
          || node == st.control_node || standby == st.handles.standby)
        return;
      st.handles.standby = standby;
      st.handles.standby_node = node;
      emit(self, "standby_registered", json{{"node", node}});
      send_peers(self);  // its node's agent reports to it
      replicate(self);
    },
    [self](takeover_atom, activation& act, assignment_table& table,
           node_id& here) -> caf::result<ok_atom> {
      auto& st = self->state;
      if (st.activated || !st.nodes.empty())
        return make_error(error_code::unavailable, "already active");
      auto promise = self->make_response_promise<ok_atom>();
      takeover(self, std::move(act), std::move(table), std::move(here),
               promise);
      return promise;
    },
    [self](activate_atom, activation& act) -> caf::result<ok_atom> {
      auto& st = self->state;
      if (st.activated || !st.nodes.empty())
        return make_error(error_code::unavailable, "already activated");
      st.handles = act;
      for (auto& n : act.nodes) {
        st.nodes[n.node] = n;
        control_request(self, act.fault_manager, watch_node_atom::value, n.node,
                        n.agent, n.router)
          .then([](ok_atom) {}, [](caf::error&) {});
      }
      auto promise = self->make_response_promise<ok_atom>();
      activate(self, promise);
      return promise;
    },
    [self](switchover_atom, app_name& app,
           partition_id partition) -> caf::result<epoch_t> {
      auto promise = self->make_response_promise<epoch_t>();
      enqueue(self, [self, key = partition_key{app, partition},
                     promise](std::function<void()> done) mutable {
        switchover(
          self, key,
          [promise](caf::expected<epoch_t> result) mutable {
            if (result)
              promise.deliver(*result);
            else
              promise.deliver(result.error());
          },
          std::move(done));
      });
      return promise;
    },
    [self](switchover_atom, copy_id& copy) -> caf::result<uint32_t> {
      auto& st = self->state;
      std::vector<partition_key> keys;
      for (auto& [key, part] : st.plan->partitions())
        if (part.active == copy)
          keys.push_back(key);
      if (keys.empty())
        return uint32_t{0};
      auto promise = self->make_response_promise<uint32_t>();
      auto moved = std::make_shared<uint32_t>(0);
      auto counter = std::make_shared<fan_out_counter>(
        keys.size(),
        [promise, moved](size_t) mutable { promise.deliver(*moved); });
      // One partition at a time, through the same queue as recoveries.
      for (auto& key : keys)
        enqueue(self, [self, key, moved,
                       counter](std::function<void()> done) {
          switchover(
            self, key,
            [moved, counter](caf::expected<epoch_t> result) {
              if (result)
                ++*moved;
              counter->answer(static_cast<bool>(result));
            },
            std::move(done));
        });
      return promise;
    },
    [self](retry_standby_atom, app_name& app, partition_id partition,
           copy_id& standby) {
      auto part = self->state.plan->find(partition_key{app, partition});
      if (!part || !part->active
          || std::find(part->standbys.begin(), part->standbys.end(), standby)
               == part->standbys.end())
        return;  // moved on
      add_standby(self, partition_key{app, partition}, standby, *part->active,
                  part->epoch);
    },
    [self](get_assignment_atom) { return table_of(self); },
  };
}

} // namespace keel
