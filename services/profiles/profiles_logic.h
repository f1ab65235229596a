// Domain rules of the profiles service, kept out of the gRPC adapter so that
// they are tested on their own: validation of contacts, groups, users and
// profiles; tier cadences; profile completeness; upcoming birthdays; API-key
// secrets and scopes. Functions of their arguments (new secrets draw random
// bytes), safe from any thread.
#ifndef RAPPORT_SERVICES_PROFILES_PROFILES_LOGIC_H_
#define RAPPORT_SERVICES_PROFILES_PROFILES_LOGIC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/profiles/profiles_store.h"

namespace rapport::profiles {

namespace pb = ::rapport::profiles::v1;

// Per-field limits of a contact (README "Limits"): names, headline, company,
// title and location kMaxNameChars each; howWeMet 1000; notes
// kMaxNotesChars; at most 20 emails (254 characters each), 20 phones (40),
// 20 links (2048); tags, seeking and offering kMaxTags items of 50
// characters each. Lengths count code points, so these alone would let a
// contact grow past what the bus and caches should carry: the whole
// contact is also bounded, to kMaxContactJsonBytes as proto3 JSON (and so is
// the own profile).
inline constexpr int kMaxNameChars = 200;
inline constexpr int kMaxNotesChars = 10000;
inline constexpr int kMaxTags = 50;
inline constexpr size_t kMaxContactJsonBytes = 32 * 1024;
// Ids one BatchGetContacts call may name.
inline constexpr int kMaxBatchGetContacts = 100;

// Default keep-in-touch cadence of a tier, in days (NETWORK when unspecified).
int TierCadenceDays(pb::Tier tier);

// Validates a contact as it will be stored (after defaults and, for updates,
// after the mask was applied). INVALID_ARGUMENT naming every bad field; a
// contact over kMaxContactJsonBytes as JSON names its largest field.
absl::Status ValidateContact(const pb::Contact& contact);
// Fills defaults (tier NETWORK, visibility PRIVATE), trims and de-duplicates
// tag lists, and computes effective_cadence_days.
void NormalizeContact(pb::Contact* contact);

// 1..kMaxBatchGetContacts well-formed ids, none repeated: INVALID_ARGUMENT
// naming every bad one ("contactIds[3]").
absl::Status ValidateBatchGetContacts(const pb::BatchGetContactsRequest& request);

absl::Status ValidateGroup(const pb::Group& group);
absl::Status ValidateProfile(const pb::Profile& profile);
absl::Status ValidateNewUser(const pb::CreateUserRequest& request);
// OK when name is an IANA time zone known to this machine's tz database.
bool IsValidTimeZone(const std::string& name);
// OK when (month, day, year) is a date; year 0 means unknown (Feb 29 allowed).
bool IsValidBirthday(int month, int day, int year);

// Completeness of a profile: a score out of 100 and the missing fields with
// why each matters, the most valuable first.
pb::GetCompletenessResponse Completeness(const pb::Profile& profile);

// The next occurrence of a month/day birthday on or after `today` (a civil
// day in the user's zone). Feb 29 falls on Feb 28 in common years.
absl::CivilDay NextBirthday(int month, int day, absl::CivilDay today);

// Upcoming birthdays within `within_days` of `today`, soonest first (then by
// name). Contacts without a birthday are skipped.
std::vector<pb::UpcomingBirthday> UpcomingBirthdays(const std::vector<pb::Contact>& contacts, absl::CivilDay today,
                                                    int within_days);

// --- API keys ---
//
// A secret is "rpk.<org id>.<key id>.<48 hex digits>": the ids let
// VerifyApiKey find the row by primary key, and only the SHA-256 of the whole
// secret is stored. A key holds org scopes only (READ, WRITE, ADMIN,
// ACT_AS_USER); PLATFORM belongs to the platform admin key, never to a key.

std::string MakeApiKeySecret(const std::string& org_id, const std::string& key_id);
// False when secret is not of the form above.
bool ParseApiKeySecret(const std::string& secret, std::string* org_id, std::string* key_id);

// A key about to be stored and its secret, shown once to its creator.
struct NewApiKey {
  StoredApiKey stored;
  std::string secret;
};

// The key a CreateApiKey request makes in org_id: INVALID_ARGUMENT naming
// every bad field (display name; no scope; a scope that is not an org scope;
// an expiry not in the future; a rate limit outside 0..kMaxKeyRateLimit; a
// personal key (userId) with ADMIN or ACT_AS_USER).
// Scopes keep the order they were first named in; repeats are dropped.
absl::StatusOr<NewApiKey> MakeApiKey(const std::string& org_id, const std::string& key_id,
                                     const pb::CreateApiKeyRequest& request, int64_t now_us);
// The "org admin" key every new org gets: all four org scopes.
NewApiKey MakeOrgAdminKey(const std::string& org_id, const std::string& key_id, int64_t now_us);

// The answer to VerifyApiKey: lookup(org id, key id) is the store's GetApiKey.
// Every refusal (malformed secret, no such key, wrong secret, revoked key,
// key expired at now_us) is the same UNAUTHENTICATED "invalid API key", so a
// caller learns nothing about which part was wrong; other lookup errors pass
// through. (A personal key's user being deactivated is the caller's check.)
absl::StatusOr<pb::VerifyApiKeyResponse> VerifyApiKeySecret(
    const std::string& secret,
    absl::FunctionRef<absl::StatusOr<StoredApiKey>(const std::string& org_id, const std::string& key_id)> lookup,
    int64_t now_us);

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_PROFILES_LOGIC_H_
