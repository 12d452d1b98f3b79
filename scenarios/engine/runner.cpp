#include "scenarios/engine/runner.hpp"

#include <fstream>

#include <caf/all.hpp>

#include "actors/bootstrap.hpp"
#include "runtime/error.hpp"
#include "scenarios/engine/driver.hpp"
#include "scenarios/engine/fuzz.hpp"
#include "scenarios/engine/process_runner.hpp"
#include "scenarios/engine/sim_runner.hpp"

namespace keel::scenarios {

caf::expected<run_result> run_realtime(const scenario& sc,
                                       const app_registry& registry,
                                       std::ostream* trace_out) {
  if (auto err = check_app_types(sc.system, registry))
    return make_error(error_code::invalid_config,
                      sc.origin + ": " + context_of(err));
  auto wall_start = std::chrono::steady_clock::now();
  run_result result;
  {
    caf::actor_system_config cfg;
    configure_actor_system(cfg, sc.system);
    caf::actor_system sys{cfg};
    auto ctx = make_context(sys, sc.system, trace_out);
    auto timeout = std::chrono::milliseconds{
      sc.system.knobs.control_timeout_ms * 5};
    auto handles = start_system(sys, ctx, registry, timeout);
    if (!handles)
      return handles.error();
    auto data = std::make_shared<run_data>();
    auto sc_ptr = std::make_shared<const scenario>(sc);
    auto driver = sys.spawn(scenario_driver, sc_ptr, *handles, data,
                            node_fault_fn{});
    auto failure = await_driver(sys, caf::actor_cast<caf::actor>(driver), sc);
    // The run ends here: what shutting down emits is not part of it.
    auto trace = ctx->trace->snapshot();
    auto dropped = ctx->trace->dropped();
    caf::anon_send_exit(driver, caf::exit_reason::user_shutdown);
    handles->shutdown();
    if (failure)
      data->errors.push_back("driver: " + render(failure));
    result.rep = check_run(sc, *data, trace, dropped);
    result.data = std::move(*data);
  }
  result.rep.wall_ms = std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - wall_start)
                         .count();
  return result;
}

const std::vector<std::string>& test_breaks() {
  static const std::vector<std::string> names{"epoch_bump"};
  return names;
}

caf::error apply_test_break(scenario& sc, const std::string& name) {
  if (name.empty())
    return caf::none;
  if (name == "epoch_bump") {
    sc.system.test_skip_epoch_bump = true;
    return caf::none;
  }
  std::string known;
  for (auto& n : test_breaks())
    known += (known.empty() ? "" : ", ") + n;
  return make_error(error_code::invalid_config,
                    "--test-break: unknown break \"" + name + "\" (known: "
                      + known + ")");
}

namespace {

caf::expected<run_result> run_in_mode(const scenario& sc,
                                      const run_options& opts,
                                      const app_registry& registry,
                                      std::ostream* trace_out,
                                      std::ostream& err) {
  if (opts.mode == "sim")
    return run_sim(sc, registry, trace_out);
  if (opts.mode == "process")
    return run_process(sc, registry, "/proc/self/exe", trace_out, err);
  return run_realtime(sc, registry, trace_out);
}

/// "min / p50 / p90 / max (n)" of `xs` in ms.
std::string distribution(std::vector<double> xs) {
  if (xs.empty())
    return "none";
  std::sort(xs.begin(), xs.end());
  auto at = [&](double q) {
    auto i = static_cast<size_t>(q * static_cast<double>(xs.size() - 1) + 0.5);
    return xs[std::min(i, xs.size() - 1)];
  };
  char buf[160];
  std::snprintf(buf, sizeof(buf),
                "min %.1f / p50 %.1f / p90 %.1f / max %.1f ms (%zu)",
                xs.front(), at(0.5), at(0.9), xs.back(), xs.size());
  return buf;
}

} // namespace

int repeat_runs(const scenario& base, const std::string& file,
                const run_options& opts, const app_registry& registry,
                std::ostream& out, std::ostream& err) {
  // Per fault kind: detection, failover complete (the fault's slowest
  // partition promoted) and service back (its slowest first event).
  std::map<std::string, std::vector<double>> detected, promoted, served;
  std::vector<double> takeover;
  uint32_t failed = 0;
  for (uint32_t i = 0; i < opts.repeat; ++i) {
    auto sc = base;
    sc.seed = base.seed + i;
    auto result = run_in_mode(sc, opts, registry, nullptr, err);
    if (!result) {
      err << "keel: run " << i << " (seed " << sc.seed
          << "): system failed to start: " << render(result.error()) << "\n";
      ++failed;
      continue;
    }
    auto& rep = result->rep;
    if (!rep.passed) {
      ++failed;
      out << summarize(rep, result->data);
      err << "keel: run " << i << " failed; replay with: keel scenario run "
          << file << " --mode " << opts.mode << " --seed " << sc.seed << "\n";
    }
    std::string line;
    for (auto& d : rep.detections) {
      if (!d.any_target || d.kind.rfind("end_", 0) == 0)
        continue;
      double slowest_promoted = -1;
      double slowest_served = -1;
      for (auto& f : rep.failovers)
        if (f.fault == d.fault) {
          slowest_promoted = std::max(slowest_promoted, f.promoted_ms);
          slowest_served = std::max(slowest_served, f.first_event_ms);
        }
      if (d.detected_ms >= 0)
        detected[d.kind].push_back(d.detected_ms);
      if (slowest_promoted >= 0)
        promoted[d.kind].push_back(slowest_promoted);
      if (slowest_served >= 0)
        served[d.kind].push_back(slowest_served);
      char buf[200];
      std::snprintf(buf, sizeof(buf),
                    " %s detected %.1f, failed over %.1f, served %.1f ms;",
                    d.kind.c_str(), d.detected_ms, slowest_promoted,
                    slowest_served);
      line += buf;
    }
    for (auto& [fault, ms] : rep.takeovers) {
      if (ms >= 0)
        takeover.push_back(ms);
      char buf[80];
      std::snprintf(buf, sizeof(buf), " controller taken over %.1f ms;", ms);
      line += buf;
    }
    out << "run " << i << " seed " << sc.seed << ": "
        << (rep.passed ? "PASS" : "FAIL") << ", lost " << rep.events.lost
        << ", duplicated " << rep.events.duplicated << ";" << line
        << std::endl;
  }
  out << opts.repeat << " runs, " << (opts.repeat - failed) << " passed\n";
  for (auto& [kind, xs] : detected) {
    out << kind << ":\n  detected     " << distribution(xs) << "\n"
        << "  failed over  " << distribution(promoted[kind]) << "\n"
        << "  served again " << distribution(served[kind]) << "\n";
  }
  if (!takeover.empty())
    out << "controller takeover: " << distribution(takeover) << "\n";
  return failed == 0 ? 0 : 1;
}

int run_scenario_file(const std::string& file, const run_options& opts,
                      const app_registry& registry, std::ostream& out,
                      std::ostream& err) {
  auto loaded = load_fuzzable_scenario(file);
  if (!loaded) {
    err << "keel: " << context_of(loaded.error()) << "\n";
    return 2;
  }
  auto sc = &loaded->sc;
  if (auto broken = apply_test_break(*sc, opts.test_break)) {
    err << "keel: " << context_of(broken) << "\n";
    return 2;
  }
  if (opts.seed)
    sc->seed = *opts.seed;
  std::ofstream trace_file;
  if (!opts.trace_path.empty()) {
    trace_file.open(opts.trace_path);
    if (!trace_file) {
      err << "keel: " << opts.trace_path << ": cannot open for writing\n";
      return 2;
    }
  }
  std::ofstream report_file;
  if (!opts.report_path.empty()) {
    report_file.open(opts.report_path);
    if (!report_file) {
      err << "keel: " << opts.report_path << ": cannot open for writing\n";
      return 2;
    }
  }
  auto* trace_out = trace_file.is_open() ? &trace_file : nullptr;
  if (opts.repeat > 1)
    return repeat_runs(*sc, file, opts, registry, out, err);
  auto result = run_in_mode(*sc, opts, registry, trace_out, err);
  if (!result) {
    auto code = code_of(result.error());
    err << "keel: " << (code == error_code::invalid_config
                          ? context_of(result.error())
                          : "system failed to start: "
                              + render(result.error()))
        << "\n";
    return code == error_code::invalid_config ? 2 : 1;
  }
  if (!opts.quiet || !result->rep.passed)
    out << summarize(result->rep, result->data);
  if (report_file.is_open())
    report_file << result->rep.to_json(result->data).dump(2) << "\n";
  if (!result->rep.passed)
    err << "keel: scenario failed; replay with: keel scenario run " << file
        << " --mode " << opts.mode << " --seed " << sc->seed
        << (opts.test_break.empty() ? "" : " --test-break " + opts.test_break)
        << "\n";
  return result->rep.passed ? 0 : 1;
}

} // namespace keel::scenarios
