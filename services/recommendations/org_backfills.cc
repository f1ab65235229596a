#include "services/recommendations/org_backfills.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/log.h"

namespace rapport::recommendations {

OrgBackfills::OrgBackfills(std::chrono::milliseconds first_retry, std::chrono::milliseconds max_retry)
    : first_retry_(std::max(first_retry, std::chrono::milliseconds(1))),
      max_retry_(std::max(max_retry, first_retry_)) {}

void OrgBackfills::Failed(const std::string& org, const absl::Status& error, Clock::time_point now) {
  std::chrono::milliseconds wait;
  int failures;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Pending& p = pending_[org];
    ++p.failures;
    ++failures_total_;
    // first_retry * 2^(failures-1), capped; the shift is bounded so that it
    // cannot overflow.
    wait = std::min(max_retry_, first_retry_ * (int64_t{1} << std::min(p.failures - 1, 30)));
    p.next_attempt = now + wait;
    p.last_error = error.ToString();
    failures = p.failures;
  }
  log::Warn("backfill of an org failed; its answers are refused until a retry succeeds",
            {{"org_id", org},
             {"attempt", std::to_string(failures)},
             {"retry_in_ms", std::to_string(wait.count())},
             {"error", error.ToString()}});
}

void OrgBackfills::Succeeded(const std::string& org) {
  int failures = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(org);
    if (it == pending_.end()) return;
    failures = it->second.failures;
    pending_.erase(it);
    ++recovered_total_;
  }
  log::Info("backfill of an org succeeded after failing; it is answered again",
            {{"org_id", org}, {"failed_attempts", std::to_string(failures)}});
}

bool OrgBackfills::Ready(const std::string& org) const {
  std::lock_guard<std::mutex> lock(mu_);
  return !pending_.contains(org);
}

std::vector<std::string> OrgBackfills::Due(Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> due;
  for (const auto& [org, p] : pending_) {
    if (p.next_attempt <= now) due.push_back(org);
  }
  return due;
}

OrgBackfills::Clock::time_point OrgBackfills::NextDue() const {
  std::lock_guard<std::mutex> lock(mu_);
  Clock::time_point next = Clock::time_point::max();
  for (const auto& [org, p] : pending_) next = std::min(next, p.next_attempt);
  return next;
}

v1::BackfillStatus OrgBackfills::Status(Clock::time_point now) const {
  v1::BackfillStatus out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [org, p] : pending_) {
      v1::PendingOrgBackfill* o = out.add_pending();
      o->set_org_id(org);
      o->set_failures(p.failures);
      o->set_last_error(p.last_error);
      o->set_next_attempt_ms(
          std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(p.next_attempt - now).count()));
    }
    out.set_failures_total(failures_total_);
    out.set_recovered_total(recovered_total_);
  }
  out.set_metrics(MetricsText());
  return out;
}

std::string OrgBackfills::MetricsText() const {
  std::lock_guard<std::mutex> lock(mu_);
  return absl::StrCat(
      "# HELP rapport_backfill_failures_total Failed org backfills of the recommendations read model.\n"
      "# TYPE rapport_backfill_failures_total counter\n"
      "rapport_backfill_failures_total{service=\"recommendations\"} ",
      failures_total_,
      "\n"
      "# HELP rapport_backfill_recovered_total Orgs answered again after their backfill had failed.\n"
      "# TYPE rapport_backfill_recovered_total counter\n"
      "rapport_backfill_recovered_total{service=\"recommendations\"} ",
      recovered_total_,
      "\n"
      "# HELP rapport_backfill_orgs_pending Orgs refused until a backfill retry succeeds.\n"
      "# TYPE rapport_backfill_orgs_pending gauge\n"
      "rapport_backfill_orgs_pending{service=\"recommendations\"} ",
      pending_.size(), "\n");
}

BackfillRetrier::BackfillRetrier(OrgBackfills* orgs, std::mutex* apply_mu,
                                 std::function<absl::Status(const std::string&)> backfill)
    : orgs_(orgs), apply_mu_(apply_mu), backfill_(std::move(backfill)) {}

BackfillRetrier::~BackfillRetrier() { Stop(); }

void BackfillRetrier::Start() {
  thread_ = std::thread([this] { Run(); });
}

void BackfillRetrier::Poke() {
  std::lock_guard<std::mutex> lock(mu_);
  poked_ = true;
  cv_.notify_all();
}

void BackfillRetrier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void BackfillRetrier::Run() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Wakes when the earliest pending org is due, at a Poke, or at Stop;
      // at most a second apart so that a Failed without Poke is seen too.
      const auto next = std::min(orgs_->NextDue(), OrgBackfills::Clock::now() + std::chrono::seconds(1));
      cv_.wait_until(lock, next, [this] { return stopping_ || poked_; });
      if (stopping_) return;
      poked_ = false;
    }
    for (const std::string& org : orgs_->Due(OrgBackfills::Clock::now())) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
      }
      absl::Status status;
      {
        std::lock_guard<std::mutex> apply(*apply_mu_);
        status = backfill_(org);
      }
      if (status.ok()) {
        orgs_->Succeeded(org);
      } else {
        orgs_->Failed(org, status);
      }
    }
  }
}

}  // namespace rapport::recommendations
