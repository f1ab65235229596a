// The inbox job of NotificationsStore: notifications (listing, the live
// stream's reads, read/dismiss/snooze) and reminders.
#include "services/notifications/inbox_store.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/ids.h"
#include "services/common/quota.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/notifications/delivery_store.h"
#include "services/notifications/domain_events.h"
#include "services/notifications/notifications_rows.h"
#include "services/notifications/notifications_store.h"
#include "services/notifications/reminder_series.h"
#include "services/notifications/sync_log.h"

namespace rapport::notifications {

using db::Connection;
using db::Statement;

namespace {

using SeqRow = std::pair<int64_t, pb::Notification>;

// Rows of (seq, data).
absl::StatusOr<std::vector<SeqRow>> SeqRows(Statement& st) {
  return db::ListRows<SeqRow>(st, [](const Statement& row) -> absl::StatusOr<SeqRow> {
    SeqRow out{row.ColumnInt(0), pb::Notification()};
    RETURN_IF_ERROR(db::ParseRow(row.ColumnBlob(1), &out.second));
    return out;
  });
}

// Adds delta to the pending reminders of (owner, contact_id).
absl::Status CountPendingReminders(Connection& conn, const Owner& owner, const std::string& contact_id, int delta) {
  return conn
      .Prepare(
          "INSERT INTO reminder_counts (org_id, user_id, contact_id, pending) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (org_id, user_id, contact_id) DO UPDATE SET pending = reminder_counts.pending + "
          "excluded.pending")
      .Bind(1, owner.org)
      .Bind(2, owner.user)
      .Bind(3, contact_id)
      .Bind(4, delta)
      .RunLater();
}

absl::StatusOr<int64_t> PendingReminders(Connection& conn, const Owner& owner, const std::string& contact_id) {
  ASSIGN_OR_RETURN(std::optional<int64_t> n,
                   db::ReadRow<int64_t>(conn.Prepare("SELECT pending FROM reminder_counts WHERE org_id = ? AND "
                                                     "user_id = ? AND contact_id = ?")
                                            .Bind(1, owner.org)
                                            .Bind(2, owner.user)
                                            .Bind(3, contact_id),
                                        [](const Statement& row) { return row.ColumnInt(0); }));
  return n.value_or(0);
}

absl::Status InsertReminder(Connection& conn, const Owner& owner, const pb::Reminder& reminder) {
  RETURN_IF_ERROR(CountPendingReminders(conn, owner, reminder.contact_id(), +1));
  RETURN_IF_ERROR(conn.Prepare("INSERT INTO reminders (org_id, user_id, reminder_id, data) VALUES (?, ?, ?, ?)")
                      .Bind(1, owner.org)
                      .Bind(2, owner.user)
                      .Bind(3, reminder.id())
                      .BindBlob(4, reminder.SerializeAsString())
                      .Run());
  RETURN_IF_ERROR(SyncReminder(conn, owner, reminder, /*deleted=*/false));
  return InsertTimer(conn, NewTimer(owner, TimerKind::kReminder, reminder.id(), reminder.contact_id(),
                                    TimestampToMicros(reminder.due_time()), absl::StrCat("reminder:", reminder.id())));
}

}  // namespace

absl::StatusOr<bool> AddNotification(Connection& conn, const Owner& owner, pb::Notification n,
                                     const std::string& dedupe_key, int64_t now_us) {
  ASSIGN_OR_RETURN(bool dup, db::Exists(conn.Prepare("SELECT 1 FROM notifications WHERE org_id = ? AND dedupe_key = ?")
                                            .Bind(1, owner.org)
                                            .Bind(2, dedupe_key)));
  if (dup) return false;
  if (n.id().empty()) n.set_id(NewId());
  n.set_state(pb::UNREAD);
  *n.mutable_create_time() = ToTimestamp(now_us);
  *n.mutable_update_time() = ToTimestamp(now_us);
  ASSIGN_OR_RETURN(int64_t seq, NextSeq(conn, owner));
  RETURN_IF_ERROR(
      conn.Prepare("INSERT INTO notifications (org_id, user_id, notification_id, seq, state, dedupe_key, data) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)")
          .Bind(1, owner.org)
          .Bind(2, owner.user)
          .Bind(3, n.id())
          .Bind(4, seq)
          .Bind(5, static_cast<int>(n.state()))
          .Bind(6, dedupe_key)
          .BindBlob(7, n.SerializeAsString())
          .RunLater());
  RETURN_IF_ERROR(SyncNotification(conn, owner, n));
  RETURN_IF_ERROR(EnqueueWebhookEvent(conn, owner, "notification.created", n.id(), now_us,
                                      [&n](const WebhookEnvelope& e) { return NotificationWebhookBody(e, n); }));
  return true;
}

namespace {

// The entry's title and body for the import as it stands.
void DescribeImport(const profiles::v1::Import& import, pb::Notification* n) {
  const std::string name = import.file_name().empty() ? std::string("your file") : import.file_name();
  const std::string counts =
      absl::StrCat(import.created(), " created, ", import.merged(), " merged, ", import.skipped(), " skipped");
  switch (import.state()) {
    case profiles::v1::IMPORT_SUCCEEDED:
      n->set_title(absl::StrCat("Import of ", name, " done"));
      n->set_body(absl::StrCat(import.rows_read(), " rows: ", counts));
      break;
    case profiles::v1::IMPORT_FAILED:
      n->set_title(absl::StrCat("Import of ", name, " failed"));
      n->set_body(
          absl::StrCat(import.error(), " (", import.rows_read(), " of ", import.rows_total(), " rows: ", counts, ")"));
      break;
    default:
      n->set_title(absl::StrCat("Importing ", name));
      n->set_body(absl::StrCat(import.rows_read(), " of ", import.rows_total(), " rows: ", counts));
  }
}

}  // namespace

absl::Status ApplyImportProgress(Connection& conn, const Owner& owner, const profiles::v1::Import& import) {
  const std::string dedupe_key = absl::StrCat("import:", import.id());
  const int64_t as_of = TimestampToMicros(import.update_time());
  ASSIGN_OR_RETURN(std::optional<std::string> id,
                   db::ReadRow<std::string>(
                       conn.Prepare("SELECT notification_id FROM notifications WHERE org_id = ? AND dedupe_key = ?")
                           .Bind(1, owner.org)
                           .Bind(2, dedupe_key),
                       [](const Statement& row) { return row.ColumnText(0); }));
  if (!id.has_value()) {
    pb::Notification n;
    n.set_kind("import");
    n.set_import_id(import.id());
    DescribeImport(import, &n);
    return AddNotification(conn, owner, std::move(n), dedupe_key, as_of).status();
  }
  ASSIGN_OR_RETURN(SeqRow row, ReadNotification(conn, owner, *id));
  pb::Notification& n = row.second;
  if (TimestampToMicros(n.update_time()) >= as_of) return absl::OkStatus();  // older news, or a redelivery
  DescribeImport(import, &n);
  *n.mutable_update_time() = import.update_time();
  int64_t seq = row.first;
  if (n.state() == pb::UNREAD || n.state() == pb::READ) {
    ASSIGN_OR_RETURN(seq, NextSeq(conn, owner));
  }
  return WriteNotification(conn, owner, n, seq);
}

absl::Status FireReminder(Connection& conn, const TimerRow& timer, int64_t now_us) {
  const Owner owner{timer.org, timer.user};
  absl::StatusOr<pb::Reminder> r =
      ReadOwned<pb::Reminder>(conn, "SELECT data FROM reminders WHERE org_id = ? AND user_id = ? AND reminder_id = ?",
                              owner, timer.ref, "reminder");
  if (absl::IsNotFound(r.status())) return absl::OkStatus();  // deleted meanwhile
  if (!r.ok()) return r.status();
  const bool was_pending = r->state() == pb::PENDING;
  pb::Notification n;
  n.set_kind("reminder");
  n.set_reminder_id(r->id());
  n.set_contact_id(r->contact_id());
  ASSIGN_OR_RETURN(std::optional<profiles::v1::Contact> c, ReadContact(conn, owner, r->contact_id()));
  n.set_title(c.has_value() ? absl::StrCat("Reminder: ", c->display_name()) : "Reminder");
  n.set_body(r->note());
  n.set_id(NewId());
  ASSIGN_OR_RETURN(bool added, AddNotification(conn, owner, n, timer.dedupe_key, now_us));
  std::optional<std::string> notification_id = n.id();
  if (!added) {  // made before under this key: name that one
    ASSIGN_OR_RETURN(notification_id,
                     db::ReadRow<std::string>(
                         conn.Prepare("SELECT notification_id FROM notifications WHERE org_id = ? AND dedupe_key = ?")
                             .Bind(1, owner.org)
                             .Bind(2, timer.dedupe_key),
                         [](const Statement& row) { return row.ColumnText(0); }));
  }
  if (notification_id.has_value()) r->set_notification_id(*notification_id);
  r->set_fired_count(r->fired_count() + 1);
  // A repeating reminder stays PENDING, moved to its next occurrence, whose
  // timer commits with this one's firing (reminder_series.h).
  ASSIGN_OR_RETURN(bool more, ScheduleNextOccurrence(conn, owner, *r, timer.due_us, now_us));
  r->set_state(more ? pb::PENDING : pb::FIRED);
  if (was_pending && !more) RETURN_IF_ERROR(CountPendingReminders(conn, owner, r->contact_id(), -1));
  // reminder.due for webhooks (domain_events.h), once per firing: keyed by the timer.
  RETURN_IF_ERROR(EnqueueWebhookEvent(conn, owner, "reminder.due", timer.dedupe_key, now_us,
                                      [&r](const WebhookEnvelope& env) { return DomainWebhookBody(env, *r); }));
  RETURN_IF_ERROR(SyncReminder(conn, owner, *r, /*deleted=*/false));
  return conn.Prepare("UPDATE reminders SET data = ? WHERE org_id = ? AND user_id = ? AND reminder_id = ?")
      .BindBlob(1, r->SerializeAsString())
      .Bind(2, owner.org)
      .Bind(3, owner.user)
      .Bind(4, r->id())
      .RunLater();
}

absl::Status EndSnooze(Connection& conn, const TimerRow& timer, int64_t now_us) {
  const Owner owner{timer.org, timer.user};
  absl::StatusOr<SeqRow> row = ReadNotification(conn, owner, timer.ref);
  if (absl::IsNotFound(row.status())) return absl::OkStatus();
  if (!row.ok()) return row.status();
  pb::Notification& n = row->second;
  if (n.state() != pb::SNOOZED) return absl::OkStatus();
  n.set_state(pb::UNREAD);
  n.clear_snooze_until();
  *n.mutable_update_time() = ToTimestamp(now_us);
  ASSIGN_OR_RETURN(int64_t seq, NextSeq(conn, owner));
  return WriteNotification(conn, owner, n, seq);
}

// --- Inbox ---

absl::StatusOr<std::vector<SeqRow>> NotificationsStore::ListNotifications(
    const Owner& owner, pb::ListNotificationsRequest::StateFilter state, int64_t before_seq, int limit) {
  int lo = pb::UNREAD, hi = pb::READ;
  if (state == pb::ListNotificationsRequest::UNREAD) hi = pb::UNREAD;
  if (state == pb::ListNotificationsRequest::READ) lo = pb::READ;
  std::vector<SeqRow> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(out, SeqRows(conn.Prepare("SELECT seq, data FROM notifications WHERE org_id = ? AND user_id = ? "
                                               "AND seq < ? AND state BETWEEN ? AND ? ORDER BY seq DESC LIMIT ?")
                                      .Bind(1, owner.org)
                                      .Bind(2, owner.user)
                                      .Bind(3, before_seq > 0 ? before_seq : INT64_MAX)
                                      .Bind(4, lo)
                                      .Bind(5, hi)
                                      .Bind(6, limit)));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<SeqRow>> NotificationsStore::StreamSince(const Owner& owner, int64_t after_seq, int limit) {
  std::vector<SeqRow> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(out, SeqRows(conn.Prepare("SELECT seq, data FROM notifications WHERE org_id = ? AND user_id = ? "
                                               "AND seq > ? AND state IN (?, ?) ORDER BY seq LIMIT ?")
                                      .Bind(1, owner.org)
                                      .Bind(2, owner.user)
                                      .Bind(3, after_seq)
                                      .Bind(4, static_cast<int>(pb::UNREAD))
                                      .Bind(5, static_cast<int>(pb::READ))
                                      .Bind(6, limit)));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<int64_t> NotificationsStore::LatestSeq(const Owner& owner) {
  int64_t next = 1;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(next, NextSeq(conn, owner));
    return absl::OkStatus();
  }));
  return next - 1;
}

void NotificationsStore::ChangeNotification(const Owner& owner, const std::string& id, InboxAction action,
                                            int64_t until_us, Done<pb::Notification> done) {
  Clock clock = clock_;
  db::WriteWithResult<pb::Notification>(
      *db_,
      [=](Connection& conn) -> absl::StatusOr<pb::Notification> {
        ASSIGN_OR_RETURN(SeqRow row, ReadNotification(conn, owner, id));
        pb::Notification& n = row.second;
        int64_t now_us = ToMicros(clock());
        RETURN_IF_ERROR(CancelTimers(conn, owner.org, id, TimerKind::kSnoozeEnd));
        n.clear_snooze_until();
        switch (action) {
          case InboxAction::kRead:
            n.set_state(pb::READ);
            break;
          case InboxAction::kDismiss:
            n.set_state(pb::DISMISSED);
            break;
          case InboxAction::kSnooze:
            n.set_state(pb::SNOOZED);
            *n.mutable_snooze_until() = ToTimestamp(until_us);
            RETURN_IF_ERROR(InsertTimer(conn, NewTimer(owner, TimerKind::kSnoozeEnd, id, "", until_us,
                                                       absl::StrCat("snooze:", id, ":", until_us))));
            break;
        }
        *n.mutable_update_time() = ToTimestamp(now_us);
        RETURN_IF_ERROR(WriteNotification(conn, owner, n, row.first));
        return n;
      },
      std::move(done));
}

absl::StatusOr<int64_t> NotificationsStore::CountNotifications(const Owner& owner) {
  std::optional<int64_t> n;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(
        n, db::ReadRow<int64_t>(conn.Prepare("SELECT COUNT(*) FROM notifications WHERE org_id = ? AND user_id = ?")
                                    .Bind(1, owner.org)
                                    .Bind(2, owner.user),
                                [](const Statement& row) { return row.ColumnInt(0); }));
    return absl::OkStatus();
  }));
  return n.value_or(0);
}

// --- Reminders ---

void NotificationsStore::CreateReminder(const Owner& owner, const pb::Reminder& reminder, const IdempotencyScope& idem,
                                        const google::protobuf::Message& request, bool contact_verified,
                                        int64_t max_pending, Done<pb::Reminder> done) {
  auto req = CopyMessage(request);
  db::WriteWithResult<pb::Reminder>(
      *db_,
      [=](Connection& conn) -> absl::StatusOr<pb::Reminder> {
        return IdempotentCreate<pb::Reminder>(conn, idem, *req, [&]() -> absl::StatusOr<pb::Reminder> {
          if (!reminder.contact_id().empty() && !contact_verified) {
            ASSIGN_OR_RETURN(std::optional<profiles::v1::Contact> c, ReadContact(conn, owner, reminder.contact_id()));
            if (!c.has_value()) return absl::InvalidArgumentError(kNoSuchReminderContact);
          }
          ASSIGN_OR_RETURN(int64_t pending, PendingReminders(conn, owner, reminder.contact_id()));
          RETURN_IF_ERROR(reminder.contact_id().empty() ? CheckQuota(kRemindersWithoutContact, pending, max_pending,
                                                                     "pending reminders about no contact per user")
                                                        : CheckQuota(kRemindersPerContact, pending, max_pending,
                                                                     "pending reminders per contact"));
          RETURN_IF_ERROR(InsertReminder(conn, owner, reminder));
          return reminder;
        });
      },
      std::move(done));
}

absl::StatusOr<std::vector<pb::Reminder>> NotificationsStore::ListReminders(const Owner& owner,
                                                                            const std::string& after_id, int limit) {
  std::vector<pb::Reminder> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(
        out, db::ListBlobs<pb::Reminder>(conn.Prepare("SELECT data FROM reminders WHERE org_id = ? AND user_id = ? AND "
                                                      "reminder_id > ? ORDER BY reminder_id LIMIT ?")
                                             .Bind(1, owner.org)
                                             .Bind(2, owner.user)
                                             .Bind(3, after_id)
                                             .Bind(4, limit)));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<pb::Reminder> NotificationsStore::GetReminder(const Owner& owner, const std::string& id) {
  pb::Reminder out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(out, ReadOwned<pb::Reminder>(
                              conn, "SELECT data FROM reminders WHERE org_id = ? AND user_id = ? AND reminder_id = ?",
                              owner, id, "reminder"));
    ASSIGN_OR_RETURN(absl::TimeZone zone, UserZone(conn, owner));
    ASSIGN_OR_RETURN(std::vector<absl::Time> next, UpcomingOccurrences(out, zone, kShownOccurrences));
    for (absl::Time t : next) *out.add_next_occurrences() = ToTimestamp(ToMicros(t));
    return absl::OkStatus();
  }));
  return out;
}

void NotificationsStore::DeleteReminder(const Owner& owner, const std::string& id, DoneStatus done) {
  db_->WriteAsync(
      [=](Connection& conn) -> absl::Status {
        ASSIGN_OR_RETURN(pb::Reminder r,
                         ReadOwned<pb::Reminder>(
                             conn, "SELECT data FROM reminders WHERE org_id = ? AND user_id = ? AND reminder_id = ?",
                             owner, id, "reminder"));
        RETURN_IF_ERROR(conn.Prepare("DELETE FROM reminders WHERE org_id = ? AND user_id = ? AND reminder_id = ?")
                            .Bind(1, owner.org)
                            .Bind(2, owner.user)
                            .Bind(3, id)
                            .Run());
        if (r.state() == pb::PENDING) RETURN_IF_ERROR(CountPendingReminders(conn, owner, r.contact_id(), -1));
        RETURN_IF_ERROR(SyncReminder(conn, owner, r, /*deleted=*/true));
        return CancelTimers(conn, owner.org, id, TimerKind::kReminder);
      },
      std::move(done));
}

absl::Status NotificationsStore::InsertReminders(const Owner& owner, const std::vector<int64_t>& due_us) {
  // What InsertReminder does for each, in bulk: one count update for all,
  // and every row pipelined (RunLater), so 10 000 reminders take one round
  // trip per few hundred rows on PostgreSQL. Fresh ids make fresh dedupe
  // keys: no timer of theirs can have fired.
  return db_->Write([&](Connection& conn) -> absl::Status {
    RETURN_IF_ERROR(CountPendingReminders(conn, owner, "", static_cast<int>(due_us.size())));
    for (int64_t due : due_us) {
      pb::Reminder r;
      r.set_id(NewId());
      *r.mutable_due_time() = ToTimestamp(due);
      r.set_state(pb::PENDING);
      RETURN_IF_ERROR(conn.Prepare("INSERT INTO reminders (org_id, user_id, reminder_id, data) VALUES (?, ?, ?, ?)")
                          .Bind(1, owner.org)
                          .Bind(2, owner.user)
                          .Bind(3, r.id())
                          .BindBlob(4, r.SerializeAsString())
                          .RunLater());
      RETURN_IF_ERROR(InsertNewTimer(
          conn, NewTimer(owner, TimerKind::kReminder, r.id(), r.contact_id(), due, absl::StrCat("reminder:", r.id()))));
    }
    return absl::OkStatus();
  });
}

}  // namespace rapport::notifications
