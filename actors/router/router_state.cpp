#include "actors/router/router_state.hpp"

namespace keel {

bool router_state::replaces(const route& next, const route& current) {
  if (next.epoch != current.epoch)
    return next.epoch > current.epoch;
  // Same epoch: the step "active -> fenced" is news, and so is a new
  // successor of the same active.
  return (next.in_transition && !current.in_transition)
         || current.same_but_successor(next);
}

const router_state::entry&
router_state::get_or_make(const app_name& app, partition_id partition) {
  auto i = entries_.lower_bound(by_partition::ref{app, partition});
  if (i != entries_.end() && i->current.partition == partition
      && i->current.app == app)
    return *i;
  entry e;
  e.current.app = app;
  e.current.partition = partition;
  return *entries_.emplace_hint(i, std::move(e));
}

router_state::verdict router_state::on_event(routed_event& ev,
                                             const route** out) {
  // Events may arrive before the first routes (startup): they wait in a new
  // entry. Keys come from distributors, which accept only configured apps.
  auto& e = get_or_make(ev.ev->app, ev.partition);
  if (e.buffer.empty() && !e.current.in_transition && e.current.handle) {
    ev.epoch = e.current.epoch;
    *out = &e.current;
    return verdict::forward;
  }
  if (e.buffer.size() >= buffer_max_)
    return verdict::overloaded;
  e.buffer.push_back(std::move(ev));
  return verdict::buffered;
}

std::vector<route>
router_state::install(const std::vector<route>& routes,
                      std::vector<std::pair<route, routed_event>>& flushes) {
  std::vector<route> changed;
  for (auto& next : routes) {
    auto before = entries_.size();
    auto& e = get_or_make(next.app, next.partition);
    bool added = entries_.size() > before;
    if (!added && !replaces(next, e.current))
      continue;
    e.current = next;
    changed.push_back(next);
    if (!next.in_transition && next.handle) {
      while (!e.buffer.empty()) {
        auto ev = std::move(e.buffer.front());
        e.buffer.pop_front();
        ev.epoch = next.epoch;
        flushes.emplace_back(next, std::move(ev));
      }
    }
  }
  return changed;
}

std::vector<route>
router_state::fence_copy(const copy_id& copy,
                        const app_support_actor& incarnation) {
  std::vector<route> changed;
  for (auto& e : entries_) {
    if (e.current.in_transition || e.current.active != copy
        || e.current.handle != incarnation)
      continue;
    e.current.in_transition = true;
    changed.push_back(e.current);
  }
  return changed;
}

std::vector<route> router_state::table() const {
  std::vector<route> result;
  result.reserve(entries_.size());
  for (auto& e : entries_)
    result.push_back(e.current);
  return result;
}

size_t router_state::buffered(const app_name& app,
                              partition_id partition) const {
  auto i = entries_.find(by_partition::ref{app, partition});
  return i == entries_.end() ? 0 : i->buffer.size();
}

} // namespace keel
