// Domain rules of the profiles service that need no store: validation of
// contacts, groups, users and profiles; tier cadences; profile completeness;
// upcoming birthdays. Pure functions, safe from any thread.
#ifndef RAPPORT_SERVICES_PROFILES_PROFILES_LOGIC_H_
#define RAPPORT_SERVICES_PROFILES_PROFILES_LOGIC_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rapport/profiles/v1/profiles.pb.h"

namespace rapport::profiles {

namespace pb = ::rapport::profiles::v1;

inline constexpr int kMaxNameChars = 200;
inline constexpr int kMaxNotesChars = 10000;
inline constexpr int kMaxTags = 50;

// Default keep-in-touch cadence of a tier, in days (NETWORK when unspecified).
int TierCadenceDays(pb::Tier tier);

// Validates a contact as it will be stored (after defaults and, for updates,
// after the mask was applied). INVALID_ARGUMENT naming every bad field.
absl::Status ValidateContact(const pb::Contact& contact);
// Fills defaults (tier NETWORK, visibility PRIVATE), trims and de-duplicates
// tag lists, and computes effective_cadence_days.
void NormalizeContact(pb::Contact* contact);

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

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_PROFILES_LOGIC_H_
