// What the timer scheduler (scheduler.h) needs from storage, and nothing
// else: claim due timers under a lease, fire a claimed batch, and the two
// halves of a webhook delivery around its HTTP attempt. NotificationsStore
// implements it (timer firing in timer_store.cc, deliveries in
// delivery_store.cc); the scheduler knows only this interface.
//
// Timers: one row per pending timer, org first in its key, with an index on
// due time (the claim scan crosses tenants by nature; Citus would run it per
// shard). A replica claims due timers in batches by setting a lease (owner +
// expiry) in one transaction, then fires each in its own savepoint that runs
// its effects, records its dedupe key in `fired_timers` and deletes the row:
// a timer whose key is already recorded is dropped without effects, so after
// any crash every due timer fires exactly once and none before its due time.
// Deliveries are timers too; their HTTP attempt happens outside any
// transaction, between the claim and RecordDeliveryAttempt.
//
// Thread-safety: implementations are safe to call from any thread.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_TIMER_STORE_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_TIMER_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rapport::notifications {

using Clock = std::function<absl::Time()>;

enum class TimerKind : int {
  kReminder = 1,
  kRunStep = 2,
  kSnoozeEnd = 3,
  kDateTrigger = 4,      // yearly, per (workflow, contact)
  kScheduleTrigger = 5,  // daily, per workflow
  kOverdueTrigger = 6,   // per (workflow, contact) at the ledger's next due time
  kDelivery = 7,
  kFollowUp = 8,  // per (interaction, contact) at its followUpAt (follow_ups.h)
};

struct TimerRow {
  std::string org;
  std::string id;
  std::string user;
  TimerKind kind;
  std::string ref;      // reminder, run, notification, workflow or delivery id
  std::string contact;  // for trigger timers
  int64_t due_us = 0;
  std::string dedupe_key;
};

// What a delivery attempt needs, read after its timer was claimed.
struct PendingDelivery {
  std::string url;
  std::string secret;
  std::string event_id;
  std::string event_type;
  std::string body;  // the JSON to POST, built when the event was queued
  int attempts = 0;  // made so far
};

// The due, unleased deliveries of one webhook: the unit the scheduler shares
// out fairly (its URL is the endpoint that at most a few attempts may hit at
// once).
struct DeliveryQueue {
  std::string org;
  std::string user;
  std::string webhook_id;
  std::string url;
  int64_t oldest_due_us = 0;
};

// A claim on up to `limit` due deliveries of one queue, oldest first.
struct QueueClaim {
  DeliveryQueue queue;
  int limit = 1;
};

struct AttemptResult {
  int64_t time_us = 0;
  long status = 0;
  std::string error;
  int64_t duration_ms = 0;
  // What the scheduler decided: another attempt at next_us, or final.
  bool retry = false;
  int64_t next_us = 0;
};

class TimerStore {
 public:
  virtual ~TimerStore() = default;

  // Clears leases left by earlier incarnations of this replica (owner ids
  // "<replica>/<incarnation>"), so their claimed timers fire at once.
  virtual absl::Status ReleaseLeases(const std::string& replica) = 0;
  // Leases up to limit timers due at now (deliveries or everything else).
  virtual absl::StatusOr<std::vector<TimerRow>> Claim(const std::string& owner, absl::Time now, absl::Duration lease,
                                                      int limit, bool deliveries) = 0;
  // Fires a claimed batch, each timer as one write (effects, dedupe record
  // and removal together) that the database group-commits with the batch's
  // others (a savepoint each, a commit per up to max_batch writes). A timer
  // no longer leased by owner, or already fired, is dropped without effects;
  // a failing timer is rolled back alone and keeps its lease (it is retried
  // when the lease expires). done gets one status per timer, after the
  // commit.
  virtual void FireTimers(std::vector<TimerRow> timers, const std::string& owner, absl::Time now,
                          std::function<void(std::vector<absl::Status>)> done) = 0;
  // Up to limit webhooks with due, unleased deliveries at now, the longest
  // waiting first. Only reads.
  virtual absl::StatusOr<std::vector<DeliveryQueue>> DueDeliveryQueues(absl::Time now, int limit) = 0;
  // Leases the due deliveries each claim asks for, in one transaction; the
  // timers leased for each claim, in the claims' order.
  virtual absl::StatusOr<std::vector<std::vector<TimerRow>>> ClaimDeliveries(const std::string& owner, absl::Time now,
                                                                             absl::Duration lease,
                                                                             const std::vector<QueueClaim>& claims) = 0;
  // The delivery a claimed delivery timer points at; NOT_FOUND when it (or
  // its webhook) is gone.
  virtual absl::StatusOr<PendingDelivery> LoadDelivery(const TimerRow& timer) = 0;
  // Logs an attempt; then reschedules the timer (retry) or marks the
  // delivery DELIVERED (2xx), FAILED (no retry) or DEAD_LETTER (retries
  // exhausted). Nothing when the timer is no longer leased by owner.
  virtual absl::Status RecordDeliveryAttempt(const TimerRow& timer, const std::string& owner,
                                             const AttemptResult& result, bool retries_exhausted) = 0;
};

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_TIMER_STORE_H_
