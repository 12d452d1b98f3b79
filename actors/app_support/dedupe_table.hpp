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
#include <utility>
#include <vector>

#include "runtime/json_value.hpp"
#include "runtime/types.hpp"

namespace keel {

/// One client of a dedupe_table as data: columns, one row per remembered
/// request in id order (numbers in flat vectors: a snapshot of a full
/// window is a handful of allocations and copies, not thousands of JSON
/// values).
struct dedupe_client_image {
  std::string name;
  uint64_t last_seen = 0;
  uint64_t next_stamp = 0;
  std::vector<uint64_t> ids;
  std::vector<uint64_t> indexes;  ///< log index that applied the request
  std::vector<uint64_t> stamps;   ///< recording order
  std::vector<json_value> results;
  /// (row, why) of the rejected requests.
  std::vector<std::pair<uint64_t, std::string>> rejections;

  friend bool operator==(const dedupe_client_image& x,
                         const dedupe_client_image& y) {
    return x.name == y.name && x.last_seen == y.last_seen
           && x.next_stamp == y.next_stamp && x.ids == y.ids
           && x.indexes == y.indexes && x.stamps == y.stamps
           && x.results == y.results && x.rejections == y.rejections;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        dedupe_client_image& x) {
  return f(caf::meta::type_name("keel_dedupe_client"), x.name, x.last_seen,
           x.next_stamp, x.ids, x.indexes, x.stamps, x.results,
           x.rejections);
}

/// A whole dedupe_table as data (snapshots, state transfers), clients in
/// name order: equal tables give equal images.
struct dedupe_image {
  uint64_t clock = 0;
  std::vector<dedupe_client_image> clients;

  friend bool operator==(const dedupe_image& x, const dedupe_image& y) {
    return x.clock == y.clock && x.clients == y.clients;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dedupe_image& x) {
  return f(caf::meta::type_name("keel_dedupe_image"), x.clock, x.clients);
}

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
  /// reference is valid until the next record. Past the window the oldest
  /// recorded request of the client is forgotten.
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

  dedupe_image image() const;

  /// Replaces the content with `state` (from image()). Returns false and
  /// leaves the table empty if `state` is malformed (columns of different
  /// lengths, a rejection past the rows, a client twice) or exceeds this
  /// table's window or client limit.
  bool restore(const dedupe_image& state);

private:
  struct client_entry {
    struct slot {
      uint64_t id = 0;
      /// Order of recording within the client (the oldest is forgotten
      /// first).
      uint64_t stamp = 0;
      entry value;
      /// Recorded out of id order (inserted, not appended).
      bool late = false;
    };
    /// Ordered by request id: clients use increasing ids, so a record is
    /// usually an append and a lookup a binary search (no node per
    /// request). A request recorded out of id order (app-to-app ids come
    /// from several upstream partitions) is inserted in place and counted
    /// in `late`; the others keep increasing stamps along the deque, so
    /// while no late one is left the front is the oldest recorded.
    std::deque<slot> requests;
    size_t late = 0;
    uint64_t next_stamp = 0;
    uint64_t last_seen = 0;
  };

  /// Forgets the oldest recorded request of `c` (not empty); returns the
  /// position it had.
  size_t evict_oldest(client_entry& c);

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
};

} // namespace keel
