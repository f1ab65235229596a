// The rows layer of the notifications store: one function per read or write
// of one table, inside the caller's transaction, on top of the shared row
// helpers (services/common/db_rows.h). Every job of the store
// (notifications_store.h lists them) builds on these and on nothing of the
// other jobs but their headers; this layer includes no job.
//
// Scoping: a row of a user's table is read by (org, user, id), so another
// tenant's id reads as missing. Timers and their dedupe records are keyed
// by org (timer_store.h explains the model).
//
// Stateless; thread-safety is that of the Connection passed in.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_ROWS_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_ROWS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/notifications/timer_store.h"

namespace rapport::notifications {

namespace pb = ::rapport::notifications::v1;

// The message in the first column of the row that `sql` selects with the
// owner's org, user and `id` bound to parameters 1 to 3; NOT_FOUND "<what>
// not found" when there is none.
template <typename T>
absl::StatusOr<T> ReadOwned(db::Connection& conn, std::string_view sql, const Owner& owner, const std::string& id,
                            const char* what) {
  return db::ReadBlob<T>(conn.Prepare(sql).Bind(1, owner.org).Bind(2, owner.user).Bind(3, id), what);
}

// --- users ---
// The user's timezone from the projection (UTC when unknown or invalid).
absl::StatusOr<absl::TimeZone> UserZone(db::Connection& conn, const Owner& owner);
// The version of the built-in workflows users have (users.seeded): 1, the
// first set; 2, the follow-up also on meetings and calls. EnsureUser
// creates the current set for a new user and upgrades an older one.
inline constexpr int kBuiltinsVersion = 2;
// users.seeded: the version of the user's built-ins, 0 when none yet.
absl::StatusOr<int> BuiltinsVersion(db::Connection& conn, const Owner& owner);
// Whether the user has the current built-ins (kBuiltinsVersion).
absl::StatusOr<bool> UserSeeded(db::Connection& conn, const Owner& owner);

// --- contacts and ledger (the projection) ---
// The user's contact, nullopt when unknown, deleted, or id is empty.
absl::StatusOr<std::optional<profiles::v1::Contact>> ReadContact(db::Connection& conn, const Owner& owner,
                                                                 const std::string& id);
// Whether the projection holds the contact as deleted: events about it
// that arrive after its contact.deleted (another producer's stream) must
// leave nothing of the person behind.
absl::StatusOr<bool> ContactDeleted(db::Connection& conn, const Owner& owner, const std::string& id);
struct LedgerRow {
  double balance = 0;
  int64_t next_due_us = 0;  // 0: nothing due
};
absl::StatusOr<std::optional<LedgerRow>> ReadLedger(db::Connection& conn, const Owner& owner,
                                                    const std::string& contact_id);

// --- workflows ---
absl::StatusOr<pb::Workflow> ReadWorkflow(db::Connection& conn, const Owner& owner, const std::string& id);
// Inserts or replaces the workflow.
absl::Status WriteWorkflow(db::Connection& conn, const Owner& owner, const pb::Workflow& workflow);
// How many rows the owner has in table ("workflows", "webhooks": a few
// dozen per user, read on the key), for their quotas.
absl::StatusOr<int64_t> CountOwned(db::Connection& conn, const char* table, const Owner& owner);
// All of the user's workflows, by id.
absl::StatusOr<std::vector<pb::Workflow>> UserWorkflows(db::Connection& conn, const Owner& owner);

// --- runs ---
absl::StatusOr<pb::WorkflowRun> ReadRun(db::Connection& conn, const Owner& owner, const std::string& id);
// A new run; trigger_key (unique per workflow) is what started it.
absl::Status InsertRun(db::Connection& conn, const Owner& owner, const pb::WorkflowRun& run,
                       const std::string& trigger_key);
absl::Status UpdateRun(db::Connection& conn, const Owner& owner, const pb::WorkflowRun& run);
// Whether trigger_key already started a run of the workflow.
absl::StatusOr<bool> RunStarted(db::Connection& conn, const std::string& org, const std::string& workflow_id,
                                const std::string& trigger_key);

// --- notifications ---
// The notification and its stream sequence.
absl::StatusOr<std::pair<int64_t, pb::Notification>> ReadNotification(db::Connection& conn, const Owner& owner,
                                                                      const std::string& id);
// Updates state and data, at stream position seq.
absl::Status WriteNotification(db::Connection& conn, const Owner& owner, const pb::Notification& n, int64_t seq);
// The next stream position of the user's inbox (1 when empty).
absl::StatusOr<int64_t> NextSeq(db::Connection& conn, const Owner& owner);

// --- timers ---
// A timer with a fresh id.
TimerRow NewTimer(const Owner& owner, TimerKind kind, const std::string& ref, const std::string& contact,
                  int64_t due_us, const std::string& dedupe_key);
// Inserts a timer unless one with its dedupe key is pending or has fired.
absl::Status InsertTimer(db::Connection& conn, const TimerRow& timer);
// Inserts a timer whose dedupe key is new (a fresh reminder's): no check of
// the fired timers, so bulk inserts need no round trip per row.
absl::Status InsertNewTimer(db::Connection& conn, const TimerRow& timer);
// Deletes the pending timers of kind for ref (and contact, when given).
absl::Status CancelTimers(db::Connection& conn, const std::string& org, const std::string& ref, TimerKind kind,
                          const std::string& contact = "");
// Whether the timer is still pending and leased by owner.
absl::StatusOr<bool> LeasedBy(db::Connection& conn, const TimerRow& timer, const std::string& owner);
// Records a dedupe key as used: true the first time, false when it already was.
absl::StatusOr<bool> MarkFired(db::Connection& conn, const std::string& org, const std::string& dedupe_key,
                               int64_t fired_us);
// Deletes a timer and records its dedupe key: true when the key was new
// (the timer's effects are due), false when it had fired before.
absl::StatusOr<bool> FinishTimer(db::Connection& conn, const TimerRow& timer, int64_t fired_us);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_ROWS_H_
