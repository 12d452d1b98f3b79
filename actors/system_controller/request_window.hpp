// request_window: which of a batch of requests go out when, keeping at most
// `width` in flight (decision logic only: no CAF types; the controller's
// activation sends the requests and reports the answers).
//
// Why a window: CAF 0.17 keeps an actor's pending response handlers in a
// flat map searched linearly, to add a handler and to find it when the
// answer comes, so thousands of requests in flight from one actor cost
// O(n) each (decisions.md 42). Why the bypass: a node that stops answering
// would hold its requests in line, one timeout per `width` of them; once
// one of its requests timed out, the rest of that node's go out at once
// (outside the window), so they time out together.
//
// Thread safety: none (owned by one actor).
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "runtime/types.hpp"

namespace keel {

class request_window {
public:
  /// One request per entry of `targets` (the node each goes to), in order.
  request_window(std::vector<node_id> targets, size_t width)
    : targets_(std::move(targets)),
      sent_(targets_.size(), false),
      windowed_(targets_.size(), false),
      width_(width == 0 ? 1 : width),
      unanswered_(targets_.size()) {
    // nop
  }

  /// The requests to send first.
  std::vector<size_t> start() {
    std::vector<size_t> out;
    fill(out);
    return out;
  }

  /// Request `i` was answered (or failed; `timed_out`: its node did not
  /// answer in time). Returns the requests to send now, each only once
  /// over the window's life.
  std::vector<size_t> answered(size_t i, bool timed_out) {
    --unanswered_;
    if (windowed_[i])
      --in_flight_;
    std::vector<size_t> out;
    if (timed_out)
      for (size_t j = next_; j < targets_.size(); ++j)
        if (!sent_[j] && targets_[j] == targets_[i]) {
          sent_[j] = true;
          out.push_back(j);
        }
    fill(out);
    return out;
  }

  /// Whether every request was answered.
  bool done() const noexcept {
    return unanswered_ == 0;
  }

  /// Requests in flight that hold a place in the window.
  size_t in_flight() const noexcept {
    return in_flight_;
  }

private:
  void fill(std::vector<size_t>& out) {
    while (in_flight_ < width_ && next_ < targets_.size()) {
      auto i = next_++;
      if (sent_[i])
        continue;  // went out past the window (its node timed out)
      sent_[i] = true;
      windowed_[i] = true;
      ++in_flight_;
      out.push_back(i);
    }
  }

  std::vector<node_id> targets_;
  std::vector<bool> sent_;
  std::vector<bool> windowed_;
  size_t width_;
  size_t next_ = 0;  // requests before it were sent
  size_t in_flight_ = 0;
  size_t unanswered_;
};

} // namespace keel
