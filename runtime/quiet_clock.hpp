// quiet_clock: CAF's actor clock (timeouts, delayed messages) without a
// thread wake-up per operation, and the scheduler that uses it.
//
// CAF 0.17's clock (detail::thread_safe_actor_clock) hands every operation
// to its thread through a ring buffer that notifies a condition variable
// under its mutex whenever the buffer was empty: a timed request costs two
// wake-ups of that thread (set, and cancel on the answer), a delayed message
// one, and every actor's exit one (CAF cancels its timeouts). On this kind
// of machine the notifying worker spends 14-15 us per wake-up (measured:
// notify under the lock to a thread on the other core), and on the critical
// path of a failover the dying copy's exit alone took about 15 us of the
// 65 us from the kill to the first event served.
//
// quiet_clock keeps CAF's schedule (it is a simple_actor_clock, and its
// thread ships what is due with CAF's own code) but queues operations under
// a plain mutex and wakes its thread only when it must:
//   - a new timeout or delayed message due before the time the thread sleeps
//     until;
//   - a backlog of `wake_backlog` queued operations (cancellations included),
//     so the queue stays bounded and cancelled entries (which hold strong
//     references to their actors) are freed.
// Everything else waits for the thread's next wake-up, which comes no later
// than the earliest deadline. At each wake-up the thread applies everything
// queued, cancellations included, before it ships what is due, so a
// cancellation made before a deadline still wins, as with CAF's clock. What
// changes is lifetime: a queued entry holds a strong reference to its actor,
// so an actor that exited stays allocated (not running) until the thread's
// next wake-up, at most the earliest deadline or `wake_backlog` operations.
//
// Thread safety: every public operation may be called from any thread.
// use_quiet_clock installs it; it applies to CAF's work-stealing scheduler
// only (the deterministic test scheduler keeps its own virtual clock). The
// base class's run_dispatch_loop and cancel_dispatch_loop are not used.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>

namespace keel {

class quiet_clock final : public caf::detail::thread_safe_actor_clock {
public:
  /// Queued operations that wake the thread even when nothing is due.
  static constexpr size_t wake_backlog = 1024;

  // -- actor_clock ------------------------------------------------------------

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self,
                            caf::atom_value type, uint64_t id) override;

  void set_multi_timeout(time_point t, caf::abstract_actor* self,
                         caf::atom_value type, uint64_t id) override;

  void set_request_timeout(time_point t, caf::abstract_actor* self,
                           caf::message_id id) override;

  void cancel_ordinary_timeout(caf::abstract_actor* self,
                               caf::atom_value type) override;

  void cancel_request_timeout(caf::abstract_actor* self,
                              caf::message_id id) override;

  void cancel_timeouts(caf::abstract_actor* self) override;

  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override;

  void schedule_message(time_point t, caf::group target,
                        caf::strong_actor_ptr sender,
                        caf::message content) override;

  void cancel_all() override;

  // -- the thread -------------------------------------------------------------

  /// The dispatch loop: runs until stop(), then drops whatever is left.
  void run();

  /// Makes run() return.
  void stop();

  /// Times the thread was woken by an operation (for tests).
  size_t wakeups() const;

  /// Whether the thread sleeps (for tests: it has nothing due, and what is
  /// queued waits for its next wake-up).
  bool sleeping() const;

  /// Operations queued for the thread's next wake-up (for tests).
  size_t queued() const;

private:
  /// Queues `x`; wakes the thread if `due` is before its wake-up time or the
  /// backlog is full.
  void submit(time_point due, unique_event_ptr x);

  /// Applies one queued operation to the schedule (on the thread).
  void apply(unique_event_ptr& x);

  /// Schedules `x`, an event of type `T` (on the thread).
  template <class T>
  void add(unique_event_ptr& x);

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<unique_event_ptr> pending_;
  time_point wake_at_ = time_point::max();
  bool sleeping_ = false;
  bool done_ = false;
  size_t wakeups_ = 0;
};

/// Makes the actor system built from `cfg` run CAF's work-stealing
/// scheduler on a quiet_clock. The choice is made when the system is
/// constructed: a "scheduler.policy" of testing or sharing set later still
/// gets CAF's own coordinator; CAF's profiled schedulers are not offered.
void use_quiet_clock(caf::actor_system_config& cfg);

} // namespace keel
