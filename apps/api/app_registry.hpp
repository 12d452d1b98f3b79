// The registry of application types: a name ("journal") -> a factory of
// partition instances. Configuration names an app's type; bootstrap checks
// that every configured type is registered before anything starts.
//
// Thread safety: register types before starting a system; lookups after that
// are read-only and may run on any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "apps/api/application.hpp"

namespace keel {

using app_factory = std::function<std::unique_ptr<application>()>;

class app_registry {
public:
  /// Adds `type`. Returns false if the name is taken (the first one stays).
  bool add(const std::string& type, app_factory factory);

  /// The factory of `type`, or nullptr.
  const app_factory* find(const std::string& type) const;

  /// Registered type names, sorted.
  std::vector<std::string> names() const;

  /// The process-wide registry used by keel's CLI and by default bootstrap.
  static app_registry& global();

private:
  std::map<std::string, app_factory> factories_;
};

/// Registers application class `T` (default-constructible) as `type` in the
/// global registry. Returns false if `type` was already registered.
template <class T>
bool register_app(const std::string& type) {
  return app_registry::global().add(type, [] {
    return std::unique_ptr<application>{new T};
  });
}

} // namespace keel
