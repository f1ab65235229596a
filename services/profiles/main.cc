// The profiles service process: flags and environment -> config, open the
// SQLite store, connect the Redis cache, serve until SIGTERM, drain.
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "services/common/channel.h"
#include "services/common/idempotency.h"
#include "services/common/log.h"
#include "services/common/outbox.h"
#include "services/common/redis_client.h"
#include "services/common/retention.h"
#include "services/common/server.h"
#include "services/common/service_registry.h"
#include "services/profiles/account_export.h"
#include "services/profiles/audit_store.h"
#include "services/profiles/import_jobs.h"
#include "services/profiles/import_store.h"
#include "services/profiles/profiles_service.h"
#include "services/profiles/profiles_store.h"

ABSL_FLAG(std::string, addr, rapport::registry::kProfiles.default_addr, "listen address (env PROFILES_SERVICE_ADDR)");
ABSL_FLAG(bool, entity_cache, false,
          "cache contacts and profiles in Redis (env RAPPORT_PROFILES_ENTITY_CACHE); off by default "
          "because a local SQLite point read is faster than a Redis round trip");
ABSL_FLAG(int, cache_ttl_seconds, 300, "entity cache TTL (env RAPPORT_CACHE_TTL_SECONDS)");
ABSL_FLAG(int64_t, quota_contacts_per_user, rapport::profiles::ProfilesQuotas().contacts_per_user,
          "most contacts one user may have; more is 429 (env RAPPORT_QUOTA_CONTACTS_PER_USER)");
ABSL_FLAG(std::string, interactions_addr, rapport::registry::kInteractions.default_addr,
          "interactions, asked for a user's records by account exports (env INTERACTIONS_SERVICE_ADDR)");
ABSL_FLAG(std::string, notifications_addr, rapport::registry::kNotifications.default_addr,
          "notifications, asked for a user's records by account exports (env NOTIFICATIONS_SERVICE_ADDR)");
ABSL_FLAG(int, export_deadline_ms, 10000,
          "deadline of each call an account export makes (env RAPPORT_EXPORT_DEADLINE_MS)");
ABSL_FLAG(std::string, consumer_name, "profiles-1",
          "this process's name in the audit log's event consumer group; unique per replica (env "
          "RAPPORT_CONSUMER_NAME)");
ABSL_FLAG(int64_t, quota_api_keys_per_org, rapport::profiles::ProfilesQuotas().api_keys_per_org,
          "most active API keys one org may have; more is 429 (env RAPPORT_QUOTA_API_KEYS_PER_ORG)");
ABSL_FLAG(int64_t, jwt_key_grace_seconds, 86400,
          "how long an org's JWT signing key stays valid after a rotation replaced it "
          "(env RAPPORT_JWT_KEY_GRACE_SECONDS)");
ABSL_FLAG(int, import_lease_ms, 15000,
          "how long an import job stays with the process running it without news; after a crash the job "
          "resumes once this lapses (env RAPPORT_IMPORT_LEASE_MS)");

ABSL_FLAG(int, import_chunk_rows, 250,
          "rows an import applies per transaction, 1..10000; each chunk is one progress update on the owner's "
          "live stream (env RAPPORT_IMPORT_CHUNK_ROWS)");

int main(int argc, char** argv) {
  rapport::ServiceStartup startup =
      rapport::StartService(argc, argv, "profiles",
                            {{"addr", rapport::registry::kProfiles.addr_env},
                             {"entity_cache", "RAPPORT_PROFILES_ENTITY_CACHE"},
                             {"cache_ttl_seconds", "RAPPORT_CACHE_TTL_SECONDS"},
                             {"quota_contacts_per_user", "RAPPORT_QUOTA_CONTACTS_PER_USER"},
                             {"quota_api_keys_per_org", "RAPPORT_QUOTA_API_KEYS_PER_ORG"},
                             {"jwt_key_grace_seconds", "RAPPORT_JWT_KEY_GRACE_SECONDS"},
                             {"import_lease_ms", "RAPPORT_IMPORT_LEASE_MS"},
                             {"import_chunk_rows", "RAPPORT_IMPORT_CHUNK_ROWS"},
                             {"interactions_addr", rapport::registry::kInteractions.addr_env},
                             {"notifications_addr", rapport::registry::kNotifications.addr_env},
                             {"export_deadline_ms", "RAPPORT_EXPORT_DEADLINE_MS"},
                             {"consumer_name", "RAPPORT_CONSUMER_NAME"}});
  rapport::RequireSecretsKey();  // recorded idempotent replies are sealed at rest
  auto store = rapport::profiles::ProfilesStore::Open(startup.database);
  if (!store.ok()) {
    rapport::log::Error("cannot open store", {{"error", store.status().ToString()}});
    return 1;
  }
  rapport::redis::Client& redis = *startup.redis;
  rapport::redis::CacheOptions cache_options;
  cache_options.enabled = absl::GetFlag(FLAGS_entity_cache);
  cache_options.ttl = std::chrono::seconds(absl::GetFlag(FLAGS_cache_ttl_seconds));
  cache_options.service = "profiles";
  rapport::redis::EntityCache cache(&redis, cache_options);
  const rapport::TenantSigner& signer = *startup.signer;
  rapport::profiles::ProfilesQuotas quotas;
  quotas.contacts_per_user = absl::GetFlag(FLAGS_quota_contacts_per_user);
  quotas.api_keys_per_org = absl::GetFlag(FLAGS_quota_api_keys_per_org);
  rapport::profiles::JwtKeyOptions jwt_keys;
  if (absl::GetFlag(FLAGS_jwt_key_grace_seconds) < 0) {
    rapport::log::Error("--jwt_key_grace_seconds (RAPPORT_JWT_KEY_GRACE_SECONDS) must not be negative");
    return 1;
  }
  jwt_keys.grace = absl::Seconds(absl::GetFlag(FLAGS_jwt_key_grace_seconds));
  rapport::profiles::ProfilesServiceImpl service(store->get(), &cache, &signer, quotas, jwt_keys);
  rapport::profiles::ProfilesBackfillImpl backfill(store->get(), &signer);
  // Contact imports: jobs in the profiles database, run by a thread here.
  rapport::profiles::ImportStore imports(&(*store)->db());
  rapport::profiles::ImportRunnerOptions import_options;
  import_options.lease = std::chrono::milliseconds(absl::GetFlag(FLAGS_import_lease_ms));
  import_options.chunk_rows = absl::GetFlag(FLAGS_import_chunk_rows);
  if (import_options.chunk_rows < 1 || import_options.chunk_rows > 10000) {
    rapport::log::Error("bad --import_chunk_rows (RAPPORT_IMPORT_CHUNK_ROWS): must be 1..10000",
                        {{"value", absl::StrCat(import_options.chunk_rows)}});
    return 2;
  }
  import_options.max_contacts = quotas.contacts_per_user;
  rapport::profiles::ImportRunner import_runner(&imports, &cache, import_options);
  service.ServeImports(&imports, &import_runner);
  import_runner.Start();

  // Publishes the outbox to the event stream; rows wait while Redis is down.
  rapport::events::RelayOptions relay_options;
  relay_options.internal_key = startup.internal_key;  // signs every entry
  rapport::events::OutboxRelay relay(&(*store)->db(), &redis, relay_options);
  relay.Start();
  // Every service's audit entries arrive as events (services/common/audit.h).
  std::unique_ptr<rapport::events::EventConsumer> audit_consumer = rapport::profiles::MakeAuditConsumer(
      &redis, store->get(), startup.internal_key, absl::GetFlag(FLAGS_consumer_name));
  audit_consumer->Start();
  std::vector<rapport::RetentionRule> retention = {rapport::IdempotencyRetention(),
                                                   rapport::profiles::AuditRetention()};
  for (rapport::RetentionRule& rule : rapport::profiles::ExportRetention()) retention.push_back(std::move(rule));
  rapport::RetentionPruner pruner(&(*store)->db(), std::move(retention));
  pruner.Start();

  // Whole-account exports: jobs in the database, run on the exporter's thread.
  rapport::profiles::AccountExportStore exports(&(*store)->db());
  const std::chrono::milliseconds export_deadline(absl::GetFlag(FLAGS_export_deadline_ms));
  std::vector<std::unique_ptr<rapport::profiles::AccountSource>> sources;
  sources.push_back(rapport::profiles::ProfilesAccountSource(store->get()));
  sources.push_back(rapport::profiles::InteractionsAccountSource(
      rapport::CreateServiceChannel(absl::GetFlag(FLAGS_interactions_addr)), &signer, export_deadline));
  sources.push_back(rapport::profiles::NotificationsAccountSource(
      rapport::CreateServiceChannel(absl::GetFlag(FLAGS_notifications_addr)), &signer, export_deadline));
  rapport::profiles::AccountExporter exporter(&exports, std::move(sources));
  exporter.Start();
  service.SetAccountExports(&exports, &exporter);

  rapport::ServerOptions options;
  options.addr = absl::GetFlag(FLAGS_addr);
  options.health_service = rapport::profiles::pb::ProfilesService::service_full_name();
  // An import file (up to 20 MiB) arrives in one message.
  options.max_message_bytes = static_cast<int>(rapport::profiles::kMaxImportBytes) + 1024 * 1024;
  absl::Status status = rapport::RunServer(options, {&service, &backfill});
  import_runner.Stop();
  exporter.Stop();
  pruner.Stop();
  audit_consumer->Stop();
  relay.Stop();
  if (!status.ok()) {
    rapport::log::Error("server failed", {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}
