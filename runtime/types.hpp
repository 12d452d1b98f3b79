// keel's vocabulary: ids of nodes, applications, copies and partitions, the HA
// role of a copy for a partition, epochs and sequence numbers, redundancy models.
//
// Plain values, cheap to copy, all inspectable so they cross CAF's middleman.
// Thread safety: values only; no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <caf/meta/type_name.hpp>

#include "runtime/symbol.hpp"

namespace keel {

/// Name of a node ("n1"): one place where copies run.
using node_id = symbol;

/// Name of an application ("journal").
using app_name = symbol;

/// A slice of an application's key space; keys hash to partitions.
using partition_id = uint32_t;

/// Per partition, bumped on every assignment change. Messages of an older
/// epoch are rejected (fencing). Epoch 0 means "never assigned".
using epoch_t = uint64_t;

/// Per (distributor, partition) sequence number of an accepted event.
using seq_t = uint64_t;

/// Per partition position in a copy's apply log; checkpoints carry it.
using log_index = uint64_t;

/// One running instance of an application: `journal/1`.
struct copy_id {
  app_name app;
  uint32_t index = 0;

  friend bool operator==(const copy_id& x, const copy_id& y) {
    return x.index == y.index && x.app == y.app;
  }
  friend bool operator!=(const copy_id& x, const copy_id& y) {
    return !(x == y);
  }
  friend bool operator<(const copy_id& x, const copy_id& y) {
    // One string comparison (the controller's maps are keyed by copy).
    auto c = x.app.compare(y.app);
    return c != 0 ? c < 0 : x.index < y.index;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, copy_id& x) {
  return f(caf::meta::type_name("keel_copy_id"), x.app, x.index);
}

/// Renders `app/index`.
std::string to_string(const copy_id& x);

/// Parses `app/index`.
std::optional<copy_id> parse_copy_id(std::string_view text);

/// HA role of a copy for one partition.
enum class role : uint8_t {
  offline,    ///< holds no state for the partition
  standby,    ///< receives checkpoints, serves nothing
  active,     ///< serves events, replicates to standbys
  quiescing,  ///< finishing in-flight work, taking no new work
  quiesced,   ///< done, waiting for its next role
};

/// CAF serializes enums through their underlying type; no inspect needed.
std::string to_string(role x);

/// How an application's partitions are assigned to its copies.
enum class redundancy_model : uint8_t {
  no_redundancy,  ///< one active per partition, no standby
  two_n,          ///< copy A active for all partitions, copy B standby
  n_plus_m,       ///< N active copies, M standby-only copies
  n_way,          ///< each copy active for some partitions, standby for others
  n_way_active,   ///< partitions spread over N actives, no standby
};

/// The name used in configuration files (`2n`, `n_way_active`, ...).
std::string to_string(redundancy_model x);

/// Parses a configuration name; nullopt when unknown.
std::optional<redundancy_model> parse_redundancy_model(std::string_view text);

} // namespace keel

template <>
struct std::hash<keel::copy_id> {
  size_t operator()(const keel::copy_id& x) const noexcept {
    return x.app.hash() * 31 + x.index;
  }
};
