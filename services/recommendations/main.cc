// The recommendations service process: flags and environment -> config,
// note the event stream's position, backfill the read model from profiles
// and interactions, consume events from the noted position (see backfill.h
// for why nothing is lost), and only then serve until SIGTERM, so that
// health turns SERVING with a complete model.
#include <chrono>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "services/common/channel.h"
#include "services/common/event_consumer.h"
#include "services/common/log.h"
#include "services/common/outbox.h"
#include "services/common/server.h"
#include "services/common/service_registry.h"
#include "services/recommendations/backfill.h"
#include "services/recommendations/recommendations_service.h"

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
ABSL_FLAG(int, result_cache_ttl_seconds, 300,
          "TTL of cached results (env RAPPORT_RECOMMENDATIONS_CACHE_TTL_SECONDS)");
ABSL_FLAG(int, backfill_page_size, 500, "rows per backfill page (env RAPPORT_BACKFILL_PAGE_SIZE)");
ABSL_FLAG(int, abandoned_group_ms, 600000,
          "another replica's consumer group idle this long was left by a killed process and is destroyed at "
          "start (env RAPPORT_ABANDONED_GROUP_MS)");

namespace {

// Every replica's private consumer group is this followed by its consumer name.
constexpr char kGroupPrefix[] = "recommendations-";

// Retries fn every second until it succeeds: start-up waits for Redis and
// for the services it backfills from instead of serving an incomplete model.
template <typename Fn>
auto RetryUntilOk(const char* what, Fn fn) {
  while (true) {
    auto result = fn();
    if (result.ok()) return result;
    rapport::log::Warn(absl::StrCat(what, " failed; retrying"), {{"error", result.status().ToString()}});
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace

int main(int argc, char** argv) {
  rapport::ServiceStartup startup = rapport::StartService(
      argc, argv, "recommendations",
      {{"addr", rapport::registry::kRecommendations.addr_env},
       {"profiles_addr", rapport::registry::kProfiles.addr_env},
       {"interactions_addr", rapport::registry::kInteractions.addr_env},
       {"consumer_name", "RAPPORT_CONSUMER_NAME"},
       {"follow_up_days", "RAPPORT_FOLLOW_UP_DAYS"},
       {"result_cache", "RAPPORT_RECOMMENDATIONS_CACHE"},
       {"result_cache_ttl_seconds", "RAPPORT_RECOMMENDATIONS_CACHE_TTL_SECONDS"},
       {"backfill_page_size", "RAPPORT_BACKFILL_PAGE_SIZE"},
       {"abandoned_group_ms", "RAPPORT_ABANDONED_GROUP_MS"}});
  rapport::redis::Client& redis = *startup.redis;
  const rapport::TenantSigner& signer = *startup.signer;
  namespace reco = rapport::recommendations;

  reco::ReadModel model;
  reco::ResultCacheOptions cache_options;
  cache_options.enabled = absl::GetFlag(FLAGS_result_cache);
  cache_options.ttl = std::chrono::seconds(absl::GetFlag(FLAGS_result_cache_ttl_seconds));
  reco::ResultCache cache(&redis, cache_options);

  // 1. Where the stream is now; 2. backfill; 3. consume from there.
  const std::string position = *RetryUntilOk("noting the event stream position", [&] {
    return reco::StreamPosition(&redis, rapport::events::kEventStream);
  });
  reco::BackfillSources sources;
  sources.profiles = rapport::CreateServiceChannel(absl::GetFlag(FLAGS_profiles_addr));
  sources.interactions = rapport::CreateServiceChannel(absl::GetFlag(FLAGS_interactions_addr));
  sources.signer = &signer;
  sources.page_size = absl::GetFlag(FLAGS_backfill_page_size);
  const auto started = std::chrono::steady_clock::now();
  reco::BackfillStats stats = *RetryUntilOk("backfill", [&] { return reco::Backfill(sources, &model); });
  model.RebuildAll();
  rapport::log::Info("backfill done",
                     {{"events", std::to_string(stats.events)},
                      {"pages", std::to_string(stats.pages)},
                      {"ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::steady_clock::now() - started)
                                                .count())},
                      {"stream_position", position}});

  rapport::events::ConsumerOptions consumer_options;
  consumer_options.consumer = absl::GetFlag(FLAGS_consumer_name);
  consumer_options.group = absl::StrCat(kGroupPrefix, consumer_options.consumer);
  consumer_options.start_id = position;
  // What killed runs left in Redis; the group is then created at position.
  absl::StatusOr<int> swept =
      reco::SweepGroups(&redis, rapport::events::kEventStream, kGroupPrefix, consumer_options.group,
                        std::chrono::milliseconds(absl::GetFlag(FLAGS_abandoned_group_ms)));
  if (!swept.ok()) {
    rapport::log::Warn("cannot sweep abandoned consumer groups", {{"error", swept.status().ToString()}});
  } else if (*swept > 0) {
    rapport::log::Info("destroyed abandoned consumer groups", {{"groups", std::to_string(*swept)}});
  }
  rapport::events::EventConsumer consumer(&redis, consumer_options, [&](const rapport::events::v1::Event& e) {
    RETURN_IF_ERROR(model.Apply(e));
    // Interactions and introductions change only their owner's answers;
    // everything else may change what teammates see (paths, groups).
    const bool org_wide = e.payload_case() != rapport::events::v1::Event::kInteraction &&
                          e.payload_case() != rapport::events::v1::Event::kIntroduction;
    cache.Invalidate(e.org_id(), e.user_id(), org_wide);
    return absl::OkStatus();
  });
  // Catch up with what happened during the backfill before serving.
  for (int i = 0; i < 10000; ++i) {
    absl::StatusOr<int> handled = consumer.PollOnce();
    if (!handled.ok() || *handled == 0) break;
  }
  consumer.Start();

  reco::Settings settings;
  settings.follow_up_days = absl::GetFlag(FLAGS_follow_up_days);
  reco::RecommendationsServiceImpl service(&model, &cache, &signer, settings);

  rapport::ServerOptions options;
  options.addr = absl::GetFlag(FLAGS_addr);
  options.health_service = reco::pb::RecommendationsService::service_full_name();
  absl::Status status = rapport::RunServer(options, {&service});
  consumer.Stop();
  // The group is this process's alone: leave no state behind in Redis.
  (void)redis.Command({"XGROUP", "DESTROY", rapport::events::kEventStream, consumer_options.group});
  if (!status.ok()) {
    rapport::log::Error("server failed", {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}
