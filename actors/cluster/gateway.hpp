// The cluster gateway actor: see gateway_interface.hpp. What it hands out
// lives in a cell the node's main thread fills (its own handles at once, the
// control plane once activated): no message can set it, so a remote peer
// cannot plant handles.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>

#include "actors/cluster/gateway_interface.hpp"
#include "runtime/context.hpp"

namespace keel {

/// What the gateway answers with, shared with the node's main thread.
class gateway_cell {
public:
  void set(join_reply reply) {
    std::lock_guard<std::mutex> guard{mtx_};
    reply_ = std::move(reply);
  }
  join_reply get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return reply_;
  }

private:
  mutable std::mutex mtx_;
  join_reply reply_;
};

struct gateway_state {
  context_ptr ctx;
  node_id node;
  std::string secret;
  std::shared_ptr<const gateway_cell> cell;
  struct issued {
    std::string nonce;
    caf::actor_clock::time_point expires;
  };
  /// Outstanding challenges, oldest first (bounded: nonces_max).
  std::deque<issued> nonces;
  static constexpr size_t nonces_max = 256;
  static constexpr std::chrono::seconds nonce_ttl{10};
  static inline const char* name = "keel.gateway";
};

using gateway_pointer = gateway_actor::stateful_pointer<gateway_state>;

gateway_actor::behavior_type gateway_impl(gateway_pointer self,
                                          context_ptr ctx, node_id node,
                                          std::string secret,
                                          std::shared_ptr<const gateway_cell> cell);

} // namespace keel
