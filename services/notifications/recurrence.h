// Repeating reminders: the subset of RFC 5545 recurrence rules (RRULE) that
// reminders take, parsed and expanded in the user's time zone on Abseil's
// civil times, so that "weekly at 09:00" stays at 09:00 local across
// daylight-saving changes.
//
// Supported parts: FREQ=DAILY|WEEKLY|MONTHLY|YEARLY (required), INTERVAL,
// BYDAY (MO..SU; with an ordinal such as 1MO or -1FR for MONTHLY and YEARLY
// only), BYMONTHDAY (1..31 or -31..-1; not with WEEKLY, as RFC 5545 says),
// COUNT or UNTIL (not both), and WKST=MO (the only week start). UNTIL is
// UTC ("20261231T235959Z"), a local date-time in the user's zone
// ("20261231T090000"), or a date ("20261231": through the end of that local
// day). The series starts at DTSTART, the reminder's first due time, which
// gives the time of day and the defaults (weekday, day of month, month) and
// always counts as the first occurrence (RFC 5545 3.8.5.3), even when the
// rule would not produce it. A date that does not exist in a period (the
// 31st in April, Feb 29 in a common year) is skipped, never moved (RFC 5545
// 3.3.10). A local time a DST jump skips maps to the instant of the jump
// (02:30 on a spring-forward night fires at 03:00), a repeated one to its
// first occurrence, as in local_time.h (absl::FromCivil).
//
// Pure functions; thread-safe.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_RECURRENCE_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_RECURRENCE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace rapport::notifications {

enum class Frequency { kDaily, kWeekly, kMonthly, kYearly };

struct WeekdayRule {
  int ordinal = 0;  // 0: every such weekday in the period; n: the n-th (negative: from the end)
  absl::Weekday weekday = absl::Weekday::monday;
};

// UNTIL as written: an instant, or a local date-time resolved in the zone.
struct UntilRule {
  bool utc = false;
  absl::CivilSecond local;  // when !utc: in the user's zone
  absl::Time instant;       // when utc
};

struct Recurrence {
  Frequency freq = Frequency::kDaily;
  int interval = 1;
  std::vector<WeekdayRule> by_day;
  std::vector<int> by_month_day;
  int count = 0;  // 0: no COUNT
  std::optional<UntilRule> until;
};

inline constexpr int kMaxRecurrenceCount = 1000;
inline constexpr int kMaxRecurrenceInterval = 1000;
inline constexpr size_t kMaxRecurrenceLength = 500;

// Parses an RRULE value (an optional "RRULE:" prefix is accepted).
// INVALID_ARGUMENT "<field>: <PART>: <why>" naming the first bad part, e.g.
// `recurrence: BYDAY: "XX" is not a weekday`.
absl::StatusOr<Recurrence> ParseRecurrence(absl::string_view field, absl::string_view rule);

// Up to n occurrences of the series that starts at dtstart (in zone),
// strictly after `after`, in order. Ends early at COUNT or UNTIL; a rule
// that produces nothing for 60 years (BYMONTHDAY=31 every 12 months from
// February) ends there too.
std::vector<absl::Time> NextOccurrences(const Recurrence& rule, absl::Time dtstart, absl::TimeZone zone,
                                        absl::Time after, int n);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_RECURRENCE_H_
