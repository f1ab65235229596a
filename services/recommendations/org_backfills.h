// Org by org backfill state of the recommendations read model: which orgs'
// backfill failed, when each is retried, and the thread that retries them,
// so that one org whose rows cannot be read (a corrupt row, an export that
// keeps failing) is refused UNAVAILABLE while every other org is answered.
//
// A failed org is retried after first_retry, then twice as long after each
// further failure, at most max_retry apart (capped exponential backoff);
// every failure is logged (org, attempt, next retry, error) and counted, and
// the state is what GetBackfillStatus answers (platform only: the health
// detail) and what the Prometheus text of BackfillStatusText shows.
//
// Why a late backfill loses nothing (the start-up argument of backfill.h,
// per org): the retrier holds apply_mu, which the event feed takes for each
// event, while it exports and applies the org; the feed's position is then
// the "noted position", and the events after it are applied after the
// org's rows.
//
// Thread-safety: OrgBackfills is thread-safe; a BackfillRetrier is started
// and stopped by one owner thread.
#ifndef RAPPORT_SERVICES_RECOMMENDATIONS_ORG_BACKFILLS_H_
#define RAPPORT_SERVICES_RECOMMENDATIONS_ORG_BACKFILLS_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "rapport/recommendations/v1/recommendations.pb.h"

namespace rapport::recommendations {

class OrgBackfills {
 public:
  using Clock = std::chrono::steady_clock;

  OrgBackfills(std::chrono::milliseconds first_retry, std::chrono::milliseconds max_retry);

  // Records a failed backfill of org (logged) and schedules its next attempt.
  void Failed(const std::string& org, const absl::Status& error, Clock::time_point now = Clock::now());
  // org's backfill succeeded: it is answered from now on (logged when it had failed).
  void Succeeded(const std::string& org);
  // False while org's backfill has not succeeded since it failed.
  bool Ready(const std::string& org) const;
  // The orgs due for a retry at now, in id order.
  std::vector<std::string> Due(Clock::time_point now) const;
  // The earliest next attempt of any pending org; Clock::time_point::max() when none.
  Clock::time_point NextDue() const;

  // The health detail: every pending org with its failures, last error and
  // next attempt, and the counters.
  v1::BackfillStatus Status(Clock::time_point now = Clock::now()) const;
  // The counters in Prometheus text format 0.0.4.
  std::string MetricsText() const;

 private:
  struct Pending {
    int failures = 0;
    std::string last_error;
    Clock::time_point next_attempt;
  };
  const std::chrono::milliseconds first_retry_;
  const std::chrono::milliseconds max_retry_;
  mutable std::mutex mu_;
  std::map<std::string, Pending> pending_;  // guarded by mu_
  int64_t failures_total_ = 0;              // guarded by mu_
  int64_t recovered_total_ = 0;             // guarded by mu_
};

// Retries the pending orgs of an OrgBackfills on its own thread, each when
// due: backfill(org) runs under apply_mu.
class BackfillRetrier {
 public:
  // backfill(org): exports and applies org's rows (and rebuilds what they
  // change); orgs, apply_mu must outlive the retrier.
  BackfillRetrier(OrgBackfills* orgs, std::mutex* apply_mu, std::function<absl::Status(const std::string&)> backfill);
  ~BackfillRetrier();  // Stop()
  void Start();
  // Wakes the thread to look for due orgs at once (after Failed).
  void Poke();
  void Stop();

 private:
  void Run();

  OrgBackfills* orgs_;
  std::mutex* apply_mu_;
  std::function<absl::Status(const std::string&)> backfill_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool poked_ = false;     // guarded by mu_
  std::thread thread_;
};

}  // namespace rapport::recommendations

#endif  // RAPPORT_SERVICES_RECOMMENDATIONS_ORG_BACKFILLS_H_
