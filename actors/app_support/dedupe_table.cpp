#include "actors/app_support/dedupe_table.hpp"

#include <algorithm>
#include <limits>
#include <vector>

namespace keel {

namespace {

template <class Requests>
auto lower_bound_of(Requests& requests, uint64_t request_id) {
  return std::lower_bound(
    requests.begin(), requests.end(), request_id,
    [](const auto& x, uint64_t id) { return x.first < id; });
}

} // namespace

const dedupe_table::entry* dedupe_table::find(const std::string& client,
                                              uint64_t request_id) const {
  auto i = clients_.find(client);
  if (i == clients_.end())
    return nullptr;
  auto& requests = i->second.requests;
  if (requests.empty() || request_id > requests.back().first)
    return nullptr;
  auto j = lower_bound_of(requests, request_id);
  return j != requests.end() && j->first == request_id ? &j->second : nullptr;
}

void dedupe_table::evict_least_recent_client() {
  auto victim = clients_.end();
  auto oldest = std::numeric_limits<uint64_t>::max();
  for (auto i = clients_.begin(); i != clients_.end(); ++i)
    if (i->second.last_seen < oldest) {
      oldest = i->second.last_seen;
      victim = i;
    }
  if (victim != clients_.end()) {
    evicted_ += victim->second.requests.size();
    clients_.erase(victim);
  }
}

void dedupe_table::record(const std::string& client, uint64_t request_id,
                          entry value) {
  auto i = clients_.find(client);
  if (i == clients_.end()) {
    if (clients_.size() >= clients_max_)
      evict_least_recent_client();
    i = clients_.emplace(client, client_entry{}).first;
  }
  auto& c = i->second;
  c.last_seen = ++clock_;
  auto& requests = c.requests;
  if (requests.empty() || request_id > requests.back().first) {
    requests.emplace_back(request_id, std::move(value));
  } else {
    auto j = lower_bound_of(requests, request_id);
    if (j != requests.end() && j->first == request_id)
      return;  // remembered already: the first reply stays
    requests.emplace(j, request_id, std::move(value));
  }
  while (requests.size() > window_) {
    requests.pop_front();
    ++evicted_;
  }
}

json dedupe_table::to_json() const {
  // Clients sorted by name so that equal tables give equal JSON.
  std::vector<const std::pair<const std::string, client_entry>*> sorted;
  for (auto& kvp : clients_)
    sorted.push_back(&kvp);
  std::sort(sorted.begin(), sorted.end(),
            [](auto* x, auto* y) { return x->first < y->first; });
  json clients = json::array();
  for (auto* kvp : sorted) {
    json requests = json::array();
    for (auto& [rid, e] : kvp->second.requests)
      requests.push_back(json::array({rid, e.index, e.result, e.rejection}));
    clients.push_back(json::array({kvp->first, kvp->second.last_seen,
                                   std::move(requests)}));
  }
  return json{{"clock", clock_}, {"clients", std::move(clients)}};
}

bool dedupe_table::from_json(const json& state) {
  clients_.clear();
  clock_ = 0;
  try {
    clock_ = state.at("clock").get<uint64_t>();
    for (auto& c : state.at("clients")) {
      auto& entry_ref = clients_[c.at(0).get<std::string>()];
      entry_ref.last_seen = c.at(1).get<uint64_t>();
      for (auto& r : c.at(2)) {
        auto rid = r.at(0).get<uint64_t>();
        auto& requests = entry_ref.requests;
        entry value{r.at(1).get<log_index>(), r.at(2),
                    r.at(3).get<std::string>()};
        auto j = lower_bound_of(requests, rid);
        if (j == requests.end() || j->first != rid)
          requests.emplace(j, rid, std::move(value));
      }
    }
    return true;
  } catch (const json::exception&) {
    clients_.clear();
    clock_ = 0;
    return false;
  }
}

} // namespace keel
