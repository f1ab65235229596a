// The interactions service process: flags and environment -> config, open
// the SQLite store, connect Redis, start the outbox relay and the consumer of
// contact events, serve until SIGTERM, drain.
#include <algorithm>
#include <chrono>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "services/common/channel.h"
#include "services/common/erasure.h"
#include "services/common/event_consumer.h"
#include "services/common/idempotency.h"
#include "services/common/ids.h"
#include "services/common/log.h"
#include "services/common/outbox.h"
#include "services/common/redis_client.h"
#include "services/common/server.h"
#include "services/common/service_registry.h"
#include "services/interactions/interactions_erasure.h"
#include "services/interactions/interactions_logic.h"
#include "services/interactions/interactions_service.h"
#include "services/interactions/interactions_store.h"
#include "services/interactions/planned_sweeper.h"
#include "services/profiles/contact_client.h"

ABSL_FLAG(std::string, addr, rapport::registry::kInteractions.default_addr,
          "listen address (env INTERACTIONS_SERVICE_ADDR)");
ABSL_FLAG(std::string, profiles_addr, rapport::registry::kProfiles.default_addr,
          "profiles service (env PROFILES_SERVICE_ADDR)");
ABSL_FLAG(int, profiles_deadline_ms, 2000, "deadline of calls to profiles (env RAPPORT_PROFILES_DEADLINE_MS)");
ABSL_FLAG(int, planned_sweep_ms, 5000,
          "how often planned interactions whose time came are applied (env RAPPORT_PLANNED_SWEEP_MS)");
ABSL_FLAG(std::string, consumer_name, "interactions-1",
          "this process's name in the event consumer group; unique per replica (env RAPPORT_CONSUMER_NAME)");

int main(int argc, char** argv) {
  rapport::ServiceStartup startup = rapport::StartService(argc, argv, "interactions",
                                                          {{"addr", rapport::registry::kInteractions.addr_env},
                                                           {"profiles_addr", rapport::registry::kProfiles.addr_env},
                                                           {"profiles_deadline_ms", "RAPPORT_PROFILES_DEADLINE_MS"},
                                                           {"consumer_name", "RAPPORT_CONSUMER_NAME"},
                                                           {"planned_sweep_ms", "RAPPORT_PLANNED_SWEEP_MS"}});
  auto store = rapport::interactions::InteractionsStore::Open(startup.database);
  if (!store.ok()) {
    rapport::log::Error("cannot open store", {{"error", store.status().ToString()}});
    return 1;
  }
  rapport::redis::Client& redis = *startup.redis;
  const rapport::TenantSigner& signer = *startup.signer;

  rapport::events::RelayOptions relay_options;
  relay_options.internal_key = startup.internal_key;  // signs every entry
  rapport::events::OutboxRelay relay(&(*store)->db(), &redis, relay_options);
  relay.Start();
  rapport::RetentionPruner pruner(&(*store)->db(), {rapport::IdempotencyRetention()});
  pruner.Start();
  // Contact events keep each ledger row's cadence in step with the contact's tier.
  rapport::events::ConsumerOptions consumer_options;
  consumer_options.internal_key = startup.internal_key;  // verifies every entry
  consumer_options.group = "interactions";
  consumer_options.consumer = absl::GetFlag(FLAGS_consumer_name);
  // user.deleted / org.deleted erase the subject's rows (interactions_erasure.h).
  rapport::events::EventConsumer consumer(
      &redis, &(*store)->db(), consumer_options,
      rapport::WithErasure(rapport::interactions::InteractionsErasureTables(),
                           &rapport::interactions::InteractionsStore::ApplyContactEvent));
  consumer.Start();
  // Planned interactions happen when their time comes (planned_sweeper.h).
  rapport::interactions::PlannedSweepOptions sweep_options;
  sweep_options.runner = absl::StrCat(absl::GetFlag(FLAGS_consumer_name), "/", rapport::NewId());
  sweep_options.interval = std::chrono::milliseconds(std::max(10, absl::GetFlag(FLAGS_planned_sweep_ms)));
  rapport::interactions::PlannedSweeper sweeper(store->get(), sweep_options);
  sweeper.Start();

  rapport::profiles::ContactClient profiles(rapport::CreateServiceChannel(absl::GetFlag(FLAGS_profiles_addr)), &signer,
                                            std::chrono::milliseconds(absl::GetFlag(FLAGS_profiles_deadline_ms)));
  rapport::interactions::ContactChecker checker(store->get(), &profiles);
  rapport::interactions::InteractionsServiceImpl service(store->get(), &checker, &signer);
  // Warm-path asks resolve connectors and targets with profiles too.
  rapport::interactions::PathAskDirectory path_asks(
      rapport::CreateServiceChannel(absl::GetFlag(FLAGS_profiles_addr)), &signer,
      std::chrono::milliseconds(absl::GetFlag(FLAGS_profiles_deadline_ms)));
  service.set_path_asks(&path_asks);
  rapport::interactions::InteractionsBackfillImpl backfill(store->get(), &signer);

  rapport::ServerOptions options;
  options.addr = absl::GetFlag(FLAGS_addr);
  options.health_service = rapport::interactions::pb::InteractionsService::service_full_name();
  absl::Status status = rapport::RunServer(options, {&service, &backfill});
  sweeper.Stop();
  consumer.Stop();
  pruner.Stop();
  relay.Stop();
  if (!status.ok()) {
    rapport::log::Error("server failed", {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}
