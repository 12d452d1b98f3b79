#include "scenarios/engine/runner.hpp"

#include <fstream>

#include <caf/all.hpp>

#include "actors/bootstrap.hpp"
#include "runtime/error.hpp"
#include "scenarios/engine/driver.hpp"
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
    auto driver = sys.spawn(scenario_driver, sc_ptr, *handles, data);
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

int run_scenario_file(const std::string& file, const run_options& opts,
                      const app_registry& registry, std::ostream& out,
                      std::ostream& err) {
  auto sc = load_scenario(file);
  if (!sc) {
    err << "keel: " << context_of(sc.error()) << "\n";
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
  auto result = opts.mode == "sim" ? run_sim(*sc, registry, trace_out)
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
        << " --mode " << opts.mode << " --seed " << sc->seed << "\n";
  return result->rep.passed ? 0 : 1;
}

} // namespace keel::scenarios
