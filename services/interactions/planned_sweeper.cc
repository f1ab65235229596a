#include "services/interactions/planned_sweeper.h"

#include <future>
#include <vector>

#include "absl/time/time.h"
#include "services/common/log.h"
#include "services/common/time_util.h"

namespace rapport::interactions {

void PlannedSweeper::Start() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void PlannedSweeper::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<int> PlannedSweeper::RunOnce(int64_t now_us) {
  const int64_t lease_us = std::chrono::duration_cast<std::chrono::microseconds>(options_.lease).count();
  absl::StatusOr<std::vector<PlannedRef>> claimed =
      store_->ClaimDuePlanned(options_.runner, now_us, now_us + lease_us, options_.batch);
  if (!claimed.ok()) return claimed.status();
  int applied = 0;
  for (const PlannedRef& ref : *claimed) {
    std::promise<absl::Status> done;
    store_->HappenPlanned(ref, now_us, [&done](absl::Status s) { done.set_value(std::move(s)); });
    absl::Status s = done.get_future().get();
    if (!s.ok()) {
      // Its lease lapses and a later pass tries again.
      log::Error("planned interaction: not applied; retried when its claim lapses",
                 {{"org", ref.owner.org}, {"interaction", ref.interaction_id}, {"error", s.ToString()}});
      continue;
    }
    ++applied;
  }
  return applied;
}

void PlannedSweeper::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    mu_.Unlock();
    absl::StatusOr<int> n = RunOnce(NowMicros());
    if (!n.ok()) log::Error("planned interactions: sweep failed", {{"error", n.status().ToString()}});
    mu_.Lock();
    mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::FromChrono(options_.interval));
  }
}

}  // namespace rapport::interactions
