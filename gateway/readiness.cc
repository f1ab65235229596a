#include "gateway/readiness.h"

#include <utility>

namespace rapport::gateway {

ReadinessCache::ReadinessCache(Check check, std::chrono::milliseconds min_interval)
    : check_(std::move(check)), min_interval_(min_interval), thread_([this] { Run(); }) {}

ReadinessCache::~ReadinessCache() { Stop(); }

void ReadinessCache::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Whoever still waits gets the last result rather than no answer.
  std::vector<Done> waiters;
  std::map<std::string, bool> last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiters.swap(waiters_);
    last = result_;
  }
  for (Done& done : waiters) done(last);
}

void ReadinessCache::Get(Done done) {
  std::map<std::string, bool> fresh;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ && (!have_result_ || std::chrono::steady_clock::now() - result_at_ >= min_interval_)) {
      waiters_.push_back(std::move(done));
      cv_.notify_one();
      return;
    }
    fresh = result_;
  }
  done(fresh);
}

int ReadinessCache::checks() {
  std::lock_guard<std::mutex> lock(mu_);
  return checks_;
}

void ReadinessCache::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    // Sleep until someone waits and the last check began min_interval ago.
    while (!stopping_) {
      if (!waiters_.empty()) {
        const auto next = result_at_ + min_interval_;
        if (!have_result_ || std::chrono::steady_clock::now() >= next) break;
        cv_.wait_until(lock, next);
      } else {
        cv_.wait(lock);
      }
    }
    if (stopping_) return;
    const auto started = std::chrono::steady_clock::now();
    lock.unlock();
    std::map<std::string, bool> result = check_();
    lock.lock();
    result_ = result;
    result_at_ = started;
    have_result_ = true;
    ++checks_;
    std::vector<Done> waiters;
    waiters.swap(waiters_);
    lock.unlock();
    for (Done& done : waiters) done(result);
    lock.lock();
  }
}

}  // namespace rapport::gateway
