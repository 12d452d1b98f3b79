// Registration of runtime message types and keel's error category with an
// actor system config. Every type that may cross CAF's middleman must be
// registered on every node, before the actor_system is constructed.
#pragma once

#include <caf/actor_system_config.hpp>

namespace keel {

/// Registers runtime-layer message types and the `keel` error category.
void register_runtime_types(caf::actor_system_config& cfg);

} // namespace keel
