// The transport seam: every message that may cross nodes is sent through
// here, never with a bare `self->send`.
//
// Without a simulated network (realtime, cluster) it is a plain CAF send:
// CAF's location-transparent handles carry the message, in process or over
// the middleman (BASP). In simulation the context holds a `network`
// (runtime/network.hpp) that delays, drops, partitions or holds traffic
// between logical nodes, without the components knowing
// (ARCHITECTURE.md, "Simulation").
#pragma once

#include <chrono>
#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/all.hpp>

#include "runtime/context.hpp"
#include "runtime/network.hpp"
#include "runtime/types.hpp"

namespace keel::transport {

/// Sends `xs...` from `self` on node `from` to `dest` on node `to`.
template <class Self, class Handle, class... Ts>
void send(Self* self, const runtime_context& ctx, const node_id& from,
          const node_id& to, const Handle& dest, Ts&&... xs) {
  if (!ctx.net || from == to) {
    self->send(dest, std::forward<Ts>(xs)...);
    return;
  }
  auto v = ctx.net->route(from, to, ctx.now_us(self));
  switch (v.kind) {
    case network::verdict::drop:
      return;
    case network::verdict::deliver:
      if (v.delay_us > 0)
        self->delayed_send(dest, std::chrono::microseconds{v.delay_us},
                           std::forward<Ts>(xs)...);
      else
        self->send(dest, std::forward<Ts>(xs)...);
      return;
  }
}

/// The handle to send a request from node `from` to `dest` on node `to`:
/// `dest` itself, or, when the simulated network does not let the request
/// through (a partition), an actor that never answers, so
/// the requester sees its timeout as across a real partition. Requests are
/// not delayed by delay_link. (A request to a hung node waits in its
/// mailbox, as in a stopped process's socket.)
template <class Handle>
Handle via(const runtime_context& ctx, const node_id& from, const node_id& to,
           const Handle& dest) {
  if (!ctx.net || from == to || ctx.net->reachable(from, to))
    return dest;
  return caf::actor_cast<Handle>(ctx.blackhole);
}

/// Records that `self` lives on `node`, for the simulation's hang_node.
inline void place(const runtime_context& ctx, caf::local_actor* self,
                  const node_id& node) {
  if (ctx.net)
    ctx.net->place(self->id(), node);
}

} // namespace keel::transport
