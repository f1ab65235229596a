#include "services/notifications/reminder_series.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/notifications/notifications_rows.h"
#include "services/notifications/recurrence.h"

namespace rapport::notifications {

absl::StatusOr<std::vector<absl::Time>> UpcomingOccurrences(const pb::Reminder& reminder, absl::TimeZone zone, int n) {
  std::vector<absl::Time> out;
  if (reminder.state() != pb::PENDING || n <= 0) return out;
  const absl::Time due = FromMicros(TimestampToMicros(reminder.due_time()));
  out.push_back(due);
  if (reminder.recurrence().empty()) return out;
  ASSIGN_OR_RETURN(Recurrence rule, ParseRecurrence("reminder.recurrence", reminder.recurrence()));
  const absl::Time start = reminder.has_start_time() ? FromMicros(TimestampToMicros(reminder.start_time())) : due;
  for (absl::Time t : NextOccurrences(rule, start, zone, due, n - 1)) out.push_back(t);
  return out;
}

absl::StatusOr<bool> ScheduleNextOccurrence(db::Connection& conn, const Owner& owner, pb::Reminder& reminder,
                                            int64_t fired_due_us, int64_t now_us) {
  if (reminder.recurrence().empty()) return false;
  ASSIGN_OR_RETURN(Recurrence rule, ParseRecurrence("reminder.recurrence", reminder.recurrence()));
  ASSIGN_OR_RETURN(absl::TimeZone zone, UserZone(conn, owner));
  const absl::Time start =
      reminder.has_start_time() ? FromMicros(TimestampToMicros(reminder.start_time())) : FromMicros(fired_due_us);
  std::vector<absl::Time> next = NextOccurrences(rule, start, zone, FromMicros(std::max(fired_due_us, now_us)), 1);
  if (next.empty()) return false;
  const int64_t due_us = ToMicros(next[0]);
  *reminder.mutable_due_time() = ToTimestamp(due_us);
  RETURN_IF_ERROR(InsertTimer(conn, NewTimer(owner, TimerKind::kReminder, reminder.id(), reminder.contact_id(), due_us,
                                             absl::StrCat("reminder:", reminder.id(), ":", due_us))));
  return true;
}

}  // namespace rapport::notifications
