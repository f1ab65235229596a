#include "services/recommendations/health_snapshots.h"

#include <utility>
#include <vector>

#include "services/common/log.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport::recommendations {
namespace {

// Monday 1970-01-05 00:00 UTC: the epoch was a Thursday.
constexpr int64_t kFirstMondayUs = int64_t{4} * 86400 * 1000000;

}  // namespace

int64_t SnapshotPeriod::StartOf(int64_t t_us) const {
  int64_t since = t_us - kFirstMondayUs;
  int64_t n = since / period_us;
  if (since % period_us < 0) --n;  // floor for times before the grid's origin
  return kFirstMondayUs + n * period_us;
}

HealthSnapshotter::HealthSnapshotter(ReadModel* model, RecommendationsStore* store, const OrgBackfills* backfills,
                                     HealthSnapshotOptions options)
    : model_(model), store_(store), backfills_(backfills), options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return NowMicros(); };
}

HealthSnapshotter::~HealthSnapshotter() { Stop(); }

absl::StatusOr<int> HealthSnapshotter::RunOnce() {
  const int64_t now = options_.now();
  const int64_t week = options_.period.StartOf(now) - options_.period.period_us;  // the last finished one
  const int64_t ttl_us = std::chrono::duration_cast<std::chrono::microseconds>(options_.lease_ttl).count();
  int taken = 0;
  absl::Status first_error;
  for (const std::string& org : model_->Orgs()) {
    // An org whose model is incomplete waits for its backfill: a snapshot
    // of half a network would be wrong for good.
    if (backfills_ != nullptr && !backfills_->Ready(org)) continue;
    // An erased org's graph stays, empty: no lease rows for it.
    bool has_users = false;
    model_->Read(org, [&](const OrgGraph& g) { has_users = !g.users.empty(); });
    if (!has_users) continue;
    absl::StatusOr<bool> claimed = store_->ClaimSnapshotLease(org, week, options_.holder, now, ttl_us);
    if (!claimed.ok()) {
      if (first_error.ok()) first_error = claimed.status();
      continue;
    }
    if (!*claimed) continue;
    std::vector<std::pair<std::string, v1::NetworkHealth>> by_user;
    model_->Read(org, [&](const OrgGraph& g) {
      for (const UserNode& u : g.users) {
        if (!u.known && u.contacts.empty()) continue;  // a placeholder for a user never seen
        by_user.emplace_back(u.id, NetworkHealth(Query{g, u.id, now, options_.settings}));
      }
    });
    absl::Status put = store_->PutSnapshots(org, week, now, by_user);
    if (put.ok()) put = store_->FinishSnapshotLease(org, week, options_.holder);
    if (!put.ok()) {
      if (first_error.ok()) first_error = put;  // the lease expires; this or another replica retries
      continue;
    }
    ++taken;
  }
  if (!first_error.ok()) return first_error;
  return taken;
}

void HealthSnapshotter::Start() {
  if (loop_ != nullptr) return;
  PollingLoop::Options loop;
  loop.what = "health snapshots";
  loop.idle = options_.poll_every;
  loop.retry = options_.poll_every;
  loop_ = std::make_unique<PollingLoop>(loop, [this]() -> absl::StatusOr<bool> {
    absl::StatusOr<int> taken = RunOnce();
    if (!taken.ok()) return taken.status();
    if (*taken > 0) log::Info("took weekly health snapshots", {{"orgs", std::to_string(*taken)}});
    return false;
  });
  loop_->Start();
}

void HealthSnapshotter::Stop() {
  if (loop_ != nullptr) loop_->Stop();
}

}  // namespace rapport::recommendations
