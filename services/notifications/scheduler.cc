#include "services/notifications/scheduler.h"

#include <algorithm>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/ids.h"
#include "services/common/log.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport::notifications {

Scheduler::Scheduler(TimerStore* store, SchedulerOptions options, Clock clock,
                     std::function<void(const Owner&)> on_fired)
    : store_(store),
      options_(std::move(options)),
      clock_(std::move(clock)),
      on_fired_(std::move(on_fired)),
      owner_(absl::StrCat(options_.replica, "/", RandomHex(8))) {}

Scheduler::~Scheduler() { Stop(); }

absl::Status Scheduler::Start() {
  absl::Status released = store_->ReleaseLeases(options_.replica);
  if (!released.ok()) return released;
  timers_loop_ = std::make_unique<PollingLoop>(
      PollingLoop::Options{"timer scheduler", {{"owner", owner_}}, options_.idle, std::chrono::milliseconds(500)},
      [this]() { return PumpDue(); });
  deliveries_loop_ = std::make_unique<PollingLoop>(
      PollingLoop::Options{"webhook deliveries", {{"owner", owner_}}, options_.idle, std::chrono::milliseconds(500)},
      [this]() -> absl::StatusOr<bool> {
        // A finished attempt wakes the loop, so a freed slot is used at once.
        absl::StatusOr<int> n = StartDeliveries();
        if (!n.ok()) return n.status();
        return *n > 0;
      });
  timers_loop_->Start();
  deliveries_loop_->Start();
  return absl::OkStatus();
}

void Scheduler::Stop() {
  if (timers_loop_) timers_loop_->Stop();
  if (deliveries_loop_) deliveries_loop_->Stop();
  {
    std::unique_lock<std::mutex> lock(deliver_mu_);
    deliver_cv_.wait(lock, [this] { return delivering_ == 0; });
  }
  std::unique_lock<std::mutex> lock(pump_mu_);
  pump_cv_.wait(lock, [this] { return in_flight_ == 0; });
}

void Scheduler::Submit(std::vector<TimerRow> timers, absl::Time now, std::function<void(absl::Status)> batch_done) {
  auto owners = std::make_shared<std::vector<Owner>>();
  for (const TimerRow& t : timers) owners->push_back(Owner{t.org, t.user});
  store_->FireTimers(std::move(timers), owner_, now,
                     [this, owners, batch_done = std::move(batch_done)](std::vector<absl::Status> results) {
                       absl::Status first_error;
                       for (size_t i = 0; i < results.size(); ++i) {
                         if (results[i].ok()) {
                           fired_.fetch_add(1);
                           if (on_fired_) on_fired_((*owners)[i]);
                         } else {
                           // It keeps its lease and is retried once the lease expires.
                           log::Error("timer failed", {{"org", (*owners)[i].org}, {"error", results[i].ToString()}});
                           if (first_error.ok()) first_error = results[i];
                         }
                       }
                       batch_done(first_error);
                     });
}

absl::StatusOr<int> Scheduler::FireDueOnce() {
  absl::Time now = clock_();
  absl::StatusOr<std::vector<TimerRow>> claimed = store_->Claim(owner_, now, options_.lease, options_.batch, false);
  if (!claimed.ok()) return claimed.status();
  if (claimed->empty()) return 0;
  const int n = static_cast<int>(claimed->size());
  std::promise<absl::Status> done;
  Submit(*std::move(claimed), now, [&done](absl::Status s) { done.set_value(s); });
  absl::Status s = done.get_future().get();
  if (!s.ok()) return s;
  return n;
}

absl::StatusOr<bool> Scheduler::PumpDue() {
  // Up to two batches in flight: the next claim commits together with the
  // previous batch's effects instead of after them.
  {
    std::unique_lock<std::mutex> lock(pump_mu_);
    pump_cv_.wait(lock, [this] { return in_flight_ < 2; });
  }
  absl::Time now = clock_();
  absl::StatusOr<std::vector<TimerRow>> claimed = store_->Claim(owner_, now, options_.lease, options_.batch, false);
  if (!claimed.ok()) return claimed.status();
  if (claimed->empty()) return false;
  const bool full = static_cast<int>(claimed->size()) >= options_.batch;
  {
    std::lock_guard<std::mutex> lock(pump_mu_);
    ++in_flight_;
  }
  Submit(*std::move(claimed), now, [this](absl::Status) {
    std::lock_guard<std::mutex> lock(pump_mu_);
    --in_flight_;
    pump_cv_.notify_all();
  });
  return full;
}

absl::StatusOr<int> Scheduler::DeliverOnce() {
  absl::StatusOr<int> started = StartDeliveries();
  std::unique_lock<std::mutex> lock(deliver_mu_);
  deliver_cv_.wait(lock, [this] { return delivering_ == 0; });
  return started;
}

int Scheduler::deliveries_in_flight() {
  std::lock_guard<std::mutex> lock(deliver_mu_);
  return delivering_;
}

absl::StatusOr<int> Scheduler::StartDeliveries() {
  const int endpoint_cap = std::max(1, options_.endpoint_concurrency);
  const int org_cap = std::max(1, options_.org_concurrency);
  int free_slots;
  std::map<std::string, int> by_org, by_url;
  std::string last_org;
  {
    std::lock_guard<std::mutex> lock(deliver_mu_);
    free_slots = options_.delivery_concurrency - delivering_;
    by_org = delivering_by_org_;
    by_url = delivering_by_url_;
    last_org = last_org_;
  }
  if (free_slots <= 0) return 0;
  const absl::Time now = clock_();
  // Enough queues that every org with due work is likely listed, however
  // many webhooks one busy org has.
  ASSIGN_OR_RETURN(std::vector<DeliveryQueue> queues, store_->DueDeliveryQueues(now, 1024));
  if (queues.empty()) return 0;
  // Each org's queues, the longest waiting first (as listed).
  std::map<std::string, std::vector<size_t>> org_queues;
  for (size_t i = 0; i < queues.size(); ++i) org_queues[queues[i].org].push_back(i);
  // Orgs in round-robin order: those after the one served last, then the rest.
  std::vector<std::string> orgs;
  for (auto it = org_queues.upper_bound(last_org); it != org_queues.end(); ++it) orgs.push_back(it->first);
  for (auto it = org_queues.begin(); it != org_queues.end() && it->first <= last_org; ++it) orgs.push_back(it->first);
  // A round gives each org one slot, on a queue whose endpoint has room.
  std::vector<int> planned(queues.size(), 0);
  bool progress = true;
  while (free_slots > 0 && progress) {
    progress = false;
    for (const std::string& org : orgs) {
      if (free_slots == 0) break;
      if (by_org[org] >= org_cap) continue;
      for (size_t i : org_queues[org]) {
        if (by_url[queues[i].url] >= endpoint_cap) continue;
        ++planned[i];
        ++by_org[org];
        ++by_url[queues[i].url];
        --free_slots;
        last_org = org;
        progress = true;
        break;
      }
    }
  }
  std::vector<QueueClaim> claims;
  for (size_t i = 0; i < queues.size(); ++i) {
    if (planned[i] > 0) claims.push_back(QueueClaim{queues[i], planned[i]});
  }
  if (claims.empty()) return 0;
  ASSIGN_OR_RETURN(std::vector<std::vector<TimerRow>> by_claim,
                   store_->ClaimDeliveries(owner_, now, options_.lease, claims));
  std::vector<std::pair<TimerRow, size_t>> claimed;  // with the index of its claim (queue)
  for (size_t c = 0; c < by_claim.size() && c < claims.size(); ++c) {
    for (TimerRow& t : by_claim[c]) claimed.emplace_back(std::move(t), c);
  }
  {
    std::lock_guard<std::mutex> lock(deliver_mu_);
    last_org_ = last_org;
    for (const auto& [t, c] : claimed) {
      ++delivering_;
      ++delivering_by_org_[t.org];
      ++delivering_by_url_[claims[c].queue.url];
    }
  }
  for (const auto& [timer, c] : claimed) {
    std::thread([this, t = timer, url = claims[c].queue.url] {
      DeliverOne(t);
      std::lock_guard<std::mutex> lock(deliver_mu_);
      --delivering_;
      if (--delivering_by_org_[t.org] == 0) delivering_by_org_.erase(t.org);
      if (--delivering_by_url_[url] == 0) delivering_by_url_.erase(url);
      if (deliveries_loop_) deliveries_loop_->Wake();
      // Stop (and the destructor) wait for delivering_ == 0 under this lock,
      // so nothing of this object is touched after it is released.
      deliver_cv_.notify_all();
    }).detach();
  }
  return static_cast<int>(claimed.size());
}

void Scheduler::DeliverOne(const TimerRow& timer) {
  absl::StatusOr<PendingDelivery> d = store_->LoadDelivery(timer);
  if (!d.ok()) {
    log::Warn("delivery not loaded", {{"org", timer.org}, {"delivery", timer.ref}, {"error", d.status().ToString()}});
    return;
  }
  AttemptResult result;
  absl::Time start = clock_();
  result.time_us = ToMicros(start);
  absl::StatusOr<CheckedUrl> checked = CheckWebhookUrl("url", d->url, options_.allow_private);
  if (!checked.ok()) {
    result.error = std::string(checked.status().message());
    // A refused address stays refused; a name that does not resolve may later.
    result.retry = !absl::StrContains(result.error, "private");
  } else {
    WebhookRequest req{d->url, d->secret, d->event_id, d->event_type, d->body, absl::ToUnixSeconds(absl::Now())};
    auto t0 = std::chrono::steady_clock::now();
    HttpResponse resp = SendWebhook(req, *checked, options_.webhook_timeout);
    result.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    result.status = resp.status;
    result.error = resp.error;
    result.retry = IsRetriable(resp.status);
  }
  int attempt = d->attempts + 1;
  result.next_us = ToMicros(clock_()) +
                   std::chrono::duration_cast<std::chrono::microseconds>(Backoff(options_.retry, attempt)).count();
  absl::Status s = store_->RecordDeliveryAttempt(timer, owner_, result, attempt >= options_.retry.max_attempts);
  if (!s.ok()) log::Error("delivery attempt not recorded", {{"org", timer.org}, {"error", s.ToString()}});
}

}  // namespace rapport::notifications
