// The recommendations service process: flags and environment -> config,
// note the event stream's position and backfill the read model from
// profiles and interactions (backfill.h), catch up with the events from the
// noted position (event_feed.h; backfill.h says why nothing is lost), and
// only then serve until SIGTERM, so that health turns SERVING with a
// complete model. SIGTERM during the start-up ends it (the retries wait on
// the termination signal). The store (recommendations_store.h: dismissals,
// snoozes, weekly health snapshots) is shared by replicas; a consumer group
// of all replicas together erases its rows on user.deleted / org.deleted,
// and the weekly health job (health_snapshots.h) runs in every replica.
#include <chrono>
#include <mutex>

#include "absl/flags/flag.h"
#include "services/common/channel.h"
#include "services/common/erasure.h"
#include "services/common/event_consumer.h"
#include "services/common/log.h"
#include "services/common/outbox.h"
#include "services/common/server.h"
#include "services/common/service_registry.h"
#include "services/common/termination.h"
#include "services/recommendations/backfill.h"
#include "services/recommendations/event_feed.h"
#include "services/recommendations/health_snapshots.h"
#include "services/recommendations/recommendations_service.h"
#include "services/recommendations/recommendations_store.h"

ABSL_FLAG(std::string, addr, rapport::registry::kRecommendations.default_addr,
          "listen address (env RECOMMENDATIONS_SERVICE_ADDR)");
ABSL_FLAG(std::string, profiles_addr, rapport::registry::kProfiles.default_addr,
          "profiles service (env PROFILES_SERVICE_ADDR)");
ABSL_FLAG(std::string, interactions_addr, rapport::registry::kInteractions.default_addr,
          "interactions service (env INTERACTIONS_SERVICE_ADDR)");
ABSL_FLAG(std::string, consumer_name, "recommendations-1",
          "this replica's name, unique per replica; its private consumer group is named after it "
          "(env RAPPORT_CONSUMER_NAME)");
ABSL_FLAG(int, follow_up_days, 7,
          "a conversation, meeting or call needs a later interaction within this many days "
          "(env RAPPORT_FOLLOW_UP_DAYS)");
ABSL_FLAG(bool, result_cache, true, "cache results in Redis (env RAPPORT_RECOMMENDATIONS_CACHE)");
ABSL_FLAG(int, result_cache_ttl_seconds, 300, "TTL of cached results (env RAPPORT_RECOMMENDATIONS_CACHE_TTL_SECONDS)");
ABSL_FLAG(int, backfill_page_size, 500, "rows per backfill page (env RAPPORT_BACKFILL_PAGE_SIZE)");
ABSL_FLAG(int, backfill_retry_ms, 1000,
          "an org whose backfill failed is retried after this long, then twice as long after each further "
          "failure (env RAPPORT_BACKFILL_RETRY_MS)");
ABSL_FLAG(int, backfill_retry_max_ms, 60000,
          "at most this long between an org's backfill retries (env RAPPORT_BACKFILL_RETRY_MAX_MS)");
ABSL_FLAG(int, abandoned_group_ms, 600000,
          "another replica's consumer group idle this long was left by a killed process and is destroyed at "
          "start (env RAPPORT_ABANDONED_GROUP_MS)");
ABSL_FLAG(int, health_snapshot_period_seconds, 7 * 86400,
          "length of a network-health snapshot period: a week, starting Monday 00:00 UTC; shorter only for tests "
          "(env RAPPORT_HEALTH_SNAPSHOT_PERIOD_SECONDS)");
ABSL_FLAG(int, health_snapshot_poll_ms, 60000,
          "how often each replica looks for a finished week to snapshot (env RAPPORT_HEALTH_SNAPSHOT_POLL_MS)");
ABSL_FLAG(int, health_snapshot_lease_seconds, 600,
          "a replica's claim on an org's weekly snapshots lapses after this long unfinished "
          "(env RAPPORT_HEALTH_SNAPSHOT_LEASE_SECONDS)");

int main(int argc, char** argv) {
  rapport::ServiceStartup startup =
      rapport::StartService(argc, argv, "recommendations",
                            {{"addr", rapport::registry::kRecommendations.addr_env},
                             {"profiles_addr", rapport::registry::kProfiles.addr_env},
                             {"interactions_addr", rapport::registry::kInteractions.addr_env},
                             {"consumer_name", "RAPPORT_CONSUMER_NAME"},
                             {"follow_up_days", "RAPPORT_FOLLOW_UP_DAYS"},
                             {"result_cache", "RAPPORT_RECOMMENDATIONS_CACHE"},
                             {"result_cache_ttl_seconds", "RAPPORT_RECOMMENDATIONS_CACHE_TTL_SECONDS"},
                             {"backfill_page_size", "RAPPORT_BACKFILL_PAGE_SIZE"},
                             {"abandoned_group_ms", "RAPPORT_ABANDONED_GROUP_MS"},
                             {"backfill_retry_ms", "RAPPORT_BACKFILL_RETRY_MS"},
                             {"backfill_retry_max_ms", "RAPPORT_BACKFILL_RETRY_MAX_MS"},
                             {"health_snapshot_period_seconds", "RAPPORT_HEALTH_SNAPSHOT_PERIOD_SECONDS"},
                             {"health_snapshot_poll_ms", "RAPPORT_HEALTH_SNAPSHOT_POLL_MS"},
                             {"health_snapshot_lease_seconds", "RAPPORT_HEALTH_SNAPSHOT_LEASE_SECONDS"}});
  rapport::redis::Client& redis = *startup.redis;
  const rapport::TenantSigner& signer = *startup.signer;
  namespace reco = rapport::recommendations;
  if (absl::GetFlag(FLAGS_health_snapshot_period_seconds) < 1) {
    rapport::log::Error("--health_snapshot_period_seconds must be at least 1");
    return 2;
  }
  auto store = reco::RecommendationsStore::Open(startup.database);
  if (!store.ok()) {
    rapport::log::Error("cannot open store", {{"error", store.status().ToString()}});
    return 1;
  }
  // One group for all replicas: each erasure event is handled once, in the
  // shared store (the read models handle it on their own feeds).
  rapport::events::ConsumerOptions erasure_options;
  erasure_options.internal_key = startup.internal_key;  // verifies every entry
  erasure_options.group = "recommendations_store";      // not "recommendations-": no feed sweep destroys it
  erasure_options.consumer = absl::GetFlag(FLAGS_consumer_name);
  rapport::events::EventConsumer erasure(
      &redis, &(*store)->db(), erasure_options,
      rapport::WithErasure(
          reco::RecommendationsErasureTables(),
          [](rapport::db::Connection&, const rapport::events::v1::Event&) { return absl::OkStatus(); }));
  erasure.Start();

  reco::ReadModel model;
  reco::ResultCacheOptions cache_options;
  cache_options.enabled = absl::GetFlag(FLAGS_result_cache);
  cache_options.ttl = std::chrono::seconds(absl::GetFlag(FLAGS_result_cache_ttl_seconds));
  reco::ResultCache cache(&redis, cache_options);

  reco::BackfillSources sources;
  sources.profiles = rapport::CreateServiceChannel(absl::GetFlag(FLAGS_profiles_addr));
  sources.interactions = rapport::CreateServiceChannel(absl::GetFlag(FLAGS_interactions_addr));
  sources.signer = &signer;
  sources.page_size = absl::GetFlag(FLAGS_backfill_page_size);
  sources.stop = &rapport::WaitForTerminationSignalFor;
  sources.retry_every = std::chrono::milliseconds(absl::GetFlag(FLAGS_backfill_retry_ms));
  sources.retry_max = std::chrono::milliseconds(absl::GetFlag(FLAGS_backfill_retry_max_ms));
  // An org whose backfill fails is refused and retried (org_backfills.h);
  // the feed applies each event under apply_mu, which a retry holds.
  reco::OrgBackfills backfills(sources.retry_every, sources.retry_max);
  std::mutex apply_mu;
  const absl::StatusOr<std::string> position =
      reco::NoteAndBackfill(&redis, rapport::events::kEventStream, sources, &model, &backfills);
  if (!position.ok()) {
    rapport::log::Info("stopped before serving", {{"reason", position.status().ToString()}});
    return 0;
  }

  reco::EventFeedOptions feed_options;
  feed_options.internal_key = startup.internal_key;  // verifies every entry
  feed_options.consumer_name = absl::GetFlag(FLAGS_consumer_name);
  feed_options.start_id = *position;
  feed_options.abandoned_after = std::chrono::milliseconds(absl::GetFlag(FLAGS_abandoned_group_ms));
  feed_options.apply_mu = &apply_mu;
  reco::EventFeed feed(&redis, &model, &cache, feed_options);
  feed.CatchUp(&rapport::TerminationRequested);
  feed.Start();
  reco::BackfillRetrier retrier(&backfills, &apply_mu, [&](const std::string& org) -> absl::Status {
    absl::StatusOr<reco::BackfillStats> stats = reco::Backfill(sources, &model, org);
    if (!stats.ok()) return stats.status();
    model.RebuildAll();
    cache.Invalidate(org, "", true);  // nothing of the org was answered meanwhile; be sure
    return absl::OkStatus();
  });
  retrier.Start();

  reco::Settings settings;
  settings.follow_up_days = absl::GetFlag(FLAGS_follow_up_days);
  reco::HealthSnapshotOptions snapshot_options;
  snapshot_options.period.period_us = int64_t{absl::GetFlag(FLAGS_health_snapshot_period_seconds)} * 1000000;
  snapshot_options.holder = absl::GetFlag(FLAGS_consumer_name);
  snapshot_options.poll_every = std::chrono::milliseconds(absl::GetFlag(FLAGS_health_snapshot_poll_ms));
  snapshot_options.lease_ttl = std::chrono::seconds(absl::GetFlag(FLAGS_health_snapshot_lease_seconds));
  snapshot_options.settings = settings;
  reco::HealthSnapshotter snapshots(&model, store->get(), &backfills, snapshot_options);
  snapshots.Start();
  reco::RecommendationsServiceImpl service(&model, &cache, &signer, settings, &backfills, store->get(),
                                           snapshot_options.period);

  rapport::ServerOptions options;
  options.addr = absl::GetFlag(FLAGS_addr);
  options.health_service = reco::pb::RecommendationsService::service_full_name();
  absl::Status status = rapport::RunServer(options, {&service});
  snapshots.Stop();
  retrier.Stop();
  feed.Stop();
  erasure.Stop();
  if (!status.ok()) {
    rapport::log::Error("server failed", {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}
