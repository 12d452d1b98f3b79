// Fan-out of one request to many actors, with one continuation when every
// target answered or failed (timeout, dead receiver). Used for control-plane
// steps that must complete everywhere before the next one starts.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include <caf/error.hpp>

#include "runtime/types.hpp"

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

/// Fan-out answers still awaited from actors on given nodes. A node found
/// gone (`release`) answers them as failed at once, so that a step does not
/// wait its whole timeout for a node that went away after it started (two
/// nodes lost within one detection window held every recovery that long).
class node_waits {
public:
  struct wait {
    std::shared_ptr<fan_out_counter> counter;
    bool answered = false;

    void answer(bool ok) {
      if (answered)
        return;
      answered = true;
      counter->answer(ok);
    }
  };

  /// A new wait for an answer from `node`. The caller's request holds it;
  /// the registry only refers to it, and drops the node's expired entries
  /// first (lazily: a node's list holds at most the waits in flight at its
  /// last add, expired or not).
  std::shared_ptr<wait> add(const node_id& node,
                            std::shared_ptr<fan_out_counter> counter) {
    auto [first, last] = waits_.equal_range(node);
    for (auto i = first; i != last;)
      i = i->second.expired() ? waits_.erase(i) : std::next(i);
    auto w = std::make_shared<wait>();
    w->counter = std::move(counter);
    waits_.emplace(node, w);
    return w;
  }

  /// Answers every wait on `node` as failed.
  void release(const node_id& node) {
    auto [first, last] = waits_.equal_range(node);
    // Answering may run a continuation that adds waits: collect first.
    std::vector<std::shared_ptr<wait>> pending;
    for (auto i = first; i != last; ++i)
      if (auto w = i->second.lock())
        pending.push_back(std::move(w));
    waits_.erase(node);
    for (auto& w : pending)
      w->answer(false);
  }

  size_t size() const noexcept {
    return waits_.size();
  }

private:
  // Ordered by node: releases run in the same order in every simulation.
  std::multimap<node_id, std::weak_ptr<wait>> waits_;
};

/// fan_out to (node, handle) targets whose answers `waits` can release.
template <class Response, class Self, class Handle, class... Ts>
void fan_out(Self* self, node_waits& waits,
             const std::vector<std::pair<node_id, Handle>>& targets,
             std::chrono::milliseconds timeout,
             std::function<void(size_t)> done, const Ts&... xs) {
  if (targets.empty()) {
    done(0);
    return;
  }
  auto counter = std::make_shared<fan_out_counter>(targets.size(),
                                                   std::move(done));
  for (auto& [node, target] : targets) {
    auto w = waits.add(node, counter);
    self->request(target, timeout, xs...)
      .then([w](const Response&) { w->answer(true); },
            [w](caf::error&) { w->answer(false); });
  }
}

} // namespace keel
