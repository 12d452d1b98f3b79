#include "scenarios/engine/invariants.hpp"

namespace keel::scenarios {

std::string incarnation_name(const json& fields) {
  auto name = fields.value("copy", std::string{});
  if (fields.contains("incarnation"))
    name += "#" + std::to_string(fields.value("incarnation", uint64_t{0}));
  return name;
}

std::optional<std::string>
safety_monitor::observe(const std::vector<trace_event>& events) {
  for (auto& ev : events) {
    if (ev.name != "role_changed" || ev.fields.value("role", "") != "active")
      continue;
    key k{ev.fields.value("app", ""), ev.fields.value("partition", 0ull),
          ev.fields.value("epoch", 0ull)};
    auto& copies = actives_[k];
    copies.insert(incarnation_name(ev.fields));
    if (copies.size() > 1) {
      std::string list;
      for (auto& c : copies)
        list += (list.empty() ? "" : ", ") + c;
      return "single_active: " + std::get<0>(k) + " partition "
             + std::to_string(std::get<1>(k)) + " has two actives in epoch "
             + std::to_string(std::get<2>(k)) + " (" + list + ") at "
             + std::to_string(static_cast<double>(ev.t_us) / 1000.0)
             + " ms virtual time";
    }
  }
  return std::nullopt;
}

} // namespace keel::scenarios
