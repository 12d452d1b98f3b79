#include "scenarios/engine/sim_runner.hpp"

#include <algorithm>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/bootstrap.hpp"
#include "runtime/error.hpp"
#include "runtime/random.hpp"
#include "scenarios/engine/driver.hpp"
#include "scenarios/engine/invariants.hpp"

namespace keel::scenarios {

namespace {

/// The simulated world: scheduler, clock, seeded choice of the next actor.
class simulation {
public:
  simulation(caf::scheduler::test_coordinator& sched, uint64_t seed,
             std::shared_ptr<network> net)
    : sched_(sched),
      order_(seed * 0x9e3779b97f4a7c15ull + 0x51u),
      net_(std::move(net)) {
  }

  /// Runs one actor for one message, chosen by the seed among those that
  /// can run (actors of a hung node cannot). False if none can.
  bool step() {
    auto& jobs = sched_.jobs;
    if (jobs.empty())
      return false;
    runnable_.clear();
    for (size_t i = 0; i < jobs.size(); ++i)
      if (runnable(jobs[i]))
        runnable_.push_back(i);
    if (runnable_.empty())
      return false;
    auto i = static_cast<long>(
      runnable_.size() > 1 ? runnable_[order_.below(runnable_.size())]
                           : runnable_.front());
    if (i != 0)
      std::rotate(jobs.begin(), jobs.begin() + i, jobs.begin() + i + 1);
    sched_.run_once();
    ++steps_;
    return true;
  }

  /// Runs everything, hung or not (shutdown).
  bool step_any() {
    if (sched_.jobs.empty())
      return false;
    sched_.run_once();
    return true;
  }

  /// Moves virtual time to the next timer and fires it. False if none.
  bool advance() {
    return sched_.clock().trigger_timeout();
  }

  uint64_t steps() const noexcept {
    return steps_;
  }

private:
  bool runnable(caf::resumable* job) const {
    if (!net_)
      return true;
    auto actor = dynamic_cast<caf::abstract_actor*>(job);
    return actor == nullptr || net_->runnable(actor->id());
  }

  caf::scheduler::test_coordinator& sched_;
  random_source order_;
  std::shared_ptr<network> net_;
  std::vector<size_t> runnable_;
  uint64_t steps_ = 0;
};

struct sim_config : caf::actor_system_config {
  explicit sim_config(const system_config& config) {
    configure_actor_system(*this, config);
    set("scheduler.policy", caf::atom("testing"));
  }
};

} // namespace

caf::expected<run_result> run_sim(const scenario& sc,
                                  const app_registry& registry,
                                  std::ostream* trace_out) {
  if (auto err = check_app_types(sc.system, registry))
    return make_error(error_code::invalid_config,
                      sc.origin + ": " + context_of(err));
  auto wall_start = std::chrono::steady_clock::now();
  run_result result;
  int64_t sim_us = 0;
  uint64_t steps = 0;
  {
    sim_config cfg{sc.system};
    caf::actor_system sys{cfg};
    auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(
      sys.scheduler());
    auto net = std::make_shared<network>(sc.seed);
    simulation sim{sched, sc.seed, net};
    auto ctx = make_context(sys, sc.system, trace_out, net);
    // Bootstrap waits for answers: run until the waiting actor has one.
    auto pump = [&](caf::blocking_actor* waiting) {
      for (int guard = 0; guard < 1'000'000; ++guard) {
        while (sim.step()) {
        }
        if (!waiting->mailbox().empty() || !sim.advance())
          return;
      }
    };
    auto timeout = std::chrono::milliseconds{
      sc.system.knobs.control_timeout_ms * 5};
    auto handles = start_system(sys, ctx, registry, timeout, pump);
    if (!handles)
      return handles.error();
    auto data = std::make_shared<run_data>();
    auto sc_ptr = std::make_shared<const scenario>(sc);
    auto driver = sys.spawn(scenario_driver, sc_ptr, *handles, data,
                            node_fault_fn{});
    safety_monitor monitor;
    size_t seen = 0;
    std::optional<std::string> violation;
    {
      caf::scoped_actor self{sys};
      self->send(driver, run_atom::value);
      // The run: steps until the driver is done; time moves only when
      // nothing can run. Safety invariants after every step.
      while (!data->finished && !violation) {
        if (!sim.step()) {
          if (!sim.advance())
            break;  // nothing left to happen: the run is stuck
          continue;
        }
        if (ctx->trace->size() > seen) {
          violation = monitor.observe(ctx->trace->snapshot_from(seen));
          seen = ctx->trace->size();
        }
      }
    }
    if (violation)
      data->errors.push_back("invariant violated at step "
                             + std::to_string(sim.steps()) + ": "
                             + *violation);
    else if (!data->finished)
      data->errors.push_back("the simulation stopped: nothing left to run "
                             "and no timer pending before the scenario "
                             "finished");
    sim_us = std::chrono::duration_cast<std::chrono::microseconds>(
               sched.clock().now() - ctx->start)
               .count();
    steps = sim.steps();
    // The run ends here: what shutting down emits is not part of it.
    auto trace = ctx->trace->snapshot();
    auto dropped = ctx->trace->dropped();
    caf::anon_send_exit(driver, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(ctx->blackhole, caf::exit_reason::user_shutdown);
    handles->shutdown();
    // Let every actor see its exit (the system's destructor waits for all).
    for (int guard = 0; guard < 100; ++guard) {
      while (sim.step_any()) {
      }
      if (sched.jobs.empty())
        break;
    }
    result.rep = check_run(sc, *data, trace, dropped);
    result.data = std::move(*data);
  }
  result.rep.mode = "sim";
  result.rep.wall_ms = std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - wall_start)
                         .count();
  result.rep.sim_ms = static_cast<double>(sim_us) / 1000.0;
  result.rep.steps = steps;
  result.rep.speedup = result.rep.wall_ms > 0
                         ? result.rep.sim_ms / result.rep.wall_ms
                         : 0;
  return result;
}

} // namespace keel::scenarios
