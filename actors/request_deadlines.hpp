// Request timeouts kept by the requesting actor, one timer per round of
// deadlines instead of two clock operations per request.
//
// CAF 0.17 gives a timed request two operations on its clock thread: one
// when it is sent and a cancellation when it is answered. Each goes through
// the clock's mutex and wakes the clock's thread when its queue was empty,
// which on a small machine means a context switch per operation. Activating
// a thousand copies made six thousand of them; they were most of the time
// from start to ready (keel bench S1, decisions.md 40).
//
// `request(self, dest, timeout, xs...)` sends an untimed request and files
// its response id under the round its deadline falls in: deadlines are
// rounded up to a multiple of `grain`, so a burst of requests shares one
// round. The first request of a round sends the actor one delayed
// `deadline_atom`; on it, the actor calls `expire(self, round)`, which hands
// every request of the round the same `sec::request_timeout` CAF's clock
// would. A request answered in time has no handler any more and CAF drops
// the late error silently; whichever of answer and error comes first runs
// the handlers, once. A timeout fires never early, and late by at most
// `grain` plus the actor's backlog: the errors queue behind what is in the
// mailbox when `deadline_atom` is handled (CAF's clock queues its error at
// the deadline), so an answer arriving in that window still counts.
//
// Use `.then` only: while an actor `.await`s a response, CAF skips every
// other message, `deadline_atom` included, so that request would never time
// out.
//
// Bounds and costs: an id stays filed until its round expires, answered or
// not, so the table holds the requests of one timeout's span (8 bytes
// each); at expiry each costs one mailbox element, which CAF drops after a
// look into its table of pending responses.
//
// Thread safety: none; owned by the actor's state.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message_id.hpp>
#include <caf/sec.hpp>

#include "runtime/atoms.hpp"

namespace keel {

class request_deadlines {
public:
  explicit request_deadlines(
    std::chrono::nanoseconds grain = std::chrono::milliseconds{1})
    : grain_(grain.count() > 0 ? grain : std::chrono::nanoseconds{1}) {
  }

  /// Sends `xs...` as a request to `dest`, due within `timeout` (late by at
  /// most one grain plus the backlog). Returns CAF's response handle: use
  /// `.then(...)`, never `.await`.
  template <class Self, class Handle, class... Ts>
  auto request(Self* self, const Handle& dest,
               std::chrono::nanoseconds timeout, Ts&&... xs) {
    auto handle = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    auto now = self->clock().now().time_since_epoch();
    // The round: the deadline divided by the grain, rounded up.
    auto round = static_cast<uint64_t>(
      (now + timeout + grain_ - std::chrono::nanoseconds{1}) / grain_);
    auto& ids = rounds_[round];
    if (ids.empty()) {
      auto due = std::chrono::nanoseconds{grain_ * static_cast<int64_t>(round)};
      self->delayed_send(self, due - now, deadline_atom::value, round);
    }
    ids.push_back(handle.id());
    return handle;
  }

  /// Times out every request of `round` and of the rounds before it that is
  /// still unanswered. Call it on `deadline_atom`.
  template <class Self>
  void expire(Self* self, uint64_t round) {
    auto end = rounds_.upper_bound(round);
    for (auto i = rounds_.begin(); i != end; ++i)
      for (auto id : i->second)
        self->enqueue(caf::make_mailbox_element(
                        nullptr, id, {},
                        caf::make_error(caf::sec::request_timeout)),
                      self->context());
    rounds_.erase(rounds_.begin(), end);
  }

private:
  std::chrono::nanoseconds grain_;
  std::map<uint64_t, std::vector<caf::message_id>> rounds_;
};

} // namespace keel
