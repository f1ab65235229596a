// Storage of the notifications service, in its own database: the inbox,
// reminders, workflows and runs, webhooks and deliveries, durable timers, and
// a local projection of what the workflows need from other services (users'
// timezones, contacts' names, birthdays, tiers and tags, interactions per
// contact, ledger balances and due dates), kept by a durable event consumer
// (ApplyEvent runs inside the consumer's transaction, so the projection, the
// runs an event starts and the event's dedupe commit together).
//
// One class over the database layer (services/common/db.h), in portable SQL:
// it runs on whichever driver db::Open picks. Its methods are defined in one
// file per job, all on the rows layer of notifications_rows.h:
//   notifications_schema.cc  Open, the migrations, retention rules
//   inbox_store.cc           the inbox and reminders
//   run_store.cc             workflows, their triggers and their runs
//   delivery_store.cc        webhooks and their deliveries
//   projection_store.cc      ApplyEvent: the projection of other services' events
//   timer_store.cc           claiming and firing timers (timer_store.h)
// A job that acts inside another's transaction calls the transaction-level
// functions that job's header (inbox_store.h, run_store.h, delivery_store.h)
// declares; the includes run one way: rows <- deliveries <- inbox <- runs <-
// projection, timers. What to do with a run (step, stop, complete) is decided
// by workflow_engine.h; the store reads what the engine needs and persists
// what it decided.
//
// Every call is scoped by org and owning user: other tenants' rows answer
// NOT_FOUND. Writes complete through callbacks once durable; reads return at
// once. Thread-safety: all methods may be called concurrently; ApplyEvent and
// timer firing run on the Database's writer thread.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_STORE_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_STORE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "rapport/events/v1/events.pb.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/common/idempotency.h"
#include "services/common/retention.h"
#include "services/common/tenant.h"
#include "services/notifications/quotas.h"
#include "services/notifications/timer_store.h"

namespace rapport::notifications {

namespace pb = ::rapport::notifications::v1;

enum class InboxAction { kRead, kDismiss, kSnooze };

inline constexpr char kNoSuchReminderContact[] = "reminder.contactId: no such contact";

class NotificationsStore final : public TimerStore {
 public:
  // Opens (creating and migrating) the SQLite database at path.
  static absl::StatusOr<std::unique_ptr<NotificationsStore>> Open(const std::string& path, Clock clock = &absl::Now);
  // Opens (creating and migrating) the database the options name (either
  // driver); the store supplies the migrations.
  static absl::StatusOr<std::unique_ptr<NotificationsStore>> Open(db::Options options, Clock clock = &absl::Now);
  // Deletes webhook deliveries `keep` after they ended (delivered, failed or
  // dead-lettered); pending ones stay.
  static RetentionRule DeliveryRetention(std::chrono::hours keep);

  // --- Inbox (inbox_store.cc) ---
  // Newest first (keyset on the stream sequence, before_seq 0 = first page).
  absl::StatusOr<std::vector<std::pair<int64_t, pb::Notification>>> ListNotifications(
      const Owner& owner, pb::ListNotificationsRequest::StateFilter state, int64_t before_seq, int limit);
  // UNREAD and READ notifications whose stream sequence is above after_seq, oldest first.
  absl::StatusOr<std::vector<std::pair<int64_t, pb::Notification>>> StreamSince(const Owner& owner, int64_t after_seq,
                                                                                int limit);
  // The highest stream sequence of the user's inbox (0 when empty).
  absl::StatusOr<int64_t> LatestSeq(const Owner& owner);
  // Read, dismiss, or snooze until until_us (a timer brings it back UNREAD).
  void ChangeNotification(const Owner& owner, const std::string& id, InboxAction action, int64_t until_us,
                          Done<pb::Notification> done);

  // --- Reminders (inbox_store.cc) ---
  // Creating one schedules its timer. Unless contact_verified,
  // kNoSuchReminderContact (INVALID_ARGUMENT) when contact_id is set but is
  // not one of the user's contacts in the projection. RESOURCE_EXHAUSTED
  // when the contact already has max_pending pending reminders (quota
  // remindersPerContact; remindersWithoutContact for those about no
  // contact), counted in reminder_counts with each create, fire and delete.
  void CreateReminder(const Owner& owner, const pb::Reminder& reminder, const IdempotencyScope& idem,
                      const google::protobuf::Message& request, bool contact_verified, int64_t max_pending,
                      Done<pb::Reminder> done);
  absl::StatusOr<std::vector<pb::Reminder>> ListReminders(const Owner& owner, const std::string& after_id, int limit);
  // The reminder with its next occurrences (kShownOccurrences, computed in
  // the user's zone: reminder_series.h). NOT_FOUND when it is not the user's.
  absl::StatusOr<pb::Reminder> GetReminder(const Owner& owner, const std::string& id);
  void DeleteReminder(const Owner& owner, const std::string& id, DoneStatus done);

  // --- Workflows and runs (run_store.cc) ---
  // The user's built-ins are created on first use. Creating, updating and
  // deleting reschedule the workflow's trigger timers.
  // RESOURCE_EXHAUSTED (quota workflowsPerUser) when the user already has
  // max_workflows (built-ins included).
  void CreateWorkflow(const Owner& owner, const pb::Workflow& workflow, const IdempotencyScope& idem,
                      const google::protobuf::Message& request, int64_t max_workflows, Done<pb::Workflow> done);
  absl::StatusOr<pb::Workflow> GetWorkflow(const Owner& owner, const std::string& id);
  void UpdateWorkflow(const Owner& owner, const std::string& id, Mutation<pb::Workflow> mutate,
                      Done<pb::Workflow> done);
  // Deletes the workflow, stops its waiting runs and cancels its timers.
  void DeleteWorkflow(const Owner& owner, const std::string& id, DoneStatus done);
  void ListWorkflows(const Owner& owner, const std::string& after_id, int limit, Done<std::vector<pb::Workflow>> done);
  // Starts a run now (MANUAL workflows, or any other by hand).
  void RunWorkflow(const Owner& owner, const std::string& workflow_id, const std::string& contact_id,
                   Done<pb::WorkflowRun> done);
  // Newest first. NOT_FOUND when the workflow is not the user's.
  absl::StatusOr<std::vector<pb::WorkflowRun>> ListRuns(const Owner& owner, const std::string& workflow_id,
                                                        const std::string& before_id, int limit);

  // --- Webhooks and deliveries (delivery_store.cc) ---
  // secret is kept to sign deliveries. RESOURCE_EXHAUSTED (quota
  // webhooksPerUser) when the user already has max_webhooks. Creating and
  // deleting are audited (services/common/audit.h) for actor.
  void CreateWebhook(const Owner& owner, const pb::Webhook& webhook, const std::string& secret,
                     const IdempotencyScope& idem, const google::protobuf::Message& request, int64_t max_webhooks,
                     const TenantContext& actor, Done<pb::CreateWebhookResponse> done);
  absl::StatusOr<std::vector<pb::Webhook>> ListWebhooks(const Owner& owner, const std::string& after_id, int limit);
  // Deletes the webhook and cancels its pending deliveries.
  void DeleteWebhook(const Owner& owner, const std::string& id, const TenantContext& actor, DoneStatus done);
  // Newest first. NOT_FOUND when the webhook is not the user's.
  absl::StatusOr<std::vector<pb::Delivery>> ListDeliveries(const Owner& owner, const std::string& webhook_id,
                                                           const std::string& before_id, int limit);
  absl::StatusOr<std::vector<DeliveryQueue>> DueDeliveryQueues(absl::Time now, int limit) override;
  absl::StatusOr<std::vector<std::vector<TimerRow>>> ClaimDeliveries(const std::string& owner, absl::Time now,
                                                                     absl::Duration lease,
                                                                     const std::vector<QueueClaim>& claims) override;
  absl::StatusOr<PendingDelivery> LoadDelivery(const TimerRow& timer) override;
  absl::Status RecordDeliveryAttempt(const TimerRow& timer, const std::string& owner, const AttemptResult& result,
                                     bool retries_exhausted) override;

  // --- Quotas (run_store.cc) ---
  // The org's use of each of notifications' quotas: for each, the highest
  // use of any one user, workflow or contact, and which.
  absl::StatusOr<std::vector<profiles::v1::QuotaUsage>> Usage(const std::string& org,
                                                              const NotificationsQuotas& quotas);

  // --- The projection (projection_store.cc) ---
  // Applies one event of another service, and starts the runs it triggers,
  // inside the event consumer's transaction.
  absl::Status ApplyEvent(db::Connection& conn, const events::v1::Event& event);

  // --- Timers (timer_store.cc; see timer_store.h) ---
  absl::Status ReleaseLeases(const std::string& replica) override;
  absl::StatusOr<std::vector<TimerRow>> Claim(const std::string& owner, absl::Time now, absl::Duration lease, int limit,
                                              bool deliveries) override;
  void FireTimers(std::vector<TimerRow> timers, const std::string& owner, absl::Time now,
                  std::function<void(std::vector<absl::Status>)> done) override;
  // FireTimers for one timer, in a transaction of its own.
  void FireTimer(const TimerRow& timer, const std::string& owner, absl::Time now, DoneStatus done);
  absl::StatusOr<int64_t> PendingTimers();

  // --- For benchmarks and tests (inbox_store.cc) ---
  // Reminders for owner due at each time, with their timers, in one transaction.
  absl::Status InsertReminders(const Owner& owner, const std::vector<int64_t>& due_us);
  absl::StatusOr<int64_t> CountNotifications(const Owner& owner);

  db::Database& db() { return *db_; }

 private:
  NotificationsStore(std::unique_ptr<db::Database> db, Clock clock) : db_(std::move(db)), clock_(std::move(clock)) {}
  std::unique_ptr<db::Database> db_;
  Clock clock_;
};

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_STORE_H_
