// The schema job of NotificationsStore: its numbered migrations, opening the
// database with them, and the retention rule of its deliveries. The DDL is
// SQLite's dialect for now (WITHOUT ROWID, its types); the queries of the
// other jobs are portable.
#include <string>
#include <vector>

#include "services/common/erasure.h"
#include "services/common/event_consumer.h"
#include "services/common/status.h"
#include "services/notifications/follow_ups.h"
#include "services/notifications/notifications_store.h"
#include "services/notifications/sync_log.h"

namespace rapport::notifications {
namespace {

// Numbered migrations; append only. org_id leads every key and every index
// but the timers' due-time index (see timer_store.h).
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE users (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  timezone TEXT NOT NULL DEFAULT '',
  seeded INTEGER NOT NULL DEFAULT 0,  -- built-in workflows created
  PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
CREATE TABLE contacts (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  data BLOB NOT NULL,                 -- rapport.profiles.v1.Contact (without notes)
  PRIMARY KEY (org_id, user_id, contact_id)
) WITHOUT ROWID;
CREATE TABLE contact_interactions (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  interaction_id TEXT NOT NULL,
  occurred_us INTEGER NOT NULL,
  logged_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, contact_id, interaction_id)
) WITHOUT ROWID;
CREATE INDEX contact_interactions_by_logged ON contact_interactions (org_id, user_id, contact_id, logged_us);
CREATE TABLE ledger (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  balance REAL NOT NULL,
  next_due_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX ledger_by_due ON ledger (org_id, user_id, next_due_us);
CREATE TABLE notifications (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  notification_id TEXT NOT NULL,
  seq INTEGER NOT NULL,               -- stream position per user; bumped when a snooze ends
  state INTEGER NOT NULL,
  dedupe_key TEXT NOT NULL,
  data BLOB NOT NULL,                 -- rapport.notifications.v1.Notification
  PRIMARY KEY (org_id, user_id, notification_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX notifications_by_seq ON notifications (org_id, user_id, seq);
CREATE UNIQUE INDEX notifications_by_dedupe ON notifications (org_id, dedupe_key);
CREATE TABLE reminders (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  reminder_id TEXT NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (org_id, user_id, reminder_id)
) WITHOUT ROWID;
CREATE TABLE workflows (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (org_id, user_id, workflow_id)
) WITHOUT ROWID;
CREATE TABLE runs (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  state INTEGER NOT NULL,
  trigger_key TEXT NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (org_id, user_id, run_id)
) WITHOUT ROWID;
CREATE INDEX runs_by_workflow ON runs (org_id, user_id, workflow_id, run_id);
CREATE UNIQUE INDEX runs_by_trigger ON runs (org_id, workflow_id, trigger_key);
CREATE TABLE webhooks (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  secret TEXT NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (org_id, user_id, webhook_id)
) WITHOUT ROWID;
CREATE TABLE deliveries (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  body TEXT NOT NULL,
  data BLOB NOT NULL,                 -- rapport.notifications.v1.Delivery
  PRIMARY KEY (org_id, user_id, delivery_id)
) WITHOUT ROWID;
CREATE INDEX deliveries_by_webhook ON deliveries (org_id, user_id, webhook_id, delivery_id);
CREATE TABLE timers (
  org_id TEXT NOT NULL,
  timer_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  ref TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  due_us INTEGER NOT NULL,
  dedupe_key TEXT NOT NULL,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until_us INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, timer_id)
) WITHOUT ROWID;
CREATE INDEX timers_by_due ON timers (due_us);
CREATE UNIQUE INDEX timers_by_dedupe ON timers (org_id, dedupe_key);
CREATE INDEX timers_by_ref ON timers (org_id, ref);
CREATE TABLE fired_timers (
  org_id TEXT NOT NULL,
  dedupe_key TEXT NOT NULL,
  fired_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, dedupe_key)
) WITHOUT ROWID;
)sql",
      kIdempotencyMigration, events::kProcessedEventsMigration, kIdempotencyByTimeMigration,
      events::kProcessedEventsByTimeMigration,
      // When a delivery ended (NULL while pending), for its retention.
      R"sql(
ALTER TABLE deliveries ADD COLUMN finished_us INTEGER;
CREATE INDEX deliveries_by_finish ON deliveries (finished_us);
)sql",
      // Quotas: pending reminders per (user, contact), kept with each
      // create, fire and delete (a pending reminder is one with a timer, so
      // the timers seed it), and each workflow's step count, so that
      // GET /v1/org/usage reads columns rather than every workflow's blob.
      R"sql(
CREATE TABLE reminder_counts (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,           -- '' for reminders about no contact
  pending INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, contact_id)
) WITHOUT ROWID;
INSERT INTO reminder_counts (org_id, user_id, contact_id, pending)
  SELECT org_id, user_id, contact_id, COUNT(*) FROM timers WHERE kind = 1 GROUP BY org_id, user_id, contact_id;
ALTER TABLE workflows ADD COLUMN steps INTEGER NOT NULL DEFAULT 0;
)sql",
      // An outbox of its own for audit entries (webhook changes, services/common/audit.h).
      events::kOutboxMigration, kErasedSubjectsMigration,
      // Pending follow-ups of interactions' followUpAt (follow_ups.h).
      kFollowUpsMigration,
      kSyncLogMigration,  // GET /v1/sync (sync_log.h)
  };
  return kMigrations;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NotificationsStore>> NotificationsStore::Open(const std::string& path, Clock clock) {
  db::Options options;
  options.path = path;
  return Open(std::move(options), std::move(clock));
}

absl::StatusOr<std::unique_ptr<NotificationsStore>> NotificationsStore::Open(db::Options options, Clock clock) {
  options.migrations = Migrations();
  ASSIGN_OR_RETURN(std::unique_ptr<db::Database> db, db::Open(options));
  return std::unique_ptr<NotificationsStore>(new NotificationsStore(std::move(db), std::move(clock)));
}

RetentionRule NotificationsStore::DeliveryRetention(std::chrono::hours keep) {
  return RetentionRule{"deliveries", "org_id, user_id, delivery_id", "finished_us", keep};
}

}  // namespace rapport::notifications
