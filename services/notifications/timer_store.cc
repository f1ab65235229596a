// The timers job of NotificationsStore (the TimerStore interface but for the
// delivery halves, which are in delivery_store.cc): leases, claims, and
// firing a claimed timer exactly once by handing it to the job that owns its
// effects.
#include "services/notifications/timer_store.h"

#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/notifications/follow_ups.h"
#include "services/notifications/inbox_store.h"
#include "services/notifications/notifications_rows.h"
#include "services/notifications/notifications_store.h"
#include "services/notifications/run_store.h"

namespace rapport::notifications {

using db::Connection;
using db::Statement;

namespace {

// The effects of one timer, by the job that owns them.
absl::Status RunTimer(Connection& conn, const TimerRow& t, absl::Time now) {
  switch (t.kind) {
    case TimerKind::kReminder:
      return FireReminder(conn, t, ToMicros(now));
    case TimerKind::kRunStep:
      return WakeRun(conn, t, now);
    case TimerKind::kSnoozeEnd:
      return EndSnooze(conn, t, ToMicros(now));
    case TimerKind::kDateTrigger:
    case TimerKind::kScheduleTrigger:
    case TimerKind::kOverdueTrigger:
      return FireTrigger(conn, t, now);
    case TimerKind::kFollowUp:
      return FireFollowUp(conn, t, ToMicros(now));
    case TimerKind::kDelivery:
      return absl::InternalError("delivery timers are not fired here");
  }
  return absl::OkStatus();
}

// Effects, dedupe record and removal of one claimed timer, on conn's
// transaction. Removing the row only while this owner holds its lease is
// the lease check too (one statement: on PostgreSQL one round trip fewer).
absl::Status FireOne(Connection& conn, const TimerRow& timer, const std::string& owner, absl::Time now) {
  RETURN_IF_ERROR(conn.Prepare("DELETE FROM timers WHERE org_id = ? AND timer_id = ? AND lease_owner = ?")
                      .Bind(1, timer.org)
                      .Bind(2, timer.id)
                      .Bind(3, owner)
                      .Run());
  if (conn.Changes() == 0) return absl::OkStatus();  // cancelled, or another replica's now
  ASSIGN_OR_RETURN(bool first, MarkFired(conn, timer.org, timer.dedupe_key, ToMicros(now)));
  if (!first) return absl::OkStatus();  // fired before: no second effect
  return RunTimer(conn, timer, now);
}

}  // namespace

absl::Status NotificationsStore::ReleaseLeases(const std::string& replica) {
  const std::string prefix = replica + "/";
  return db_->Write([&](Connection& conn) -> absl::Status {
    // Not LIKE: SQLite's ignores case, and the name may hold % or _.
    return conn
        .Prepare("UPDATE timers SET lease_owner = '', lease_until_us = 0 WHERE substr(lease_owner, 1, length(?)) = ?")
        .Bind(1, prefix)
        .Bind(2, prefix)
        .Run();
  });
}

absl::StatusOr<std::vector<TimerRow>> NotificationsStore::Claim(const std::string& owner, absl::Time now,
                                                                absl::Duration lease, int limit, bool deliveries) {
  // Deliveries and the other timers are claimed by separate loops, so that
  // slow HTTP attempts never hold back reminders. On PostgreSQL, replicas
  // claiming at once skip each other's locked rows (FOR UPDATE SKIP LOCKED)
  // instead of queueing behind them; the claim runs at READ COMMITTED, where
  // SKIP LOCKED means what it says (under SERIALIZABLE two claimers reading
  // the same index range would abort each other). Exactly-once does not rest
  // on the claim: FireOne re-checks the lease and the dedupe record.
  const bool postgres = db_->dialect() == db::Dialect::kPostgres;
  const std::string claim = absl::StrCat(
      "UPDATE timers SET lease_owner = ?, lease_until_us = ? WHERE (org_id, timer_id) IN ("
      "SELECT org_id, timer_id FROM timers WHERE due_us <= ? AND lease_until_us <= ? AND kind ",
      deliveries ? "=" : "<>", " ? ORDER BY due_us LIMIT ?", postgres ? " FOR UPDATE SKIP LOCKED" : "",
      ") RETURNING org_id, timer_id, user_id, kind, ref, contact_id, due_us, dedupe_key");
  const int64_t now_us = ToMicros(now);
  std::vector<TimerRow> out;
  RETURN_IF_ERROR(db_->Write([&](Connection& conn) -> absl::Status {
    if (postgres) RETURN_IF_ERROR(conn.Exec("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"));
    ASSIGN_OR_RETURN(out, db::ListRows<TimerRow>(conn.Prepare(claim)
                                                     .Bind(1, owner)
                                                     .Bind(2, now_us + absl::ToInt64Microseconds(lease))
                                                     .Bind(3, now_us)
                                                     .Bind(4, now_us)
                                                     .Bind(5, static_cast<int>(TimerKind::kDelivery))
                                                     .Bind(6, limit),
                                                 [](const Statement& row) {
                                                   return TimerRow{
                                                       row.ColumnText(0), row.ColumnText(1),
                                                       row.ColumnText(2), static_cast<TimerKind>(row.ColumnInt(3)),
                                                       row.ColumnText(4), row.ColumnText(5),
                                                       row.ColumnInt(6),  row.ColumnText(7)};
                                                 }));
    return absl::OkStatus();
  }));
  return out;
}

void NotificationsStore::FireTimer(const TimerRow& timer, const std::string& owner, absl::Time now, DoneStatus done) {
  db_->WriteAsync([timer, owner, now](Connection& conn) { return FireOne(conn, timer, owner, now); }, std::move(done));
}

void NotificationsStore::FireTimers(std::vector<TimerRow> timers, const std::string& owner, absl::Time now,
                                    std::function<void(std::vector<absl::Status>)> done) {
  // Each timer is a write of its own, which the driver group-commits with
  // the others queued (a savepoint each, sent without waiting on
  // PostgreSQL; one commit per batch): a failing timer is undone alone.
  if (timers.empty()) return done({});
  struct Pending {
    std::mutex mu;
    std::vector<absl::Status> results;
    size_t left;
    std::function<void(std::vector<absl::Status>)> done;
  };
  auto pending = std::make_shared<Pending>();
  pending->results.resize(timers.size());
  pending->left = timers.size();
  pending->done = std::move(done);
  for (size_t i = 0; i < timers.size(); ++i) {
    FireTimer(timers[i], owner, now, [pending, i](absl::Status s) {
      bool last = false;
      {
        std::lock_guard<std::mutex> lock(pending->mu);
        pending->results[i] = std::move(s);
        last = --pending->left == 0;
      }
      if (last) pending->done(std::move(pending->results));
    });
  }
}

absl::StatusOr<int64_t> NotificationsStore::PendingTimers() {
  std::optional<int64_t> n;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    Statement count = conn.Prepare("SELECT COUNT(*) FROM timers");
    ASSIGN_OR_RETURN(n, db::ReadRow<int64_t>(count, [](const Statement& row) { return row.ColumnInt(0); }));
    return absl::OkStatus();
  }));
  return n.value_or(0);
}

}  // namespace rapport::notifications
