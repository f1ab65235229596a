#include "gateway/jwt_key_cache.h"

#include <optional>
#include <utility>

#include "absl/time/clock.h"

namespace rapport::gateway {

JwtKeyCache::JwtKeyCache(JwtKeyResolver resolver, absl::Duration ttl, size_t max_entries)
    : resolver_(std::move(resolver)), ttl_(ttl), max_entries_(max_entries) {}

void JwtKeyCache::Resolve(const std::string& kid, std::function<void(absl::StatusOr<JwtKey>)> done) {
  std::optional<absl::StatusOr<JwtKey>> cached;
  bool lead = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(kid);
    if (it != cache_.end() && it->second.expiry > absl::Now()) {
      cached = it->second.answer;
    } else {
      auto [flight, inserted] = flights_.try_emplace(kid);
      flight->second.push_back(std::move(done));
      lead = inserted;
    }
  }
  if (cached.has_value()) return done(*std::move(cached));
  if (!lead) return;  // answered when the lookup in flight lands
  resolver_(kid, [this, kid](absl::StatusOr<JwtKey> answer) {
    std::vector<std::function<void(absl::StatusOr<JwtKey>)>> waiters;
    {
      absl::MutexLock lock(&mu_);
      if (answer.ok() || absl::IsNotFound(answer.status())) {
        const absl::Time now = absl::Now();
        if (cache_.size() >= max_entries_) {
          absl::erase_if(cache_, [&](const auto& e) { return e.second.expiry <= now; });
          if (cache_.size() >= max_entries_) cache_.clear();
        }
        cache_[kid] = Entry{now + ttl_, answer};
      }
      auto it = flights_.find(kid);
      if (it != flights_.end()) {
        waiters = std::move(it->second);
        flights_.erase(it);
      }
    }
    for (auto& waiter : waiters) waiter(answer);
  });
}

}  // namespace rapport::gateway
