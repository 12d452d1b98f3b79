// What every actor of one keel system shares: the validated configuration,
// the trace sink and the time origin of trace timestamps.
//
// Immutable after bootstrap (the trace sink is internally synchronized), so
// it is passed to actors as a shared pointer to const. Local to one process:
// it never travels in messages.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/actor_clock.hpp>
#include <caf/local_actor.hpp>
#include <caf/send.hpp>

#include "runtime/config.hpp"
#include "runtime/trace.hpp"

namespace keel {

class network;

struct runtime_context {
  system_config config;
  std::shared_ptr<trace_sink> trace;
  /// Time origin of trace timestamps (actor clock; virtual in simulation).
  caf::actor_clock::time_point start;
  /// The node that hosts the control plane (controller, fault manager,
  /// load manager, distributor): the first configured node.
  node_id control_node;
  /// The simulated network (simulation only; null otherwise) and the actor
  /// that swallows requests it does not let through (they time out).
  std::shared_ptr<network> net;
  caf::actor blackhole;
  /// Frees what a dying actor leaves behind (see deferred_free), so that
  /// its monitors learn of its death before the memory is released.
  caf::actor reaper;
  /// Cluster mode: node agents run on their own thread (caf::detached), so
  /// that application load on the scheduler cannot delay heartbeats.
  bool detached_agents = false;
  /// Cluster mode: set by this node's agent when it first gets its peers,
  /// i.e. once this node is part of an activated system (its gateway tells
  /// joiners; a restarted control node must not activate a second system).
  std::shared_ptr<std::atomic<bool>> member;

  /// Microseconds since `start` on `self`'s clock.
  int64_t now_us(caf::local_actor* self) const {
    return std::chrono::duration_cast<std::chrono::microseconds>(
             self->clock().now() - start)
      .count();
  }

  /// Emits a trace event stamped with `self`'s clock.
  void emit(caf::local_actor* self, std::string name,
            json fields = json::object()) const {
    if (trace)
      trace->emit(now_us(self), std::move(name), std::move(fields));
  }

  /// The same with fields written straight into MessagePack (for events of
  /// every copy or route: a role_changed event's fields take 0.17 us to
  /// build this way, 1.2 us as JSON converted to MessagePack).
  void emit(caf::local_actor* self, std::string name,
            trace_fields fields) const {
    if (trace)
      trace->emit(now_us(self), std::move(name), std::move(fields));
  }
};

using context_ptr = std::shared_ptr<const runtime_context>;

/// Memory handed to the context's reaper: destroyed there, after the
/// sender is gone. CAF 0.17 destroys a stateful actor's state before it
/// sends its down messages, so a copy with a large state would otherwise
/// delay its own failure detection by the time its state takes to free.
/// Local only (never serialized).
struct deferred_free {
  std::shared_ptr<void> what;
};

/// Hands `what` to `ctx`'s reaper; frees it here if there is none.
inline void free_later(const runtime_context& ctx, std::shared_ptr<void> what) {
  if (ctx.reaper)
    caf::anon_send(ctx.reaper, deferred_free{std::move(what)});
}

} // namespace keel

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::deferred_free)
