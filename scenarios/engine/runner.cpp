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
    // Generous bound: the run's own length plus every timeout it may wait.
    auto bound = std::chrono::milliseconds{
      uint64_t{sc.workload.duration_ms} + sc.workload.request_timeout_ms
      + sc.settle_timeout_ms + 60'000};
    caf::error failure;
    {
      caf::scoped_actor self{sys};
      self->request(driver, bound, run_atom::value)
        .receive([](ok_atom) {},
                 [&](caf::error& err) { failure = std::move(err); });
    }
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
  auto result = opts.mode == "sim"
                  ? run_sim(*sc, registry, trace_out)
                : opts.mode == "process"
                  ? run_process(*sc, registry, "/proc/self/exe", trace_out, err)
                  : run_realtime(*sc, registry, trace_out);
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
