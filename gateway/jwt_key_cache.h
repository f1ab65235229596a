// Orgs' JWT signing keys as the gateway sees them (issue 17): a token whose
// header names a "kid" is verified with that org key's secret, resolved by
// ProfilesService.ResolveJwtKey. JwtKeyCache keeps each answer, found or
// not found, for a bounded time (`ttl`, 30 s by default), so that verifying
// a token is not a backend round trip per request, and concurrent requests
// with one uncached kid share one lookup. A found key carries its expiry, so
// a key past its grace period is refused at once even while cached; a
// rotation's new kid is unknown to the cache until first asked for.
//
// Thread-safety: JwtKeyCache is safe for concurrent use; the resolver may
// answer on any thread.
#ifndef RAPPORT_GATEWAY_JWT_KEY_CACHE_H_
#define RAPPORT_GATEWAY_JWT_KEY_CACHE_H_

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace rapport::gateway {

// An org's HS256 signing key.
struct JwtKey {
  std::string kid;
  std::string org_id;
  std::string secret;
  absl::Time expire_time = absl::InfiniteFuture();  // end of its grace period once rotated out
};

// Resolves a kid; calls done exactly once, from any thread. NOT_FOUND means
// no such key, or one past its grace period (cached); other errors (e.g.
// UNAVAILABLE) are not cached.
using JwtKeyResolver = std::function<void(const std::string& kid, std::function<void(absl::StatusOr<JwtKey>)> done)>;

class JwtKeyCache {
 public:
  // max_entries bounds memory against floods of made-up kids: expired
  // entries go first, and a cache full of live ones is emptied.
  JwtKeyCache(JwtKeyResolver resolver, absl::Duration ttl, size_t max_entries = 100000);

  // What a caller may do around a lookup it leads (its kid is not cached
  // and no lookup of it is in flight): `admit`, when set, may refuse the
  // lookup, and its status (not cached) answers every request waiting for
  // that kid; `after` hears the lookup's answer. The gateway throttles
  // made-up kids per client address with it, as it does API-key guesses.
  struct Guard {
    std::function<absl::Status()> admit;
    std::function<void(const absl::StatusOr<JwtKey>&)> after;
  };

  // Calls done exactly once: before returning when the kid's answer is
  // cached, else from the resolver's thread.
  void Resolve(const std::string& kid, std::function<void(absl::StatusOr<JwtKey>)> done, Guard guard = {});

 private:
  struct Entry {
    absl::Time expiry;
    absl::StatusOr<JwtKey> answer;
  };
  const JwtKeyResolver resolver_;
  const absl::Duration ttl_;
  const size_t max_entries_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> cache_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<std::function<void(absl::StatusOr<JwtKey>)>>> flights_
      ABSL_GUARDED_BY(mu_);

  // Answers and forgets the waiters of kid's flight.
  void Land(const std::string& kid, const absl::StatusOr<JwtKey>& answer);
};

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_JWT_KEY_CACHE_H_
