// OTP's restart intensity as a pure function: at most `intensity` restarts
// within any `period`; one more means the failure must be escalated instead
// of retried.
//
// Thread safety: none; owned by one actor's state.
#pragma once

#include <chrono>
#include <cstdint>

#include "runtime/lazy_deque.hpp"

namespace keel {

class restart_window {
public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;
  using duration = clock::duration;

  restart_window(uint32_t intensity, duration period)
    : intensity_(intensity), period_(period) {
  }

  /// Records a restart attempt at `now`. Returns true if it is allowed (at
  /// most `intensity` restarts in the window ending at `now`, this one
  /// included); false means the intensity is exceeded: escalate. A refused
  /// attempt is not recorded.
  bool try_restart(time_point now);

  /// Restarts recorded in the window ending at `now`.
  size_t recent(time_point now);

  uint32_t intensity() const noexcept {
    return intensity_;
  }

  duration period() const noexcept {
    return period_;
  }

private:
  void expire(time_point now);

  uint32_t intensity_;
  duration period_;
  lazy_deque<time_point> restarts_;  // at most intensity_ entries
};

} // namespace keel
