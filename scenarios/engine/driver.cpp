#include "scenarios/engine/driver.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "actors/fan_out.hpp"
#include "apps/journal/journal.hpp"
#include "runtime/error.hpp"
#include "scenarios/engine/workload_client.hpp"

namespace keel::scenarios {

namespace {

using driver_ptr = caf::stateful_actor<driver_state>*;

constexpr auto settle_poll = std::chrono::milliseconds{10};

std::chrono::milliseconds control_timeout(driver_ptr self) {
  return std::chrono::milliseconds{
    self->state.handles.ctx->config.knobs.control_timeout_ms};
}

void record_fault(driver_ptr self, fault_record rec) {
  auto& st = self->state;
  rec.index = static_cast<uint32_t>(st.data->faults.size());
  json copies = json::array();
  json nodes = json::array();
  for (size_t i = 0; i < rec.copies.size(); ++i) {
    copies.push_back(to_string(rec.copies[i]));
    nodes.push_back(rec.nodes[i]);
  }
  st.handles.ctx->emit(self, "fault_injected",
                       json{{"fault", rec.index},
                            {"step", rec.step},
                            {"kind", rec.kind},
                            {"target", rec.target},
                            {"copies", copies},
                            {"nodes", nodes}});
  st.data->faults.push_back(std::move(rec));
}

void fail_step(driver_ptr self, fault_record rec, std::string why) {
  rec.index = static_cast<uint32_t>(self->state.data->faults.size());
  rec.error = why;
  self->state.data->errors.push_back("step " + std::to_string(rec.index)
                                     + " (" + rec.kind + "): " + why);
  self->state.data->faults.push_back(std::move(rec));
}

/// Steps that act on a node's process in --mode process.
bool process_step(const std::string& kind) {
  return kind == "crash_node" || kind == "hang_node" || kind == "resume_node"
         || kind == "restart_node";
}

bool network_step(const std::string& kind) {
  return kind == "partition" || kind == "heal" || kind == "delay_link"
         || kind == "drop_link" || kind == "hang_node"
         || kind == "resume_node" || kind == "overload";
}

std::string join_nodes(const std::vector<node_id>& nodes) {
  std::string result;
  for (auto& n : nodes)
    result += (result.empty() ? "" : ",") + n;
  return result;
}

/// Network and node faults: they act on the simulated network, not on
/// actors, and need no assignment (the controller may be cut off or
/// stopped). `undo` ends a fault that has a for_ms.
void run_network_step(driver_ptr self, uint32_t index, bool undo) {
  auto& st = self->state;
  auto& step = st.sc->steps[index];
  auto& ctx = *st.handles.ctx;
  fault_record rec;
  rec.step = index;
  rec.kind = undo ? "end_" + step.kind : step.kind;
  rec.at_us = ctx.now_us(self);
  rec.target = step.node.empty() ? join_nodes(step.nodes) : step.node.str();
  if (step.kind == "overload") {
    // A burst from one extra client, all at once: every event is answered
    // (acknowledged or refused with overloaded), none lost.
    auto w = st.sc->workload;
    w.duration_ms = 1;
    w.max_in_flight = step.events;
    auto log = std::make_shared<client_log>();
    log->client_id = "burst-" + std::to_string(index);
    st.data->clients.push_back(log);
    rec.target = std::to_string(step.events) + " events";
    record_fault(self, std::move(rec));
    auto client_index = static_cast<uint32_t>(w.clients + st.extra_clients);
    ++st.extra_clients;
    client_args args{client_index,
                     log->client_id,
                     st.handles.distributor,
                     w,
                     static_cast<double>(step.events) * 1000.0,
                     st.sc->seed ^ (0xb0b0ull + index),
                     st.handles.ctx,
                     log,
                     caf::actor_cast<caf::actor>(self)};
    st.clients.push_back(self->spawn(workload_client, std::move(args)));
    return;
  }
  if (st.node_faults && step.kind == "hang_node") {
    // Process mode: the end of a hang_node's for_ms (SIGCONT).
    auto fault_index = st.data->faults.size();
    record_fault(self, std::move(rec));
    if (auto why = st.node_faults("resume_node", step.node); !why.empty()) {
      st.data->faults[fault_index].error = why;
      st.data->errors.push_back("step " + std::to_string(fault_index)
                                + " (end_hang_node): " + why);
    }
    return;
  }
  if (!ctx.net) {
    fail_step(self, std::move(rec),
              st.node_faults ? "not available in --mode process (run with "
                               "--mode sim)"
                             : "needs the simulated network: run with --mode "
                               "sim");
    return;
  }
  auto& net = *ctx.net;
  if (step.kind == "partition") {
    if (undo)
      net.heal(index);  // this cut only
    else
      net.partition(index, step.nodes, st.sc->system.nodes);
  } else if (step.kind == "heal") {
    net.heal();
  } else if (step.kind == "delay_link") {
    auto d = undo ? 0 : int64_t{step.delay_ms} * 1000;
    auto j = undo ? 0 : int64_t{step.jitter_ms} * 1000;
    net.set_delay(step.nodes[0], step.nodes[1], d, j);
  } else if (step.kind == "drop_link") {
    net.set_loss(step.nodes[0], step.nodes[1], undo ? 0 : step.probability);
  } else if (step.kind == "hang_node") {
    if (undo)
      net.resume(step.node);
    else
      net.hang(step.node);
  } else if (step.kind == "resume_node") {
    net.resume(step.node);
  }
  record_fault(self, std::move(rec));
  if (!undo && step.for_ms > 0)
    self->delayed_send(self, std::chrono::milliseconds{step.for_ms},
                       undo_atom::value, index);
}

void run_step(driver_ptr self, uint32_t index, assignment_table& table) {
  auto& st = self->state;
  auto& step = st.sc->steps[index];
  fault_record rec;
  rec.step = index;
  rec.kind = step.kind;
  rec.at_us = st.handles.ctx->now_us(self);
  auto copy_handle = [&](const copy_id& id) -> const copy_info* {
    for (auto& c : table.copies)
      if (c.copy == id && c.alive)
        return &c;
    return nullptr;
  };
  bool copy_step = step.kind == "kill_copy" || step.kind == "hang_copy"
                   || step.kind == "slow_copy";
  if (copy_step) {
    std::optional<copy_id> target;
    for (auto& pa : table.partitions) {
      if (pa.app != step.app || pa.partition != step.partition)
        continue;
      if (step.which == "active_of" && !pa.active.app.empty())
        target = pa.active;
      else if (step.which == "standby_of" && !pa.standbys.empty())
        target = pa.standbys.front();
    }
    if (step.which == "copy")
      target = copy_id{step.app, step.copy};
    rec.target = step.which == "copy"
                   ? to_string(copy_id{step.app, step.copy})
                   : step.which + " " + step.app + "/"
                       + std::to_string(step.partition);
    auto info = target ? copy_handle(*target) : nullptr;
    if (!info) {
      fail_step(self, std::move(rec), "no live copy matches " + rec.target);
      return;
    }
    rec.copies.push_back(info->copy);
    rec.nodes.push_back(info->node);
    record_fault(self, std::move(rec));
    if (step.kind == "kill_copy")
      caf::anon_send_exit(info->handle, caf::exit_reason::kill);
    else if (step.kind == "hang_copy")
      caf::anon_send(info->handle, inject_atom::value,
                     fault_injection{fault_injection::hang, 0});
    else
      caf::anon_send(info->handle, inject_atom::value,
                     fault_injection{fault_injection::slow, step.delay_ms});
  } else if (step.kind == "switchover") {
    auto bound = control_timeout(self) * 10;
    // A switchover that fails (e.g. its standby fails meanwhile) is an
    // outcome, not a broken run: it is in the trace and the report, and
    // switchovers_completed judges it when a scenario asks.
    auto fault_index = st.data->faults.size();
    auto on_error = [self, fault_index](caf::error& err) {
      auto& faults = self->state.data->faults;
      if (fault_index < faults.size())
        faults[fault_index].error = render(err);
    };
    if (step.which == "partition") {
      rec.target = step.app + "/" + std::to_string(step.partition);
      record_fault(self, std::move(rec));
      self
        ->request(st.handles.controller, bound, switchover_atom::value,
                  step.app, step.partition)
        .then([](epoch_t) {}, on_error);
    } else {
      copy_id copy{step.app, step.copy};
      rec.target = to_string(copy);
      record_fault(self, std::move(rec));
      self->request(st.handles.controller, bound, switchover_atom::value, copy)
        .then([](uint32_t) {}, on_error);
    }
  } else if (step.kind == "flap_node") {
    rec.target = step.node;
    for (auto& c : table.copies)
      if (c.alive && c.node == step.node) {
        rec.copies.push_back(c.copy);
        rec.nodes.push_back(c.node);
      }
    auto handles = table.copies;
    auto node = step.node;
    record_fault(self, std::move(rec));
    for (auto& c : handles)
      if (c.alive && c.node == node)
        caf::anon_send_exit(c.handle, caf::exit_reason::kill);
    auto next = self->clock().now() + std::chrono::milliseconds{
                                        step.interval_ms};
    if (next <= st.started + std::chrono::milliseconds{step.until_ms})
      self->delayed_send(self, std::chrono::milliseconds{step.interval_ms},
                         step_atom::value, index);
  } else if (st.node_faults && process_step(step.kind)) {
    // Process mode: a real signal to the node's process.
    rec.target = step.node;
    if (step.kind == "crash_node" || step.kind == "hang_node")
      for (auto& c : table.copies)
        if (c.alive && c.node == step.node) {
          rec.copies.push_back(c.copy);
          rec.nodes.push_back(c.node);
        }
    // Traced before the signal: detection may be faster than this actor.
    auto fault_index = st.data->faults.size();
    record_fault(self, std::move(rec));
    if (auto why = st.node_faults(step.kind, step.node); !why.empty()) {
      st.data->faults[fault_index].error = why;
      st.data->errors.push_back("step " + std::to_string(fault_index) + " ("
                                + step.kind + "): " + why);
      return;
    }
    if (step.kind == "hang_node" && step.for_ms > 0)
      self->delayed_send(self, std::chrono::milliseconds{step.for_ms},
                         undo_atom::value, index);
  } else if (step.kind == "restart_node") {
    rec.target = step.node;
    fail_step(self, std::move(rec), "restart_node needs --mode process");
  } else if (step.kind == "crash_node"
             && step.node == st.sc->system.nodes.front()) {
    rec.target = step.node;
    fail_step(self, std::move(rec),
              "node " + step.node + " hosts the control plane; crashing it "
              "needs controller takeover, which only cluster mode has "
              "(--mode process)");
  } else if (step.kind == "crash_node") {
    rec.target = step.node;
    auto sup = st.handles.node_supervisors.find(step.node);
    if (sup == st.handles.node_supervisors.end()) {
      fail_step(self, std::move(rec), "node " + step.node + " is not running");
      return;
    }
    for (auto& c : table.copies)
      if (c.alive && c.node == step.node) {
        rec.copies.push_back(c.copy);
        rec.nodes.push_back(c.node);
      }
    record_fault(self, std::move(rec));
    caf::anon_send_exit(sup->second, caf::exit_reason::kill);
  }
}

/// Liveness: from the end of the last fault on, polls the assignment until
/// every partition has an active and its configured standbys.
void poll_liveness(driver_ptr self) {
  auto& st = self->state;
  if (st.data->restored_us >= 0 || st.data->finished)
    return;
  self
    ->request(st.handles.controller, control_timeout(self),
              get_assignment_atom::value)
    .then(
      [self](assignment_table& table) {
        auto& st = self->state;
        bool full = table.recoveries_pending == 0;
        for (auto& pa : table.partitions) {
          auto app = st.sc->system.find_app(pa.app);
          if (pa.active.app.empty()
              || (app && pa.standbys.size() < desired_standbys(*app)))
            full = false;
        }
        if (!full) {
          self->delayed_send(self, std::chrono::milliseconds{10},
                             live_atom::value);
          return;
        }
        // The controller's belief is not enough: ask every copy it names.
        auto statuses = std::make_shared<std::map<copy_id, copy_status>>();
        auto shared_table = std::make_shared<assignment_table>(
          std::move(table));
        auto judge = [self, statuses, shared_table](size_t failed) {
          auto& st = self->state;
          bool ok = failed == 0;
          auto role_of = [&](const copy_id& c, partition_id p,
                             partition_status* out) {
            auto i = statuses->find(c);
            if (i == statuses->end())
              return false;
            for (auto& ps : i->second.partitions)
              if (ps.partition == p) {
                *out = ps;
                return true;
              }
            return false;
          };
          for (auto& pa : shared_table->partitions) {
            partition_status ps;
            if (!role_of(pa.active, pa.partition, &ps)
                || ps.current_role != role::active || ps.epoch != pa.epoch)
              ok = false;
            for (auto& sb : pa.standbys)
              if (!role_of(sb, pa.partition, &ps)
                  || ps.current_role != role::standby)
                ok = false;
          }
          if (ok)
            st.data->restored_us = st.handles.ctx->now_us(self);
          else
            self->delayed_send(self, std::chrono::milliseconds{10},
                               live_atom::value);
        };
        std::vector<app_support_actor> targets;
        std::vector<copy_id> ids;
        for (auto& c : shared_table->copies)
          if (c.alive && c.handle) {
            targets.push_back(c.handle);
            ids.push_back(c.copy);
          }
        if (targets.empty()) {
          judge(0);
          return;
        }
        auto counter = std::make_shared<fan_out_counter>(targets.size(),
                                                         judge);
        for (size_t i = 0; i < targets.size(); ++i)
          self->request(targets[i], control_timeout(self), status_atom::value)
            .then(
              [statuses, counter, id = ids[i]](copy_status& s) {
                (*statuses)[id] = std::move(s);
                counter->answer(true);
              },
              [counter](caf::error&) { counter->answer(false); });
      },
      [self](caf::error&) {
        self->delayed_send(self, std::chrono::milliseconds{10},
                           live_atom::value);
      });
}

void collect(driver_ptr self);

void settle(driver_ptr self) {
  self
    ->request(self->state.handles.controller, control_timeout(self),
              get_assignment_atom::value)
    .then(
      [self](assignment_table& table) {
        auto& st = self->state;
        bool all_active = std::all_of(
          table.partitions.begin(), table.partitions.end(),
          [](auto& pa) { return !pa.active.app.empty(); });
        if (table.recoveries_pending == 0 && all_active) {
          // Forwarded events may still be in flight: wait until the
          // distributor holds nothing unacknowledged.
          auto t = std::make_shared<assignment_table>(std::move(table));
          self
            ->request(st.handles.distributor, control_timeout(self),
                      status_atom::value)
            .then(
              [self, t](distributor_status& ds) {
                auto& st = self->state;
                if (ds.pending == 0
                    || self->clock().now() >= st.settle_deadline) {
                  st.data->settled = ds.pending == 0;
                  st.data->final_assignment = std::move(*t);
                  collect(self);
                } else {
                  self->delayed_send(self, settle_poll, settle_atom::value);
                }
              },
              [self, t](caf::error&) {
                self->state.data->final_assignment = std::move(*t);
                collect(self);
              });
        } else if (self->clock().now() >= st.settle_deadline) {
          st.data->final_assignment = std::move(table);
          collect(self);
        } else {
          self->delayed_send(self, settle_poll, settle_atom::value);
        }
      },
      [self](caf::error& err) {
        self->state.data->errors.push_back("controller did not answer: "
                                           + render(err));
        self->state.data->finished = true;
        self->state.done.deliver(ok_atom::value);
      });
}

void collect(driver_ptr self) {
  auto& st = self->state;
  auto& table = st.data->final_assignment;
  auto& workload_app = st.sc->workload.app;
  // Final state of every journal-type app (the workload's and the targets
  // of forwarded events) from each partition's active, and the status of
  // every live copy.
  auto pending = std::make_shared<size_t>(0);
  auto finish = [self, pending] {
    if (--*pending == 0) {
      self->state.data->finished = true;
      self->state.done.deliver(ok_atom::value);
    }
  };
  auto unread = [self, workload_app](const app_name& app, std::string why) {
    auto& data = *self->state.data;
    if (app == workload_app)
      data.journal_read = false;
    else
      data.other_journals_unread.insert(app);
    data.errors.push_back(app + ": " + why);
  };
  std::vector<const partition_assignment*> reads;
  for (auto& pa : table.partitions) {
    auto cfg = st.handles.ctx->config.find_app(pa.app);
    if (cfg && cfg->type == "journal")
      reads.push_back(&pa);
  }
  if (auto cfg = st.handles.ctx->config.find_app(workload_app);
      cfg && cfg->type == "journal")
    st.data->journal_read = true;
  std::vector<const copy_info*> live;
  for (auto& c : table.copies)
    if (c.alive)
      live.push_back(&c);
  *pending = reads.size() + live.size() + 1;
  for (auto* pa : reads) {
    auto partition = pa->partition;
    auto app = pa->app;
    if (!pa->active_handle) {
      unread(app, "partition " + std::to_string(partition)
                    + " has no active; its journal is unread");
      finish();
      continue;
    }
    self
      ->request(pa->active_handle, control_timeout(self), get_state_atom::value,
                partition)
      .then(
        [self, finish, partition, app, unread,
         workload_app](partition_state& ps) {
          run_data::journal_state entries;
          if (!apps::read_journal_snapshot(ps.app_state.value, entries))
            unread(app, "partition " + std::to_string(partition)
                          + ": malformed journal snapshot");
          auto& target = app == workload_app
                           ? self->state.data->journal
                           : self->state.data->other_journals[app];
          for (auto& [key, list] : entries)
            target[key] = std::move(list);
          finish();
        },
        [finish, partition, app, unread](caf::error& err) {
          unread(app, "partition " + std::to_string(partition)
                        + ": cannot read state: " + render(err));
          finish();
        });
  }
  for (auto* c : live)
    self->request(c->handle, control_timeout(self), status_atom::value)
      .then(
        [self, finish](copy_status& status) {
          self->state.data->statuses.push_back(std::move(status));
          finish();
        },
        [finish](caf::error&) { finish(); });
  finish();
}

} // namespace

caf::behavior scenario_driver(caf::stateful_actor<driver_state>* self,
                              std::shared_ptr<const scenario> sc,
                              system_handles handles,
                              std::shared_ptr<run_data> data,
                              node_fault_fn node_faults) {
  auto& st = self->state;
  st.node_faults = std::move(node_faults);
  st.sc = std::move(sc);
  st.handles = std::move(handles);
  st.data = std::move(data);
  return {
    [self](run_atom) {
      auto& st = self->state;
      st.done = self->make_response_promise();
      st.started = self->clock().now();
      auto& w = st.sc->workload;
      random_source seeds{st.sc->seed};
      for (uint32_t i = 0; i < w.clients; ++i) {
        auto log = std::make_shared<client_log>();
        log->client_id = "client-" + std::to_string(i);
        st.data->clients.push_back(log);
        client_args args{i,
                         log->client_id,
                         st.handles.distributor,
                         w,
                         w.rate_per_s / w.clients,
                         seeds.next(),
                         st.handles.ctx,
                         log,
                         caf::actor_cast<caf::actor>(self)};
        st.clients.push_back(self->spawn(workload_client, std::move(args)));
      }
      uint32_t faults_end_ms = 0;
      for (uint32_t i = 0; i < st.sc->steps.size(); ++i) {
        auto& step = st.sc->steps[i];
        self->delayed_send(self, std::chrono::milliseconds{step.at_ms},
                           step_atom::value, i);
        faults_end_ms = std::max({faults_end_ms, step.at_ms + step.for_ms,
                                  step.until_ms});
      }
      st.data->faults_end_us = int64_t{faults_end_ms} * 1000;
      self->delayed_send(self, std::chrono::milliseconds{faults_end_ms},
                         live_atom::value);
      return st.done;
    },
    [self](step_atom, uint32_t index) {
      auto& st = self->state;
      auto& kind = st.sc->steps[index].kind;
      if (network_step(kind) && !(st.node_faults && process_step(kind))) {
        run_network_step(self, index, false);
        return;
      }
      if (st.run_together.erase(index) > 0)
        return;  // ran with an earlier step of the same time
      // Process mode: every signal step of this time runs on one answer.
      std::vector<uint32_t> batch{index};
      if (st.node_faults && process_step(kind))
        for (uint32_t j = 0; j < st.sc->steps.size(); ++j)
          if (j != index && st.sc->steps[j].at_ms == st.sc->steps[index].at_ms
              && process_step(st.sc->steps[j].kind)
              && st.run_together.insert(j).second)
            batch.push_back(j);
      self
        ->request(st.handles.controller, control_timeout(self),
                  get_assignment_atom::value)
        .then([self, index, batch](assignment_table& table) {
                for (auto i : batch)
                  run_step(self, i, table);
              },
              [self, index, batch](caf::error& err) {
                auto& st = self->state;
                if (st.node_faults
                    && process_step(st.sc->steps[index].kind)) {
                  // A process fault needs no controller (it may be the one
                  // that is gone); only the copies it hits stay unlisted.
                  assignment_table none;
                  for (auto i : batch)
                    run_step(self, i, none);
                  return;
                }
                fault_record rec;
                rec.step = index;
                rec.kind = st.sc->steps[index].kind;
                fail_step(self, std::move(rec),
                          "controller did not answer: " + render(err));
              });
    },
    [self](undo_atom, uint32_t index) {
      run_network_step(self, index, true);
    },
    [self](done_atom, uint32_t) {
      auto& st = self->state;
      if (++st.clients_done < st.sc->workload.clients + st.extra_clients)
        return;
      st.data->load_end_us = st.handles.ctx->now_us(self);
      st.settle_deadline = self->clock().now()
                           + std::chrono::milliseconds{
                             st.sc->settle_timeout_ms};
      settle(self);
    },
    [self](settle_atom) { settle(self); },
    [self](switch_atom, system_controller_actor& controller,
           load_distributor_actor& distributor) {
      // Cluster mode: the control plane moved (controller takeover); the
      // clients go on with the new distributor.
      auto& st = self->state;
      st.handles.controller = controller;
      st.handles.distributor = distributor;
      st.handles.ctx->emit(self, "clients_switched",
                           json{{"clients", st.clients.size()}});
      for (auto& c : st.clients)
        self->send(c, switch_atom::value,
                   caf::actor_cast<event_sink_actor>(distributor));
    },
    [self](live_atom) { poll_liveness(self); },
  };
}

caf::error await_driver(caf::actor_system& sys, const caf::actor& driver,
                        const scenario& sc) {
  auto bound = std::chrono::milliseconds{
    uint64_t{sc.workload.duration_ms} + sc.workload.request_timeout_ms
    + sc.settle_timeout_ms + 60'000};
  caf::error failure;
  caf::scoped_actor self{sys};
  self->request(driver, bound, run_atom::value)
    .receive([](ok_atom) {},
             [&](caf::error& err) { failure = std::move(err); });
  return failure;
}

} // namespace keel::scenarios
