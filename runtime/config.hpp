// System configuration: the topology (nodes, applications) and every tuning
// knob, each with its typed default, unit and help text in one place.
//
// Loading validates up front: an unknown key or a bad value is an error that
// names the JSON path and the expected form. A loaded config is immutable and
// shared read-only by all actors of a node.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "runtime/json_value.hpp"
#include "runtime/types.hpp"

namespace keel {

/// One configured application.
struct app_config {
  /// Name used in events and routes.
  app_name name;
  /// Registered application type (keel::register_app); defaults to `name`.
  std::string type;
  redundancy_model model = redundancy_model::two_n;
  /// Number of copies (2n: exactly 2).
  uint32_t copies = 2;
  /// Number of partitions the key space is split into.
  uint32_t partitions = 8;
  /// n_plus_m: number of standby-only copies (M); the other copies are active.
  uint32_t standby_copies = 1;
  /// n_way: standbys per partition.
  uint32_t standbys_per_partition = 1;
};

/// Standbys every partition of `app` should have (0 for models without).
inline uint32_t desired_standbys(const app_config& app) {
  switch (app.model) {
    case redundancy_model::two_n:
    case redundancy_model::n_plus_m:
      return 1;
    case redundancy_model::n_way:
      return app.standbys_per_partition;
    default:
      return 0;
  }
}

// Every tuning knob: X(type, name, default, min, max, help).
// Units are in the names; buffer limits are per partition unless said.
#define KEEL_TUNING_KNOBS(X)                                                   \
  X(uint32_t, replay_buffer_max, 10000, 1, 10000000,                           \
    "unacknowledged events a distributor keeps per partition; past it a new "  \
    "event is refused with `overloaded`")                                      \
  X(uint32_t, router_buffer_max, 10000, 1, 10000000,                           \
    "events a router holds for a partition in transition; past it the sender " \
    "gets `overloaded` (the distributor keeps the event and resends it)")      \
  X(uint32_t, reorder_buffer_max, 10000, 1, 10000000,                          \
    "events an active copy holds per distributor stream while an earlier "     \
    "sequence number is missing")                                              \
  X(uint32_t, checkpoint_batch_max, 512, 1, 1000000,                           \
    "most events carried by one checkpoint message to a standby")              \
  X(uint32_t, checkpoint_flush_interval_us, 0, 0, 10000000,                    \
    "how long an active may hold applied events to fill a checkpoint batch "  \
    "(0: send as soon as the standby acknowledged the previous batch; more "  \
    "trades latency for fewer, larger checkpoints)")                           \
  X(uint32_t, replication_log_max, 100000, 1, 100000000,                       \
    "applied events an active keeps until every standby acknowledged them; "   \
    "past it new events are refused with `overloaded`")                        \
  X(uint32_t, snapshot_interval_events, 1000, 1, 100000000,                    \
    "models without a standby (no_redundancy, n_way_active): the active "      \
    "sends its partition state to the distributor every this many events, "   \
    "which then forgets the acknowledged events the snapshot covers")          \
  X(uint32_t, retention_max, 100000, 1, 100000000,                             \
    "models without a standby: acknowledged events a distributor keeps per "  \
    "partition until a snapshot covers them (a new active replays them); "    \
    "past it new events are refused with `overloaded`")                        \
  X(uint32_t, dedupe_window, 1024, 1, 1000000,                                 \
    "request ids remembered per client and partition for deduplication")      \
  X(uint32_t, dedupe_clients_max, 4096, 1, 10000000,                           \
    "clients remembered per partition; the least recently seen is forgotten")  \
  X(uint32_t, copy_restart_max, 3, 0, 1000,                                    \
    "restarts of one copy in place allowed within copy_restart_period_ms; "    \
    "past it the copy stays down (OTP's restart intensity)")                   \
  X(uint32_t, copy_restart_period_ms, 10000, 1, 86400000,                      \
    "the window of copy_restart_max")                                          \
  X(uint32_t, node_failover_max, 2, 0, 1000,                                   \
    "copies failed over off one node (their restart intensity exceeded) "     \
    "allowed within node_failover_period_ms; one more takes the node out of " \
    "service: its copies move away and nothing is placed there")              \
  X(uint32_t, node_failover_period_ms, 60000, 1, 86400000,                     \
    "the window of node_failover_max")                                         \
  X(uint32_t, unclean_activation, 0, 0, 1,                                     \
    "1: when no copy holding a partition's state is left (a double fault), "  \
    "let a copy without it become active, losing acknowledged events; 0 "     \
    "(default): the partition stays unavailable instead")                      \
  X(uint32_t, control_timeout_ms, 2000, 1, 600000,                             \
    "timeout of control-plane requests (spawn, role change, routes)")          \
  X(uint32_t, retransmit_interval_ms, 100, 1, 600000,                          \
    "how often a distributor resends events a copy or router refused")         \
  X(uint32_t, resend_after_ms, 500, 1, 3600000,                                \
    "an event unacknowledged while its partition's acks have not moved for "   \
    "this long is sent again (it or its ack was lost on the network); the "   \
    "copy drops what it applied already and acks again")                       \
  X(uint32_t, app_send_timeout_ms, 10000, 1, 3600000,                          \
    "timeout of an event one application sends to another")                   \
  X(uint32_t, app_send_max, 10000, 1, 10000000,                                \
    "app-to-app events a copy keeps until the distributor accepts them; past " \
    "it the copy refuses new events with `overloaded`")                        \
  X(uint32_t, health_check_interval_ms, 100, 1, 3600000,                       \
    "a node agent checks all its copies in rounds every 90% of this; a "     \
    "check unanswered by the next round is a miss, so that detection stays "  \
    "within interval x (misses + 1) with room for scheduling delays")          \
  X(uint32_t, health_check_misses, 3, 1, 1000,                                 \
    "consecutive unanswered health checks after which a copy counts as hung "  \
    "and is killed; detection takes at most interval x (misses + 1)")          \
  X(uint32_t, heartbeat_interval_ms, 100, 1, 3600000,                         \
    "how often every node agent sends a heartbeat to every other; a node "     \
    "missing heartbeat_misses of them in a row is unreachable")                \
  X(uint32_t, heartbeat_misses, 3, 1, 1000,                                    \
    "heartbeats missed in a row before a node counts as unreachable: "         \
    "detection within interval x (misses + 1); a node that reaches no "        \
    "majority demotes its actives (self-fencing)")                             \
  X(uint32_t, load_report_interval_ms, 1000, 1, 3600000,                       \
    "how often each copy reports its load to the load manager")                \
  X(uint32_t, trace_buffer_max, 1000000, 1, 100000000,                         \
    "trace events kept in memory; past it they are counted as dropped")        \
  X(uint32_t, scheduler_max_threads, 2, 1, 256,                                \
    "CAF worker threads (CAF's default is max(4, cores))")                     \
  X(uint32_t, scheduler_max_throughput, 300, 1, 1000000,                       \
    "messages an actor handles before its worker thread turns to other "     \
    "actors (CAF's default is unlimited: a busy actor, e.g. a distributor "   \
    "with a full mailbox, would keep its thread until the mailbox is empty)") \
  X(uint32_t, scheduler_idle_sleep_us, 1000, 10, 1000000,                      \
    "longest sleep of an idle CAF worker between steal attempts (CAF's "       \
    "default 10000 adds up to 10 ms latency to work queued behind a busy "     \
    "worker)")

/// Tuning knobs; each member's default and help live in KEEL_TUNING_KNOBS.
struct tuning {
#define KEEL_DECLARE_KNOB(type, name, def, min, max, help) type name = def;
  KEEL_TUNING_KNOBS(KEEL_DECLARE_KNOB)
#undef KEEL_DECLARE_KNOB
};

/// Describes one knob for --help and docs.
struct knob_info {
  const char* name;
  uint64_t default_value;
  uint64_t min;
  uint64_t max;
  const char* help;
};

/// All knobs in declaration order.
const std::vector<knob_info>& knobs();

/// The whole configuration of a keel system.
struct system_config {
  std::vector<node_id> nodes;
  std::vector<app_config> apps;
  tuning knobs;

  /// Test only, never read from a file: promotions keep the partition's
  /// epoch. A deliberately broken build for the fuzzer's own test (G4 must
  /// be caught); `keel scenario ... --test-break epoch_bump` sets it.
  bool test_skip_epoch_bump = false;

  /// The application named `name`, or nullptr.
  const app_config* find_app(const app_name& name) const;
  /// The same for text from outside (a scenario, a trace): looked up, never
  /// interned.
  const app_config* find_app_named(std::string_view text) const;
};

/// Reads the topology object `{"nodes": [...], "apps": [...]}` at `path`.
/// Throws json_path_error.
void read_topology(const json& value, const std::string& path,
                   system_config& out);

/// Reads a tuning object `{"replay_buffer_max": 100, ...}` at `path`.
/// Throws json_path_error.
void read_tuning(const json& value, const std::string& path, tuning& out);

/// Reads a whole config document: `{"topology": {...}, "tuning": {...}}`.
/// Errors are error_code::invalid_config naming the JSON path.
caf::expected<system_config> parse_system_config(const json& doc);

/// The config document parse_system_config reads back to an equal config:
/// `{"topology": {...}, "tuning": {every knob}}`.
json to_json(const system_config& config);

/// Parses and validates a config file; `origin` prefixes error messages.
caf::expected<system_config> load_system_config(const std::string& file);

} // namespace keel
