// Runs a scenario in cluster mode on this host (--mode process): one real
// `keel node` process per node on 127.0.0.1 (free ports, a fresh cluster
// secret), this process as the client that drives the workload and the
// steps, real faults (crash_node: SIGKILL; hang_node: SIGSTOP, its end or
// resume_node: SIGCONT; restart_node: start the process again). The nodes'
// traces (one file each, one time origin) are merged with the client's and
// checked like any run.
//
// Every process it starts is reaped before it returns, also when the run
// fails; the children also get SIGKILL if this process dies
// (PR_SET_PDEATHSIG). A failing run keeps its directory (config, logs,
// traces) and names it.
#pragma once

#include <ostream>
#include <string>

#include <caf/expected.hpp>

#include "apps/api/app_registry.hpp"
#include "scenarios/engine/runner.hpp"

namespace keel::scenarios {

/// `keel_binary` is the executable that provides `keel node` (normally
/// /proc/self/exe). Progress and node failures are written to `log`.
caf::expected<run_result> run_process(const scenario& sc,
                                      const app_registry& registry,
                                      const std::string& keel_binary,
                                      std::ostream* trace_out,
                                      std::ostream& log);

} // namespace keel::scenarios
