// The node agent actor: see node_agent_interface.hpp. It is the parent of
// the copies on its node (it monitors them; they monitor it and quit when it
// goes down) but never restarts them: restarts are the controller's decision
// (restart intensity per copy, placement). It is linked to its node's
// supervisor and goes down with it.
#pragma once

#include <map>

#include <caf/actor.hpp>

#include "actors/node_agent/node_agent_interface.hpp"
#include "apps/api/app_registry.hpp"
#include "runtime/context.hpp"

namespace keel {

struct node_agent_state {
  node_id node;
  context_ptr ctx;
  const app_registry* registry = nullptr;
  caf::actor parent;
  struct running_copy {
    app_support_actor handle;
    /// Health checks missed in a row.
    uint32_t misses = 0;
    /// The round of the last check sent (0: none yet), and whether the
    /// copy answered it before the next round.
    uint64_t checked_round = 0;
    bool answered = false;
    /// Killed as hung: no more checks (it leaves with its down message).
    bool killed = false;
  };
  std::map<copy_id, running_copy> copies;
  // Health checks: one timer for all copies (rounds).
  uint64_t health_round = 0;
  uint64_t health_seq = 0;
  int64_t last_health_us = 0;
  /// The last round judged no misses (it came late).
  bool health_skipped = false;
  // Load reports: one timer for all copies (rounds), as health checks.
  uint64_t load_seq = 0;
  // Heartbeats (ordered maps: simulations replay byte for byte).
  struct peer {
    node_agent_actor agent;
    int64_t last_heard_us = 0;
    bool fenced = false;
  };
  std::map<node_id, peer> peers;
  view_listener_actor listener;
  bool fenced = false;
  uint64_t tick_seq = 0;
  /// Longest gap seen between two heartbeats of one peer (traced as it
  /// grows past one interval).
  int64_t max_gap_us = 0;
  int64_t last_round_us = 0;
  static inline const char* name = "keel.node_agent";
};

using node_agent_pointer = node_agent_actor::stateful_pointer<node_agent_state>;

/// `parent` is the node's supervisor: the agent exits when it does.
node_agent_actor::behavior_type node_agent_impl(node_agent_pointer self,
                                                node_id node, context_ptr ctx,
                                                const app_registry* registry,
                                                caf::actor parent);

} // namespace keel
