#include "services/recommendations/recommendations_store.h"

#include <utility>

#include "services/common/event_consumer.h"
#include "services/common/status.h"

namespace rapport::recommendations {
namespace {

// Numbered migrations; append only. org_id leads every key and index.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE recommendation_actions (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  item_id TEXT NOT NULL,
  dismissed INTEGER NOT NULL,    -- 1 dismissed, 0 snoozed
  until_us INTEGER NOT NULL,     -- snoozed until; 0 when dismissed
  acted_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, kind, item_id)
) WITHOUT ROWID;
CREATE TABLE health_snapshots (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  week_start_us INTEGER NOT NULL,
  taken_us INTEGER NOT NULL,
  data BLOB NOT NULL,            -- rapport.recommendations.v1.NetworkHealth
  PRIMARY KEY (org_id, user_id, week_start_us)
) WITHOUT ROWID;
CREATE TABLE snapshot_leases (
  org_id TEXT NOT NULL,
  week_start_us INTEGER NOT NULL,
  holder TEXT NOT NULL,
  expires_us INTEGER NOT NULL,
  done INTEGER NOT NULL,
  PRIMARY KEY (org_id, week_start_us)
) WITHOUT ROWID;
)sql",
      // The erasure consumer (main.cc) dedupes events and keeps erased subjects.
      events::kProcessedEventsMigration,
      events::kProcessedEventsByTimeMigration,
      kErasedSubjectsMigration,
  };
  return kMigrations;
}

}  // namespace

std::vector<ErasureTable> RecommendationsErasureTables() {
  return {{"recommendation_actions", true}, {"health_snapshots", true}, {"snapshot_leases", false}};
}

absl::StatusOr<std::unique_ptr<RecommendationsStore>> RecommendationsStore::Open(db::Options options) {
  options.migrations = Migrations();
  ASSIGN_OR_RETURN(auto db, db::Open(options));
  return std::unique_ptr<RecommendationsStore>(new RecommendationsStore(std::move(db)));
}

void RecommendationsStore::PutAction(const Owner& owner, const ItemAction& action, DoneStatus done) {
  db_->WriteAsync(
      [owner, action](db::Connection& conn) -> absl::Status {
        ASSIGN_OR_RETURN(bool erased, IsErased(conn, owner.org, owner.user));
        if (erased) return db::RowNotFound("contact");  // the user is gone
        return conn
            .Prepare(
                "INSERT INTO recommendation_actions (org_id, user_id, kind, item_id, dismissed, until_us, acted_us) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, user_id, kind, item_id) DO UPDATE SET "
                "dismissed = excluded.dismissed, until_us = excluded.until_us, acted_us = excluded.acted_us")
            .Bind(1, owner.org)
            .Bind(2, owner.user)
            .Bind(3, action.kind)
            .Bind(4, action.item_id)
            .Bind(5, action.dismissed ? 1 : 0)
            .Bind(6, action.until_us)
            .Bind(7, action.acted_us)
            .Run();
      },
      std::move(done));
}

absl::StatusOr<std::vector<ItemAction>> RecommendationsStore::ListActions(const Owner& owner) {
  std::vector<ItemAction> out;
  RETURN_IF_ERROR(db_->Read([&](db::Connection& conn) -> absl::Status {
    db::Statement st = conn.Prepare(
        "SELECT kind, item_id, dismissed, until_us, acted_us FROM recommendation_actions "
        "WHERE org_id = ? AND user_id = ? ORDER BY kind, item_id");
    st.Bind(1, owner.org).Bind(2, owner.user);
    ASSIGN_OR_RETURN(out, db::ListRows<ItemAction>(st, [](const db::Statement& row) {
                       ItemAction a;
                       a.kind = row.ColumnText(0);
                       a.item_id = row.ColumnText(1);
                       a.dismissed = row.ColumnInt(2) != 0;
                       a.until_us = row.ColumnInt(3);
                       a.acted_us = row.ColumnInt(4);
                       return a;
                     }));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<bool> RecommendationsStore::ClaimSnapshotLease(const std::string& org, int64_t week_start_us,
                                                              const std::string& holder, int64_t now_us,
                                                              int64_t ttl_us) {
  bool claimed = false;
  RETURN_IF_ERROR(db_->Write([&](db::Connection& conn) -> absl::Status {
    // One statement decides: concurrent claimers serialize on the row, and
    // the loser sees the winner's unexpired lease.
    RETURN_IF_ERROR(conn.Prepare("INSERT INTO snapshot_leases (org_id, week_start_us, holder, expires_us, done) "
                                 "VALUES (?, ?, ?, ?, 0) ON CONFLICT (org_id, week_start_us) DO UPDATE SET "
                                 "holder = excluded.holder, expires_us = excluded.expires_us "
                                 "WHERE snapshot_leases.done = 0 AND (snapshot_leases.expires_us < ? OR "
                                 "snapshot_leases.holder = excluded.holder)")
                        .Bind(1, org)
                        .Bind(2, week_start_us)
                        .Bind(3, holder)
                        .Bind(4, now_us + ttl_us)
                        .Bind(5, now_us)
                        .Run());
    claimed = conn.Changes() == 1;
    return absl::OkStatus();
  }));
  return claimed;
}

absl::Status RecommendationsStore::FinishSnapshotLease(const std::string& org, int64_t week_start_us,
                                                       const std::string& holder) {
  return db_->Write([&](db::Connection& conn) -> absl::Status {
    return conn.Prepare("UPDATE snapshot_leases SET done = 1 WHERE org_id = ? AND week_start_us = ? AND holder = ?")
        .Bind(1, org)
        .Bind(2, week_start_us)
        .Bind(3, holder)
        .Run();
  });
}

absl::Status RecommendationsStore::PutSnapshots(const std::string& org, int64_t week_start_us, int64_t taken_us,
                                                const std::vector<std::pair<std::string, v1::NetworkHealth>>& by_user) {
  return db_->Write([&](db::Connection& conn) -> absl::Status {
    for (const auto& [user, health] : by_user) {
      // A replica whose model has not yet applied an erasure must not bring
      // the erased user's rows back.
      ASSIGN_OR_RETURN(bool erased, IsErased(conn, org, user));
      if (erased) continue;
      RETURN_IF_ERROR(conn.Prepare("INSERT INTO health_snapshots (org_id, user_id, week_start_us, taken_us, data) "
                                   "VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id, user_id, week_start_us) DO NOTHING")
                          .Bind(1, org)
                          .Bind(2, user)
                          .Bind(3, week_start_us)
                          .Bind(4, taken_us)
                          .BindBlob(5, health.SerializeAsString())
                          .RunLater());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<HealthSnapshot>> RecommendationsStore::ListSnapshots(const Owner& owner, int64_t from_us,
                                                                                int64_t to_us) {
  std::vector<HealthSnapshot> out;
  RETURN_IF_ERROR(db_->Read([&](db::Connection& conn) -> absl::Status {
    db::Statement st = conn.Prepare(
        "SELECT week_start_us, taken_us, data FROM health_snapshots WHERE org_id = ? AND user_id = ? AND "
        "week_start_us >= ? AND week_start_us < ? ORDER BY week_start_us");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, from_us).Bind(4, to_us);
    ASSIGN_OR_RETURN(out,
                     db::ListRows<HealthSnapshot>(st, [](const db::Statement& row) -> absl::StatusOr<HealthSnapshot> {
                       HealthSnapshot s;
                       s.week_start_us = row.ColumnInt(0);
                       s.taken_us = row.ColumnInt(1);
                       RETURN_IF_ERROR(db::ParseRow(row.ColumnBlob(2), &s.health));
                       return s;
                     }));
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace rapport::recommendations
