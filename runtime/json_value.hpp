// A JSON value that can travel in CAF messages.
//
// Locally a message carries the parsed value (no serialization). Across the
// middleman it is written as JSON text and parsed on arrival; text that does
// not parse arrives as a `discarded` value, which receivers treat as invalid.
#pragma once

#include <string>

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <nlohmann/json.hpp>

namespace keel {

using json = nlohmann::json;

struct json_value {
  json value;

  json_value() = default;
  json_value(json x) : value(std::move(x)) {}  // NOLINT: implicit by design

  friend bool operator==(const json_value& x, const json_value& y) {
    return x.value == y.value;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, json_value& x) {
  if constexpr (Inspector::reads_state) {
    std::string text = x.value.dump();
    return f(caf::meta::type_name("keel_json"), text);
  } else {
    std::string text;
    auto load = [&]() -> caf::error {
      x.value = json::parse(text, nullptr, false);
      return caf::none;
    };
    return f(caf::meta::type_name("keel_json"), text,
             caf::meta::load_callback(load));
  }
}

} // namespace keel
