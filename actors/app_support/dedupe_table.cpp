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

dedupe_table::client_entry*
dedupe_table::lookup(const std::string& client) const {
  if (last_ != nullptr && last_->first == client)
    return &last_->second;
  auto i = const_cast<dedupe_table*>(this)->clients_.find(client);
  if (i == clients_.end())
    return nullptr;
  last_ = &*i;
  return &i->second;
}

const dedupe_table::entry* dedupe_table::find(const std::string& client,
                                              uint64_t request_id) const {
  auto c = lookup(client);
  if (c == nullptr)
    return nullptr;
  auto& requests = c->requests;
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
    last_ = nullptr;
    clients_.erase(victim);
  }
}

const dedupe_table::entry& dedupe_table::record(const std::string& client,
                                                uint64_t request_id,
                                                entry value) {
  auto found = lookup(client);
  if (found == nullptr) {
    if (clients_.size() >= clients_max_)
      evict_least_recent_client();
    auto i = clients_.emplace(client, client_entry{}).first;
    last_ = &*i;
    found = &i->second;
  }
  auto& c = *found;
  c.last_seen = ++clock_;
  auto& requests = c.requests;
  if (requests.empty() || request_id > requests.back().first) {
    requests.emplace_back(request_id, std::move(value));
    if (requests.size() > window_) {
      requests.pop_front();
      ++evicted_;
    }
    return requests.back().second;
  }
  auto j = lower_bound_of(requests, request_id);
  if (j != requests.end() && j->first == request_id)
    return j->second;  // remembered already: the first reply stays
  if (j == requests.begin() && requests.size() >= window_) {
    // Older than the whole window: the lowest id would go at once.
    ++evicted_;
    evicted_entry_ = std::move(value);
    return evicted_entry_;
  }
  auto pos = j - requests.begin();
  requests.emplace(j, request_id, std::move(value));
  if (requests.size() > window_) {
    requests.pop_front();  // the lowest id goes (not the one just inserted)
    ++evicted_;
    --pos;
  }
  return requests[static_cast<size_t>(pos)].second;
}

// Per client, columns rather than one array per request: flat arrays of
// numbers cost one allocation each, so a snapshot of a full window is a
// handful of allocations instead of thousands.
//   {"clock": C, "clients": [[name, last_seen, [ids], [indexes], [results],
//                             [[position, rejection], ...]], ...]}
json dedupe_table::to_json() const {
  // Clients sorted by name so that equal tables give equal JSON.
  std::vector<const std::pair<const std::string, client_entry>*> sorted;
  sorted.reserve(clients_.size());
  for (auto& kvp : clients_)
    sorted.push_back(&kvp);
  std::sort(sorted.begin(), sorted.end(),
            [](auto* x, auto* y) { return x->first < y->first; });
  json clients = json::array();
  for (auto* kvp : sorted) {
    auto& requests = kvp->second.requests;
    std::vector<uint64_t> ids;
    std::vector<log_index> indexes;
    ids.reserve(requests.size());
    indexes.reserve(requests.size());
    json results = json::array();
    results.get_ref<json::array_t&>().reserve(requests.size());
    json rejections = json::array();
    size_t position = 0;
    for (auto& [rid, e] : requests) {
      ids.push_back(rid);
      indexes.push_back(e.index);
      results.push_back(e.result);
      if (!e.rejection.empty())
        rejections.push_back(json::array({position, e.rejection}));
      ++position;
    }
    clients.push_back(json::array({kvp->first, kvp->second.last_seen,
                                   std::move(ids), std::move(indexes),
                                   std::move(results), std::move(rejections)}));
  }
  return json{{"clock", clock_}, {"clients", std::move(clients)}};
}

bool dedupe_table::from_json(const json& state) {
  last_ = nullptr;
  clients_.clear();
  clock_ = 0;
  try {
    clock_ = state.at("clock").get<uint64_t>();
    for (auto& c : state.at("clients")) {
      auto& entry_ref = clients_[c.at(0).get<std::string>()];
      entry_ref.last_seen = c.at(1).get<uint64_t>();
      auto& ids = c.at(2);
      auto& indexes = c.at(3);
      auto& results = c.at(4);
      if (!ids.is_array() || indexes.size() != ids.size()
          || results.size() != ids.size())
        throw json::other_error::create(501, "dedupe columns differ", &c);
      std::vector<std::pair<uint64_t, entry>> rows;
      rows.reserve(ids.size());
      for (size_t i = 0; i < ids.size(); ++i)
        rows.emplace_back(ids.at(i).get<uint64_t>(),
                          entry{indexes.at(i).get<log_index>(), results.at(i),
                                std::string{}});
      for (auto& r : c.at(5))
        rows.at(r.at(0).get<size_t>()).second.rejection
          = r.at(1).get<std::string>();
      std::sort(rows.begin(), rows.end(),
                [](auto& x, auto& y) { return x.first < y.first; });
      auto& requests = entry_ref.requests;
      for (auto& row : rows)
        if (requests.empty() || requests.back().first != row.first)
          requests.push_back(std::move(row));
    }
    return true;
  } catch (const std::exception&) {
    last_ = nullptr;
    clients_.clear();
    clock_ = 0;
    return false;
  }
}

} // namespace keel
