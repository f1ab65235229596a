// Follow-ups from an interaction's followUpAt: the job of the notifications
// store that turns interaction events into one durable follow-up per
// (interaction, contact) and fires it as a "follow_up" notification (with
// the contact and the interaction's summary) at followUpAt, unless an
// interaction with that contact happened since.
//
// Keyed on the interaction events notifications already consumes, inside
// the event consumer's transaction (projection_store.cc calls
// ApplyFollowUps), so it works whenever interactions announces an
// interaction (at once, or when a planned one's time comes):
//   interaction.created   schedules its follow-ups, and clears (cancels) the
//                         pending follow-ups of earlier interactions with
//                         the same contacts;
//   interaction.updated   when followUpAt, contacts, summary, kind or time
//                         changed (Event.changed; empty means anything):
//                         moves, adds or cancels its follow-ups;
//   interaction.deleted   cancels them.
// A follow-up is a row of `follow_ups` (pending ones only) and a timer of
// kind kFollowUp (ref: interaction id, contact: contact id, dedupe key with
// the due time), so it fires once under the timer store's claim, lease and
// dedupe records (timer_store.h), and a moved one fires at the new time
// only. At firing, an interaction with the contact at or after the
// followed-up one (whatever order its event came in) clears it silently.
// A followUpAt already more than a day past when it was set (an imported
// history) schedules nothing.
//
// Stateless; thread-safety is that of the Connection passed in.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_FOLLOW_UPS_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_FOLLOW_UPS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "rapport/events/v1/events.pb.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/notifications/timer_store.h"

namespace rapport::notifications {

// The migration of the follow_ups table (appended to the store's list).
extern const char kFollowUpsMigration[];

// Applies an interaction.* event (see above).
absl::Status ApplyFollowUps(db::Connection& conn, const Owner& owner, const events::v1::Event& event, absl::Time now);

// A follow-up's timer: the notification, unless cleared or moved since.
absl::Status FireFollowUp(db::Connection& conn, const TimerRow& timer, int64_t now_us);

// contact.merged: the merged contact's pending follow-ups name the survivor.
absl::Status MoveFollowUps(db::Connection& conn, const Owner& owner, const std::string& from, const std::string& to);

// contact.deleted: its follow-ups and their timers go.
absl::Status EraseFollowUps(db::Connection& conn, const Owner& owner, const std::string& contact_id);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_FOLLOW_UPS_H_
