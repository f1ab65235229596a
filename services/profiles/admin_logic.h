// The rules of org administration beyond creating users and keys
// (profiles_logic.h): updating and (de)activating users, setting a key's
// expiry and rate limit, and reading GET /v1/audit's filters. Pure functions
// returning INVALID_ARGUMENT that names each bad field by its JSON name.
//
// Thread-safety: stateless.
#ifndef RAPPORT_SERVICES_PROFILES_ADMIN_LOGIC_H_
#define RAPPORT_SERVICES_PROFILES_ADMIN_LOGIC_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/validate.h"
#include "services/profiles/profiles_store.h"

namespace rapport::profiles {

// The most requests a minute a key's own limit may allow.
inline constexpr int32_t kMaxKeyRateLimit = 1000000;
// The longest an action filter may be.
inline constexpr size_t kMaxAuditActionChars = 100;

// Adds violations for a key's expiry (when set: a valid time, and after
// now_us unless now_us is 0: an update may expire a key at once) and rate
// limit (0..kMaxKeyRateLimit), fields named under prefix ("" or "apiKey.").
void CheckKeyLimits(const google::protobuf::Timestamp* expire_time, int32_t rate_limit_per_minute, int64_t now_us,
                    const std::string& prefix, Violations* v);

// Applies an UpdateUser request to user: the masked fields among
// display_name, email, timezone and state (ACTIVE or DEACTIVATED), validated.
absl::Status ApplyUserUpdate(const pb::UpdateUserRequest& request, pb::User& user);

// Applies an UpdateApiKey request to key: the masked fields among
// display_name, expire_time (a past time expires the key at once; clearing it
// removes the expiry) and rate_limit_per_minute, validated.
absl::Status ApplyApiKeyUpdate(const pb::UpdateApiKeyRequest& request, pb::ApiKey& key);

// GET /v1/audit's filters, validated.
absl::StatusOr<AuditFilter> AuditFilterOf(const pb::ListAuditEntriesRequest& request);

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_ADMIN_LOGIC_H_
