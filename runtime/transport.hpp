// The transport seam: every message that may cross nodes is sent through
// here, never with a bare `self->send`.
//
// Today it is a plain CAF send: CAF's location-transparent handles carry the
// message, in process or over the middleman (BASP). The seam exists so that a
// simulation can delay, drop or partition traffic between logical nodes
// without touching the components (ARCHITECTURE.md, "Simulation").
#pragma once

#include <utility>

#include "runtime/types.hpp"

namespace keel::transport {

/// Sends `xs...` from `self` to `dest`, which lives on node `to`.
template <class Self, class Handle, class... Ts>
void send(Self* self, [[maybe_unused]] const node_id& to, const Handle& dest,
          Ts&&... xs) {
  self->send(dest, std::forward<Ts>(xs)...);
}

} // namespace keel::transport
