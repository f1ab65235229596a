// Storage of the notifications service, in its own SQLite file: the inbox,
// reminders, workflows and runs, webhooks and deliveries, durable timers, and
// a local projection of what the workflows need from other services (users'
// timezones, contacts' names, birthdays, tiers and tags, interactions per
// contact, ledger balances and due dates), kept by a durable event consumer
// (ApplyEvent runs inside the consumer's transaction, so the projection, the
// runs an event starts and the event's dedupe commit together).
//
// Timers: one row per pending timer, org first in its key, with an index on
// due time (the claim scan crosses tenants by nature; Citus would run it per
// shard). A replica claims due timers in batches by setting a lease (owner +
// expiry) in one transaction, then fires each in its own transaction that
// runs its effects, records its dedupe key in `fired_timers` and deletes the
// row: a timer whose key is already recorded is dropped without effects, so
// after any crash every due timer fires exactly once and none before its due
// time. Deliveries are timers too; their HTTP attempt happens outside any
// transaction, between the claim and RecordDeliveryAttempt.
//
// Every call is scoped by org and owning user: other tenants' rows answer
// NOT_FOUND. Writes complete through callbacks once durable; reads return at
// once. Thread-safety: all methods may be called concurrently; ApplyEvent and
// FireTimer run on the Database's writer thread.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_STORE_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rapport/events/v1/events.pb.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "services/common/idempotency.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"

namespace rapport::notifications {

namespace pb = ::rapport::notifications::v1;

using Clock = std::function<absl::Time()>;

enum class TimerKind : int {
  kReminder = 1,
  kRunStep = 2,
  kSnoozeEnd = 3,
  kDateTrigger = 4,     // yearly, per (workflow, contact)
  kScheduleTrigger = 5,  // daily, per workflow
  kOverdueTrigger = 6,   // per (workflow, contact) at the ledger's next due time
  kDelivery = 7,
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

enum class InboxAction { kRead, kDismiss, kSnooze };

inline constexpr char kNoSuchReminderContact[] = "reminder.contactId: no such contact";

// What a delivery attempt needs, read after its timer was claimed.
struct PendingDelivery {
  std::string url;
  std::string secret;
  std::string event_id;
  std::string event_type;
  std::string body;
  int attempts = 0;  // made so far
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

class NotificationsStore {
 public:
  virtual ~NotificationsStore() = default;

  // Inbox, newest first (keyset on the stream sequence, after_seq 0 = first page).
  virtual absl::StatusOr<std::vector<std::pair<int64_t, pb::Notification>>> ListNotifications(
      const Owner& owner, pb::ListNotificationsRequest::StateFilter state, int64_t before_seq, int limit) = 0;
  // UNREAD and READ notifications whose stream sequence is above after_seq, oldest first.
  virtual absl::StatusOr<std::vector<std::pair<int64_t, pb::Notification>>> StreamSince(
      const Owner& owner, int64_t after_seq, int limit) = 0;
  // The highest stream sequence of the user's inbox (0 when empty).
  virtual absl::StatusOr<int64_t> LatestSeq(const Owner& owner) = 0;
  // Read, dismiss, or snooze until until_us (a timer brings it back UNREAD).
  virtual void ChangeNotification(const Owner& owner, const std::string& id, InboxAction action, int64_t until_us,
                                  Done<pb::Notification> done) = 0;

  // Reminders: creating one schedules its timer. Unless contact_verified,
  // kNoSuchReminderContact (INVALID_ARGUMENT) when contact_id is set but is
  // not one of the user's contacts in the projection.
  virtual void CreateReminder(const Owner& owner, const pb::Reminder& reminder, const IdempotencyScope& idem,
                              const google::protobuf::Message& request, bool contact_verified,
                              Done<pb::Reminder> done) = 0;
  virtual absl::StatusOr<std::vector<pb::Reminder>> ListReminders(const Owner& owner, const std::string& after_id,
                                                                 int limit) = 0;
  virtual void DeleteReminder(const Owner& owner, const std::string& id, DoneStatus done) = 0;

  // Workflows (the user's built-ins are created on first use). Creating,
  // updating and deleting reschedule the workflow's trigger timers.
  virtual void CreateWorkflow(const Owner& owner, const pb::Workflow& workflow, const IdempotencyScope& idem,
                              const google::protobuf::Message& request, Done<pb::Workflow> done) = 0;
  virtual absl::StatusOr<pb::Workflow> GetWorkflow(const Owner& owner, const std::string& id) = 0;
  virtual void UpdateWorkflow(const Owner& owner, const std::string& id, Mutation<pb::Workflow> mutate,
                              Done<pb::Workflow> done) = 0;
  // Deletes the workflow, stops its waiting runs and cancels its timers.
  virtual void DeleteWorkflow(const Owner& owner, const std::string& id, DoneStatus done) = 0;
  virtual void ListWorkflows(const Owner& owner, const std::string& after_id, int limit,
                             Done<std::vector<pb::Workflow>> done) = 0;
  // Starts a run now (MANUAL workflows, or any other by hand).
  virtual void RunWorkflow(const Owner& owner, const std::string& workflow_id, const std::string& contact_id,
                           Done<pb::WorkflowRun> done) = 0;
  // Newest first. NOT_FOUND when the workflow is not the user's.
  virtual absl::StatusOr<std::vector<pb::WorkflowRun>> ListRuns(const Owner& owner, const std::string& workflow_id,
                                                               const std::string& before_id, int limit) = 0;

  // Webhooks; secret is kept to sign deliveries.
  virtual void CreateWebhook(const Owner& owner, const pb::Webhook& webhook, const std::string& secret,
                             const IdempotencyScope& idem, const google::protobuf::Message& request,
                             Done<pb::CreateWebhookResponse> done) = 0;
  virtual absl::StatusOr<std::vector<pb::Webhook>> ListWebhooks(const Owner& owner, const std::string& after_id,
                                                               int limit) = 0;
  // Deletes the webhook and cancels its pending deliveries.
  virtual void DeleteWebhook(const Owner& owner, const std::string& id, DoneStatus done) = 0;
  // Newest first. NOT_FOUND when the webhook is not the user's.
  virtual absl::StatusOr<std::vector<pb::Delivery>> ListDeliveries(const Owner& owner, const std::string& webhook_id,
                                                                  const std::string& before_id, int limit) = 0;
};

class SqliteNotificationsStore : public NotificationsStore {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteNotificationsStore>> Open(const std::string& path,
                                                                        Clock clock = &absl::Now);
  // Deletes webhook deliveries `keep` after they ended (delivered, failed or
  // dead-lettered); pending ones stay.
  static RetentionRule DeliveryRetention(std::chrono::hours keep);

  absl::StatusOr<std::vector<std::pair<int64_t, pb::Notification>>> ListNotifications(
      const Owner& owner, pb::ListNotificationsRequest::StateFilter state, int64_t before_seq, int limit) override;
  absl::StatusOr<std::vector<std::pair<int64_t, pb::Notification>>> StreamSince(const Owner& owner, int64_t after_seq,
                                                                                int limit) override;
  absl::StatusOr<int64_t> LatestSeq(const Owner& owner) override;
  void ChangeNotification(const Owner& owner, const std::string& id, InboxAction action, int64_t until_us,
                          Done<pb::Notification> done) override;
  void CreateReminder(const Owner& owner, const pb::Reminder& reminder, const IdempotencyScope& idem,
                      const google::protobuf::Message& request, bool contact_verified,
                      Done<pb::Reminder> done) override;
  absl::StatusOr<std::vector<pb::Reminder>> ListReminders(const Owner& owner, const std::string& after_id,
                                                         int limit) override;
  void DeleteReminder(const Owner& owner, const std::string& id, DoneStatus done) override;
  void CreateWorkflow(const Owner& owner, const pb::Workflow& workflow, const IdempotencyScope& idem,
                      const google::protobuf::Message& request, Done<pb::Workflow> done) override;
  absl::StatusOr<pb::Workflow> GetWorkflow(const Owner& owner, const std::string& id) override;
  void UpdateWorkflow(const Owner& owner, const std::string& id, Mutation<pb::Workflow> mutate,
                      Done<pb::Workflow> done) override;
  void DeleteWorkflow(const Owner& owner, const std::string& id, DoneStatus done) override;
  void ListWorkflows(const Owner& owner, const std::string& after_id, int limit,
                     Done<std::vector<pb::Workflow>> done) override;
  void RunWorkflow(const Owner& owner, const std::string& workflow_id, const std::string& contact_id,
                   Done<pb::WorkflowRun> done) override;
  absl::StatusOr<std::vector<pb::WorkflowRun>> ListRuns(const Owner& owner, const std::string& workflow_id,
                                                       const std::string& before_id, int limit) override;
  void CreateWebhook(const Owner& owner, const pb::Webhook& webhook, const std::string& secret,
                     const IdempotencyScope& idem, const google::protobuf::Message& request,
                     Done<pb::CreateWebhookResponse> done) override;
  absl::StatusOr<std::vector<pb::Webhook>> ListWebhooks(const Owner& owner, const std::string& after_id,
                                                       int limit) override;
  void DeleteWebhook(const Owner& owner, const std::string& id, DoneStatus done) override;
  absl::StatusOr<std::vector<pb::Delivery>> ListDeliveries(const Owner& owner, const std::string& webhook_id,
                                                          const std::string& before_id, int limit) override;

  // The projection and the event-started runs; runs in the event consumer's
  // transaction.
  absl::Status ApplyEvent(db::Connection& conn, const events::v1::Event& event);

  // --- The scheduler's side ---
  // Clears leases left by earlier incarnations of this replica (owner ids
  // "<replica>/<incarnation>"), so their claimed timers fire at once.
  absl::Status ReleaseLeases(const std::string& replica);
  // Leases up to limit timers due at now (deliveries or everything else).
  absl::StatusOr<std::vector<TimerRow>> Claim(const std::string& owner, absl::Time now, absl::Duration lease,
                                              int limit, bool deliveries);
  // Fires a claimed timer: effects, dedupe record and removal in one
  // transaction. A timer no longer leased by owner, or already fired, is
  // dropped without effects.
  void FireTimer(const TimerRow& timer, const std::string& owner, absl::Time now, DoneStatus done);
  // FireTimer for a whole claimed batch in one transaction (one commit), each
  // timer inside its own savepoint: a failing timer is rolled back alone and
  // keeps its lease (it is retried when the lease expires). done gets one
  // status per timer, after the commit.
  void FireTimers(std::vector<TimerRow> timers, const std::string& owner, absl::Time now,
                  std::function<void(std::vector<absl::Status>)> done);
  // The delivery a claimed delivery timer points at; NOT_FOUND when it (or
  // its webhook) is gone.
  absl::StatusOr<PendingDelivery> LoadDelivery(const TimerRow& timer);
  // Logs an attempt; then reschedules the timer (retry) or marks the
  // delivery DELIVERED (2xx), FAILED (no retry) or DEAD_LETTER (retries exhausted).
  absl::Status RecordDeliveryAttempt(const TimerRow& timer, const std::string& owner, const AttemptResult& result,
                                     bool retries_exhausted);
  // Inserts timers directly (benchmarks and tests): reminders for owner due at each time.
  absl::Status InsertReminders(const Owner& owner, const std::vector<int64_t>& due_us);
  absl::StatusOr<int64_t> PendingTimers();
  absl::StatusOr<int64_t> CountNotifications(const Owner& owner);

  db::Database& db() { return *db_; }

 private:
  SqliteNotificationsStore(std::unique_ptr<db::Database> db, Clock clock)
      : db_(std::move(db)), clock_(std::move(clock)) {}
  std::unique_ptr<db::Database> db_;
  Clock clock_;
};

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_STORE_H_
