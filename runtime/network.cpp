#include "runtime/network.hpp"

#include <algorithm>

#include <caf/all.hpp>

namespace keel {

caf::actor spawn_blackhole(caf::actor_system& sys) {
  // An argument on purpose: CAF 0.17 dereferences a null tuple for an actor
  // spawned without one (harmless, but UBSan stops on it).
  return sys.spawn([](caf::event_based_actor* self, int) -> caf::behavior {
    self->set_default_handler(
      [](caf::scheduled_actor*, caf::message_view&) -> caf::result<caf::message> {
        return caf::delegated<caf::message>{};  // no answer, ever
      });
    return {[](caf::unit_t) {}};
  }, 0);
}

network::network(uint64_t seed) : rng_(seed ^ 0x6e6574776f726bull) {
}

bool network::blocked(const node_id& from, const node_id& to) const {
  return cut_.count(undirected(from, to)) > 0;
}

network::verdict network::route(const node_id& from, const node_id& to,
                                int64_t now_us) {
  if (from == to)
    return {};
  std::lock_guard<std::mutex> guard{mtx_};
  auto key = undirected(from, to);
  if (cut_.count(key) > 0)
    return {verdict::drop, 0};
  if (auto i = loss_.find(key); i != loss_.end() && rng_.unit() < i->second)
    return {verdict::drop, 0};
  int64_t delay = 0;
  if (auto i = delay_.find(key); i != delay_.end()) {
    delay = i->second.first;
    if (i->second.second > 0)
      delay += static_cast<int64_t>(
        rng_.below(static_cast<uint64_t>(i->second.second) + 1));
  }
  // In order per direction: never before the previous message's arrival.
  auto& last = last_arrival_[link{from, to}];
  auto arrival = std::max(now_us + delay, last);
  last = arrival;
  return {verdict::deliver, arrival - now_us};
}

bool network::reachable(const node_id& from, const node_id& to) {
  if (from == to)
    return true;
  std::lock_guard<std::mutex> guard{mtx_};
  auto key = undirected(from, to);
  // A lossy link loses one-way messages; a request and its answer get
  // through (CAF's requests ride TCP, which retransmits; the seam cannot
  // delay a request, and a lost one would stall the control plane for a
  // whole control_timeout_ms).
  return cut_.count(key) == 0;
}

void network::recompute_cut() {
  cut_.clear();
  for (auto& [id, links] : cuts_)
    cut_.insert(links.begin(), links.end());
}

void network::partition(uint64_t id, const std::vector<node_id>& side,
                        const std::vector<node_id>& all) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& links = cuts_[id];
  for (auto& a : side)
    for (auto& b : all)
      if (std::find(side.begin(), side.end(), b) == side.end())
        links.insert(undirected(a, b));
  recompute_cut();
}

void network::heal(uint64_t id) {
  std::lock_guard<std::mutex> guard{mtx_};
  cuts_.erase(id);
  recompute_cut();
}

void network::heal() {
  std::lock_guard<std::mutex> guard{mtx_};
  cuts_.clear();
  cut_.clear();
}

void network::set_delay(const node_id& a, const node_id& b, int64_t delay_us,
                        int64_t jitter_us) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (delay_us <= 0 && jitter_us <= 0)
    delay_.erase(undirected(a, b));
  else
    delay_[undirected(a, b)] = {std::max<int64_t>(delay_us, 0),
                                std::max<int64_t>(jitter_us, 0)};
}

void network::set_loss(const node_id& a, const node_id& b,
                       double probability) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (probability <= 0)
    loss_.erase(undirected(a, b));
  else
    loss_[undirected(a, b)] = probability;
}

void network::hang(const node_id& node) {
  std::lock_guard<std::mutex> guard{mtx_};
  hung_.insert(node);
}

void network::resume(const node_id& node) {
  std::lock_guard<std::mutex> guard{mtx_};
  hung_.erase(node);
}

void network::place(caf::actor_id id, const node_id& node) {
  std::lock_guard<std::mutex> guard{mtx_};
  placed_[id] = node;
}

void network::forget(caf::actor_id id) {
  std::lock_guard<std::mutex> guard{mtx_};
  placed_.erase(id);
}

bool network::runnable(caf::actor_id id) const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (hung_.empty())
    return true;
  auto i = placed_.find(id);
  return i == placed_.end() || hung_.count(i->second) == 0;
}


} // namespace keel
