#include "services/common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace rapport {
namespace {

constexpr size_t kBlock = 64;   // SHA-256 block size
constexpr size_t kDigest = 32;  // SHA-256 digest size

// Fetched once: EVP_sha256() would be looked up again on every init.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) std::abort();  // no default provider: nothing can be signed
    return fetched;
  }();
  return md;
}

struct CtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_MD_CTX, CtxDeleter>;

CtxPtr NewCtx() {
  CtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) std::abort();
  return ctx;
}

// A per-thread scratch context, reused instead of allocated per digest.
EVP_MD_CTX* ScratchCtx() {
  thread_local CtxPtr ctx = NewCtx();
  return ctx.get();
}

std::string Digest(const EVP_MD_CTX* start, std::string_view data, std::string_view more = {}) {
  EVP_MD_CTX* ctx = ScratchCtx();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  bool ok = start == nullptr ? EVP_DigestInit_ex(ctx, Sha256Md(), nullptr) == 1 : EVP_MD_CTX_copy_ex(ctx, start) == 1;
  ok = ok && EVP_DigestUpdate(ctx, data.data(), data.size()) == 1;
  if (!more.empty()) ok = ok && EVP_DigestUpdate(ctx, more.data(), more.size()) == 1;
  ok = ok && EVP_DigestFinal_ex(ctx, out, &len) == 1;
  if (!ok) std::abort();  // only on allocation failure inside OpenSSL
  return std::string(reinterpret_cast<const char*>(out), len);
}

constexpr size_t kNonce = 12;
constexpr size_t kTag = 16;

// Fetched once, like the digest above.
const EVP_CIPHER* Aes256Gcm() {
  static const EVP_CIPHER* cipher = [] {
    EVP_CIPHER* fetched = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    if (fetched == nullptr) std::abort();
    return fetched;
  }();
  return cipher;
}

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

std::atomic<const SecretBox*> process_box{nullptr};

}  // namespace

std::string HexEncode(std::string_view bytes) {
  return absl::BytesToHexString(absl::string_view(bytes.data(), bytes.size()));
}

std::string Sha256(std::string_view data) { return Digest(nullptr, data); }

// RFC 2104 over the fetched digest: H((K ^ opad) || H((K ^ ipad) || data)).
struct HmacKey::State {
  CtxPtr inner = NewCtx();  // after absorbing K ^ ipad
  CtxPtr outer = NewCtx();  // after absorbing K ^ opad
};

HmacKey::HmacKey(std::string_view key) : state_(std::make_unique<State>()) {
  unsigned char block[kBlock] = {};
  if (key.size() > kBlock) {
    std::string hashed = Sha256(key);
    std::memcpy(block, hashed.data(), kDigest);
  } else {
    std::memcpy(block, key.data(), key.size());
  }
  unsigned char ipad[kBlock], opad[kBlock];
  for (size_t i = 0; i < kBlock; ++i) {
    ipad[i] = block[i] ^ 0x36;
    opad[i] = block[i] ^ 0x5c;
  }
  bool ok = EVP_DigestInit_ex(state_->inner.get(), Sha256Md(), nullptr) == 1 &&
            EVP_DigestUpdate(state_->inner.get(), ipad, kBlock) == 1 &&
            EVP_DigestInit_ex(state_->outer.get(), Sha256Md(), nullptr) == 1 &&
            EVP_DigestUpdate(state_->outer.get(), opad, kBlock) == 1;
  OPENSSL_cleanse(block, sizeof(block));
  OPENSSL_cleanse(ipad, sizeof(ipad));
  OPENSSL_cleanse(opad, sizeof(opad));
  if (!ok) std::abort();
}

HmacKey::~HmacKey() = default;

std::string HmacKey::Mac(std::string_view data) const {
  std::string inner = Digest(state_->inner.get(), data);
  return Digest(state_->outer.get(), inner);
}

std::string HmacSha256(std::string_view key, std::string_view data) { return HmacKey(key).Mac(data); }

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::StatusOr<std::unique_ptr<SecretBox>> SecretBox::FromText(std::string_view text) {
  const absl::string_view t(text.data(), text.size());
  std::string raw;
  if (t.size() == 2 * kKeySize &&
      std::all_of(t.begin(), t.end(), [](char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); })) {
    raw = absl::HexStringToBytes(t);
  } else if (!absl::Base64Unescape(t, &raw) || raw.size() != kKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("the secrets key must be ", kKeySize, " bytes as ", 2 * kKeySize, " hex digits or as base64"));
  }
  auto box = std::make_unique<SecretBox>(raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  return box;
}

SecretBox::SecretBox(std::string_view raw_key) : key_(raw_key) {
  if (key_.size() != kKeySize) std::abort();  // a programming error: FromText checks text input
}

SecretBox::~SecretBox() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string SecretBox::Seal(std::string_view plaintext, std::string_view context) const {
  std::string raw(kNonce + plaintext.size() + kTag, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (RAND_bytes(out, kNonce) != 1) std::abort();  // no randomness: nothing may be sealed
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx != nullptr &&
            EVP_EncryptInit_ex2(ctx.get(), Aes256Gcm(), reinterpret_cast<const unsigned char*>(key_.data()), out,
                                nullptr) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(context.data()),
                              static_cast<int>(context.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), out + kNonce, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                              static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), out + kNonce + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, out + kNonce + plaintext.size()) == 1;
  if (!ok) std::abort();  // only on allocation failure inside OpenSSL
  return std::string(kPrefix) + absl::Base64Escape(raw);
}

absl::StatusOr<std::string> SecretBox::Open(std::string_view sealed, std::string_view context) const {
  if (!IsSealed(sealed)) return absl::DataLossError("not a sealed secret");
  std::string raw;
  const std::string_view body = sealed.substr(kPrefix.size());
  if (!absl::Base64Unescape(absl::string_view(body.data(), body.size()), &raw) || raw.size() < kNonce + kTag) {
    return absl::DataLossError("malformed sealed secret");
  }
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  const size_t n = raw.size() - kNonce - kTag;
  std::string plain(n, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok =
      ctx != nullptr &&
      EVP_DecryptInit_ex2(ctx.get(), Aes256Gcm(), reinterpret_cast<const unsigned char*>(key_.data()), in, nullptr) ==
          1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(context.data()),
                        static_cast<int>(context.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), out, &len, in + kNonce, static_cast<int>(n)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, const_cast<unsigned char*>(in + kNonce + n)) == 1;
  // Final checks the tag: a changed byte, another key or another context fail here.
  if (!ok || EVP_DecryptFinal_ex(ctx.get(), out + len, &len) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return absl::DataLossError("sealed secret does not open under this key (altered, or sealed under another key)");
  }
  return plain;
}

void SetProcessSecretBox(std::unique_ptr<SecretBox> box) {
  // Kept for the life of the process: readers hold the raw pointer.
  process_box.store(box.release(), std::memory_order_release);
}

const SecretBox* ProcessSecretBox() { return process_box.load(std::memory_order_acquire); }

std::string SealForStorage(std::string_view plaintext, std::string_view context) {
  const SecretBox* box = ProcessSecretBox();
  return box == nullptr ? std::string(plaintext) : box->Seal(plaintext, context);
}

absl::StatusOr<std::string> OpenFromStorage(std::string_view stored, std::string_view context) {
  if (!SecretBox::IsSealed(stored)) return std::string(stored);  // written before encryption
  const SecretBox* box = ProcessSecretBox();
  if (box == nullptr) return absl::FailedPreconditionError("a sealed secret, and no --secrets_key to open it");
  return box->Open(stored, context);
}

}  // namespace rapport
