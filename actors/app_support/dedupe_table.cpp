#include "actors/app_support/dedupe_table.hpp"

#include <algorithm>
#include <limits>
#include <vector>

namespace keel {

const dedupe_table::entry* dedupe_table::find(const std::string& client,
                                              uint64_t request_id) const {
  auto i = clients_.find(client);
  if (i == clients_.end())
    return nullptr;
  auto j = i->second.by_request.find(request_id);
  return j == i->second.by_request.end() ? nullptr : &j->second;
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
    evicted_ += victim->second.order.size();
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
  if (c.by_request.emplace(request_id, std::move(value)).second)
    c.order.push_back(request_id);
  while (c.order.size() > window_) {
    c.by_request.erase(c.order.front());
    c.order.pop_front();
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
    for (auto rid : kvp->second.order) {
      auto& e = kvp->second.by_request.at(rid);
      requests.push_back(json::array({rid, e.index, e.result, e.rejection}));
    }
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
        entry_ref.by_request.emplace(
          rid, entry{r.at(1).get<log_index>(), r.at(2),
                     r.at(3).get<std::string>()});
        entry_ref.order.push_back(rid);
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
