// Test support: an actor system under CAF's deterministic test_coordinator
// (nothing runs unless the test says so; time is virtual). See
// shared/docs/CAF-0.17.md section 4.
#pragma once

#include <chrono>
#include <memory>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/bootstrap.hpp"

namespace keel::test {

struct deterministic_config : caf::actor_system_config {
  deterministic_config() {
    set("scheduler.policy", caf::atom("testing"));
    register_message_types(*this);
  }
};

/// One actor system with a deterministic scheduler and a hidden scoped
/// actor for requests.
struct deterministic_system {
  deterministic_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  caf::scoped_actor self{sys, true};

  /// Runs every runnable actor until nothing is left to do (no time
  /// passes).
  void run() {
    sched.run();
  }

  /// Advances virtual time in steps of `step` up to `total`, running all
  /// work after each step (periodic timers re-arm from the new now).
  void advance(std::chrono::milliseconds total,
               std::chrono::milliseconds step = std::chrono::milliseconds{1}) {
    for (auto t = std::chrono::milliseconds{0}; t < total; t += step) {
      sched.advance_time(step);
      sched.run();
    }
  }
};

} // namespace keel::test
