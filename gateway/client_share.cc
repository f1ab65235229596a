#include "gateway/client_share.h"

#include <algorithm>

namespace rapport::gateway {

int ShareOf(int cap, int percent) {
  if (cap <= 0 || percent <= 0 || percent >= 100) return 0;
  return std::max(1, static_cast<int>(static_cast<long long>(cap) * percent / 100));
}

std::unique_ptr<ShareCounter::Slot> ShareCounter::TryTake(const std::string& key, int limit) {
  {
    absl::MutexLock lock(&mu_);
    int& held = held_[key];
    if (limit > 0 && held >= limit) return nullptr;
    ++held;
  }
  return std::unique_ptr<Slot>(new Slot(this, key));
}

int ShareCounter::Held(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = held_.find(key);
  return it == held_.end() ? 0 : it->second;
}

void ShareCounter::Give(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = held_.find(key);
  if (it == held_.end()) return;
  if (--it->second <= 0) held_.erase(it);
}

}  // namespace rapport::gateway
