#include "runtime/auth.hpp"

#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace keel::auth {

namespace {

std::string hex(const unsigned char* data, size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string result;
  result.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    result.push_back(digits[data[i] >> 4]);
    result.push_back(digits[data[i] & 0x0f]);
  }
  return result;
}

} // namespace

std::string make_nonce() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1)
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  return hex(bytes, sizeof(bytes));
}

std::string prove(std::string_view secret, std::string_view purpose,
                  std::string_view nonce, std::string_view name) {
  std::string message;
  message.reserve(purpose.size() + nonce.size() + name.size() + 2);
  message.append(purpose).append("|").append(nonce).append("|").append(name);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()),
           message.size(), mac, &len)
      == nullptr)
    throw std::runtime_error("OpenSSL HMAC failed");
  return hex(mac, len);
}

bool same_proof(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace keel::auth
