// The profiles service process: flags and environment -> config, open the
// SQLite store, connect the Redis cache, serve until SIGTERM, drain.
#include "absl/flags/flag.h"
#include "services/common/idempotency.h"
#include "services/common/log.h"
#include "services/common/outbox.h"
#include "services/common/redis_client.h"
#include "services/common/server.h"
#include "services/common/service_registry.h"
#include "services/profiles/audit_store.h"
#include "services/profiles/profiles_service.h"
#include "services/profiles/profiles_store.h"

ABSL_FLAG(std::string, addr, rapport::registry::kProfiles.default_addr, "listen address (env PROFILES_SERVICE_ADDR)");
ABSL_FLAG(bool, entity_cache, false,
          "cache contacts and profiles in Redis (env RAPPORT_PROFILES_ENTITY_CACHE); off by default "
          "because a local SQLite point read is faster than a Redis round trip");
ABSL_FLAG(int, cache_ttl_seconds, 300, "entity cache TTL (env RAPPORT_CACHE_TTL_SECONDS)");
ABSL_FLAG(int64_t, quota_contacts_per_user, rapport::profiles::ProfilesQuotas().contacts_per_user,
          "most contacts one user may have; more is 429 (env RAPPORT_QUOTA_CONTACTS_PER_USER)");
ABSL_FLAG(std::string, consumer_name, "profiles-1",
          "this process's name in the audit log's event consumer group; unique per replica (env "
          "RAPPORT_CONSUMER_NAME)");
ABSL_FLAG(int64_t, quota_api_keys_per_org, rapport::profiles::ProfilesQuotas().api_keys_per_org,
          "most active API keys one org may have; more is 429 (env RAPPORT_QUOTA_API_KEYS_PER_ORG)");

int main(int argc, char** argv) {
  rapport::ServiceStartup startup =
      rapport::StartService(argc, argv, "profiles",
                            {{"addr", rapport::registry::kProfiles.addr_env},
                             {"entity_cache", "RAPPORT_PROFILES_ENTITY_CACHE"},
                             {"cache_ttl_seconds", "RAPPORT_CACHE_TTL_SECONDS"},
                             {"quota_contacts_per_user", "RAPPORT_QUOTA_CONTACTS_PER_USER"},
                             {"quota_api_keys_per_org", "RAPPORT_QUOTA_API_KEYS_PER_ORG"},
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
  rapport::profiles::ProfilesServiceImpl service(store->get(), &cache, &signer, quotas);
  rapport::profiles::ProfilesBackfillImpl backfill(store->get(), &signer);

  // Publishes the outbox to the event stream; rows wait while Redis is down.
  rapport::events::RelayOptions relay_options;
  relay_options.internal_key = startup.internal_key;  // signs every entry
  rapport::events::OutboxRelay relay(&(*store)->db(), &redis, relay_options);
  relay.Start();
  // Every service's audit entries arrive as events (services/common/audit.h).
  std::unique_ptr<rapport::events::EventConsumer> audit_consumer = rapport::profiles::MakeAuditConsumer(
      &redis, store->get(), startup.internal_key, absl::GetFlag(FLAGS_consumer_name));
  audit_consumer->Start();
  rapport::RetentionPruner pruner(&(*store)->db(),
                                  {rapport::IdempotencyRetention(), rapport::profiles::AuditRetention()});
  pruner.Start();

  rapport::ServerOptions options;
  options.addr = absl::GetFlag(FLAGS_addr);
  options.health_service = rapport::profiles::pb::ProfilesService::service_full_name();
  absl::Status status = rapport::RunServer(options, {&service, &backfill});
  pruner.Stop();
  audit_consumer->Stop();
  relay.Stop();
  if (!status.ok()) {
    rapport::log::Error("server failed", {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}
