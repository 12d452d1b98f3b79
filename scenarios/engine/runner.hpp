// Runs a scenario on the embedded runtime in real time: one process, one
// actor system, the nodes as logical nodes. Builds the system with the same
// bootstrap as every other mode, runs the driver, checks the result.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "apps/api/app_registry.hpp"
#include "scenarios/engine/checker.hpp"
#include "scenarios/engine/run_data.hpp"
#include "scenarios/engine/scenario.hpp"

namespace keel::scenarios {

struct run_result {
  report rep;
  run_data data;
};

/// Runs `sc` in real time. `trace_out`, if set, receives every trace event
/// as a JSON line. Errors: the system could not start.
caf::expected<run_result> run_realtime(const scenario& sc,
                                       const app_registry& registry,
                                       std::ostream* trace_out = nullptr);

struct run_options {
  /// "realtime" (threads, wall clock), "sim" (deterministic simulation) or
  /// "process" (one `keel node` process per node, real signals).
  std::string mode = "realtime";
  std::optional<uint64_t> seed;
  std::string report_path;
  std::string trace_path;
  bool quiet = false;
  /// Runs with seeds seed, seed + 1, ... (> 1: one line per run and the
  /// distribution of detection, failover and service times per fault kind;
  /// --report and --trace are not written).
  uint32_t repeat = 1;
  /// Test only: break keel on purpose (one of test_breaks()) to show that
  /// the checks catch it. Empty: nothing broken.
  std::string test_break;
};

/// The names run_options::test_break accepts: "epoch_bump" (promotions keep
/// the epoch, so two actives share one; single_active must fail).
const std::vector<std::string>& test_breaks();

/// Applies the test break `name` (may be empty) to `sc`. Errors:
/// error_code::invalid_config naming the known breaks.
caf::error apply_test_break(scenario& sc, const std::string& name);

/// `keel scenario run --repeat N`: runs `sc` N times (seeds from its own
/// on) and prints per-run lines and distributions. 0 all passed, 1 not.
int repeat_runs(const scenario& sc, const std::string& file,
                const run_options& opts, const app_registry& registry,
                std::ostream& out, std::ostream& err);

/// `keel scenario run`: load, run, print, write. Returns the exit code:
/// 0 every check passed, 1 a check failed or the run broke, 2 bad input.
int run_scenario_file(const std::string& file, const run_options& opts,
                      const app_registry& registry, std::ostream& out,
                      std::ostream& err);

} // namespace keel::scenarios
