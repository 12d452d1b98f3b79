#include "actors/cluster/cluster_node.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <fstream>
#include <thread>

#include <signal.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/bootstrap.hpp"
#include "actors/cluster/control_standby.hpp"
#include "actors/cluster/gateway.hpp"
#include "runtime/auth.hpp"
#include "runtime/error.hpp"
#include "runtime/type_registry.hpp"

namespace keel::cluster {

namespace {

using steady = std::chrono::steady_clock;

std::chrono::milliseconds remaining(steady::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - steady::now());
  return std::max(left, std::chrono::milliseconds{1});
}

/// One attempt: connect, challenge, join, check the gateway's proof.
caf::expected<join_reply> join_once(caf::actor_system& sys,
                                    const cluster_config& config,
                                    const node_id& expect,
                                    const std::string& from,
                                    steady::time_point deadline,
                                    const node_handles& mine,
                                    const control_standby_actor& standby) {
  auto& ep = config.endpoints.at(expect);
  auto gw = sys.middleman().remote_actor<gateway_actor>(ep.host, ep.port);
  if (!gw)
    return gw.error();
  caf::scoped_actor self{sys};
  caf::error failure;
  std::string nonce;
  self->request(*gw, remaining(deadline), challenge_atom::value)
    .receive([&](std::string& x) { nonce = std::move(x); },
             [&](caf::error& err) { failure = std::move(err); });
  if (failure)
    return failure;
  join_request req;
  req.protocol = wire_protocol;
  req.from = from;
  req.nonce = nonce;
  req.proof = auth::prove(config.secret, "keel-join", nonce, from);
  req.client_nonce = auth::make_nonce();
  req.handles = mine;
  req.standby = standby;
  join_reply reply;
  self->request(*gw, remaining(deadline), join_atom::value, req)
    .receive([&](join_reply& x) { reply = std::move(x); },
             [&](caf::error& err) { failure = std::move(err); });
  if (failure)
    return failure;
  auto expected = auth::prove(config.secret, "keel-gateway", req.client_nonce,
                              expect);
  if (reply.node != expect || !auth::same_proof(expected, reply.proof))
    return make_error(error_code::unauthorized,
                      "the process at " + to_string(ep) + " (says it is \""
                        + reply.node + "\") did not prove the cluster secret "
                        "of node " + expect);
  if (reply.protocol != wire_protocol)
    return make_error(error_code::incompatible,
                      "node " + expect + " at " + to_string(ep)
                        + " runs keel wire protocol "
                        + std::to_string(reply.protocol) + ", this program "
                        + std::to_string(wire_protocol)
                        + " (every node and admin client of a cluster must "
                          "run the same keel build)");
  return reply;
}

/// Takes SIGTERM and SIGINT for the whole process (blocked in every thread,
/// taken by sigwait in its own thread), so that a stop request is seen at
/// any time, also while the node is still joining its peers.
class signal_waiter {
public:
  signal_waiter() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread{[this] {
      int sig = 0;
      sigwait(&set_, &sig);
      std::lock_guard<std::mutex> guard{mtx_};
      signal_ = sig;
      cv_.notify_all();
    }};
  }

  ~signal_waiter() {
    if (!stopped())
      pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }

  bool stopped() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return signal_ != 0;
  }

  /// Blocks until a stop signal arrives; returns it.
  int wait() {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait(guard, [this] { return signal_ != 0; });
    return signal_;
  }

private:
  sigset_t set_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  int signal_ = 0;
  std::thread thread_;
};

} // namespace

std::chrono::milliseconds connection_timeout(const cluster_config& config) {
  auto& k = config.system.knobs;
  auto window = std::chrono::milliseconds{uint64_t{k.heartbeat_interval_ms}
                                          * (k.heartbeat_misses + 1)};
  return std::max(std::chrono::milliseconds{5000}, window * 10);
}

void configure(caf::actor_system_config& cfg, const cluster_config& config) {
  cfg.load<caf::io::middleman>();
  configure_actor_system(cfg, config.system);
  cfg.set("middleman.heartbeat-interval",
          caf::timespan{std::chrono::milliseconds{
            config.system.knobs.heartbeat_interval_ms}});
  cfg.set("middleman.connection-timeout",
          caf::timespan{connection_timeout(config)});
}

caf::expected<join_reply> join(caf::actor_system& sys,
                               const cluster_config& config,
                               const node_id& expect, const std::string& from,
                               steady::time_point deadline,
                               const std::function<bool()>& cancelled,
                               const node_handles& mine,
                               const control_standby_actor& standby) {
  if (config.endpoints.count(expect) == 0)
    return make_error(error_code::invalid_config,
                      "no endpoint for node \"" + expect + "\"");
  caf::error last;
  auto stop = [&] { return cancelled && cancelled(); };
  do {
    auto reply = join_once(sys, config, expect, from, deadline, mine,
                           standby);
    if (reply)
      return reply;
    last = reply.error();
    // Another build does not become compatible by waiting.
    if (code_of(last) == error_code::incompatible)
      return last;
    // A refusal is not retried quickly: the other side logs each one.
    auto pause = code_of(last) == error_code::unauthorized
                   ? std::chrono::milliseconds{500}
                   : std::chrono::milliseconds{100};
    if (steady::now() + pause >= deadline)
      break;
    for (auto until = steady::now() + pause;
         steady::now() < until && !stop();)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  } while (steady::now() < deadline && !stop());
  if (stop())
    return make_error(error_code::unavailable, "stopped while joining node "
                                                 + expect);
  return make_error(code_of(last) == error_code::unauthorized
                      ? error_code::unauthorized
                      : error_code::unavailable,
                    "node " + expect + " at "
                      + to_string(config.endpoints.at(expect))
                      + " not joined in time: " + render(last));
}

caf::expected<join_reply>
join_ready(caf::actor_system& sys, const cluster_config& config,
           const std::string& from, steady::time_point deadline,
           const node_id& at, const std::function<bool()>& cancelled) {
  // Without `at`: the control node, or the standby control node after a
  // takeover, whichever answers ready first.
  std::vector<node_id> candidates;
  if (!at.empty())
    candidates.push_back(at);
  else {
    candidates.push_back(config.system.nodes.front());
    if (!config.control_standby.empty())
      candidates.push_back(config.control_standby);
  }
  auto control = candidates.front();
  for (size_t round = 0;; ++round) {
    control = candidates[round % candidates.size()];
    auto attempt_end = candidates.size() == 1
                         ? deadline
                         : std::min(deadline, steady::now()
                                                + std::chrono::milliseconds{500});
    auto reply = join(sys, config, control, from, attempt_end, cancelled);
    if (reply && reply->ready)
      return reply;
    if (!reply
        && (candidates.size() == 1 || steady::now() >= deadline
            || code_of(reply.error()) == error_code::incompatible))
      return reply;
    if (cancelled && cancelled())
      return make_error(error_code::unavailable, "cancelled");
    if (steady::now() + std::chrono::milliseconds{50} >= deadline)
      return make_error(error_code::unavailable,
                        "control node " + control
                          + " did not activate the system in time");
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
}

node::~node() {
  stop();
}

void node::stop() {
  for (auto i = actors_.rbegin(); i != actors_.rend(); ++i)
    caf::anon_send_exit(*i, caf::exit_reason::user_shutdown);
  actors_.clear();
}

std::vector<caf::actor> node::supervisors() const {
  // actors_[0] is the gateway.
  return std::vector<caf::actor>(actors_.begin() + (actors_.empty() ? 0 : 1),
                                 actors_.end());
}

join_reply node::handles() const {
  return cell_->get();
}

caf::expected<std::unique_ptr<node>>
node::start(caf::actor_system& sys, const cluster_config& config,
            const node_id& name, const app_registry& registry,
            const start_options& opts) {
  if (config.endpoints.count(name) == 0) {
    std::string known;
    for (auto& n : config.system.nodes)
      known += (known.empty() ? "" : ", ") + n;
    return make_error(error_code::invalid_config,
                      "\"" + name + "\" is not a node of the cluster (nodes: "
                        + known + ")");
  }
  if (auto e = check_app_types(config.system, registry))
    return e;
  std::unique_ptr<node> self{new node};
  self->name_ = name;
  self->cell_ = std::make_shared<gateway_cell>();
  auto ctx = make_context(sys, config.system, opts.trace_out, nullptr,
                          opts.origin, true);
  auto timeout = std::chrono::milliseconds{
    config.system.knobs.control_timeout_ms * 5};
  auto deadline = steady::now()
                  + std::chrono::milliseconds{config.startup_timeout_ms};
  // 1. This node's actors and its gateway.
  auto spawned = spawn_node(sys, ctx, registry, name, timeout);
  if (!spawned)
    return make_error(error_code::unavailable,
                      "cannot start: " + render(spawned.error()));
  join_reply mine;
  mine.node = name;
  mine.handles = spawned->handles;
  std::vector<caf::actor> standby_actors;
  if (name == config.control_standby) {
    // A dormant second control plane and its watcher, which takes over
    // when the control node's process is lost.
    auto dormant = spawn_control_plane(sys, ctx, spawned->handles.router,
                                       timeout, {}, name);
    if (!dormant)
      return make_error(error_code::unavailable,
                        "cannot start the standby control plane: "
                          + render(dormant.error()));
    mine.standby = sys.spawn(control_standby_impl, ctx, name, *dormant,
                             self->cell_);
    standby_actors.push_back(caf::actor_cast<caf::actor>(mine.standby));
    standby_actors.push_back(caf::actor_cast<caf::actor>(dormant->control));
  }
  self->cell_->set(mine);
  auto gateway = sys.spawn(gateway_impl, ctx, name, config.secret,
                           std::shared_ptr<const gateway_cell>{self->cell_});
  self->actors_.push_back(caf::actor_cast<caf::actor>(gateway));
  self->actors_.push_back(caf::actor_cast<caf::actor>(spawned->supervisor));
  for (auto& a : standby_actors)
    self->actors_.push_back(a);
  auto& ep = config.endpoints.at(name);
  auto port = sys.middleman().publish(gateway, ep.port, ep.host.c_str(),
                                      true);
  if (!port)
    return make_error(error_code::unavailable,
                      "cannot listen on " + to_string(ep) + ": "
                        + render(port.error()));
  if (opts.log)
    *opts.log << "keel node " << name << ": listening on " << to_string(ep)
              << std::endl;
  // 2. A direct, authenticated connection to every other node.
  std::map<node_id, node_handles> nodes;
  nodes.emplace(name, spawned->handles);
  auto& control_node = config.system.nodes.front();
  control_standby_actor standby;
  node_id running_elsewhere;
  bool activated_elsewhere = false;
  // Rounds over the peers not joined yet (about a second each). A new
  // cluster needs every node; a node (re)joining a system that runs already
  // goes on without peers that stay unreachable (they are down: the
  // controller knows).
  std::vector<node_id> pending;
  for (auto& other : config.system.nodes)
    if (other != name)
      pending.push_back(other);
  std::map<node_id, caf::error> last_error;
  auto give_up_on_peers = std::min(deadline,
                                   steady::now() + std::chrono::seconds{5});
  while (!pending.empty()) {
    auto round_end = std::min(deadline,
                              steady::now() + std::chrono::seconds{1});
    std::vector<node_id> still;
    for (auto& other : pending) {
      // The node's own handles: whichever node runs the control plane now
      // (the control node, or the standby after a takeover) lets a
      // restarted node rejoin through them.
      auto reply = join(sys, config, other, name, round_end, opts.cancelled,
                        spawned->handles, mine.standby);
      if (!reply && opts.cancelled && opts.cancelled())
        return make_error(error_code::unavailable,
                          "stopped while joining its peers");
      // A peer of another keel build stays one: no cluster with it.
      if (!reply && code_of(reply.error()) == error_code::incompatible)
        return reply.error();
      if (!reply) {
        last_error[other] = reply.error();
        still.push_back(other);
        continue;
      }
      nodes.emplace(other, reply->handles);
      if (other == config.control_standby)
        standby = reply->standby;
      if (reply->ready)
        running_elsewhere = other;
      if (reply->member)
        activated_elsewhere = true;
    }
    pending = std::move(still);
    if (pending.empty())
      break;
    // A peer of a running system may only be slow: it gets a few rounds
    // before this node goes on without it.
    if (activated_elsewhere && steady::now() >= give_up_on_peers) {
      if (opts.log)
        for (auto& other : pending)
          *opts.log << "keel node " << name << ": " << other
                    << " unreachable; joining the running system without it ("
                    << context_of(last_error[other]) << ")" << std::endl;
      break;
    }
    if (steady::now() >= deadline)
      return make_error(error_code::unavailable,
                        "cluster did not form within "
                          + std::to_string(config.startup_timeout_ms)
                          + " ms: " + context_of(last_error[pending.front()]));
  }
  // 3. The control node starts the control plane and activates, unless the
  // system already runs (this is a restarted control node whose control
  // plane was taken over: it rejoins as a plain node).
  if (name == control_node && !activated_elsewhere) {
    auto control = spawn_control_plane(sys, ctx, spawned->handles.router,
                                       timeout);
    if (!control)
      return make_error(error_code::unavailable,
                        "cannot start the control plane: "
                          + render(control.error()));
    self->actors_.push_back(caf::actor_cast<caf::actor>(control->control));
    if (auto e = activate_system(sys, ctx, nodes, *control, timeout, {},
                                 standby, config.control_standby))
      return make_error(error_code::unavailable,
                        "activation failed: " + render(e));
    auto ready = mine;
    ready.ready = true;
    ready.controller = control->controller;
    ready.distributor = control->distributor;
    ready.fault_manager = control->fault_manager;
    for (auto& [n, h] : nodes)
      ready.nodes.push_back(h);
    self->cell_->set(std::move(ready));
    if (opts.log)
      *opts.log << "keel node " << name << ": cluster ready (" << nodes.size()
                << " nodes; control plane here)" << std::endl;
  } else if (opts.log) {
    *opts.log << "keel node " << name << ": joined " << (nodes.size() - 1)
              << " peers"
              << (!running_elsewhere.empty()
                    ? " (control plane on " + running_elsewhere + ")"
                  : name == control_node
                    ? std::string{" (the system runs already: not activating "
                                  "a second one; no control plane answers "
                                  "yet)"}
                    : std::string{})
              << std::endl;
  }
  return self;
}

int run_node(const cluster_config& config, std::string_view name_text,
             const app_registry& registry, const node_options& opts,
             std::ostream& out, std::ostream& err) {
  // The command line's text: looked up, never interned (the configuration
  // interned every node's name).
  auto found = symbol::find(name_text);
  if (!found || config.endpoints.count(*found) == 0) {
    err << "keel: --name " << name_text
        << ": not a node of the cluster (nodes: ";
    for (auto& n : config.system.nodes)
      err << n << (n == config.system.nodes.back() ? ")\n" : ", ");
    return 2;
  }
  const node_id& name = *found;
  auto prefix = "keel node " + name + ": ";
  if (auto e = check_app_types(config.system, registry)) {
    err << "keel: " << context_of(e) << "\n";
    return 2;
  }
  // Before any other thread starts: they all inherit the blocked signals.
  signal_waiter signals;
  std::ofstream trace_file;
  if (!opts.trace_path.empty()) {
    trace_file.open(opts.trace_path, std::ios::app);
    if (!trace_file) {
      err << "keel: " << opts.trace_path << ": cannot open for writing\n";
      return 2;
    }
    trace_file << std::unitbuf;
  }
  std::atomic<int> exit_code{0};
  // A watchdog ends the process if its actors take longer than 5 s to stop
  // once told (CAF 0.17 can keep the detached agent referenced after a
  // refused remote join; a node that was told to stop must stop).
  auto watchdog = [prefix](int code) {
    std::thread{[code, prefix] {
      std::this_thread::sleep_for(std::chrono::seconds{5});
      std::cerr << prefix << "actors did not stop within 5 s; exiting"
                << std::endl;
      std::_Exit(code);
    }}.detach();
  };
  {
    caf::actor_system_config cfg;
    configure(cfg, config);
    caf::actor_system sys{cfg};
    node::start_options so;
    so.trace_out = trace_file.is_open() ? &trace_file : nullptr;
    if (opts.origin_ns)
      so.origin = caf::actor_clock::time_point{
        std::chrono::nanoseconds{*opts.origin_ns}};
    so.cancelled = [&signals] { return signals.stopped(); };
    so.log = &out;
    auto started = node::start(sys, config, name, registry, so);
    if (!started) {
      watchdog(signals.stopped() ? 0 : 1);
      if (signals.stopped()) {
        out << prefix << "stopped while joining its peers" << std::endl;
        return 0;
      }
      err << prefix << context_of(started.error()) << "\n";
      return 1;
    }
    auto& running = **started;
    // Run until a stop signal, or until this node's tree goes down.
    // (The int: CAF 0.17 dereferences a null argument tuple when a function
    // actor is spawned without arguments; UBSan stops on it.)
    auto watcher = sys.spawn([&exit_code, prefix](caf::event_based_actor* self,
                                                  std::vector<caf::actor>
                                                    to_watch) {
      for (auto& a : to_watch)
        self->monitor(a);
      self->set_down_handler([&exit_code, prefix](caf::down_msg& msg) {
        std::cerr << prefix << "node failed: " << caf::to_string(msg.reason)
                  << std::endl;
        exit_code = 1;
        ::kill(::getpid(), SIGTERM);
      });
      return caf::behavior{[](ok_atom) {}};
    }, running.supervisors());
    auto sig = signals.wait();
    caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
    if (exit_code == 0)
      out << prefix << "stopping (" << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
          << ")" << std::endl;
    running.stop();
    watchdog(exit_code);
    started->reset();
  }
  return exit_code;
}

} // namespace keel::cluster
