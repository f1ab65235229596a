// Credentials -> TenantContext, as API.md describes:
// - X-Api-Key: the platform admin key (from the gateway's environment) gives
//   PLATFORM; any other key is resolved by ProfilesService.VerifyApiKey
//   (through the injected KeyVerifier) to its org and scopes. Verdicts,
//   positive and negative, are cached for at most `key_cache_ttl` (5 s), so a
//   revoked key is refused within seconds; secrets are cached by SHA-256 only.
// - Authorization: Bearer <JWT>: HS256 with the shared secret, alg pinned
//   ("none" and every other alg refused), exp required, nbf honoured, iss and
//   aud checked, 60 s clock skew; sub = user id, org = org id, scopes READ and
//   WRITE. A token may live at most `jwt_max_lifetime` (24 h): one whose exp
//   is further than that from now, or from its iat, is refused, so a leaked
//   token cannot be minted to last for years. When an RS256 public key is configured (RAPPORT_JWT_PUBLIC_KEY_FILE)
//   RS256 is the pinned algorithm instead and HS256 tokens are refused, so a
//   token cannot pick the weaker or a confused algorithm.
// - A JWT whose header names a "kid" is verified instead with that org key's
//   secret (HS256, the key's pinned algorithm; jwt_key_cache.h resolves kids
//   through the injected JwtKeyResolver, cached for `jwt_key_cache_ttl`),
//   with the same claim rules; the token's org claim must be the key's org
//   (a token for org A signed with org B's key is 401), an unknown kid or
//   one past its grace period is 401. Tokens without kid keep the global
//   secret or public key above, as a fallback (FromJwt).
// - X-Rapport-User names the acting user, only for keys holding ACT_AS_USER,
//   and only an active user of the key's org (checked through the injected
//   UserChecker, verdicts cached like keys).
// - Deactivated users (org administration): a user token's subject must be
//   an active user of its org too (the same UserChecker and cache), so a
//   deactivated user's tokens are refused within key_cache_ttl, like their
//   personal keys (which VerifyApiKey refuses). RequireActiveUser below.
// - Concurrent requests with the same uncached key (or user) share one
//   lookup: when a verdict expires under load, one VerifyApiKey call (and
//   one throttle token) serves every request waiting for it.
// - Guessing keys is throttled per client address: a key with no cached
//   verdict takes a token of the address's bucket in `failed_lookups` before
//   its VerifyApiKey lookup, given back unless the key is refused; while the
//   bucket is empty such keys are refused without a lookup
//   (RESOURCE_EXHAUSTED, with the seconds to wait as the kRetryAfterPayload
//   payload). Taking before the lookup bounds concurrent guesses too. Keys
//   with a cached verdict and JWTs still pass, so one bad client behind a
//   shared address does not lock out the others. A token naming a kid that
//   is not cached takes a token of the same bucket before its lookup, given
//   back unless no such key exists: made-up kids cost at most the burst of
//   profiles lookups per address.
// Errors: UNAUTHENTICATED (no or bad credentials, 401), PERMISSION_DENIED
// (X-Rapport-User without ACT_AS_USER, 403), RESOURCE_EXHAUSTED (429).
//
// Thread-safety: Authenticator is safe for concurrent use.
#ifndef RAPPORT_GATEWAY_AUTH_H_
#define RAPPORT_GATEWAY_AUTH_H_

#include <openssl/evp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/jwt_key_cache.h"
#include "gateway/rate_limit.h"
#include "services/common/tenant.h"

namespace rapport::gateway {

// The payload of a RESOURCE_EXHAUSTED from Authenticate: seconds to wait, in decimal.
inline constexpr char kRetryAfterPayload[] = "rapport.retry_after_seconds";

struct AuthOptions {
  std::string admin_key;   // RAPPORT_ADMIN_KEY; empty disables the platform key
  std::string jwt_secret;  // RAPPORT_JWT_SECRET; empty refuses every HS256 JWT
  // RS256 public key (LoadRsaPublicKey); when set, RS256 is the only algorithm accepted.
  std::shared_ptr<EVP_PKEY> jwt_public_key;
  std::string jwt_issuer = "rapport";
  std::string jwt_audience = "rapport";
  absl::Duration jwt_skew = absl::Seconds(60);
  absl::Duration jwt_max_lifetime = absl::Hours(24);  // RAPPORT_JWT_MAX_LIFETIME_SECONDS
  absl::Duration key_cache_ttl = absl::Seconds(5);
  absl::Duration jwt_key_cache_ttl = absl::Seconds(30);  // RAPPORT_JWT_KEY_CACHE_SECONDS
};

struct VerifiedKey {
  std::string org_id;
  std::string key_id;
  uint32_t scopes = 0;            // TenantContext bits
  int rate_limit_per_minute = 0;  // the key's own limit; 0: the default
  std::string user_id;            // a personal key's user: the acting user
};

template <typename T>
using Callback = std::function<void(absl::StatusOr<T>)>;

// Resolves an API key secret; calls done exactly once, from any thread.
// UNAUTHENTICATED means the key is invalid or revoked (cached); other errors
// (e.g. UNAVAILABLE) are not cached.
using KeyVerifier = std::function<void(const std::string& secret, Callback<VerifiedKey> done)>;

// Whether user_id is an active user of org_id (false for a deactivated one);
// calls done exactly once, from any thread. NOT_FOUND means no such user
// (cached); other errors are not cached.
using UserChecker = std::function<void(const std::string& org_id, const std::string& user_id, Callback<bool> done)>;

struct Credentials {
  std::string api_key;        // X-Api-Key
  std::string authorization;  // Authorization
  std::string act_as_user;    // X-Rapport-User
  std::string client;         // the peer's address; empty: not throttled
};

class Authenticator {
 public:
  // user_checker may be empty: X-Rapport-User is then taken as given.
  // failed_lookups (may be null: no throttle) must outlive the Authenticator.
  // jwt_keys may be empty: tokens naming a kid are then refused.
  Authenticator(AuthOptions options, KeyVerifier verifier, UserChecker user_checker = nullptr,
                RateLimiter* failed_lookups = nullptr, JwtKeyResolver jwt_keys = nullptr);

  // Calls done exactly once, either before returning or later from the
  // verifier's thread. The context has no request id or idempotency key.
  void Authenticate(const Credentials& credentials, Callback<TenantContext> done);

 private:
  void FromKey(const VerifiedKey& key, const Credentials& credentials, const Callback<TenantContext>& done);
  // A Bearer token: with a kid, verified with the org key it names (after a
  // lookup through jwt_keys_); without, with the global secret or key.
  // A kid not cached takes a token of the client's failed-lookups bucket,
  // given back unless no such key exists, like an API key's lookup.
  void FromJwt(const std::string& token, const std::string& client, const Callback<TenantContext>& done);
  // RESOURCE_EXHAUSTED for a client out of failed-lookup tokens, naming
  // what it guessed, with the seconds to wait (kRetryAfterPayload).
  static absl::Status TooManyGuesses(const RateDecision& d, const std::string& what);
  // Answers ctx when its user is an active user of its org (UserChecker,
  // verdicts cached key_cache_ttl, one check in flight per user), refused
  // otherwise. For a user token's context, and a key's X-Rapport-User.
  void RequireActiveUser(TenantContext ctx, const absl::Status& refused, const Callback<TenantContext>& done);

  struct CacheEntry {
    absl::Time expiry;
    absl::StatusOr<VerifiedKey> verdict;
  };
  // Requests waiting for one lookup in flight, by cache key: concurrent
  // requests with the same credential share one backend call (and one token
  // of the failed-lookups throttle), also when a cached verdict expires
  // under load.
  template <typename T>
  using Flights = absl::flat_hash_map<std::string, std::vector<std::function<void(const absl::StatusOr<T>&)>>>;
  // Answers and forgets the waiters of one flight.
  template <typename T>
  void Land(Flights<T>& flights, const std::string& key, const absl::StatusOr<T>& result);
  const AuthOptions options_;
  const KeyVerifier verifier_;
  const UserChecker user_checker_;
  RateLimiter* const failed_lookups_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, CacheEntry> cache_ ABSL_GUARDED_BY(mu_);        // by SHA-256 of the secret
  absl::flat_hash_map<std::string, absl::Time> known_users_ ABSL_GUARDED_BY(mu_);  // "org/user" -> expiry
  absl::flat_hash_map<std::string, absl::Time> unknown_users_ ABSL_GUARDED_BY(mu_);
  Flights<VerifiedKey> key_lookups_ ABSL_GUARDED_BY(mu_);  // by SHA-256 of the secret
  Flights<bool> user_checks_ ABSL_GUARDED_BY(mu_);         // "org/user"
  std::unique_ptr<JwtKeyCache> jwt_keys_;                  // null: no org keys
};

// Verifies an HS256 JWT per the rules above and returns its tenant.
absl::StatusOr<TenantContext> VerifyJwt(const std::string& token, const AuthOptions& options,
                                        absl::Time now = absl::Now());

// The "kid" of a JWT's header, "" when it names none; UNAUTHENTICATED when
// the token or its header is malformed (or kid is not a string).
absl::StatusOr<std::string> JwtKeyId(const std::string& token);

// Verifies a JWT signed with an org's key: HS256 with key.secret and every
// claim rule of VerifyJwt, then the token's org claim must be key.org_id and
// now before key.expire_time; UNAUTHENTICATED otherwise.
absl::StatusOr<TenantContext> VerifyOrgJwt(const std::string& token, const JwtKey& key, const AuthOptions& options,
                                           absl::Time now = absl::Now());

// Signs payload_json as an HS256 JWT; with header_json to test other algs.
std::string SignJwtHs256(const std::string& payload_json, const std::string& secret,
                         const std::string& header_json = R"({"alg":"HS256","typ":"JWT"})");

// Parses a PEM public key (SubjectPublicKeyInfo) for RS256; INVALID_ARGUMENT
// when it is not an RSA public key.
absl::StatusOr<std::shared_ptr<EVP_PKEY>> LoadRsaPublicKey(const std::string& pem);

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_AUTH_H_
