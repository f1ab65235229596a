#include "services/common/ids.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "absl/base/const_init.h"
#include "absl/strings/escaping.h"
#include "absl/synchronization/mutex.h"

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
  unsigned char random[10];
  BufferedRandom(random, sizeof(random));
  unsigned __int128 r = 0;
  for (unsigned char b : random) r = (r << 8) | b;
  // Monotonic within the process: an id made in the same millisecond as the
  // one before (or after the clock stepped back) is the previous one plus a
  // random step of at most 2^32, so ids sort in the order they were made
  // (callers page and order by id) and stay unguessable in their low bits.
  static constexpr unsigned __int128 kRandomMask = (static_cast<unsigned __int128>(1) << 80) - 1;
  static absl::Mutex mu(absl::kConstInit);
  static uint64_t last_ms = 0;
  static unsigned __int128 last_random = 0;
  {
    absl::MutexLock lock(&mu);
    if (ms <= last_ms) {
      ms = last_ms;
      r = last_random + 1 + (r & 0xffffffffu);
      if (r > kRandomMask) {  // the millisecond's ids are used up: borrow the next one
        ++ms;
        r &= kRandomMask >> 1;
      }
    }
    last_ms = ms;
    last_random = r;
  }
  // 48 bits of time, 80 random: 128 bits -> 26 base32 digits, most
  // significant first (the first digit holds 3 bits).
  unsigned __int128 v = (static_cast<unsigned __int128>(ms & 0xffffffffffffULL) << 80) | r;
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
