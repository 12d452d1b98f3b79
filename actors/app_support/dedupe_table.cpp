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

dedupe_image dedupe_table::image() const {
  dedupe_image result;
  result.clock = clock_;
  result.clients.reserve(clients_.size());
  for (auto& [name, c] : clients_) {
    auto& out = result.clients.emplace_back();
    out.name = name;
    out.last_seen = c.last_seen;
    out.next_stamp = c.next_stamp;
    auto n = c.requests.size();
    out.ids.reserve(n);
    out.indexes.reserve(n);
    out.stamps.reserve(n);
    out.results.reserve(n);
    uint64_t row = 0;
    for (auto& r : c.requests) {
      out.ids.push_back(r.id);
      out.indexes.push_back(r.value.index);
      out.stamps.push_back(r.stamp);
      out.results.emplace_back(r.value.result);
      if (!r.value.rejection.empty())
        out.rejections.emplace_back(row, r.value.rejection);
      ++row;
    }
  }
  // Clients in name order so that equal tables give equal images.
  std::sort(result.clients.begin(), result.clients.end(),
            [](auto& x, auto& y) { return x.name < y.name; });
  return result;
}

bool dedupe_table::restore(const dedupe_image& state) {
  last_ = nullptr;
  clients_.clear();
  clock_ = state.clock;
  auto fail = [this] {
    last_ = nullptr;
    clients_.clear();
    clock_ = 0;
    return false;
  };
  if (state.clients.size() > clients_max_)
    return fail();
  for (auto& c : state.clients) {
    auto n = c.ids.size();
    if (c.indexes.size() != n || c.stamps.size() != n
        || c.results.size() != n || n > window_ || clients_.count(c.name) > 0)
      return fail();
    std::vector<client_entry::slot> rows;
    rows.reserve(n);
    for (size_t i = 0; i < n; ++i)
      rows.push_back(client_entry::slot{
        c.ids[i], c.stamps[i],
        entry{c.indexes[i], c.results[i].value, std::string{}}, false});
    for (auto& [row, why] : c.rejections) {
      if (row >= n)
        return fail();
      rows[row].value.rejection = why;
    }
    std::sort(rows.begin(), rows.end(),
              [](auto& x, auto& y) { return x.id < y.id; });
    auto& entry_ref = clients_[c.name];
    entry_ref.last_seen = c.last_seen;
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
    entry_ref.next_stamp = c.next_stamp;
    for (auto& r : requests)
      entry_ref.next_stamp = std::max(entry_ref.next_stamp, r.stamp + 1);
  }
  return true;
}

} // namespace keel
