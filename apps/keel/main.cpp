// keel: the command line.
//
//   keel scenario run FILE [--mode realtime|sim|process] [--seed N] [--report FILE]
//                          [--trace FILE] [--quiet] [--repeat N]
//   keel scenario fuzz FILE --seeds A..B [--out DIR] [--quiet]
//   keel scenario check FILE
//   keel config check FILE
//   keel node --cluster FILE --name N [--trace FILE]
//   keel knobs
//   keel bench [NAME...] [--repeat N] [--json FILE] [--peer DIR] [--smoke]
//
// Exit codes: 0 success, 1 a check failed or the run broke, 2 bad input.
#include <iostream>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "actors/bootstrap.hpp"
#include "actors/cluster/cluster_node.hpp"
#include "apps/bench/bench.hpp"
#include "apps/builtin_apps.hpp"
#include "runtime/config.hpp"
#include "runtime/error.hpp"
#include "scenarios/engine/fuzz.hpp"
#include "scenarios/engine/fuzz_runner.hpp"
#include "scenarios/engine/runner.hpp"
#include "scenarios/engine/scenario.hpp"

int main(int argc, char** argv) {
  keel::apps::register_builtin_apps();
  CLI::App app{"keel: fault-tolerant, distributed applications as CAF actors"};
  app.require_subcommand(1);

  auto scenario = app.add_subcommand("scenario", "run or check scenario files");
  scenario->require_subcommand(1);

  keel::scenarios::run_options opts;
  std::string run_file;
  uint64_t seed = 0;
  auto run = scenario->add_subcommand(
    "run", "run a scenario and check it: on the embedded runtime in real "
           "time, as a deterministic simulation (--mode sim), or as a "
           "cluster of real processes (--mode process)");
  run->add_option("file", run_file, "scenario JSON file")->required();
  run->add_option("--mode", opts.mode,
                  "realtime (threads, wall clock; default), sim "
                  "(deterministic simulation: virtual clock, seeded "
                  "interleaving, byte-identical trace for equal seeds) or "
                  "process (one keel node process per node on 127.0.0.1, "
                  "real kill -9 / SIGSTOP / SIGCONT / restart)")
    ->check(CLI::IsMember({"realtime", "sim", "process"}));
  auto seed_opt = run->add_option("--seed", seed,
                                  "override the scenario's seed (workload "
                                  "keys and every other random choice)");
  run->add_option("--report", opts.report_path,
                  "write the JSON report to this file");
  run->add_option("--trace", opts.trace_path,
                  "write every trace event to this file as JSON lines");
  run->add_flag("--quiet", opts.quiet, "print the summary only if a check fails");
  run->add_option("--repeat", opts.repeat,
                  "run N times with seeds SEED, SEED+1, ...: one line per "
                  "run, then per fault kind the distribution (min/p50/p90/"
                  "max) of detection, failover and service-back times "
                  "(--report and --trace are not written); exit 1 if any "
                  "run failed")
    ->check(CLI::Range(1u, 100000u));
  // Test only, hidden from --help: break keel on purpose so that a test can
  // show the checks catch it. Unknown names: exit 2 (apply_test_break).
  auto test_break_help = "test only: break keel on purpose (epoch_bump: "
                         "promotions keep the epoch)";
  run->add_option("--test-break", opts.test_break, test_break_help)
    ->group("");

  keel::scenarios::fuzz_options fuzz_opts;
  std::string fuzz_file;
  auto fuzz = scenario->add_subcommand(
    "fuzz",
    "run a scenario in simulation once per seed, each time with the faults "
    "its \"fuzz\" section draws for that seed; shrink every failing seed "
    "to the fewest generated faults that still fail it and write them as "
    "fuzz-fail-seed-N.json, replayable with keel scenario run FILE --mode "
    "sim. Exit 0 every seed passed, 1 some failed, 2 bad input");
  fuzz->add_option("file", fuzz_file, "scenario JSON file with a \"fuzz\" "
                                      "section")
    ->required();
  fuzz->add_option("--seeds", fuzz_opts.seeds,
                   "seeds to run, A..B (both included) or one seed N")
    ->required();
  fuzz->add_option("--out", fuzz_opts.out_dir,
                   "directory for the fuzz-fail-seed-N.json files (created "
                   "if missing; default: the current directory)");
  fuzz->add_flag("--quiet", fuzz_opts.quiet,
                 "no progress lines: failing seeds and the final line only");
  fuzz->add_option("--test-break", fuzz_opts.test_break, test_break_help)
    ->group("");

  std::string check_file;
  auto check = scenario->add_subcommand(
    "check", "validate a scenario file without running it");
  check->add_option("file", check_file, "scenario JSON file")->required();

  auto config = app.add_subcommand("config", "check configuration files");
  config->require_subcommand(1);
  std::string config_file;
  auto config_check = config->add_subcommand(
    "check", "validate a system configuration file ({\"topology\": ..., "
             "\"tuning\": ...}) against the registered application types");
  config_check->add_option("file", config_file, "configuration JSON file")
    ->required();

  auto knobs = app.add_subcommand(
    "knobs", "list the tuning knobs a scenario or config may set under "
             "\"tuning\", with defaults");

  keel::bench::options bench_opts;
  auto bench = app.add_subcommand(
    "bench",
    "benchmark keel's real components against raw CAF measured in the same "
    "run, interleaved (T1 n_way_active throughput, T3 2n throughput, L1 "
    "routed latency at 50 % load, F1 failover time idle and loaded, S1 "
    "memory and spawn time per copy); prints median and min-max over the "
    "rounds and the events lost (must be 0). Exit 0 ran, 1 a run failed or "
    "lost events, 2 bad options");
  bench->add_option("names", bench_opts.names,
                    "benchmarks to run: T1 T3 L1 F1 S1 (default: all)");
  bench->add_option("--repeat", bench_opts.repeat,
                    "counted rounds after one warm-up round (default 5)");
  bench->add_option("--json", bench_opts.json_out,
                    "write the results as JSON to this file");
  bench->add_option("--peer", bench_opts.peer_dir,
                    "the Erlang/OTP peer's directory: run its run.sh first "
                    "(about 2 minutes) and print keel / OTP per figure");
  bench->add_option("--peer-results", bench_opts.peer_results,
                    "compare with a saved output of the peer's run.sh (or "
                    "a saved keel bench --peer log, which includes it) "
                    "instead of running it");
  bench->add_option("--batch", bench_opts.batch,
                    "events per event_batch message of the T1 and T3 "
                    "clients (default "
                      + std::to_string(keel::bench::options{}.batch)
                      + "; 1..20000)");
  bench->add_option("--f1-trials", bench_opts.f1_trials,
                    "F1 trials per state (idle, loaded) over all rounds "
                    "(default 200)");
  bench->add_option("--max-threads", bench_opts.max_threads,
                    "CAF scheduler.max-threads (default 2)");
  bench->add_option("--max-throughput", bench_opts.max_throughput,
                    "CAF scheduler.max-throughput: messages an actor handles "
                    "before it yields its thread (default "
                      + std::to_string(keel::tuning{}.scheduler_max_throughput)
                      + ", the runtime's: knob scheduler_max_throughput)");
  bench->add_flag("--skip-baselines", bench_opts.skip_baselines,
                  "profiling aid: T1 and T3 without their raw CAF baselines")
    ->group("");
  bench->add_flag("--trace-f1", bench_opts.trace_f1,
                  "debugging aid: print the trace of the first F1 trials")
    ->group("");
  bench->add_flag("--smoke", bench_opts.smoke,
                  "tiny sizes and no warm-up: checks that every benchmark "
                  "runs and loses nothing, measures nothing");

  std::string cluster_file;
  std::string node_name;
  keel::cluster::node_options node_opts;
  int64_t origin_ns = 0;
  auto node = app.add_subcommand(
    "node",
    "run one node of a cluster as this process: its router, node agent and "
    "copies, and on the first configured node the control plane; nodes "
    "talk over CAF's middleman and admit each other only with the cluster "
    "secret. Runs until SIGTERM/SIGINT (exit 0); exit 1 if the cluster does "
    "not form within cluster.startup_timeout_ms or the node fails, 2 bad "
    "input");
  node->add_option("--cluster", cluster_file,
                   "cluster file: {\"topology\", \"tuning\", \"cluster\": "
                   "{\"endpoints\": {node: \"host:port\"}, \"secret\" or "
                   "\"secret_env\", \"startup_timeout_ms\"}}")
    ->required();
  node->add_option("--name", node_name, "which node of the cluster this is")
    ->required();
  node->add_option("--trace", node_opts.trace_path,
                   "append this node's trace events to this file as JSON "
                   "lines (flushed per line)");
  auto origin_opt = node->add_option(
    "--origin-ns", origin_ns,
    "time origin of trace timestamps on the steady clock (scenario runs)");
  origin_opt->group("");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    auto code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (node->parsed()) {
    auto cfg = keel::load_cluster_config(cluster_file);
    if (!cfg) {
      std::cerr << "keel: " << keel::context_of(cfg.error()) << "\n";
      return 2;
    }
    if (origin_opt->count() > 0)
      node_opts.origin_ns = origin_ns;
    return keel::cluster::run_node(*cfg, node_name,
                                   keel::app_registry::global(), node_opts,
                                   std::cout, std::cerr);
  }
  if (bench->parsed())
    return keel::bench::run(bench_opts, std::cout, std::cerr);
  if (run->parsed()) {
    if (seed_opt->count() > 0)
      opts.seed = seed;
    return keel::scenarios::run_scenario_file(
      run_file, opts, keel::app_registry::global(), std::cout, std::cerr);
  }
  if (fuzz->parsed()) {
    fuzz_opts.interactive = isatty(STDOUT_FILENO) != 0;
    return keel::scenarios::fuzz_scenario_file(
      fuzz_file, fuzz_opts, keel::app_registry::global(), std::cout,
      std::cerr);
  }
  if (check->parsed()) {
    auto loaded = keel::scenarios::load_fuzzable_scenario(check_file);
    if (!loaded) {
      std::cerr << "keel: " << keel::context_of(loaded.error()) << "\n";
      return 2;
    }
    auto sc = &loaded->sc;
    std::cout << check_file << ": ok (" << sc->system.nodes.size()
              << " nodes, " << sc->system.apps.size() << " apps, "
              << sc->steps.size() << " steps, " << sc->checks.size()
              << " checks"
              << (loaded->fuzz ? ", a fuzz section drawing "
                                   + std::to_string(loaded->fuzz->faults)
                                   + " faults per seed"
                               : "")
              << ")\n";
    return 0;
  }
  if (config_check->parsed()) {
    auto cfg = keel::load_system_config(config_file);
    if (!cfg) {
      std::cerr << "keel: " << keel::context_of(cfg.error()) << "\n";
      return 2;
    }
    if (auto err = keel::check_app_types(*cfg, keel::app_registry::global())) {
      std::cerr << "keel: " << config_file << ": " << keel::context_of(err)
                << "\n";
      return 2;
    }
    std::cout << config_file << ": ok (" << cfg->nodes.size() << " nodes, "
              << cfg->apps.size() << " apps)\n";
    return 0;
  }
  if (knobs->parsed()) {
    for (auto& k : keel::knobs())
      std::cout << k.name << " (default " << k.default_value << ", "
                << k.min << ".." << k.max << ")\n    " << k.help << "\n";
    return 0;
  }
  return 2;
}
