// SHA-256 of byte strings, through OpenSSL's libcrypto (Debian libssl-dev).
// Used to fingerprint traces: equal seeds must give equal trace_sha256.
#pragma once

#include <string>
#include <string_view>

namespace keel {

/// Incremental SHA-256; hex() ends it.
class sha256 {
public:
  sha256();
  ~sha256();
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;

  void update(std::string_view data);

  /// The digest as 64 lowercase hex digits.
  std::string hex();

private:
  void* ctx_;
};

} // namespace keel
