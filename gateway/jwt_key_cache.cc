#include "gateway/jwt_key_cache.h"

#include <optional>
#include <utility>

#include "absl/time/clock.h"

namespace rapport::gateway {

JwtKeyCache::JwtKeyCache(JwtKeyResolver resolver, absl::Duration ttl, size_t max_entries)
    : resolver_(std::move(resolver)), ttl_(ttl), max_entries_(max_entries) {}

void JwtKeyCache::Resolve(const std::string& kid, std::function<void(absl::StatusOr<JwtKey>)> done, Guard guard) {
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
  if (guard.admit) {
    if (absl::Status admitted = guard.admit(); !admitted.ok()) return Land(kid, admitted);
  }
  resolver_(kid, [this, kid, after = std::move(guard.after)](absl::StatusOr<JwtKey> answer) {
    if (answer.ok() || absl::IsNotFound(answer.status())) {
      absl::MutexLock lock(&mu_);
      const absl::Time now = absl::Now();
      if (cache_.size() >= max_entries_) {
        absl::erase_if(cache_, [&](const auto& e) { return e.second.expiry <= now; });
        if (cache_.size() >= max_entries_) cache_.clear();
      }
      cache_[kid] = Entry{now + ttl_, answer};
    }
    if (after) after(answer);
    Land(kid, answer);
  });
}

void JwtKeyCache::Land(const std::string& kid, const absl::StatusOr<JwtKey>& answer) {
  std::vector<std::function<void(absl::StatusOr<JwtKey>)>> waiters;
  {
    absl::MutexLock lock(&mu_);
    auto it = flights_.find(kid);
    if (it == flights_.end()) return;
    waiters = std::move(it->second);
    flights_.erase(it);
  }
  for (auto& waiter : waiters) waiter(answer);
}

}  // namespace rapport::gateway
