// Erasure in the notifications store.
//
// - A contact deleted in profiles (contact.deleted): EraseDeletedContact
//   removes what notifications kept about that person: the projection row's
//   data (the row stays as an id-only tombstone, so that a late update never
//   brings the contact back), its interaction links and ledger row, the
//   user's reminders about it and its reminder, date and overdue trigger
//   timers. Workflow runs for it stop when they wake, saying why (as
//   before); inbox notifications already delivered stay in the user's inbox.
// - A user or an org erased (user.deleted / org.deleted):
//   NotificationsErasureTables lists every table with the subject's rows for
//   services/common/erasure.h (WithErasure around the consumer's handler).
//
// Thread-safety: functions on the caller's transaction.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_ERASURE_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_ERASURE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/common/erasure.h"

namespace rapport::notifications {

std::vector<ErasureTable> NotificationsErasureTables();

absl::Status EraseDeletedContact(db::Connection& conn, const Owner& owner, const std::string& contact_id);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_ERASURE_H_
