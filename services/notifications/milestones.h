// Birthdays and milestones: what the inbox says about a contact's day or a
// contact's new role, and how logging the act closes it.
//
// - The built-in "birthday" workflow's notification carries a greeting
//   draft (BirthdayGreetingDraft): the contact's first name and, when known,
//   how you met. Deterministic, so a replayed step says the same.
// - A contact.updated event whose contact's company or title moved from a
//   known value to another one than the projection's copy (a change by the
//   user or by an import of an existing contact; never contact.created, nor
//   a field filled in for the first time, as a merge does) puts a
//   "milestone" notification
//   in the owner's inbox, once per change (dedupe key
//   "milestone:<contact>:<event id>"), with a congratulation draft.
// - An interaction.created of kind BIRTHDAY_GREETING or CONGRATULATION with
//   a contact marks that contact's open birthday and milestone notifications
//   DONE (hidden from the inbox like dismissed ones).
//
// Called from the projection (ApplyEvent) inside the event consumer's
// transaction, before the projection applies the event. Stateless;
// thread-safety is that of the Connection passed in.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_MILESTONES_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_MILESTONES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "rapport/events/v1/events.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"

namespace rapport::notifications {

inline constexpr char kMilestoneKind[] = "milestone";

// "Happy birthday, <first name>! ..." with how you met when the contact says.
std::string BirthdayGreetingDraft(const profiles::v1::Contact& contact);
// "Congratulations on ... , <first name>! ..." naming the new title and company.
std::string CongratulationDraft(const profiles::v1::Contact& contact);

// The milestone prompt and the marking done described above; nothing for
// other events. Must run before the projection stores the event's contact.
absl::Status ApplyMilestones(db::Connection& conn, const Owner& owner, const events::v1::Event& event, int64_t now_us);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_MILESTONES_H_
