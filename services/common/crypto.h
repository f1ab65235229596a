// Hashes and MACs on OpenSSL, in one place: SHA-256 of API-key secrets,
// HMAC-SHA256 of signed metadata and webhook bodies, constant-time compares.
// Thread-safe.
#ifndef RAPPORT_SERVICES_COMMON_CRYPTO_H_
#define RAPPORT_SERVICES_COMMON_CRYPTO_H_

#include <string>
#include <string_view>

namespace rapport {

std::string HexEncode(std::string_view bytes);
std::string Sha256(std::string_view data);  // 32 raw bytes
std::string HmacSha256(std::string_view key, std::string_view data);  // 32 raw bytes
// Compares without an early exit, so timing does not reveal a matching prefix.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_CRYPTO_H_
