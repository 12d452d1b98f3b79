#include "apps/builtin_apps.hpp"

#include "apps/api/app_registry.hpp"
#include "apps/counter/counter.hpp"
#include "apps/journal/journal.hpp"

namespace keel::apps {

void register_builtin_apps() {
  register_app<journal>("journal");
  register_app<counter>("counter");
}

} // namespace keel::apps
