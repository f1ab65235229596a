// Repeating reminders in the store: what the inbox job (inbox_store.cc)
// calls to list a reminder's upcoming occurrences and, when one fires, to
// move the reminder to its next occurrence and schedule that occurrence's
// timer in the same transaction (so the series survives kill -9 between
// occurrences and no occurrence is lost or doubled: each timer has its own
// dedupe key, "reminder:<id>:<due_us>", and fires under the timer store's
// claim/lease and dedupe records, timer_store.h). Occurrences are computed
// in the user's current zone from the series' start (recurrence.h).
//
// Stateless; thread-safety is that of the Connection passed in.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_REMINDER_SERIES_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_REMINDER_SERIES_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/notifications/timer_store.h"

namespace rapport::notifications {

namespace pb = ::rapport::notifications::v1;

// How many occurrences GET /v1/reminders/{id} shows.
inline constexpr int kShownOccurrences = 5;

// Up to n occurrences of a PENDING reminder from its due_time on (due_time
// first); none when it is FIRED. A one-off reminder has one.
absl::StatusOr<std::vector<absl::Time>> UpcomingOccurrences(const pb::Reminder& reminder, absl::TimeZone zone, int n);

// After the occurrence due at fired_due_us fired: moves reminder (in
// memory) to its next occurrence strictly after both that and now (a
// replica down for a week fires one missed occurrence, not seven) and
// inserts its timer; true when one follows, false when the series ended
// (COUNT, UNTIL) or the reminder does not repeat.
absl::StatusOr<bool> ScheduleNextOccurrence(db::Connection& conn, const Owner& owner, pb::Reminder& reminder,
                                            int64_t fired_due_us, int64_t now_us);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_REMINDER_SERIES_H_
