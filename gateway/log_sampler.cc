#include "gateway/log_sampler.h"

#include <algorithm>

namespace rapport::gateway {
namespace {

// Lines of keys past max_keys share this key.
constexpr char kOverflowKey[] = "\x01overflow";

}  // namespace

LogSampler::Verdict LogSampler::Sample(const std::string& key, std::chrono::steady_clock::time_point now) {
  absl::MutexLock lock(&mu_);
  auto it = windows_.find(key);
  if (it == windows_.end()) {
    if (windows_.size() >= options_.max_keys) {
      // Forget the keys whose window ended; a key with suppressed lines
      // pending loses that count, which only makes the log undercount.
      absl::erase_if(windows_, [&](const auto& entry) { return now - entry.second.start >= options_.window; });
    }
    const std::string slot = windows_.size() >= options_.max_keys ? std::string(kOverflowKey) : key;
    it = windows_.try_emplace(slot).first;
    if (it->second.seen == 0) it->second.start = now;
  }
  Window& w = it->second;
  if (now - w.start >= options_.window) {
    w.start = now;
    w.seen = 0;
  }
  ++w.seen;
  Verdict v;
  const int every = std::max(1, options_.every);
  v.write = w.seen <= options_.first || (w.seen - options_.first) % every == 0;
  if (v.write) {
    v.suppressed = w.suppressed;
    w.suppressed = 0;
  } else {
    ++w.suppressed;
  }
  return v;
}

}  // namespace rapport::gateway
