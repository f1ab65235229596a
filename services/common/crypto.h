// Hashes and MACs on OpenSSL, in one place: SHA-256 of API-key secrets,
// HMAC-SHA256 of signed metadata and webhook bodies, constant-time compares.
//
// OpenSSL 3's one-shot SHA256() and HMAC() look the algorithm up by name on
// every call (a provider fetch under a lock), which cost more than the hash
// itself on the per-request paths (tenant metadata, API-key cache keys).
// Here the algorithm is fetched once per process, and HmacKey keeps a key's
// inner and outer pad states so that a MAC costs two small digests.
//
// Thread-safe: the functions, and HmacKey's const methods.
#ifndef RAPPORT_SERVICES_COMMON_CRYPTO_H_
#define RAPPORT_SERVICES_COMMON_CRYPTO_H_

#include <memory>
#include <string>
#include <string_view>

namespace rapport {

// Lowercase hex: absl::BytesToHexString, which new code calls directly (this
// name stays for the callers that still use it).
std::string HexEncode(std::string_view bytes);
std::string Sha256(std::string_view data);                            // 32 raw bytes
std::string HmacSha256(std::string_view key, std::string_view data);  // 32 raw bytes
// Compares without an early exit, so timing does not reveal a matching prefix.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// HMAC-SHA256 under one key, for keys that sign many messages. Immutable.
class HmacKey {
 public:
  explicit HmacKey(std::string_view key);
  ~HmacKey();
  HmacKey(const HmacKey&) = delete;
  HmacKey& operator=(const HmacKey&) = delete;

  // 32 raw bytes, equal to HmacSha256(key, data).
  std::string Mac(std::string_view data) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_CRYPTO_H_
