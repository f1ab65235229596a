#include "services/common/ids.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "absl/strings/escaping.h"

namespace rapport {
namespace {

void Random(unsigned char* out, int n) {
  if (RAND_bytes(out, n) != 1) std::abort();  // no entropy: refuse to mint guessable ids
}

// The random part of ids comes from a per-thread buffer refilled from
// RAND_bytes 512 bytes at a time: one RAND_bytes call per id (a DRBG
// generate under its lock) was a visible share of a request's CPU, and the
// bytes are the same CSPRNG output either way. (No process here forks after
// minting an id; a forked child would otherwise repeat the parent's buffer.)
void BufferedRandom(unsigned char* out, int n) {
  struct Pool {
    unsigned char bytes[512];
    int used = sizeof(bytes);
  };
  thread_local Pool pool;
  if (n > static_cast<int>(sizeof(pool.bytes))) return Random(out, n);
  if (pool.used + n > static_cast<int>(sizeof(pool.bytes))) {
    Random(pool.bytes, sizeof(pool.bytes));
    pool.used = 0;
  }
  std::memcpy(out, pool.bytes + pool.used, n);
  OPENSSL_cleanse(pool.bytes + pool.used, n);  // handed out once
  pool.used += n;
}

}  // namespace

std::string NewId() {
  static constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
  uint64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  unsigned char bytes[16];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  BufferedRandom(bytes + 6, 10);
  // 128 bits -> 26 base32 digits, most significant first (the first digit holds 3 bits).
  unsigned __int128 v = 0;
  for (unsigned char b : bytes) v = (v << 8) | b;
  std::string out(26, '0');
  for (int i = 25; i >= 0; --i) {
    out[i] = kAlphabet[static_cast<int>(v & 31)];
    v >>= 5;
  }
  return out;
}

std::string RandomHex(int bytes) {
  std::string raw(bytes, '\0');
  Random(reinterpret_cast<unsigned char*>(raw.data()), bytes);
  return absl::BytesToHexString(raw);
}

bool IsWellFormedId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace rapport
