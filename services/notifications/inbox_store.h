// The inbox job of NotificationsStore (inbox_store.cc), as the other jobs use
// it inside their own transactions: putting a notification in the inbox, and
// the effects of the inbox's timers (a reminder due, a snooze over). The
// job's public methods (the inbox, reminders) are declared on
// NotificationsStore in notifications_store.h.
//
// Stateless; thread-safety is that of the Connection passed in.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_INBOX_STORE_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_INBOX_STORE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/notifications/timer_store.h"

namespace rapport::notifications {

namespace pb = ::rapport::notifications::v1;

// Puts a notification in the inbox once per dedupe key (and queues its
// "notification.created" webhook event); false when the key was used before
// (its effect already happened).
absl::StatusOr<bool> AddNotification(db::Connection& conn, const Owner& owner, pb::Notification n,
                                     const std::string& dedupe_key, int64_t now_us);

// import.progress: the owner's entry for the import (kind "import", one per
// import) created or brought up to date, and moved to the end of the live
// stream so that open streams see each chunk. Older progress than the entry
// shows (events may be redelivered) changes nothing; a dismissed or snoozed
// entry takes the new figures but stays hidden.
absl::Status ApplyImportProgress(db::Connection& conn, const Owner& owner, const profiles::v1::Import& import);

// A reminder's timer: its notification, and the reminder marked FIRED.
// Nothing when the reminder was deleted meanwhile.
absl::Status FireReminder(db::Connection& conn, const TimerRow& timer, int64_t now_us);

// A snooze's timer: the notification is UNREAD again, at a new stream
// position (live streams see it reappear). Nothing when it is no longer
// snoozed.
absl::Status EndSnooze(db::Connection& conn, const TimerRow& timer, int64_t now_us);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_INBOX_STORE_H_
