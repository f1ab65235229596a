// The rules of orgs' JWT signing keys (issue 17): each org signs its users'
// tokens (HS256) with its own secret, named by the token header's "kid".
// A kid is "<org id>.<key id>", so the key's row is found by its org (every
// statement filters on org_id) and a kid names its org before any lookup.
// Rotation makes a new current key; the keys it replaces stay valid for a
// grace period (JwtKeyOptions::grace) so that tokens already issued keep
// working, then answer NOT_FOUND like a key that never existed.
//
// Plain functions of their arguments; thread-safe.
#ifndef RAPPORT_SERVICES_PROFILES_JWT_KEYS_LOGIC_H_
#define RAPPORT_SERVICES_PROFILES_JWT_KEYS_LOGIC_H_

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rapport/profiles/v1/profiles.pb.h"

namespace rapport::profiles {

namespace pb = ::rapport::profiles::v1;

// Keys an org may hold at once (the current one and those in their grace
// period): a rotation beyond it is RESOURCE_EXHAUSTED naming the quota, so
// rotating in a loop cannot grow the table without bound.
inline constexpr char kJwtKeysPerOrg[] = "jwtKeysPerOrg";
inline constexpr int64_t kMaxJwtKeysPerOrg = 20;

struct JwtKeyOptions {
  // How long a replaced key stays valid (--jwt_key_grace_seconds,
  // RAPPORT_JWT_KEY_GRACE_SECONDS).
  absl::Duration grace = absl::Hours(24);
};

// A key with its secret in the clear: only in memory (sealed at rest by the
// store, shown once to the org admin).
struct StoredJwtKey {
  std::string org_id;
  pb::JwtKey key;      // kid and times
  std::string secret;  // 64 hex digits (256 random bits)
};

std::string MakeKid(const std::string& org_id, const std::string& key_id);
// The org a kid names; false when kid is not "<id>.<id>".
bool ParseKid(const std::string& kid, std::string* org_id);

// A new current key of org_id made at now_us, with a fresh random secret.
StoredJwtKey NewJwtKey(const std::string& org_id, const std::string& key_id, int64_t now_us);

// The answer to ResolveJwtKey: lookup(org id, kid) is the store's Get.
// NOT_FOUND for a malformed kid, a missing key and one past its grace
// period (expire_time <= now), which the gateway turns into 401.
absl::StatusOr<pb::ResolveJwtKeyResponse> ResolveKid(
    const std::string& kid, int64_t now_us,
    absl::FunctionRef<absl::StatusOr<StoredJwtKey>(const std::string& org_id, const std::string& kid)> lookup);

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_JWT_KEYS_LOGIC_H_
