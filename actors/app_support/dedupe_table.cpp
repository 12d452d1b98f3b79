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
    [](const auto& x, uint64_t id) { return x.id < id; });
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
  if (requests.empty() || request_id > requests.back().id)
    return nullptr;
  auto j = lower_bound_of(requests, request_id);
  return j != requests.end() && j->id == request_id ? &j->value : nullptr;
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
  size_t pos;
  if (requests.empty() || request_id > requests.back().id) {
    auto stamp = c.next_stamp++;
    requests.push_back(client_entry::slot{request_id, stamp, std::move(value)});
    pos = requests.size() - 1;
  } else {
    auto j = lower_bound_of(requests, request_id);
    if (j != requests.end() && j->id == request_id)
      return j->value;  // remembered already: the first reply stays
    pos = static_cast<size_t>(j - requests.begin());
    auto stamp = c.next_stamp++;
    requests.insert(j, client_entry::slot{request_id, stamp, std::move(value),
                                          true});
    ++c.late;
  }
  if (requests.size() > window_) {
    // The one just recorded is the newest: never the one to go.
    auto gone = evict_oldest(c);
    if (gone < pos)
      --pos;
  }
  return requests[pos].value;
}

size_t dedupe_table::evict_oldest(client_entry& c) {
  auto& requests = c.requests;
  ++evicted_;
  if (c.late == 0) {
    requests.pop_front();
    return 0;
  }
  auto oldest = requests.begin();
  for (auto i = requests.begin(); i != requests.end(); ++i)
    if (i->stamp < oldest->stamp)
      oldest = i;
  if (oldest->late)
    --c.late;
  auto gone = static_cast<size_t>(oldest - requests.begin());
  requests.erase(oldest);
  return gone;
}

// Per client, columns rather than one array per request: flat arrays of
// numbers cost one allocation each, so a snapshot of a full window is a
// handful of allocations instead of thousands.
//   {"clock": C, "clients": [[name, last_seen, [ids], [indexes], [results],
//                             [[position, rejection], ...], [stamps],
//                             next_stamp], ...]}
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
    std::vector<uint64_t> stamps;
    ids.reserve(requests.size());
    indexes.reserve(requests.size());
    stamps.reserve(requests.size());
    json results = json::array();
    results.get_ref<json::array_t&>().reserve(requests.size());
    json rejections = json::array();
    size_t position = 0;
    for (auto& r : requests) {
      ids.push_back(r.id);
      indexes.push_back(r.value.index);
      stamps.push_back(r.stamp);
      results.push_back(r.value.result);
      if (!r.value.rejection.empty())
        rejections.push_back(json::array({position, r.value.rejection}));
      ++position;
    }
    clients.push_back(json::array(
      {kvp->first, kvp->second.last_seen, std::move(ids), std::move(indexes),
       std::move(results), std::move(rejections), std::move(stamps),
       kvp->second.next_stamp}));
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
      // Stamps (recording order) came later: without them, id order.
      bool has_stamps = c.size() >= 8;
      if (has_stamps && c.at(6).size() != ids.size())
        throw json::other_error::create(501, "dedupe columns differ", &c);
      std::vector<client_entry::slot> rows;
      rows.reserve(ids.size());
      for (size_t i = 0; i < ids.size(); ++i)
        rows.push_back(client_entry::slot{
          ids.at(i).get<uint64_t>(),
          has_stamps ? c.at(6).at(i).get<uint64_t>() : uint64_t{i},
          entry{indexes.at(i).get<log_index>(), results.at(i), std::string{}},
          false});
      for (auto& r : c.at(5))
        rows.at(r.at(0).get<size_t>()).value.rejection
          = r.at(1).get<std::string>();
      std::sort(rows.begin(), rows.end(),
                [](auto& x, auto& y) { return x.id < y.id; });
      auto& requests = entry_ref.requests;
      uint64_t max_stamp = 0;
      bool any = false;
      for (auto& row : rows) {
        if (!requests.empty() && requests.back().id == row.id)
          continue;
        // The entries not marked late must keep increasing stamps.
        row.late = any && row.stamp < max_stamp;
        if (row.late) {
          ++entry_ref.late;
        } else {
          max_stamp = row.stamp;
          any = true;
        }
        requests.push_back(std::move(row));
      }
      entry_ref.next_stamp = has_stamps ? c.at(7).get<uint64_t>()
                                        : uint64_t{requests.size()};
      for (auto& r : requests)
        entry_ref.next_stamp = std::max(entry_ref.next_stamp, r.stamp + 1);
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
