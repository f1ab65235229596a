#include "services/notifications/notifications_rows.h"

#include "absl/strings/str_cat.h"
#include "services/common/ids.h"
#include "services/common/status.h"
#include "services/notifications/local_time.h"
#include "services/notifications/sync_log.h"

namespace rapport::notifications {

using db::Connection;
using db::Statement;

absl::StatusOr<absl::TimeZone> UserZone(Connection& conn, const Owner& owner) {
  ASSIGN_OR_RETURN(std::optional<std::string> zone,
                   db::ReadRow<std::string>(conn.Prepare("SELECT timezone FROM users WHERE org_id = ? AND user_id = ?")
                                                .Bind(1, owner.org)
                                                .Bind(2, owner.user),
                                            [](const Statement& row) { return row.ColumnText(0); }));
  return ZoneOrUtc(zone.value_or(""));
}

absl::StatusOr<int> BuiltinsVersion(Connection& conn, const Owner& owner) {
  ASSIGN_OR_RETURN(std::optional<int> seeded,
                   db::ReadRow<int>(conn.Prepare("SELECT seeded FROM users WHERE org_id = ? AND user_id = ?")
                                        .Bind(1, owner.org)
                                        .Bind(2, owner.user),
                                    [](const Statement& row) { return static_cast<int>(row.ColumnInt(0)); }));
  return seeded.value_or(0);
}

absl::StatusOr<bool> UserSeeded(Connection& conn, const Owner& owner) {
  ASSIGN_OR_RETURN(int version, BuiltinsVersion(conn, owner));
  return version >= kBuiltinsVersion;
}

absl::StatusOr<std::optional<profiles::v1::Contact>> ReadContact(Connection& conn, const Owner& owner,
                                                                 const std::string& id) {
  if (id.empty()) return std::nullopt;
  absl::StatusOr<profiles::v1::Contact> contact = ReadOwned<profiles::v1::Contact>(
      conn, "SELECT data FROM contacts WHERE org_id = ? AND user_id = ? AND contact_id = ? AND deleted = 0", owner, id,
      "contact");
  if (absl::IsNotFound(contact.status())) return std::nullopt;
  if (!contact.ok()) return contact.status();
  return *std::move(contact);
}

absl::StatusOr<bool> ContactDeleted(Connection& conn, const Owner& owner, const std::string& id) {
  if (id.empty()) return false;
  return db::Exists(
      conn.Prepare("SELECT 1 FROM contacts WHERE org_id = ? AND user_id = ? AND contact_id = ? AND deleted = 1")
          .Bind(1, owner.org)
          .Bind(2, owner.user)
          .Bind(3, id));
}

absl::StatusOr<std::optional<LedgerRow>> ReadLedger(Connection& conn, const Owner& owner,
                                                    const std::string& contact_id) {
  return db::ReadRow<LedgerRow>(
      conn.Prepare("SELECT balance, next_due_us FROM ledger WHERE org_id = ? AND user_id = ? AND contact_id = ?")
          .Bind(1, owner.org)
          .Bind(2, owner.user)
          .Bind(3, contact_id),
      [](const Statement& row) {
        return LedgerRow{row.ColumnDouble(0), row.ColumnInt(1)};
      });
}

absl::StatusOr<pb::Workflow> ReadWorkflow(Connection& conn, const Owner& owner, const std::string& id) {
  return ReadOwned<pb::Workflow>(
      conn, "SELECT data FROM workflows WHERE org_id = ? AND user_id = ? AND workflow_id = ?", owner, id, "workflow");
}

absl::Status WriteWorkflow(Connection& conn, const Owner& owner, const pb::Workflow& workflow) {
  return conn
      .Prepare(
          "INSERT INTO workflows (org_id, user_id, workflow_id, data, steps) VALUES (?, ?, ?, ?, ?) "
          "ON CONFLICT (org_id, user_id, workflow_id) DO UPDATE SET data = excluded.data, steps = excluded.steps")
      .Bind(1, owner.org)
      .Bind(2, owner.user)
      .Bind(3, workflow.id())
      .BindBlob(4, workflow.SerializeAsString())
      .Bind(5, static_cast<int64_t>(workflow.steps_size()))
      .Run();
}

absl::StatusOr<int64_t> CountOwned(Connection& conn, const char* table, const Owner& owner) {
  ASSIGN_OR_RETURN(std::optional<int64_t> n,
                   db::ReadRow<int64_t>(
                       conn.Prepare(absl::StrCat("SELECT COUNT(*) FROM ", table, " WHERE org_id = ? AND user_id = ?"))
                           .Bind(1, owner.org)
                           .Bind(2, owner.user),
                       [](const Statement& row) { return row.ColumnInt(0); }));
  return n.value_or(0);
}

absl::StatusOr<std::vector<pb::Workflow>> UserWorkflows(Connection& conn, const Owner& owner) {
  return db::ListBlobs<pb::Workflow>(
      conn.Prepare("SELECT data FROM workflows WHERE org_id = ? AND user_id = ? ORDER BY workflow_id")
          .Bind(1, owner.org)
          .Bind(2, owner.user));
}

absl::StatusOr<pb::WorkflowRun> ReadRun(Connection& conn, const Owner& owner, const std::string& id) {
  return ReadOwned<pb::WorkflowRun>(conn, "SELECT data FROM runs WHERE org_id = ? AND user_id = ? AND run_id = ?",
                                    owner, id, "run");
}

absl::Status InsertRun(Connection& conn, const Owner& owner, const pb::WorkflowRun& run,
                       const std::string& trigger_key) {
  return conn
      .Prepare(
          "INSERT INTO runs (org_id, user_id, run_id, workflow_id, contact_id, state, trigger_key, data) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(1, owner.org)
      .Bind(2, owner.user)
      .Bind(3, run.id())
      .Bind(4, run.workflow_id())
      .Bind(5, run.contact_id())
      .Bind(6, static_cast<int>(run.state()))
      .Bind(7, trigger_key)
      .BindBlob(8, run.SerializeAsString())
      .Run();
}

absl::Status UpdateRun(Connection& conn, const Owner& owner, const pb::WorkflowRun& run) {
  return conn
      .Prepare(
          "UPDATE runs SET workflow_id = ?, contact_id = ?, state = ?, data = ? "
          "WHERE org_id = ? AND user_id = ? AND run_id = ?")
      .Bind(1, run.workflow_id())
      .Bind(2, run.contact_id())
      .Bind(3, static_cast<int>(run.state()))
      .BindBlob(4, run.SerializeAsString())
      .Bind(5, owner.org)
      .Bind(6, owner.user)
      .Bind(7, run.id())
      .Run();
}

absl::StatusOr<bool> RunStarted(Connection& conn, const std::string& org, const std::string& workflow_id,
                                const std::string& trigger_key) {
  return db::Exists(conn.Prepare("SELECT 1 FROM runs WHERE org_id = ? AND workflow_id = ? AND trigger_key = ?")
                        .Bind(1, org)
                        .Bind(2, workflow_id)
                        .Bind(3, trigger_key));
}

absl::StatusOr<std::pair<int64_t, pb::Notification>> ReadNotification(Connection& conn, const Owner& owner,
                                                                      const std::string& id) {
  using Row = std::pair<int64_t, pb::Notification>;
  ASSIGN_OR_RETURN(
      std::optional<Row> row,
      db::ReadRow<Row>(
          conn.Prepare("SELECT seq, data FROM notifications WHERE org_id = ? AND user_id = ? AND notification_id = ?")
              .Bind(1, owner.org)
              .Bind(2, owner.user)
              .Bind(3, id),
          [](const Statement& st) -> absl::StatusOr<Row> {
            Row out{st.ColumnInt(0), pb::Notification()};
            RETURN_IF_ERROR(db::ParseRow(st.ColumnBlob(1), &out.second));
            return out;
          }));
  if (!row.has_value()) return db::RowNotFound("notification");
  return *std::move(row);
}

absl::Status WriteNotification(Connection& conn, const Owner& owner, const pb::Notification& n, int64_t seq) {
  RETURN_IF_ERROR(SyncNotification(conn, owner, n));
  return conn
      .Prepare(
          "UPDATE notifications SET seq = ?, state = ?, data = ? "
          "WHERE org_id = ? AND user_id = ? AND notification_id = ?")
      .Bind(1, seq)
      .Bind(2, static_cast<int>(n.state()))
      .BindBlob(3, n.SerializeAsString())
      .Bind(4, owner.org)
      .Bind(5, owner.user)
      .Bind(6, n.id())
      .Run();
}

absl::StatusOr<int64_t> NextSeq(Connection& conn, const Owner& owner) {
  ASSIGN_OR_RETURN(
      std::optional<int64_t> seq,
      db::ReadRow<int64_t>(
          conn.Prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM notifications WHERE org_id = ? AND user_id = ?")
              .Bind(1, owner.org)
              .Bind(2, owner.user),
          [](const Statement& row) { return row.ColumnInt(0); }));
  return seq.value_or(1);
}

TimerRow NewTimer(const Owner& owner, TimerKind kind, const std::string& ref, const std::string& contact,
                  int64_t due_us, const std::string& dedupe_key) {
  return TimerRow{owner.org, NewId(), owner.user, kind, ref, contact, due_us, dedupe_key};
}

absl::Status InsertTimer(Connection& conn, const TimerRow& t) {
  ASSIGN_OR_RETURN(bool fired, db::Exists(conn.Prepare("SELECT 1 FROM fired_timers WHERE org_id = ? AND dedupe_key = ?")
                                              .Bind(1, t.org)
                                              .Bind(2, t.dedupe_key)));
  if (fired) return absl::OkStatus();
  return InsertNewTimer(conn, t);
}

absl::Status InsertNewTimer(Connection& conn, const TimerRow& t) {
  // Nothing on a conflict: the primary key (a fresh id) or the dedupe key
  // (the same timer, already pending).
  return conn
      .Prepare(
          "INSERT INTO timers (org_id, timer_id, user_id, kind, ref, contact_id, due_us, dedupe_key) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
      .Bind(1, t.org)
      .Bind(2, t.id.empty() ? NewId() : t.id)
      .Bind(3, t.user)
      .Bind(4, static_cast<int>(t.kind))
      .Bind(5, t.ref)
      .Bind(6, t.contact)
      .Bind(7, t.due_us)
      .Bind(8, t.dedupe_key)
      .RunLater();  // pipelined: a failure fails the write at its next statement
}

absl::Status CancelTimers(Connection& conn, const std::string& org, const std::string& ref, TimerKind kind,
                          const std::string& contact) {
  return conn.Prepare("DELETE FROM timers WHERE org_id = ? AND ref = ? AND kind = ? AND (? = '' OR contact_id = ?)")
      .Bind(1, org)
      .Bind(2, ref)
      .Bind(3, static_cast<int>(kind))
      .Bind(4, contact)
      .Bind(5, contact)
      .Run();
}

absl::StatusOr<bool> LeasedBy(Connection& conn, const TimerRow& timer, const std::string& owner) {
  ASSIGN_OR_RETURN(
      std::optional<std::string> lease,
      db::ReadRow<std::string>(conn.Prepare("SELECT lease_owner FROM timers WHERE org_id = ? AND timer_id = ?")
                                   .Bind(1, timer.org)
                                   .Bind(2, timer.id),
                               [](const Statement& row) { return row.ColumnText(0); }));
  return lease.has_value() && *lease == owner;
}

absl::StatusOr<bool> MarkFired(Connection& conn, const std::string& org, const std::string& dedupe_key,
                               int64_t fired_us) {
  RETURN_IF_ERROR(conn.Prepare("INSERT INTO fired_timers (org_id, dedupe_key, fired_us) VALUES (?, ?, ?) "
                               "ON CONFLICT DO NOTHING")
                      .Bind(1, org)
                      .Bind(2, dedupe_key)
                      .Bind(3, fired_us)
                      .Run());
  return conn.Changes() > 0;
}

absl::StatusOr<bool> FinishTimer(Connection& conn, const TimerRow& timer, int64_t fired_us) {
  RETURN_IF_ERROR(
      conn.Prepare("DELETE FROM timers WHERE org_id = ? AND timer_id = ?").Bind(1, timer.org).Bind(2, timer.id).Run());
  return MarkFired(conn, timer.org, timer.dedupe_key, fired_us);
}

}  // namespace rapport::notifications
