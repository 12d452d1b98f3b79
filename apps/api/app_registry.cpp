#include "apps/api/app_registry.hpp"

namespace keel {

bool app_registry::add(const std::string& type, app_factory factory) {
  return factories_.emplace(type, std::move(factory)).second;
}

const app_factory* app_registry::find(const std::string& type) const {
  auto i = factories_.find(type);
  return i == factories_.end() ? nullptr : &i->second;
}

std::vector<std::string> app_registry::names() const {
  std::vector<std::string> result;
  for (auto& [name, _] : factories_)
    result.push_back(name);
  return result;
}

app_registry& app_registry::global() {
  static app_registry instance;
  return instance;
}

} // namespace keel
