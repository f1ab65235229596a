// The notifications service process: flags and environment -> config, open
// the store, connect Redis, start the durable consumer of events (the
// projection and event-started workflow runs), the timer scheduler and
// webhook deliveries, and the live stream hub; serve until SIGTERM, drain.
#include "absl/flags/flag.h"
#include "services/common/channel.h"
#include "services/common/erasure.h"
#include "services/common/event_consumer.h"
#include "services/common/idempotency.h"
#include "services/common/log.h"
#include "services/common/outbox.h"
#include "services/common/server.h"
#include "services/common/service_registry.h"
#include "services/notifications/live_hub.h"
#include "services/notifications/notifications_erasure.h"
#include "services/notifications/notifications_service.h"
#include "services/notifications/notifications_store.h"
#include "services/notifications/scheduler.h"
#include "services/notifications/sync_log.h"

ABSL_FLAG(std::string, addr, rapport::registry::kNotifications.default_addr,
          "listen address (env NOTIFICATIONS_SERVICE_ADDR)");
ABSL_FLAG(std::string, consumer_name, "notifications-1",
          "this replica's name in the event consumer group and in timer leases; unique per replica "
          "(env RAPPORT_CONSUMER_NAME)");
ABSL_FLAG(bool, webhook_allow_private, false,
          "allow webhook URLs on private or loopback addresses (env RAPPORT_WEBHOOK_ALLOW_PRIVATE)");
ABSL_FLAG(int, delivery_retention_days, 30,
          "webhook deliveries are deleted this many days after they ended (env RAPPORT_DELIVERY_RETENTION_DAYS)");
ABSL_FLAG(int, webhook_max_attempts, 8,
          "attempts per webhook delivery before the dead letter (env RAPPORT_WEBHOOK_MAX_ATTEMPTS)");
ABSL_FLAG(int, webhook_backoff_ms, 10000,
          "first retry delay; doubles per attempt, with jitter (env RAPPORT_WEBHOOK_BACKOFF_MS)");
ABSL_FLAG(int, webhook_backoff_cap_ms, 3600000, "longest retry delay (env RAPPORT_WEBHOOK_BACKOFF_CAP_MS)");
ABSL_FLAG(int, webhook_timeout_ms, 10000, "timeout of one webhook attempt (env RAPPORT_WEBHOOK_TIMEOUT_MS)");
ABSL_FLAG(int, webhook_concurrency, rapport::notifications::SchedulerOptions().delivery_concurrency,
          "webhook attempts in flight at once (env RAPPORT_WEBHOOK_CONCURRENCY)");
ABSL_FLAG(int, webhook_org_concurrency, rapport::notifications::SchedulerOptions().org_concurrency,
          "of which one org's at most; slots go round-robin by org (env RAPPORT_WEBHOOK_ORG_CONCURRENCY)");
ABSL_FLAG(int, webhook_endpoint_concurrency, rapport::notifications::SchedulerOptions().endpoint_concurrency,
          "of which to one webhook URL at most (env RAPPORT_WEBHOOK_ENDPOINT_CONCURRENCY)");
ABSL_FLAG(int, timer_lease_ms, 30000, "how long a claimed timer is leased (env RAPPORT_TIMER_LEASE_MS)");
ABSL_FLAG(int, timer_batch, 2048, "timers claimed at once (fired as group-committed writes) (env RAPPORT_TIMER_BATCH)");
ABSL_FLAG(int, scheduler_poll_ms, 50, "timer poll interval when nothing is due (env RAPPORT_SCHEDULER_POLL_MS)");
ABSL_FLAG(std::string, profiles_addr, rapport::registry::kProfiles.default_addr,
          "profiles service (env PROFILES_SERVICE_ADDR)");
ABSL_FLAG(int, profiles_deadline_ms, 2000, "deadline of calls to profiles (env RAPPORT_PROFILES_DEADLINE_MS)");
ABSL_FLAG(int, live_tick_ms, 250, "how often live streams re-read the inbox (env RAPPORT_LIVE_TICK_MS)");
ABSL_FLAG(int, quota_live_streams_per_user, rapport::notifications::LiveHubOptions().max_per_user,
          "most live streams one user may have open (per replica); more is 429 "
          "(env RAPPORT_QUOTA_LIVE_STREAMS_PER_USER)");
ABSL_FLAG(int, live_stream_max_lifetime_ms, 3600000,
          "a live stream ends after this long; clients resume with Last-Event-ID "
          "(env RAPPORT_LIVE_STREAM_MAX_LIFETIME_MS)");
ABSL_FLAG(int64_t, quota_workflows_per_user, rapport::notifications::NotificationsQuotas().workflows_per_user,
          "most workflows one user may have, built-ins included; more is 429 (env RAPPORT_QUOTA_WORKFLOWS_PER_USER)");
ABSL_FLAG(int64_t, quota_steps_per_workflow, rapport::notifications::NotificationsQuotas().steps_per_workflow,
          "most steps in one workflow; more is 429 (env RAPPORT_QUOTA_STEPS_PER_WORKFLOW)");
ABSL_FLAG(int64_t, quota_webhooks_per_user, rapport::notifications::NotificationsQuotas().webhooks_per_user,
          "most webhooks one user may have; more is 429 (env RAPPORT_QUOTA_WEBHOOKS_PER_USER)");
ABSL_FLAG(int64_t, quota_reminders_per_contact, rapport::notifications::NotificationsQuotas().reminders_per_contact,
          "most pending reminders about one contact; more is 429 (env RAPPORT_QUOTA_REMINDERS_PER_CONTACT)");
ABSL_FLAG(int64_t, quota_reminders_without_contact,
          rapport::notifications::NotificationsQuotas().reminders_without_contact,
          "most pending reminders about no contact one user may have; more is 429 "
          "(env RAPPORT_QUOTA_REMINDERS_WITHOUT_CONTACT)");
ABSL_FLAG(int64_t, sync_retention_seconds,
          std::chrono::duration_cast<std::chrono::seconds>(rapport::notifications::kSyncDefaultRetention).count(),
          "how long GET /v1/sync keeps tombstones; an older cursor answers 410 RESYNC_REQUIRED "
          "(env RAPPORT_SYNC_RETENTION_SECONDS)");

int main(int argc, char** argv) {
  rapport::ServiceStartup startup =
      rapport::StartService(argc, argv, "notifications",
                            {{"addr", rapport::registry::kNotifications.addr_env},
                             {"consumer_name", "RAPPORT_CONSUMER_NAME"},
                             {"webhook_allow_private", "RAPPORT_WEBHOOK_ALLOW_PRIVATE"},
                             {"webhook_max_attempts", "RAPPORT_WEBHOOK_MAX_ATTEMPTS"},
                             {"delivery_retention_days", "RAPPORT_DELIVERY_RETENTION_DAYS"},
                             {"webhook_backoff_ms", "RAPPORT_WEBHOOK_BACKOFF_MS"},
                             {"webhook_backoff_cap_ms", "RAPPORT_WEBHOOK_BACKOFF_CAP_MS"},
                             {"webhook_timeout_ms", "RAPPORT_WEBHOOK_TIMEOUT_MS"},
                             {"webhook_concurrency", "RAPPORT_WEBHOOK_CONCURRENCY"},
                             {"webhook_org_concurrency", "RAPPORT_WEBHOOK_ORG_CONCURRENCY"},
                             {"webhook_endpoint_concurrency", "RAPPORT_WEBHOOK_ENDPOINT_CONCURRENCY"},
                             {"timer_lease_ms", "RAPPORT_TIMER_LEASE_MS"},
                             {"scheduler_poll_ms", "RAPPORT_SCHEDULER_POLL_MS"},
                             {"timer_batch", "RAPPORT_TIMER_BATCH"},
                             {"live_tick_ms", "RAPPORT_LIVE_TICK_MS"},
                             {"quota_live_streams_per_user", "RAPPORT_QUOTA_LIVE_STREAMS_PER_USER"},
                             {"live_stream_max_lifetime_ms", "RAPPORT_LIVE_STREAM_MAX_LIFETIME_MS"},
                             {"profiles_addr", rapport::registry::kProfiles.addr_env},
                             {"profiles_deadline_ms", "RAPPORT_PROFILES_DEADLINE_MS"},
                             {"quota_workflows_per_user", "RAPPORT_QUOTA_WORKFLOWS_PER_USER"},
                             {"quota_steps_per_workflow", "RAPPORT_QUOTA_STEPS_PER_WORKFLOW"},
                             {"quota_webhooks_per_user", "RAPPORT_QUOTA_WEBHOOKS_PER_USER"},
                             {"quota_reminders_per_contact", "RAPPORT_QUOTA_REMINDERS_PER_CONTACT"},
                             {"quota_reminders_without_contact", "RAPPORT_QUOTA_REMINDERS_WITHOUT_CONTACT"},
                             {"sync_retention_seconds", "RAPPORT_SYNC_RETENTION_SECONDS"}});
  rapport::RequireSecretsKey();  // webhook secrets and idempotent replies are sealed at rest
  auto store = rapport::notifications::NotificationsStore::Open(startup.database);
  if (!store.ok()) {
    rapport::log::Error("cannot open store", {{"error", store.status().ToString()}});
    return 1;
  }
  rapport::notifications::NotificationsStore* s = store->get();
  rapport::notifications::LiveHubOptions hub_options;
  hub_options.tick = std::chrono::milliseconds(absl::GetFlag(FLAGS_live_tick_ms));
  hub_options.max_per_user = std::max(1, absl::GetFlag(FLAGS_quota_live_streams_per_user));
  hub_options.max_lifetime = std::chrono::milliseconds(absl::GetFlag(FLAGS_live_stream_max_lifetime_ms));
  rapport::notifications::LiveHub hub(s, hub_options);
  // Every replica's streams wake when any replica's scheduler commits.
  hub.ShareWakes(startup.redis.get(), "rapport:notifications:wake");

  rapport::events::ConsumerOptions consumer_options;
  consumer_options.internal_key = startup.internal_key;  // verifies every entry
  consumer_options.group = "notifications";
  consumer_options.consumer = absl::GetFlag(FLAGS_consumer_name);
  consumer_options.start_id = "0";
  // user.deleted / org.deleted erase the subject's rows (notifications_erasure.h).
  rapport::events::EventConsumer consumer(
      startup.redis.get(), &s->db(), consumer_options,
      rapport::WithErasure(rapport::notifications::NotificationsErasureTables(),
                           [s](rapport::db::Connection& conn, const rapport::events::v1::Event& e) -> absl::Status {
                             absl::Status applied = s->ApplyEvent(conn, e);
                             if (!applied.ok()) return applied;
                             return rapport::notifications::ApplySyncEvent(conn, e);  // GET /v1/sync's log
                           }));
  consumer.Start();
  // Publishes the outbox (audit entries of webhook changes) to the event stream.
  rapport::events::RelayOptions relay_options;
  relay_options.internal_key = startup.internal_key;  // signs every entry
  rapport::events::OutboxRelay relay(&s->db(), startup.redis.get(), relay_options);
  relay.Start();
  const std::chrono::hours delivery_retention(24 * std::max(1, absl::GetFlag(FLAGS_delivery_retention_days)));
  const std::chrono::seconds sync_retention(std::max<int64_t>(1, absl::GetFlag(FLAGS_sync_retention_seconds)));
  rapport::notifications::SyncLog sync_log(&s->db(), sync_retention);
  rapport::RetentionPruner pruner(&s->db(),
                                  {rapport::IdempotencyRetention(),
                                   rapport::notifications::NotificationsStore::DeliveryRetention(delivery_retention),
                                   rapport::notifications::SyncLog::TombstoneRetention(sync_retention)});
  pruner.Start();

  rapport::notifications::SchedulerOptions scheduler_options;
  scheduler_options.replica = absl::GetFlag(FLAGS_consumer_name);
  scheduler_options.lease = absl::Milliseconds(absl::GetFlag(FLAGS_timer_lease_ms));
  scheduler_options.batch = std::max(1, absl::GetFlag(FLAGS_timer_batch));
  scheduler_options.idle = std::chrono::milliseconds(absl::GetFlag(FLAGS_scheduler_poll_ms));
  scheduler_options.allow_private = absl::GetFlag(FLAGS_webhook_allow_private);
  scheduler_options.retry.max_attempts = std::max(1, absl::GetFlag(FLAGS_webhook_max_attempts));
  scheduler_options.retry.base = std::chrono::milliseconds(absl::GetFlag(FLAGS_webhook_backoff_ms));
  scheduler_options.retry.cap = std::chrono::milliseconds(absl::GetFlag(FLAGS_webhook_backoff_cap_ms));
  scheduler_options.webhook_timeout = std::chrono::milliseconds(absl::GetFlag(FLAGS_webhook_timeout_ms));
  scheduler_options.delivery_concurrency = std::max(1, absl::GetFlag(FLAGS_webhook_concurrency));
  scheduler_options.org_concurrency = std::max(1, absl::GetFlag(FLAGS_webhook_org_concurrency));
  scheduler_options.endpoint_concurrency = std::max(1, absl::GetFlag(FLAGS_webhook_endpoint_concurrency));
  rapport::notifications::Scheduler scheduler(s, scheduler_options, &absl::Now,
                                              [&hub](const rapport::Owner& owner) { hub.Wake(owner); });
  absl::Status started = scheduler.Start();
  if (!started.ok()) {
    rapport::log::Error("cannot start the scheduler", {{"error", started.ToString()}});
    return 1;
  }

  rapport::notifications::ServiceOptions service_options;
  service_options.allow_private_webhooks = scheduler_options.allow_private;
  service_options.quotas.workflows_per_user = absl::GetFlag(FLAGS_quota_workflows_per_user);
  service_options.quotas.steps_per_workflow = absl::GetFlag(FLAGS_quota_steps_per_workflow);
  service_options.quotas.webhooks_per_user = absl::GetFlag(FLAGS_quota_webhooks_per_user);
  service_options.quotas.reminders_per_contact = absl::GetFlag(FLAGS_quota_reminders_per_contact);
  service_options.quotas.reminders_without_contact = absl::GetFlag(FLAGS_quota_reminders_without_contact);
  rapport::profiles::ContactClient contacts(rapport::CreateServiceChannel(absl::GetFlag(FLAGS_profiles_addr)),
                                            startup.signer.get(),
                                            std::chrono::milliseconds(absl::GetFlag(FLAGS_profiles_deadline_ms)));
  service_options.sync = &sync_log;
  rapport::notifications::NotificationsServiceImpl service(s, &hub, startup.signer.get(), &contacts, service_options);

  rapport::ServerOptions options;
  options.addr = absl::GetFlag(FLAGS_addr);
  options.health_service = rapport::notifications::pb::NotificationsService::service_full_name();
  absl::Status status = rapport::RunServer(options, {&service});
  scheduler.Stop();
  pruner.Stop();
  consumer.Stop();
  relay.Stop();
  if (!status.ok()) {
    rapport::log::Error("server failed", {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}
