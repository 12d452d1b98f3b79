// Safety invariants checked while a simulation runs, after every step, so
// that a violation stops the run where it happened (which invariant, where,
// at what virtual time) instead of surfacing in the final report.
//
// Today: one active per partition and epoch (G4), from role_changed trace
// events. Loss, duplicates and order are judged from the journal once the
// run quiesces (checker.hpp): their evidence is the final state.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/trace.hpp"

namespace keel::scenarios {

/// A role_changed event's copy, with its incarnation (actor id) when the
/// trace has one: two incarnations of one copy are two actives.
std::string incarnation_name(const json& fields);


class safety_monitor {
public:
  /// Feeds new trace events; returns a description of the first violation.
  std::optional<std::string> observe(const std::vector<trace_event>& events);

private:
  using key = std::tuple<std::string, uint64_t, uint64_t>;
  std::map<key, std::set<std::string>> actives_;
};

} // namespace keel::scenarios
