// A workload client: an actor that sends events to a distributor at a fixed
// rate for the workload's duration, with increasing request ids, keys drawn
// from its own seeded generator, and records every outcome in its log.
// Time comes from the actor clock only, so it runs unchanged under a
// virtual clock.
//
// When the load is over and every event it sent is answered (or timed out)
// it sends (done_atom, index) to its driver and quits.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/app_support/app_support_interface.hpp"
#include "runtime/context.hpp"
#include "runtime/random.hpp"
#include "scenarios/engine/run_data.hpp"
#include "scenarios/engine/scenario.hpp"

namespace keel::scenarios {

using done_atom = caf::atom_constant<caf::atom("done")>;
/// Driver -> client (cluster mode): the control plane moved; send to this
/// distributor from now on (requests still open are sent again with their
/// request ids: the copies dedupe them).
using switch_atom = caf::atom_constant<caf::atom("switch")>;

struct client_args {
  uint32_t index = 0;
  std::string client_id;
  event_sink_actor distributor;
  workload_spec workload;
  /// This client's share of the workload's rate.
  double rate_per_s = 0;
  uint64_t seed = 0;
  context_ptr ctx;
  std::shared_ptr<client_log> log;
  caf::actor driver;
};

struct client_state {
  client_args args;
  random_source rng{0};
  caf::actor_clock::time_point start;
  uint64_t sent = 0;
  uint64_t in_flight = 0;
  bool load_over = false;
  /// Batch ingress: indexes of requests sent, oldest first (answered ones
  /// are skipped when they reach the front), for the timeout.
  std::deque<size_t> unanswered;
  static inline const char* name = "keel.workload_client";
};

caf::behavior workload_client(caf::stateful_actor<client_state>* self,
                              client_args args);

} // namespace keel::scenarios
