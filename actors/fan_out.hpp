// Fan-out of one request to many actors, with one continuation when every
// target answered or failed (timeout, dead receiver). Used for control-plane
// steps that must complete everywhere before the next one starts.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include <caf/error.hpp>

namespace keel {

/// Counts answers of a fan-out; `done(failed)` runs once, after the last.
class fan_out_counter {
public:
  fan_out_counter(size_t expected, std::function<void(size_t)> done)
    : remaining_(expected), done_(std::move(done)) {
  }

  void answer(bool ok) {
    if (!ok)
      ++failed_;
    if (--remaining_ == 0 && done_) {
      auto done = std::move(done_);
      done(failed_);
    }
  }

private:
  size_t remaining_;
  size_t failed_ = 0;
  std::function<void(size_t)> done_;
};

/// Sends `xs...` as a request to every handle in `targets` and calls
/// `done(failed)` once all answered with `Response` or an error.
template <class Response, class Self, class Handle, class... Ts>
void fan_out(Self* self, const std::vector<Handle>& targets,
             std::chrono::milliseconds timeout,
             std::function<void(size_t)> done, const Ts&... xs) {
  if (targets.empty()) {
    done(0);
    return;
  }
  auto counter = std::make_shared<fan_out_counter>(targets.size(),
                                                   std::move(done));
  for (auto& target : targets)
    self->request(target, timeout, xs...)
      .then([counter](const Response&) { counter->answer(true); },
            [counter](caf::error&) { counter->answer(false); });
}

} // namespace keel
