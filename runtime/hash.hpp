// Stable hashing of keys to partitions.
//
// FNV-1a 64: the same key maps to the same partition on every node, every
// build and every run (std::hash gives no such promise).
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/types.hpp"

namespace keel {

constexpr uint64_t fnv1a64(std::string_view data) noexcept {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

/// The partition of `key` among `partitions` (> 0).
constexpr partition_id partition_of(std::string_view key,
                                    uint32_t partitions) noexcept {
  return static_cast<partition_id>(fnv1a64(key) % partitions);
}

} // namespace keel
