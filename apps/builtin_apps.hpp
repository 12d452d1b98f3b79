// The applications that ship with keel: `journal` (verification) and
// `counter` (the README example).
#pragma once

namespace keel::apps {

/// Registers the built-in application types in the global registry.
/// Idempotent.
void register_builtin_apps();

} // namespace keel::apps
