// keel bench: throughput, latency, failover time and per-copy cost of the
// real components, each measured against raw CAF in the same process run,
// interleaved (baseline, keel, baseline, keel, ...), so that ratios hold on a
// noisy machine where absolute rates do not.
//
//   T1  events/s, n_way_active, 8 partitions, 4 copies   vs raw one-way
//   T3  events/s, 2n, replication before ack            vs raw one-way
//   L1  routed request latency at 50 % of T1 saturation  vs raw request/response
//   F1  copy killed -> standby promoted -> first event answered (idle, loaded)
//   S1  memory and spawn-to-ready time per copy          vs raw spawn + await
//
// Every keel figure also reports events lost and applied twice (both must be
// 0): after each run one probe event per partition reads how many events the
// partition's active applied, which must equal the events acknowledged.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "runtime/config.hpp"

namespace keel::bench {

struct options {
  /// Benchmarks to run (T1, T3, L1, F1, S1); empty: all.
  std::vector<std::string> names;
  /// Counted rounds (one warm-up round runs first unless smoke).
  int repeat = 5;
  /// Tiny sizes: a smoke test of the harness, not a measurement.
  bool smoke = false;
  std::string json_out;
  /// The Erlang/OTP peer's directory (run.sh): run it and print keel / OTP.
  std::string peer_dir;
  /// A file with the peer's output of an earlier run (instead of running it).
  std::string peer_results;
  size_t max_threads = 2;
  /// The runtime's default (the scheduler_max_throughput knob).
  size_t max_throughput = tuning{}.scheduler_max_throughput;
  /// Events per event_batch message of the T1 and T3 clients.
  uint32_t batch = 512;
  /// F1 trials per state (idle, loaded), over all rounds.
  int f1_trials = 200;
  /// Profiling aid: T1/T3 without their baselines (no ratios).
  bool skip_baselines = false;
  /// Debugging aid: print the trace of the first F1 trials to stderr.
  bool trace_f1 = false;
};

/// The names run when none are given, in order.
const std::vector<std::string>& all_names();

/// Runs the benchmarks; prints the table to `out`. Returns the exit code:
/// 0 ran (targets are reported, not enforced), 1 a run failed or lost
/// events, 2 bad options.
int run(const options& opts, std::ostream& out, std::ostream& err);

} // namespace keel::bench
