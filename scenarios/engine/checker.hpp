// The checker: turns a run's records (clients' outcomes, the journal's final
// state, the trace) into counts, failover timelines and check verdicts.
//
//   lost        acknowledged requests missing from the journal (G1)
//   duplicated  extra journal entries of one request (G2)
//   reordered   per key and client, entries whose request id is lower than
//               an earlier entry's: the client sends in id order, so the
//               distributor accepted them in that order (G3)
//   single_active  no two copies active for a partition in one epoch (G4)
//
// Pure function of its inputs; tests feed it hand-made records.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/json_value.hpp"
#include "runtime/trace.hpp"
#include "scenarios/engine/run_data.hpp"
#include "scenarios/engine/scenario.hpp"

namespace keel::scenarios {

struct event_counts {
  uint64_t sent = 0;
  uint64_t acknowledged = 0;
  uint64_t refused = 0;
  uint64_t failed = 0;
  uint64_t open = 0;
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  /// Journal entries no client sent (must be 0).
  uint64_t unexpected = 0;
  /// App-to-app (the workload payload's "forward" chain): acknowledged
  /// events whose forward is missing from a target journal, and forwards
  /// applied more than once.
  uint64_t forwarded = 0;
  uint64_t forward_lost = 0;
  uint64_t forward_duplicated = 0;
};

/// One partition's failover, times in ms after the fault was injected.
struct failover_timeline {
  uint32_t fault = 0;
  std::string copy;  ///< the failed copy
  std::string app;   ///< from the trace: text, never interned
  partition_id partition = 0;
  epoch_t epoch = 0;
  double detected_ms = -1;
  double promoted_ms = -1;
  /// First event served for the partition in this epoch or a later one;
  /// -1: none after the promotion.
  double first_event_ms = -1;
  /// The partition moved on again (a second fault, a failback) before it
  /// served an event in this epoch.
  bool superseded = false;
};

/// A planned switchover and what the events of its partition saw.
struct switchover_report {
  std::string app;  ///< from the trace: text, never interned
  partition_id partition = 0;
  std::string from;
  std::string to;
  double duration_ms = -1;  ///< -1: did not finish
  /// Events of the partition sent while it ran, and their latency.
  uint64_t events = 0;
  double latency_p50_ms = 0;
  double latency_max_ms = 0;
};

/// When the fault manager (or a node agent) first noticed an injected
/// fault: ms after injection, -1 if never.
struct fault_detection {
  uint32_t fault = 0;
  std::string kind;
  double detected_ms = -1;
  /// False for a fault that hit nothing (a flap round on an empty node).
  bool any_target = true;
};

struct check_result {
  std::string name;
  bool passed = false;
  std::string detail;
};

struct report {
  std::string title;
  uint64_t seed = 0;
  bool passed = false;
  event_counts events;
  std::vector<failover_timeline> failovers;
  std::vector<fault_detection> detections;
  std::vector<switchover_report> switchovers;
  /// Controller takeovers (cluster mode): per fault, ms from the fault to
  /// the new controller acting (trace takeover_done); -1: none followed.
  std::map<uint32_t, double> takeovers;
  std::vector<check_result> checks;
  std::vector<std::string> errors;
  double latency_p50_ms = 0;
  double latency_p99_ms = 0;
  double latency_max_ms = 0;
  size_t trace_events = 0;
  size_t trace_dropped = 0;
  /// SHA-256 of the trace as JSON lines: equal in two simulations with the
  /// same file and seed.
  std::string trace_sha256;
  std::string mode = "realtime";
  double wall_ms = 0;
  /// Simulation: virtual time covered, scheduler steps, and virtual time per
  /// wall time.
  double sim_ms = 0;
  uint64_t steps = 0;
  double speedup = 0;

  json to_json(const run_data& data) const;
};

/// Computes the report of a run.
report check_run(const scenario& sc, const run_data& data,
                 const std::vector<trace_event>& trace, size_t trace_dropped);

/// Failover timelines from the trace (exposed for tests).
std::vector<failover_timeline>
failover_timelines(const std::vector<trace_event>& trace);

/// Detection time of every injected fault (exposed for tests).
std::vector<fault_detection>
fault_detections(const std::vector<trace_event>& trace);

/// Copies that went down (or were declared hung) although no injected
/// fault targeted them or their node.
std::vector<std::string>
unexpected_failures(const std::vector<trace_event>& trace);

/// (app, partition, epoch) keys that had more than one active copy.
std::vector<std::string>
single_active_violations(const std::vector<trace_event>& trace,
                         const std::vector<copy_status>& statuses);

/// A human summary of `rep`, several lines.
std::string summarize(const report& rep, const run_data& data);

} // namespace keel::scenarios
