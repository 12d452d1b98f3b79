// Proof of the cluster secret without sending it: a peer answers a one-time
// challenge (nonce) with HMAC-SHA256(secret, purpose | nonce | name), through
// OpenSSL's libcrypto. Used by the cluster gateway (actors/cluster).
#pragma once

#include <string>
#include <string_view>

namespace keel::auth {

/// 16 random bytes from OpenSSL's CSPRNG, as 32 hex digits.
std::string make_nonce();

/// HMAC-SHA256 of `purpose | nonce | name` keyed with `secret`, as hex.
std::string prove(std::string_view secret, std::string_view purpose,
                  std::string_view nonce, std::string_view name);

/// Constant-time comparison of two proofs.
bool same_proof(std::string_view a, std::string_view b);

} // namespace keel::auth
