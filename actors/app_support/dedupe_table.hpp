// Deduplication of requests by (client id, request id), per partition.
//
// Remembers the reply of the last `window` requests of each client, for at
// most `clients_max` clients (the least recently seen client is forgotten
// first). A retry within the window gets the original reply and changes no
// state (guarantee G2). Replicated to standbys as part of the partition state.
//
// Plain C++, no CAF. Thread safety: none; owned by one replica.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

#include "runtime/json_value.hpp"
#include "runtime/types.hpp"

namespace keel {

class dedupe_table {
public:
  struct entry {
    log_index index = 0;
    json result;
    std::string rejection;
  };

  dedupe_table(size_t window, size_t clients_max)
    : window_(window), clients_max_(clients_max) {
  }

  /// The remembered reply of (client, request_id), or nullptr.
  const entry* find(const std::string& client, uint64_t request_id) const;

  /// Remembers a reply (`index` is the log index that applied the request)
  /// unless one is remembered already; returns the remembered one. The
  /// reference is valid until the next record.
  const entry& record(const std::string& client, uint64_t request_id,
                      entry value);

  /// Number of clients remembered.
  size_t clients() const noexcept {
    return clients_.size();
  }

  /// Requests forgotten because a window or the client limit was full.
  uint64_t evicted() const noexcept {
    return evicted_;
  }

  json to_json() const;

  /// Replaces the content with `state` (from to_json). Returns false and
  /// leaves the table empty if `state` is malformed.
  bool from_json(const json& state);

private:
  struct client_entry {
    /// Ordered by request id: clients use increasing ids, so a record is
    /// an append and a lookup a binary search (no node per request). The
    /// window keeps the `window_` highest ids.
    std::deque<std::pair<uint64_t, entry>> requests;
    uint64_t last_seen = 0;
  };

  void evict_least_recent_client();

  /// The entry of `client` (nullptr if none), checking the last one used
  /// first: a partition's traffic comes in runs from one client.
  client_entry* lookup(const std::string& client) const;

  size_t window_;
  size_t clients_max_;
  uint64_t clock_ = 0;  // logical: bumped on every record
  uint64_t evicted_ = 0;
  std::unordered_map<std::string, client_entry> clients_;
  /// lookup's cache: a node of clients_ (stable until erased).
  mutable std::pair<const std::string, client_entry>* last_ = nullptr;
  /// What record returns for a request older than the whole window.
  entry evicted_entry_;
};

} // namespace keel
