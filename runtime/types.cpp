#include "runtime/types.hpp"

#include <charconv>

namespace keel {

std::string to_string(const copy_id& x) {
  return x.app + "/" + std::to_string(x.index);
}

std::optional<copy_id> parse_copy_id(std::string_view text) {
  auto slash = text.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size())
    return std::nullopt;
  uint32_t index = 0;
  auto digits = text.substr(slash + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(),
                                   index);
  if (ec != std::errc{} || end != digits.data() + digits.size())
    return std::nullopt;
  auto app = symbol::make(text.substr(0, slash));
  if (!app)
    return std::nullopt;
  return copy_id{*app, index};
}

std::string to_string(role x) {
  switch (x) {
    case role::offline: return "offline";
    case role::standby: return "standby";
    case role::active: return "active";
    case role::quiescing: return "quiescing";
    case role::quiesced: return "quiesced";
  }
  return "invalid";
}

std::string to_string(redundancy_model x) {
  switch (x) {
    case redundancy_model::no_redundancy: return "no_redundancy";
    case redundancy_model::two_n: return "2n";
    case redundancy_model::n_plus_m: return "n_plus_m";
    case redundancy_model::n_way: return "n_way";
    case redundancy_model::n_way_active: return "n_way_active";
  }
  return "invalid";
}

std::optional<redundancy_model> parse_redundancy_model(std::string_view text) {
  for (auto m : {redundancy_model::no_redundancy, redundancy_model::two_n,
                 redundancy_model::n_plus_m, redundancy_model::n_way,
                 redundancy_model::n_way_active})
    if (to_string(m) == text)
      return m;
  return std::nullopt;
}

} // namespace keel
