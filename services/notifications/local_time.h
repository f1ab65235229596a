// Wall-clock arithmetic in a user's IANA timezone, on Abseil's time zones
// (tzdata). "On the day at 09:00 local" means 09:00 on that civil day in the
// user's zone, whatever the UTC offset is that day: a time skipped by a
// daylight-saving jump maps to the instant of the jump (the first valid time
// after the gap), a repeated one to its first occurrence (absl::FromCivil). Birthdays on Feb 29 fall on
// Feb 28 in common years. Pure functions; thread-safe.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_LOCAL_TIME_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_LOCAL_TIME_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace rapport::notifications {

// The zone named name; UTC for an empty name; INVALID_ARGUMENT for an unknown one.
absl::StatusOr<absl::TimeZone> LoadZone(const std::string& name);
// The zone, or UTC when the name is empty or unknown (a user's zone that
// profiles accepted but tzdata here lacks must not stop their workflows).
absl::TimeZone ZoneOrUtc(const std::string& name);

// Minutes after midnight of "HH:MM" (00:00..23:59); empty means 09:00.
// INVALID_ARGUMENT "<field>: ..." otherwise.
absl::StatusOr<int> ParseLocalTime(std::string_view field, std::string_view hhmm);

// The instant of minute_of_day on day in zone.
absl::Time AtLocal(absl::CivilDay day, int minute_of_day, absl::TimeZone zone);

// The civil day `days` after the local day of `from`, at minute_of_day.
absl::Time DaysLaterAt(absl::Time from, int days, int minute_of_day, absl::TimeZone zone);

// The next instant strictly after `after` of minute_of_day in zone (daily schedules).
absl::Time NextDaily(absl::Time after, int minute_of_day, absl::TimeZone zone);

// The date of month/day in year; Feb 29 becomes Feb 28 in a common year.
absl::CivilDay AnnualDate(int64_t year, int month, int day);

// The first yearly occurrence strictly after `after` of (month/day +
// offset_days) at minute_of_day in zone. offset_days may be negative (a
// heads-up before) or cross a year boundary.
absl::Time NextAnnual(absl::Time after, int month, int day, int offset_days, int minute_of_day, absl::TimeZone zone);

// "YYYY-MM-DD" of t's local day.
std::string LocalDate(absl::Time t, absl::TimeZone zone);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_LOCAL_TIME_H_
