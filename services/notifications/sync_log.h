// The sync log behind GET /v1/sync: for each user, the latest state of every
// object of theirs that a client mirrors (contacts, groups, memberships,
// interactions, introductions, reminders, notifications) or its tombstone,
// each row stamped with a per-user sequence number that grows with every
// change. A page walks seq > cursor, so each object appears once per walk, at
// its latest state.
//
// Who writes: notifications already consumes every domain event in one
// durable consumer transaction, so ApplySyncEvent records other services'
// objects from their events (contact.*, group.*, interaction.*,
// introduction.*) in that transaction; notifications' own objects are
// recorded by SyncReminder / SyncNotification inside the transaction that
// changes them. An object's row keeps the version (the event id, a ULID, or a
// fresh ULID for local changes) it was last written at, so an event that
// arrives late (a reclaimed stream entry) never overwrites a newer state nor
// brings a tombstone back.
//
// Sequence and commit order: a reader must never pass a seq whose
// transaction commits later. The seq comes from the user's row in sync_heads,
// incremented by an upsert in the writing transaction: that row stays locked
// until the transaction commits (PostgreSQL row lock; SQLite has one writer),
// so the next change of the same user gets the next seq only after this one
// is visible, and seq order is commit order per user. Cursors are per user,
// so no global order is needed.
//
// Retention: live objects stay while they exist; tombstones are deleted
// `retention` after the delete (TombstoneRetention for RetentionPruner). A
// cursor carries the time at which its holder was last complete (minus a
// margin for commit lag and replica clocks); a cursor older than the
// retention may have missed pruned tombstones and answers FAILED_PRECONDITION
// with a message starting kResyncRequired, which the gateway maps to 410
// RESYNC_REQUIRED (gateway/problem.cc).
//
// Erasure: sync_objects and sync_heads are in NotificationsErasureTables.
//
// Thread-safety: the free functions run on the caller's transaction; SyncLog
// may be used from any thread.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_SYNC_LOG_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_SYNC_LOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rapport/events/v1/events.pb.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/common/retention.h"

namespace rapport::notifications {

namespace pb = ::rapport::notifications::v1;

// Message prefix of the status for an expired cursor; the gateway answers
// 410 with code RESYNC_REQUIRED for FAILED_PRECONDITION starting with it.
inline constexpr char kResyncRequired[] = "RESYNC_REQUIRED";

inline constexpr int kSyncDefaultPageSize = 100;
inline constexpr int kSyncMaxPageSize = 1000;
// Tombstones are kept this long by default (--sync_retention_seconds).
inline constexpr std::chrono::hours kSyncDefaultRetention{24 * 30};

// The migration of the sync tables (appended to notifications' migrations).
extern const char kSyncLogMigration[];

// Records other services' objects from their events, in the consumer's
// transaction. Events of other kinds are ignored.
absl::Status ApplySyncEvent(db::Connection& conn, const events::v1::Event& event);

// Records a reminder's or a notification's new state (deleted: a tombstone)
// in the transaction that changed it.
absl::Status SyncReminder(db::Connection& conn, const Owner& owner, const pb::Reminder& reminder, bool deleted);
absl::Status SyncNotification(db::Connection& conn, const Owner& owner, const pb::Notification& notification);

class SyncLog {
 public:
  using Clock = std::function<absl::Time()>;
  // db must outlive the log.
  SyncLog(db::Database* db, std::chrono::seconds retention, Clock clock = &absl::Now);

  // One page of the user's changes after cursor (empty: from the start).
  // INVALID_ARGUMENT naming cursor or pageSize when malformed or out of
  // 1..1000 (0 = 100); FAILED_PRECONDITION kResyncRequired when the cursor
  // is older than the retention.
  absl::StatusOr<pb::SyncResponse> Read(const Owner& owner, const std::string& cursor, int page_size);

  // Deletes tombstones `retention` after their delete.
  static RetentionRule TombstoneRetention(std::chrono::seconds retention);

 private:
  db::Database* db_;
  const absl::Duration retention_;
  Clock clock_;
};

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_SYNC_LOG_H_
