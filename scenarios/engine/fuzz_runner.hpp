// `keel scenario fuzz`: runs a scenario file in simulation once per seed,
// each time with the faults its "fuzz" section draws for that seed, and
// shrinks every failing seed to the fewest generated faults that still fail
// it; the result is written as an ordinary scenario file that replays the
// failure with `keel scenario run FILE --mode sim`.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "apps/api/app_registry.hpp"
#include "runtime/json_value.hpp"

namespace keel::scenarios {

struct fuzz_options {
  /// "A..B" (both included) or "N".
  std::string seeds;
  /// Where failing seeds' files go; empty: the current directory.
  std::string out_dir;
  /// Print failing seeds and the final line only.
  bool quiet = false;
  /// Rewrite one progress line in place (stdout is a terminal) instead of
  /// printing one line per 10 seeds.
  bool interactive = false;
  /// As run_options::test_break.
  std::string test_break;
};

struct seed_range {
  uint64_t first = 0;
  uint64_t last = 0;
};

/// Parses "A..B" (A <= B) or "N". Errors: error_code::invalid_config.
caf::expected<seed_range> parse_seed_range(const std::string& text);

/// Drops faults one at a time, keeping a drop whenever `still_fails` holds
/// without it, until no single fault can go. `still_fails` must hold for
/// `faults` itself. Returns the faults kept, in their order.
std::vector<json>
shrink_faults(std::vector<json> faults,
              const std::function<bool(const std::vector<json>&)>& still_fails);

/// `keel scenario fuzz`. Returns the exit code: 0 every seed passed, 1 some
/// seed failed, 2 bad input.
int fuzz_scenario_file(const std::string& file, const fuzz_options& opts,
                       const app_registry& registry, std::ostream& out,
                       std::ostream& err);

} // namespace keel::scenarios
