// The start-up backfill of the recommendations read model, and why it loses
// no event.
//
// Order at start (NoteAndBackfill, then EventFeed; main.cc wires them):
//   1. StreamPosition: the id of the newest entry of the event stream
//      (XREVRANGE + - COUNT 1; "0" when the stream is empty or missing).
//   2. Backfill: page through the internal exports of profiles and
//      interactions (rapport.backfill.v1, platform-signed) and Apply every
//      row to the model. Rows reflect every change committed before they
//      were read.
//   3. Consume the stream from the noted position with an in-memory
//      consumer group of this replica alone (event_feed.h: each replica
//      needs every event, so replicas must not share a group; it is
//      destroyed on shutdown, and what killed runs left is swept first).
// A change committed after step 1 has its event after the noted id (the
// outbox relay publishes after commit), so step 3 sees it even when step 2
// missed it. A change that both step 2 and step 3 see is applied twice:
// handlers are idempotent upserts carrying the whole entity, and the stream
// is in commit order per service, so the model converges on the latest
// state once the consumer has caught up. Health turns SERVING only after
// step 2 and a first drain of step 3.
//
// Step 2 goes org by org (ListOrgs, then each export restricted to the org):
// an org whose backfill fails is handed to OrgBackfills (org_backfills.h),
// refused UNAVAILABLE and retried with capped exponential backoff, while
// every other org is served. An org created after step 1 is not listed and
// needs no backfill: all of its events are after the noted position.
//
// Thread-safety: functions, no shared state.
#ifndef RAPPORT_SERVICES_RECOMMENDATIONS_BACKFILL_H_
#define RAPPORT_SERVICES_RECOMMENDATIONS_BACKFILL_H_

#include <grpcpp/channel.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/redis_client.h"
#include "services/common/tenant.h"
#include "services/recommendations/org_backfills.h"
#include "services/recommendations/read_model.h"

namespace rapport::recommendations {

// Waits up to timeout for the process to be asked to stop; true when it has
// been (at once if it already had; a zero timeout just asks). In the process:
// WaitForTerminationSignalFor (services/common/termination.h), so that
// SIGTERM ends a start-up still waiting on a dependency.
using StopWait = std::function<bool(std::chrono::milliseconds timeout)>;

struct BackfillSources {
  std::shared_ptr<grpc::Channel> profiles;
  std::shared_ptr<grpc::Channel> interactions;
  const TenantSigner* signer = nullptr;
  std::chrono::milliseconds deadline{10000};  // per page
  int page_size = 500;
  StopWait stop;                                // asked between pages and between retries; unset: never stops
  std::chrono::milliseconds retry_every{1000};  // NoteAndBackfill's wait after a failure
  // An org's failed backfill is retried after retry_every, then twice as
  // long after each further failure, at most this far apart (OrgBackfills).
  std::chrono::milliseconds retry_max{60000};
};

struct BackfillStats {
  int64_t events = 0;
  int64_t pages = 0;
};

// The id of the stream's newest entry, "0" when there is none. UNAVAILABLE
// when Redis cannot be reached.
absl::StatusOr<std::string> StreamPosition(redis::Client* redis, const std::string& stream);

// Applies every exported row of org (of every org when org is "") to model:
// users, contacts, memberships, then interactions, introductions, ledger.
// UNAVAILABLE (or the RPC's error) when a page cannot be fetched; the caller
// retries, which is safe because Apply is idempotent. CANCELLED when
// sources.stop says to stop (asked before each page).
absl::StatusOr<BackfillStats> Backfill(const BackfillSources& sources, ReadModel* model, const std::string& org = "");

// Every org's id (rapport.backfill.v1.ProfilesBackfill/ListOrgs).
absl::StatusOr<std::vector<std::string>> ListOrgs(const BackfillSources& sources);

// Steps 1 and 2 at start-up: notes the stream position, lists the orgs,
// backfills model org by org and rebuilds it (RebuildAll), logging the
// figures. Noting the position and listing the orgs are retried every
// sources.retry_every until they succeed, each failure logged: start-up
// waits for Redis and the services it backfills from rather than serve an
// incomplete model. An org whose backfill fails goes to orgs (refused and
// retried later by a BackfillRetrier); with orgs null the whole backfill is
// retried instead. Returns the noted position, or CANCELLED as soon as
// sources.stop says to stop.
absl::StatusOr<std::string> NoteAndBackfill(redis::Client* redis, const std::string& stream,
                                            const BackfillSources& sources, ReadModel* model,
                                            OrgBackfills* orgs = nullptr);

}  // namespace rapport::recommendations

#endif  // RAPPORT_SERVICES_RECOMMENDATIONS_BACKFILL_H_
