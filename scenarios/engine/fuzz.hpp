// The fuzzer's data: a scenario file's "fuzz" section (which faults to draw,
// how many, when) and the generator that draws one seed's faults from it.
//
//   "fuzz": { "faults": 4, "from_ms": 500, "until_ms": 2800, "min_gap_ms": 300,
//             "kinds": { "kill_copy": 3, "crash_node": 1, "switchover": 1 },
//             "fault_ms": [100, 600], "crash_nodes_max": 1 }
//
// Generation is a pure function of (scenario, spec, seed): the same three
// give the same steps on every platform (keel's random_source). The steps
// are scenario step objects, exactly what a file's "steps" holds, so a
// failing combination is written out and replayed as an ordinary scenario.
//
// Every generated fault lies in [from_ms, until_ms]: a fault that is undone
// (partition, links, hang_node) lasts for_ms, drawn from fault_ms, and has
// ended by until_ms, which is at least fuzz_liveness_margin_ms before the
// workload ends, so liveness checks see the system recover.
//
// Faults that take copies away (kill, hang, slow, crash, partition,
// hang_node) and switchovers come one at a time: each starts min_gap_ms
// after the previous one's effect ended (a hung or slow copy's once health
// checks must have found it, interval x (misses + 1); a partition's or hung
// node's after for_ms), so that each is a single failure, which keel
// promises to survive. Link faults and overload may overlap anything. At
// most crash_nodes_max nodes crash, and crashed plus cut-off nodes stay
// fewer than half of them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "runtime/json_value.hpp"
#include "scenarios/engine/scenario.hpp"

namespace keel::scenarios {

/// Load that runs after until_ms: the time recoveries have to show.
constexpr uint32_t fuzz_liveness_margin_ms = 500;

/// One step kind the fuzzer may draw and its relative weight.
struct fuzz_kind_weight {
  std::string kind;
  uint32_t weight = 0;
};

/// A file's "fuzz" section, validated against its scenario.
struct fuzz_spec {
  /// Faults drawn per seed (fewer when no listed kind fits any more, e.g.
  /// only crash_node and crash_nodes_max reached).
  uint32_t faults = 4;
  /// No fault starts before from_ms.
  uint32_t from_ms = 500;
  /// Every fault has started and every undone fault has ended by until_ms.
  /// Default: workload.duration_ms minus a quarter of it (at least
  /// fuzz_liveness_margin_ms).
  uint32_t until_ms = 0;
  /// Least time between the starts of two generated faults, and between
  /// the end of one that takes copies away and the start of the next.
  uint32_t min_gap_ms = 200;
  /// Kinds with weight > 0, in fuzzable_kinds() order.
  std::vector<fuzz_kind_weight> kinds;
  /// for_ms of undone faults is drawn from [fault_min_ms, fault_max_ms].
  uint32_t fault_min_ms = 100;
  uint32_t fault_max_ms = 800;
  /// Most nodes crashed for good per seed; always fewer than half the nodes.
  uint32_t crash_nodes_max = 1;
};

/// Step kinds the generator can draw, in the order it weighs them.
const std::vector<std::string>& fuzzable_kinds();

/// Reads the "fuzz" section `value` at `path` for `sc` (whose workload and
/// topology bound it). Errors are error_code::invalid_config:
/// "<origin>: $.fuzz.kinds.foo: <what>".
caf::expected<fuzz_spec> parse_fuzz_spec(const json& value,
                                         const std::string& path,
                                         const scenario& sc);

/// Draws the faults of `seed`: scenario step objects ({"at_ms", "do", ...})
/// in time order, each valid for parse_scenario.
std::vector<json> generate_faults(const scenario& sc, const fuzz_spec& spec,
                                  uint64_t seed);

/// The scenario document to run (and to write) for `seed`: `doc` with
/// "seed" set, "fuzz" removed, and "steps" its own steps plus `faults`,
/// ordered by at_ms (stable: the file's own steps first on a tie).
json fuzz_document(const json& doc, const std::vector<json>& faults,
                   uint64_t seed);

/// A scenario file with its fuzz section: the document as read, the
/// scenario, and the validated fuzz section if the file has one.
struct fuzzable_scenario {
  json doc;
  scenario sc;
  std::optional<fuzz_spec> fuzz;
};

/// Reads a scenario file, validating its "fuzz" section too. Errors like
/// load_scenario's.
caf::expected<fuzzable_scenario> load_fuzzable_scenario(const std::string& file);

/// Parses a document (a file's, or one fuzz_document made), with its
/// "fuzz" section if any. Errors like parse_scenario's.
caf::expected<fuzzable_scenario> parse_fuzzable_scenario(json doc,
                                                         const std::string& origin);

} // namespace keel::scenarios
