// The load_distributor actor (the ALDM): see load_distributor_interface.hpp
// for its protocol and distributor_state.hpp for its decisions.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "actors/load_distributor/distributor_state.hpp"
#include "actors/load_distributor/load_distributor_interface.hpp"
#include "runtime/context.hpp"

namespace keel {

struct load_distributor_actor_state {
  node_id node;
  context_ptr ctx;
  router_actor router;
  /// Earliest time the next retransmit tick may run (one chain of ticks).
  int64_t next_tick_us = 0;
  std::unique_ptr<distributor_state> table;
  std::unordered_map<distributor_state::token,
                     caf::typed_response_promise<event_reply>>
    clients;
  distributor_state::token next_token = 1;
  /// Batch clients (event_batch::reply_to) by slot; a batch event's token
  /// is batch_token | generation << 32 | slot, so an outcome never reaches
  /// a later client that reused the slot of a dead one.
  struct sink_slot {
    result_sink_actor sink;
    uint32_t generation = 0;
  };
  std::vector<sink_slot> sinks;
  std::vector<uint32_t> free_sinks;
  std::unordered_map<caf::actor_addr, uint32_t> sink_index;
  uint64_t accepted = 0;
  uint64_t acknowledged = 0;
  uint64_t refused = 0;
  /// admit_batch's dispatches, kept between batches (memory stays warm);
  /// shrunk after a batch of more than 4096 events.
  std::vector<distributor_state::dispatch> batch_dispatches;
  static inline const char* name = "keel.load_distributor";
};

using load_distributor_pointer
  = load_distributor_actor::stateful_pointer<load_distributor_actor_state>;

/// Spawned on `node`; subscribes to that node's `router` at once.
load_distributor_actor::behavior_type
load_distributor_impl(load_distributor_pointer self, node_id node,
                      context_ptr ctx, router_actor router);

} // namespace keel
