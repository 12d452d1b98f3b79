#include "scenarios/engine/process_runner.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <condition_variable>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/bootstrap.hpp"
#include "actors/cluster/cluster_node.hpp"
#include "runtime/auth.hpp"
#include "runtime/error.hpp"
#include "scenarios/engine/driver.hpp"
#include "scenarios/engine/node_processes.hpp"

extern char** environ;

namespace keel::scenarios {

namespace {

using steady = std::chrono::steady_clock;

/// The runner's controller watcher -> its switcher thread.
class control_moved {
public:
  void signal() {
    std::lock_guard<std::mutex> guard{mtx_};
    moved_ = true;
    cv_.notify_all();
  }
  void stop() {
    std::lock_guard<std::mutex> guard{mtx_};
    stop_ = true;
    cv_.notify_all();
  }
  bool stopping() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return stop_;
  }
  /// Blocks until the controller went down (true) or the run ended.
  bool wait() {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait(guard, [this] { return moved_ || stop_; });
    return moved_ && !stop_;
  }

private:
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  bool moved_ = false;
  bool stop_ = false;
};

/// The last `n` lines of a file, for error messages.
std::string tail_of(const std::string& path, size_t n = 8) {
  std::ifstream in{path};
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > n)
      lines.pop_front();
  }
  std::string result;
  for (auto& l : lines)
    result += "    " + l + "\n";
  return result;
}

/// Reads a node's trace file up to `end_us`; returns the lines it could not
/// read (a line cut by kill -9).
size_t read_trace(const std::string& path, int64_t end_us,
                  std::vector<trace_event>& out) {
  size_t unreadable = 0;
  std::ifstream in{path};
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("event")) {
      ++unreadable;
      continue;
    }
    trace_event ev;
    ev.t_us = j.value("t_us", int64_t{0});
    if (ev.t_us > end_us)
      continue;
    ev.name = j.value("event", std::string{});
    j.erase("t_us");
    j.erase("event");
    ev.fields = std::move(j);
    out.push_back(std::move(ev));
  }
  return unreadable;
}

} // namespace

caf::expected<run_result> run_process(const scenario& sc,
                                      const app_registry& registry,
                                      const std::string& keel_binary,
                                      std::ostream* trace_out,
                                      std::ostream& log) {
  if (auto err = check_app_types(sc.system, registry))
    return make_error(error_code::invalid_config,
                      sc.origin + ": " + context_of(err));
  if (sc.system.test_skip_epoch_bump)
    return make_error(error_code::invalid_config,
                      "--test-break is not available in --mode process");
  auto wall_start = steady::now();
  char dir_template[] = "/tmp/keel-scenario-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr)
    return make_error(error_code::unavailable,
                      std::string{"mkdtemp: "} + std::strerror(errno));
  std::string dir = dir_template;
  auto ports = free_ports(sc.system.nodes.size());
  if (!ports)
    return ports.error();
  cluster_config ccfg;
  ccfg.system = sc.system;
  ccfg.secret = auth::make_nonce() + auth::make_nonce();
  ccfg.secret_origin = std::string{"environment variable "} + secret_variable;
  ccfg.startup_timeout_ms = 20000;
  // As parse_cluster_config defaults it for the nodes (the file below has
  // no control_standby).
  if (sc.system.nodes.size() >= 3)
    ccfg.control_standby = sc.system.nodes[1];
  json endpoints = json::object();
  for (size_t i = 0; i < sc.system.nodes.size(); ++i) {
    auto& n = sc.system.nodes[i];
    ccfg.endpoints[n] = endpoint{"127.0.0.1", (*ports)[i]};
    endpoints[n] = to_string(ccfg.endpoints[n]);
  }
  auto doc = to_json(sc.system);
  doc["cluster"] = json{{"endpoints", endpoints},
                        {"secret_env", secret_variable},
                        {"startup_timeout_ms", ccfg.startup_timeout_ms}};
  auto origin = steady::now();
  auto origin_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     origin.time_since_epoch())
                     .count();
  auto procs = std::make_shared<node_processes>(keel_binary, dir, ccfg.secret,
                                                origin_ns);
  {
    std::ofstream out{procs->cluster_path()};
    out << doc.dump(2) << "\n";
    if (!out)
      return make_error(error_code::unavailable,
                        procs->cluster_path() + ": cannot write");
  }
  for (auto& n : sc.system.nodes)
    if (auto why = procs->start(n); !why.empty())
      return make_error(error_code::unavailable, "starting node " + n + ": "
                                                   + why);
  run_result result;
  std::vector<trace_event> trace;
  size_t dropped = 0;
  int64_t end_us = 0;
  {
    caf::actor_system_config cfg;
    cluster::configure(cfg, ccfg);
    caf::actor_system sys{cfg};
    auto ctx = make_context(sys, sc.system, nullptr, nullptr,
                            caf::actor_clock::time_point{origin});
    auto ready = cluster::join_ready(
      sys, ccfg, "scenario-runner",
      steady::now() + std::chrono::milliseconds{ccfg.startup_timeout_ms + 5000});
    if (!ready) {
      std::string logs;
      for (auto& n : sc.system.nodes)
        logs += "  " + procs->log_path(n) + ":\n" + tail_of(procs->log_path(n));
      procs->reap_all(log);
      return make_error(error_code::unavailable,
                        "the cluster did not start: "
                          + context_of(ready.error()) + "\n" + logs
                          + "  (kept " + dir + ")");
    }
    // A direct connection to every node: handles to a node's actors must not
    // depend on the route through the control node (lost with it).
    for (auto& n : sc.system.nodes) {
      if (n == sc.system.nodes.front())
        continue;
      auto direct = cluster::join(sys, ccfg, n, "scenario-runner",
                                  steady::now() + std::chrono::seconds{10});
      if (!direct) {
        procs->reap_all(log);
        return make_error(error_code::unavailable,
                          "cannot connect to node " + n + ": "
                            + context_of(direct.error()) + " (kept " + dir
                            + ")");
      }
    }
    system_handles handles;
    handles.ctx = ctx;
    handles.controller = ready->controller;
    handles.distributor = ready->distributor;
    handles.fault_manager = ready->fault_manager;
    for (auto& h : ready->nodes)
      handles.nodes.emplace(h.node, h);
    auto data = std::make_shared<run_data>();
    auto sc_ptr = std::make_shared<const scenario>(sc);
    node_fault_fn hook = [procs](const std::string& kind,
                                 const node_id& node) -> std::string {
      if (kind == "crash_node")
        return procs->signal(node, SIGKILL);
      if (kind == "hang_node")
        return procs->signal(node, SIGSTOP);
      if (kind == "resume_node")
        return procs->signal(node, SIGCONT);
      if (kind == "restart_node")
        return procs->start(node);
      return "not a process fault: " + kind;
    };
    auto driver = sys.spawn(scenario_driver, sc_ptr, handles, data, hook);
    // Controller takeover: when the control plane's controller goes down,
    // find the standby control node's (once it took over) and switch the
    // driver and its clients to it. Blocking joins run in their own thread.
    auto moved = std::make_shared<control_moved>();
    std::thread switcher;
    caf::actor watcher;
    if (!ccfg.control_standby.empty()) {
      // (An argument: CAF 0.17 dereferences a null argument tuple when a
      // function actor is spawned without one; UBSan stops on it.)
      watcher = sys.spawn(
        [moved](caf::event_based_actor* self,
                system_controller_actor controller) {
          self->monitor(controller);
          self->set_down_handler([moved](caf::down_msg&) { moved->signal(); });
          return caf::behavior{[](ok_atom) {}};
        },
        handles.controller);
      switcher = std::thread{[&sys, &ccfg, moved, driver] {
        if (!moved->wait())
          return;
        auto ready = cluster::join_ready(
          sys, ccfg, "scenario-runner",
          steady::now() + std::chrono::seconds{30}, ccfg.control_standby,
          [moved] { return moved->stopping(); });
        if (ready)
          caf::anon_send(driver, switch_atom::value, ready->controller,
                         ready->distributor);
      }};
    }
    auto failure = await_driver(sys, caf::actor_cast<caf::actor>(driver), sc);
    moved->stop();
    if (switcher.joinable())
      switcher.join();
    if (watcher)
      caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
    trace = ctx->trace->snapshot();
    dropped = ctx->trace->dropped();
    // The run ends here: what stopping the nodes emits is not part of it.
    end_us = std::chrono::duration_cast<std::chrono::microseconds>(
               steady::now() - origin)
               .count();
    caf::anon_send_exit(driver, caf::exit_reason::user_shutdown);
    if (failure)
      data->errors.push_back("driver: " + render(failure));
    for (auto& why : procs->unexpected_exits())
      data->errors.push_back(why);
    for (auto& why : procs->reap_all(log))
      data->errors.push_back(why);
    result.data = std::move(*data);
  }
  // A line cut by kill -9 counts as dropped (the report says how many).
  for (auto& n : sc.system.nodes)
    dropped += read_trace(procs->trace_path(n), end_us, trace);
  std::stable_sort(trace.begin(), trace.end(),
                   [](const trace_event& a, const trace_event& b) {
                     return a.t_us < b.t_us;
                   });
  if (trace_out)
    for (auto& ev : trace)
      *trace_out << ev.to_json().dump() << "\n";
  result.rep = check_run(sc, result.data, trace, dropped);
  result.rep.mode = "process";
  result.rep.wall_ms = std::chrono::duration<double, std::milli>(
                         steady::now() - wall_start)
                         .count();
  if (result.rep.passed) {
    for (auto& n : sc.system.nodes) {
      ::unlink(procs->log_path(n).c_str());
      ::unlink(procs->trace_path(n).c_str());
    }
    ::unlink(procs->cluster_path().c_str());
    ::rmdir(dir.c_str());
  } else {
    log << "keel: the nodes' logs and traces are kept in " << dir << "\n";
  }
  return result;
}

} // namespace keel::scenarios
