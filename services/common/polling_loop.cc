#include "services/common/polling_loop.h"

namespace rapport {

PollingLoop::PollingLoop(Options options, Step step) : options_(std::move(options)), step_(std::move(step)) {}

PollingLoop::~PollingLoop() { Stop(); }

void PollingLoop::Start() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void PollingLoop::Stop() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PollingLoop::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

bool PollingLoop::Wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return stopping_ || woken_; });
  woken_ = false;
  return !stopping_;
}

void PollingLoop::Run() {
  bool failing = false;
  int failures = 0;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      // Whatever a Wake announced is covered by the step that follows.
      woken_ = false;
    }
    absl::StatusOr<bool> more = step_();
    if (!more.ok()) {
      if (!failing) {
        log::Fields fields = options_.fields;
        fields.emplace_back("error", more.status().ToString());
        log::Warn(options_.what + " failing; retrying", fields);
      }
      failing = true;
      ++failures;
      if (!Wait(options_.retry)) return;
      continue;
    }
    if (failing) {
      log::Fields fields = options_.fields;
      fields.emplace_back("failed_attempts", std::to_string(failures));
      log::Info(options_.what + " working again", fields);
      failing = false;
      failures = 0;
    }
    if (*more) continue;
    if (!Wait(options_.idle)) return;
  }
}

}  // namespace rapport
