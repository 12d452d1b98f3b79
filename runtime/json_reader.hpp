// Validated reading of JSON documents: every error names the JSON path of the
// offending value and the expected form, e.g.
//   $.topology.apps[0].copies: expected an integer in [1, 64], got "two"
//
// Readers throw json_path_error; loaders catch it at their entry point and
// turn it into a caf::error (error_code::invalid_config). Nothing throws
// across an actor boundary.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <istream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "runtime/json_value.hpp"
#include "runtime/symbol.hpp"

namespace keel {

class json_path_error : public std::runtime_error {
public:
  json_path_error(const std::string& path, const std::string& what)
    : std::runtime_error(path + ": " + what) {
  }
};

/// Parses a whole JSON document from `in`; a syntax error names `origin`,
/// the line and the column (error_code::invalid_config).
caf::expected<json> parse_json_file(std::istream& in,
                                    const std::string& origin);

/// Opens and parses the JSON file `file`; errors (cannot open, syntax with
/// line and column) are error_code::invalid_config naming the file.
caf::expected<json> read_json_file(const std::string& file);

/// Short rendering of a value for error messages (truncated).
std::string describe_json(const json& value);

/// Reads one JSON object, tracking which keys were consumed so that unknown
/// keys are reported by `finish()`.
class json_object_reader {
public:
  /// Throws unless `value` is an object.
  json_object_reader(const json& value, std::string path);

  const std::string& path() const noexcept {
    return path_;
  }

  std::string path_of(std::string_view key) const {
    return path_ + "." + std::string{key};
  }

  bool has(std::string_view key) const;

  /// The raw member; throws if missing.
  const json& required(std::string_view key);

  /// The raw member, or nullptr if missing.
  const json* optional(std::string_view key);

  std::string required_string(std::string_view key);
  std::string optional_string(std::string_view key, std::string fallback);

  uint64_t required_uint(std::string_view key, uint64_t min, uint64_t max);
  uint64_t optional_uint(std::string_view key, uint64_t fallback, uint64_t min,
                         uint64_t max);

  double optional_double(std::string_view key, double fallback, double min,
                         double max);

  bool optional_bool(std::string_view key, bool fallback);

  /// Throws on the first key that was never read, listing the known keys.
  void finish(std::initializer_list<std::string_view> known) const;
  void finish(const std::vector<std::string>& known) const;

private:
  const json& value_;
  std::string path_;
  std::vector<std::string> consumed_;
};

/// Reads an unsigned integer in [min, max] at `path`.
uint64_t read_uint(const json& value, const std::string& path, uint64_t min,
                   uint64_t max);

/// Reads a node's or application's name at `path` (1-64 characters of
/// [A-Za-z0-9_.-]) and interns it; a path error if the process's table of
/// names is full.
symbol read_name(const json& value, const std::string& path);

} // namespace keel
