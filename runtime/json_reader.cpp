#include "runtime/json_reader.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "runtime/error.hpp"

namespace keel {

caf::expected<json> parse_json_file(std::istream& in,
                                    const std::string& origin) {
  std::string text{std::istreambuf_iterator<char>{in},
                   std::istreambuf_iterator<char>{}};
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // Turn the byte offset into line:column, which editors understand.
    size_t line = 1, column = 1;
    for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return make_error(error_code::invalid_config,
                      origin + ":" + std::to_string(line) + ":"
                        + std::to_string(column) + ": not valid JSON");
  }
}

caf::expected<json> read_json_file(const std::string& file) {
  std::ifstream in{file};
  if (!in)
    return make_error(error_code::invalid_config, file + ": cannot open file");
  return parse_json_file(in, file);
}

std::string describe_json(const json& value) {
  auto text = value.dump();
  if (text.size() > 40)
    text = text.substr(0, 37) + "...";
  return text;
}

json_object_reader::json_object_reader(const json& value, std::string path)
  : value_(value), path_(std::move(path)) {
  if (!value_.is_object())
    throw json_path_error(path_, "expected an object, got "
                                   + describe_json(value_));
}

bool json_object_reader::has(std::string_view key) const {
  return value_.contains(key);
}

const json& json_object_reader::required(std::string_view key) {
  auto i = value_.find(key);
  if (i == value_.end())
    throw json_path_error(path_of(key), "missing required key");
  consumed_.emplace_back(key);
  return *i;
}

const json* json_object_reader::optional(std::string_view key) {
  auto i = value_.find(key);
  if (i == value_.end())
    return nullptr;
  consumed_.emplace_back(key);
  return &*i;
}

std::string json_object_reader::required_string(std::string_view key) {
  auto& x = required(key);
  if (!x.is_string())
    throw json_path_error(path_of(key),
                          "expected a string, got " + describe_json(x));
  return x.get<std::string>();
}

std::string json_object_reader::optional_string(std::string_view key,
                                                std::string fallback) {
  auto x = optional(key);
  if (!x)
    return fallback;
  if (!x->is_string())
    throw json_path_error(path_of(key),
                          "expected a string, got " + describe_json(*x));
  return x->get<std::string>();
}

uint64_t read_uint(const json& x, const std::string& path, uint64_t min,
                   uint64_t max) {
  auto fail = [&] {
    throw json_path_error(path, "expected an integer in [" + std::to_string(min)
                                  + ", " + std::to_string(max) + "], got "
                                  + describe_json(x));
  };
  uint64_t result = 0;
  if (x.is_number_unsigned())
    result = x.get<uint64_t>();
  else if (x.is_number_integer()) {
    auto v = x.get<int64_t>();
    if (v < 0)
      fail();
    result = static_cast<uint64_t>(v);
  } else
    fail();
  if (result < min || result > max)
    fail();
  return result;
}

symbol read_name(const json& x, const std::string& path) {
  if (!x.is_string())
    throw json_path_error(path, "expected a name string, got "
                                  + describe_json(x));
  auto name = x.get<std::string>();
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  };
  if (name.empty() || name.size() > 64
      || !std::all_of(name.begin(), name.end(), ok))
    throw json_path_error(path, "expected a name of 1-64 characters from "
                                "[A-Za-z0-9_.-], got "
                                  + describe_json(x));
  auto interned = symbol::make(name);
  if (!interned)
    throw json_path_error(path, "one name too many: a process keeps at most "
                                  + std::to_string(symbol::max_count)
                                  + " distinct node and application names");
  return *interned;
}

uint64_t json_object_reader::required_uint(std::string_view key, uint64_t min,
                                           uint64_t max) {
  return read_uint(required(key), path_of(key), min, max);
}

uint64_t json_object_reader::optional_uint(std::string_view key,
                                           uint64_t fallback, uint64_t min,
                                           uint64_t max) {
  auto x = optional(key);
  return x ? read_uint(*x, path_of(key), min, max) : fallback;
}

double json_object_reader::optional_double(std::string_view key,
                                           double fallback, double min,
                                           double max) {
  auto x = optional(key);
  if (!x)
    return fallback;
  if (!x->is_number() || x->get<double>() < min || x->get<double>() > max)
    throw json_path_error(path_of(key), "expected a number in ["
                                          + std::to_string(min) + ", "
                                          + std::to_string(max) + "], got "
                                          + describe_json(*x));
  return x->get<double>();
}

bool json_object_reader::optional_bool(std::string_view key, bool fallback) {
  auto x = optional(key);
  if (!x)
    return fallback;
  if (!x->is_boolean())
    throw json_path_error(path_of(key),
                          "expected true or false, got " + describe_json(*x));
  return x->get<bool>();
}

void json_object_reader::finish(
  std::initializer_list<std::string_view> known) const {
  finish(std::vector<std::string>(known.begin(), known.end()));
}

void json_object_reader::finish(const std::vector<std::string>& known) const {
  for (auto& [key, _] : value_.items()) {
    if (std::find(consumed_.begin(), consumed_.end(), key) != consumed_.end())
      continue;
    std::string list;
    for (auto& k : known)
      list += (list.empty() ? "" : ", ") + k;
    throw json_path_error(path_of(key), "unknown key (known keys: " + list
                                          + ")");
  }
}

} // namespace keel
