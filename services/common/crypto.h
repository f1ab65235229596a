// Hashes and MACs on OpenSSL, in one place: SHA-256 of API-key secrets,
// HMAC-SHA256 of signed metadata and webhook bodies, constant-time compares.
//
// OpenSSL 3's one-shot SHA256() and HMAC() look the algorithm up by name on
// every call (a provider fetch under a lock), which cost more than the hash
// itself on the per-request paths (tenant metadata, API-key cache keys).
// Here the algorithm is fetched once per process, and HmacKey keeps a key's
// inner and outer pad states so that a MAC costs two small digests.
//
// SecretBox seals secrets kept at rest (webhook signing secrets, recorded
// idempotent replies) with AES-256-GCM under the process's secrets key
// (--secrets_key, RAPPORT_SECRETS_KEY, set once by config::ParseFlags).
//
// Thread-safe: the functions, HmacKey's and SecretBox's const methods. The
// process key is set once at startup, before any thread reads it.
#ifndef RAPPORT_SERVICES_COMMON_CRYPTO_H_
#define RAPPORT_SERVICES_COMMON_CRYPTO_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

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

// AES-256-GCM under one 32-byte key. A sealed value is text, so that it fits
// TEXT and BLOB columns alike:
//   "rsec:v1:" base64(12-byte random nonce || ciphertext || 16-byte tag)
// The version names the format (and, when keys rotate, which key sealed it);
// anything without the prefix is a row written before encryption (plaintext).
// `context` is authenticated but not stored: a value opens only under the
// context it was sealed with (e.g. its row's org and id), so a sealed value
// copied into another row does not open there.
class SecretBox {
 public:
  static constexpr std::string_view kPrefix = "rsec:v1:";
  static constexpr size_t kKeySize = 32;

  // The key as 64 hex digits, or as standard base64 (with or without
  // padding) of 32 bytes; anything else is INVALID_ARGUMENT.
  static absl::StatusOr<std::unique_ptr<SecretBox>> FromText(std::string_view text);
  explicit SecretBox(std::string_view raw_key);  // exactly kKeySize bytes
  ~SecretBox();
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;

  std::string Seal(std::string_view plaintext, std::string_view context) const;
  // DATA_LOSS when the value is not a well-formed sealed value, was altered,
  // or was sealed under another key or context.
  absl::StatusOr<std::string> Open(std::string_view sealed, std::string_view context) const;

  static bool IsSealed(std::string_view stored) { return stored.substr(0, kPrefix.size()) == kPrefix; }

 private:
  std::string key_;
};

// The process's secrets key; nullptr before SetProcessSecretBox (unit tests,
// tools that keep no secrets). Servers that store secrets require one.
void SetProcessSecretBox(std::unique_ptr<SecretBox> box);
const SecretBox* ProcessSecretBox();

// How a secret is written: sealed under the process key, or as is when the
// process has none (only unit tests and tools: servers refuse to start).
std::string SealForStorage(std::string_view plaintext, std::string_view context);
// How a stored secret is read: sealed values are opened (FAILED_PRECONDITION
// when the process has no key), rows written before encryption are returned
// as they are.
absl::StatusOr<std::string> OpenFromStorage(std::string_view stored, std::string_view context);

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_CRYPTO_H_
