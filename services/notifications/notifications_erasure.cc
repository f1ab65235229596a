#include "services/notifications/notifications_erasure.h"

#include <utility>

#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/db_rows.h"
#include "services/common/status.h"
#include "services/notifications/follow_ups.h"
#include "services/notifications/sync_log.h"

namespace rapport::notifications {
namespace {

namespace pb = ::rapport::notifications::v1;

// The ids of owner's rows in table (blobs of Msg) whose contact_id is contact_id.
template <typename Msg>
absl::StatusOr<std::vector<std::string>> RowsAbout(db::Connection& conn, const char* sql, const Owner& owner,
                                                   const std::string& contact_id) {
  std::vector<std::string> ids;
  auto st = conn.Prepare(sql);
  st.Bind(1, owner.org).Bind(2, owner.user);
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    Msg m;
    RETURN_IF_ERROR(db::ParseRow(st.ColumnBlob(1), &m));
    if (m.contact_id() == contact_id) ids.push_back(st.ColumnText(0));
  }
  return ids;
}

absl::Status DeleteByOwnerAnd(db::Connection& conn, const char* sql, const Owner& owner, const std::string& value) {
  return conn.Prepare(sql).Bind(1, owner.org).Bind(2, owner.user).Bind(3, value).Run();
}

}  // namespace

std::vector<ErasureTable> NotificationsErasureTables() {
  return {{"users", true},
          {"contacts", true},
          {"contact_interactions", true},
          {"ledger", true},
          {"notifications", true},
          {"reminders", true},
          {"workflows", true},
          {"runs", true},
          {"webhooks", true},
          {"deliveries", true},
          {"timers", true},
          {"reminder_counts", true},
          {"follow_ups", true},
          {"idempotency_keys", true},
          {"fired_timers", false},
          {"outbox", false},  // the audit entries of webhook changes (services/common/audit.h)
          {"sync_objects", true},
          {"sync_heads", true}};
}

absl::Status EraseDeletedContact(db::Connection& conn, const Owner& owner, const std::string& contact_id) {
  if (contact_id.empty()) return absl::OkStatus();
  // The tombstone keeps the id only.
  profiles::v1::Contact tombstone;
  tombstone.set_id(contact_id);
  RETURN_IF_ERROR(conn.Prepare("UPDATE contacts SET data = ? WHERE org_id = ? AND user_id = ? AND contact_id = ?")
                      .BindBlob(1, tombstone.SerializeAsString())
                      .Bind(2, owner.org)
                      .Bind(3, owner.user)
                      .Bind(4, contact_id)
                      .Run());
  // Reminder and trigger timers go (kinds 1, 4, 6: timer_store.h). A run's
  // step timer stays: the run wakes and stops, saying the contact was
  // deleted (run_store.cc), rather than waiting for ever.
  for (const char* sql : {
           "DELETE FROM contact_interactions WHERE org_id = ? AND user_id = ? AND contact_id = ?",
           "DELETE FROM ledger WHERE org_id = ? AND user_id = ? AND contact_id = ?",
           "DELETE FROM timers WHERE org_id = ? AND user_id = ? AND contact_id = ? AND kind IN (1, 4, 6)",
           "DELETE FROM reminder_counts WHERE org_id = ? AND user_id = ? AND contact_id = ?",
       }) {
    RETURN_IF_ERROR(DeleteByOwnerAnd(conn, sql, owner, contact_id));
  }
  RETURN_IF_ERROR(EraseFollowUps(conn, owner, contact_id));
  // Reminders name their contact inside the blob only.
  ASSIGN_OR_RETURN(
      std::vector<std::string> reminders,
      RowsAbout<pb::Reminder>(conn, "SELECT reminder_id, data FROM reminders WHERE org_id = ? AND user_id = ?", owner,
                              contact_id));
  for (const std::string& id : reminders) {
    RETURN_IF_ERROR(DeleteByOwnerAnd(conn, "DELETE FROM reminders WHERE org_id = ? AND user_id = ? AND reminder_id = ?",
                                     owner, id));
    pb::Reminder gone;
    gone.set_id(id);
    RETURN_IF_ERROR(SyncReminder(conn, owner, gone, /*deleted=*/true));
  }
  return absl::OkStatus();
}

}  // namespace rapport::notifications
