// The one seeded source of randomness (splitmix64 seeding xoshiro256**).
//
// Same seed, same sequence, on every platform: std::uniform_int_distribution
// is implementation-defined, so this header draws its own ranges.
// Thread safety: none; each user owns its generator.
#pragma once

#include <cstdint>

namespace keel {

class random_source {
public:
  explicit random_source(uint64_t seed) noexcept {
    for (auto& word : s_)
      word = splitmix(seed);
  }

  /// A uniformly distributed 64-bit value.
  uint64_t next() noexcept {
    auto result = rotl(s_[1] * 5, 7) * 9;
    auto t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// A value in [0, bound); bound > 0. Lemire's multiply-shift, bias < 2^-32
  /// for the bounds keel uses.
  uint64_t below(uint64_t bound) noexcept {
    return static_cast<uint64_t>(
      (static_cast<unsigned __int128>(next()) * bound) >> 64);
  }

  /// A value in [0, 1).
  double unit() noexcept {
    return static_cast<double>(next() >> 11) * 0x1.0p-53;
  }

  /// A child generator with an independent stream (for per-actor sources).
  random_source fork() noexcept {
    return random_source{next()};
  }

private:
  static uint64_t rotl(uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }

  static uint64_t splitmix(uint64_t& x) noexcept {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  uint64_t s_[4];
};

} // namespace keel
