#include "services/notifications/scheduler.h"

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/ids.h"
#include "services/common/log.h"
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
        absl::StatusOr<int> n = DeliverOnce();
        if (!n.ok()) return n.status();
        return *n >= options_.delivery_concurrency;
      });
  timers_loop_->Start();
  deliveries_loop_->Start();
  return absl::OkStatus();
}

void Scheduler::Stop() {
  if (timers_loop_) timers_loop_->Stop();
  if (deliveries_loop_) deliveries_loop_->Stop();
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
  absl::StatusOr<std::vector<TimerRow>> claimed =
      store_->Claim(owner_, clock_(), options_.lease, options_.delivery_concurrency, true);
  if (!claimed.ok()) return claimed.status();
  std::vector<std::thread> threads;
  threads.reserve(claimed->size());
  for (const TimerRow& t : *claimed) threads.emplace_back([this, t] { DeliverOne(t); });
  for (std::thread& t : threads) t.join();
  return static_cast<int>(claimed->size());
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
