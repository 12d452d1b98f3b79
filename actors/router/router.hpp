// The router actor: see router_interface.hpp for its protocol and
// router_state.hpp for its decisions.
#pragma once

#include <memory>
#include <vector>

#include "actors/router/router_interface.hpp"
#include "actors/router/router_state.hpp"
#include "runtime/context.hpp"

namespace keel {

struct router_actor_state {
  node_id node;
  context_ptr ctx;
  std::unique_ptr<router_state> table;
  std::vector<route_subscriber_actor> subscribers;
  static inline const char* name = "keel.router";
};

using router_pointer = router_actor::stateful_pointer<router_actor_state>;

router_actor::behavior_type router_impl(router_pointer self, node_id node,
                                        context_ptr ctx);

} // namespace keel
