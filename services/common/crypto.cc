#include "services/common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/escaping.h"

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

}  // namespace rapport
