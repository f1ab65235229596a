// Weekly network-health snapshots (issue 19): a background job takes each
// user's GetNetworkHealth figures once per week and stores them
// (recommendations_store.h), so that GET /v1/network/health/history can
// chart them; the current week is always computed live.
//
// Weeks: periods of `period_us` (7 days in production; shorter in tests via
// --health_snapshot_period_seconds) aligned so that a week starts Monday
// 00:00 UTC. The snapshot of a week holds the figures at its end: it is
// taken by the first run after the week ended, with the model as it is then.
//
// Without a user asking: every replica runs the job every `poll_every`; for
// each org of the read model whose backfill is complete, it claims the
// org's lease for the last finished week (snapshot_leases: one replica per
// org and week; a replica that dies mid-way leaves a lease that expires
// after `lease_ttl`, and another replica takes over), writes one row per
// known user of the org, and marks the lease finished. Rows are written
// insert-if-absent, so even a run that outlived its lease doubles nothing.
//
// Catch-up rule: only the last finished week is ever taken. When no replica
// ran across a week's end (every process down for a while), the week that
// ended most recently is taken late (its taken_at says when) on the next
// run; older missed weeks stay gaps in the history: the model holds only
// the present, and figures recomputed from it for a past week would be
// invented, not measured.
//
// Thread-safety: RunOnce may be called from any one thread at a time (the
// job's own thread after Start); Start and Stop from the owner.
#ifndef RAPPORT_SERVICES_RECOMMENDATIONS_HEALTH_SNAPSHOTS_H_
#define RAPPORT_SERVICES_RECOMMENDATIONS_HEALTH_SNAPSHOTS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/common/polling_loop.h"
#include "services/recommendations/org_backfills.h"
#include "services/recommendations/read_model.h"
#include "services/recommendations/recommendations_logic.h"
#include "services/recommendations/recommendations_store.h"

namespace rapport::recommendations {

// The week grid: periods of period_us, one of them starting Monday
// 1970-01-05 00:00 UTC.
struct SnapshotPeriod {
  int64_t period_us = int64_t{7} * 86400 * 1000000;
  // The start of the period holding t.
  int64_t StartOf(int64_t t_us) const;
};

struct HealthSnapshotOptions {
  SnapshotPeriod period;
  std::string holder = "recommendations-1";  // this replica's name, in leases
  std::chrono::milliseconds poll_every{std::chrono::minutes(1)};
  std::chrono::milliseconds lease_ttl{std::chrono::minutes(10)};
  Settings settings;             // as the service answers GetNetworkHealth
  std::function<int64_t()> now;  // defaults to the wall clock (tests pass their own)
};

class HealthSnapshotter {
 public:
  // model, store and backfills (may be null: every org ready) must outlive it.
  HealthSnapshotter(ReadModel* model, RecommendationsStore* store, const OrgBackfills* backfills,
                    HealthSnapshotOptions options);
  ~HealthSnapshotter();  // Stop()

  // One pass over every org at now(): returns how many orgs' week it took.
  absl::StatusOr<int> RunOnce();

  void Start();
  void Stop();

 private:
  ReadModel* model_;
  RecommendationsStore* store_;
  const OrgBackfills* backfills_;
  HealthSnapshotOptions options_;
  std::unique_ptr<PollingLoop> loop_;
};

}  // namespace rapport::recommendations

#endif  // RAPPORT_SERVICES_RECOMMENDATIONS_HEALTH_SNAPSHOTS_H_
