// Cluster mode: one `keel node` process per node, every message between
// nodes carried by CAF's middleman (BASP over TCP). Each process builds its
// node's part of the actor tree with the same bootstrap as embedded mode
// (spawn_node), publishes a gateway on its endpoint, and connects to every
// other node's gateway (a full mesh of direct connections, so that losing one
// node never cuts two others apart). The control node (the first configured)
// then spawns the control plane and activates the system on every node's
// handles, exactly as start_system does in one process.
//
// Detection across processes: a killed process shows up as down_msg
// (remote_link_unreachable) for its actors, which the fault manager
// monitors; a stopped process or a silent link through the node agents'
// heartbeats (heartbeat_interval_ms x heartbeat_misses), as in embedded mode.
#pragma once

#include <chrono>
#include <memory>
#include <vector>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include "actors/cluster/gateway_interface.hpp"
#include "apps/api/app_registry.hpp"
#include "runtime/cluster_config.hpp"

namespace keel::cluster {

/// Loads the middleman and applies keel's CAF settings. CAF's own BASP
/// heartbeats are set from the cluster's heartbeat knobs with a long
/// connection timeout (they only keep a connect to a stopped process from
/// blocking forever); keel's heartbeats do the detecting. Every process of a
/// cluster must use the same settings.
void configure(caf::actor_system_config& cfg, const cluster_config& config);

/// The middleman's connection timeout configure() sets.
std::chrono::milliseconds connection_timeout(const cluster_config& config);

/// Connects to the gateway at `ep` and proves the cluster secret as `from`;
/// checks that the gateway proves it too and is node `expect`. Retries
/// (connection refused, not yet published, refused) until `deadline`; the
/// error names the last reason.
/// `cancelled`, if set, is polled between attempts: true ends the wait.
/// A node passes its own handles in `mine` (see join_request::handles).
caf::expected<join_reply> join(caf::actor_system& sys,
                               const cluster_config& config,
                               const node_id& expect, const std::string& from,
                               std::chrono::steady_clock::time_point deadline,
                               const std::function<bool()>& cancelled = {},
                               const node_handles& mine = {},
                               const control_standby_actor& standby = {});

/// Asks the control node (or node `at`: the standby control node after a
/// takeover) until it reports the system activated (ready), up to
/// `deadline`.
caf::expected<join_reply>
join_ready(caf::actor_system& sys, const cluster_config& config,
           const std::string& from,
           std::chrono::steady_clock::time_point deadline,
           const node_id& at = {},
           const std::function<bool()>& cancelled = {});

} // namespace keel::cluster

namespace keel {
class gateway_cell;
} // namespace keel

namespace keel::cluster {

/// One node of a cluster inside a program's own actor system: the embedding
/// API (`keel node` runs one per process). The actor system must be
/// configured with configure() for the same cluster.
class node {
public:
  struct start_options {
    /// Receives this node's trace events as JSON lines.
    std::ostream* trace_out = nullptr;
    /// Time origin of trace timestamps (default: now).
    std::optional<caf::actor_clock::time_point> origin;
    /// Polled while joining: true gives up.
    std::function<bool()> cancelled;
    /// Progress lines ("listening on", "joined", "cluster ready").
    std::ostream* log = nullptr;
  };

  /// Builds node `name`'s actors in `sys`, publishes its gateway on its
  /// endpoint and joins every peer with the cluster secret (up to
  /// cluster.startup_timeout_ms); the control node also starts the control
  /// plane and activates the system. Blocks until then. Errors say what
  /// failed (invalid_config, unavailable).
  static caf::expected<std::unique_ptr<node>>
  start(caf::actor_system& sys, const cluster_config& config,
        const node_id& name, const app_registry& registry,
        const start_options& opts);

  /// Stops this node's actors (also on destruction).
  ~node();
  void stop();

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  const node_id& name() const noexcept {
    return name_;
  }

  /// This node's supervisors (and the control plane's, on the control
  /// node): monitor them to learn that the node failed.
  std::vector<caf::actor> supervisors() const;

  /// What this node's gateway hands an admitted peer; on the control node,
  /// once started, the control plane (ready == true).
  join_reply handles() const;

private:
  node() = default;
  node_id name_;
  std::shared_ptr<gateway_cell> cell_;
  /// Gateway first, then the supervisors.
  std::vector<caf::actor> actors_;
};

struct node_options {
  /// Write every trace event of this node to this file (JSON lines,
  /// flushed per line so that a killed process loses none).
  std::string trace_path;
  /// Steady-clock time origin in nanoseconds (scenario runs share one
  /// across processes); default: the process's start.
  std::optional<int64_t> origin_ns;
};

/// `keel node`: runs node `name` until SIGTERM or SIGINT (exit 0) or until
/// it cannot start or its node fails (exit 1); a stop signal during startup
/// ends it too. Takes SIGTERM and SIGINT for the whole process: call it
/// before starting other threads.
int run_node(const cluster_config& config, std::string_view name_text,
             const app_registry& registry, const node_options& opts,
             std::ostream& out, std::ostream& err);

} // namespace keel::cluster
