// The durable timer scheduler of the notifications service, over the
// TimerStore interface (timer_store.h; NotificationsStore implements it). Two
// loops on PollingLoop: one claims due timers (reminders, run steps, snooze
// ends, workflow triggers) in batches under a lease and fires each batch
// through TimerStore::FireTimers (per timer: effects, dedupe record and
// removal together, group-committed with the batch's other timers; the next
// claim overlaps the previous batch's commit); the other shares due webhook
// deliveries out fairly and makes their HTTP attempts concurrently, outside
// any transaction, then records each attempt and its next retry.
//
// Delivery fairness: attempts run on their own threads (at most
// delivery_concurrency at once); whenever a slot is free the loop lists the
// webhooks with due deliveries and hands slots out round-robin by org
// (starting after the org served last), at most org_concurrency per org and
// endpoint_concurrency per endpoint (webhook URL, across orgs). A slow or dead
// endpoint thus holds at most endpoint_concurrency slots, each for at most
// the timeout, and one org at most org_concurrency: another org's deliveries
// start at once, and reminders never wait on HTTP (their own loop).
//
// The lease owner is "<replica>/<incarnation>": at Start the replica's
// leases from earlier incarnations (a crash) are released, so overdue timers
// fire at once after a restart; a second replica (another name) skips timers
// leased by this one until the lease expires.
//
// The clock is injectable: tests drive FireDueOnce/DeliverOnce by hand.
// Thread-safety: Start/Stop from one owner thread; the rest from any.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_SCHEDULER_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_SCHEDULER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/db_rows.h"
#include "services/common/polling_loop.h"
#include "services/notifications/timer_store.h"
#include "services/notifications/webhook.h"

namespace rapport::notifications {

struct SchedulerOptions {
  std::string replica = "notifications-1";  // unique per replica
  int batch = 2048;                         // timers claimed (and fired group-committed) at once
  absl::Duration lease = absl::Seconds(30);
  std::chrono::milliseconds idle{50};  // poll interval when nothing is due
  int delivery_concurrency = 32;       // HTTP attempts in flight (RAPPORT_WEBHOOK_CONCURRENCY)
  int org_concurrency = 8;             // of which one org's at most (RAPPORT_WEBHOOK_ORG_CONCURRENCY)
  int endpoint_concurrency = 2;        // and one webhook URL's at most (RAPPORT_WEBHOOK_ENDPOINT_CONCURRENCY)
  RetryPolicy retry;
  bool allow_private = false;  // RAPPORT_WEBHOOK_ALLOW_PRIVATE
  std::chrono::milliseconds webhook_timeout{10000};
};

class Scheduler {
 public:
  // on_fired is called after each fired timer committed (wakes live streams).
  Scheduler(TimerStore* store, SchedulerOptions options, Clock clock = &absl::Now,
            std::function<void(const Owner&)> on_fired = nullptr);
  ~Scheduler();

  // Releases this replica's stale leases, then starts both loops.
  absl::Status Start();
  void Stop();

  // One batch each, waiting for it to commit (DeliverOnce: for the attempts
  // it started, and any still running, to be recorded); the number of timers
  // handled.
  absl::StatusOr<int> FireDueOnce();
  absl::StatusOr<int> DeliverOnce();
  int deliveries_in_flight();

  const std::string& owner() const { return owner_; }
  int64_t fired() const { return fired_.load(); }

 private:
  // The loop's step: claims a batch and submits it without waiting (at most
  // two batches in flight); true when the batch was full.
  absl::StatusOr<bool> PumpDue();
  void Submit(std::vector<TimerRow> timers, absl::Time now, std::function<void(absl::Status)> batch_done);
  // Claims due deliveries for the free slots, fairly, and starts their
  // attempts; the number started.
  absl::StatusOr<int> StartDeliveries();
  void DeliverOne(const TimerRow& timer);

  TimerStore* store_;
  const SchedulerOptions options_;
  const Clock clock_;
  const std::function<void(const Owner&)> on_fired_;
  const std::string owner_;
  std::atomic<int64_t> fired_{0};
  std::mutex pump_mu_;
  std::condition_variable pump_cv_;
  int in_flight_ = 0;      // batches submitted and not yet committed
  std::mutex deliver_mu_;  // guards the delivery counters below
  std::condition_variable deliver_cv_;
  int delivering_ = 0;                            // attempts running
  std::map<std::string, int> delivering_by_org_;  // org -> attempts running
  std::map<std::string, int> delivering_by_url_;  // endpoint -> attempts running
  std::string last_org_;                          // served last: the next round starts after it
  std::unique_ptr<PollingLoop> timers_loop_;
  std::unique_ptr<PollingLoop> deliveries_loop_;
};

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_SCHEDULER_H_
