// Runs a scenario in deterministic simulation: the same embedded system
// (same bootstrap, same actors) under CAF's test_coordinator with a virtual
// clock. Time moves only when nothing can run (to the next timer); when
// several actors could run, the scenario's seed picks which (seeded
// interleaving). Same file and seed: byte-identical trace.
#pragma once

#include <ostream>

#include <caf/expected.hpp>

#include "apps/api/app_registry.hpp"
#include "scenarios/engine/runner.hpp"

namespace keel::scenarios {

/// Runs `sc` in simulation. `trace_out`, if set, receives the trace as JSON
/// lines. Errors: the system could not start.
caf::expected<run_result> run_sim(const scenario& sc,
                                  const app_registry& registry,
                                  std::ostream* trace_out = nullptr);

} // namespace keel::scenarios
