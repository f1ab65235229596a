#include "gateway/rate_limit.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace rapport::gateway {
namespace {

// Beyond this many credentials the idle leases (and the full local buckets) are dropped.
constexpr size_t kMaxLeases = 100000;

// KEYS[1]: the bucket. ARGV: tokens per ms, capacity, tokens wanted.
// Returns {granted, tokens left (floor), ms until one token when none granted}.
constexpr char kLeaseScript[] = R"lua(
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
local wait = 0
if granted == 0 then wait = math.ceil((1 - tokens) / rate) end
return {granted, math.floor(tokens), wait}
)lua";

}  // namespace

RateLimiter::RateLimiter(RateLimitOptions options, redis::Client* redis,
                         std::function<void(std::function<void()>)> executor)
    : options_(std::move(options)), redis_(redis), executor_(std::move(executor)) {}

RateDecision RateLimiter::FromLease(Lease& lease) {
  RateDecision d;
  d.limit = options_.per_minute;
  --lease.tokens;
  d.remaining = std::max(0, lease.bucket_remaining + lease.tokens);
  return d;
}

RateDecision RateLimiter::Local(const std::string& credential) {
  const auto now = std::chrono::steady_clock::now();
  const double per_second = options_.per_minute / 60.0;
  absl::MutexLock lock(&mu_);
  if (local_.size() >= kMaxLeases && !local_.contains(credential)) {
    // Bound the map: a bucket that has refilled to the brim is the same as none.
    const auto full_after = std::chrono::duration<double>(options_.burst / per_second);
    absl::erase_if(local_, [&](const auto& entry) { return now - entry.second.last >= full_after; });
  }
  auto [it, inserted] = local_.try_emplace(credential);
  LocalBucket& b = it->second;
  if (inserted) {
    b.tokens = options_.burst;
    b.last = now;
  }
  b.tokens =
      std::min<double>(options_.burst, b.tokens + std::chrono::duration<double>(now - b.last).count() * per_second);
  b.last = now;
  RateDecision d;
  d.limit = options_.per_minute;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    d.remaining = static_cast<int>(b.tokens);
  } else {
    d.allowed = false;
    d.retry_after_seconds = std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / per_second)));
  }
  return d;
}

RateDecision RateLimiter::Take(const std::string& key) {
  if (!enabled()) return RateDecision{};
  return Local(key);
}

void RateLimiter::Refund(const std::string& key) {
  if (!enabled()) return;
  absl::MutexLock lock(&mu_);
  auto it = local_.find(key);
  if (it != local_.end()) it->second.tokens = std::min<double>(options_.burst, it->second.tokens + 1);
}

void RateLimiter::ServeWaiters(Lease& lease, std::vector<Answer>& out) {
  const auto now = std::chrono::steady_clock::now();
  while (!lease.waiters.empty() && lease.tokens > 0 && lease.expiry > now) {
    out.push_back({std::move(lease.waiters.front()), FromLease(lease)});
    lease.waiters.pop_front();
  }
}

void RateLimiter::Acquire(const std::string& credential, std::function<void(RateDecision)> done) {
  if (!enabled()) return done(RateDecision{});
  if (redis_ == nullptr) return done(Local(credential));
  std::optional<RateDecision> from_lease;
  bool start_refill = false;
  {
    absl::MutexLock lock(&mu_);
    if (leases_.size() >= kMaxLeases && !leases_.contains(credential)) {
      // Bound the map; entries with a refill in flight hold waiters: keep them.
      absl::erase_if(leases_, [](const auto& entry) { return !entry.second.refilling; });
    }
    Lease& lease = leases_[credential];
    if (lease.tokens > 0 && lease.expiry > std::chrono::steady_clock::now()) {
      from_lease = FromLease(lease);
    } else {
      // Queue behind the credential's refill, starting it if none is in flight.
      lease.waiters.push_back(std::move(done));
      start_refill = !lease.refilling;
      lease.refilling = true;
    }
  }
  if (from_lease.has_value()) return done(*from_lease);
  if (start_refill) executor_([this, credential] { Refill(credential); });
}

void RateLimiter::Refill(const std::string& credential) {
  const int lease_size = options_.lease_size > 0 ? options_.lease_size : std::max(1, options_.burst / 20);
  std::vector<Answer> answers;
  int want = 0;
  {
    // Re-check under the mutex: the lease may serve the waiters without Redis.
    absl::MutexLock lock(&mu_);
    Lease& lease = leases_[credential];
    ServeWaiters(lease, answers);
    if (lease.waiters.empty()) {
      lease.refilling = false;
    } else {
      // Enough for everyone waiting, so a burst needs one round trip.
      want = std::max(lease_size, std::min(static_cast<int>(lease.waiters.size()), options_.burst));
    }
  }
  for (Answer& a : answers) a.done(a.decision);
  answers.clear();
  if (want == 0) return;

  const double per_ms = options_.per_minute / 60000.0;
  absl::StatusOr<redis::Reply> reply =
      redis_->Command({"EVAL", kLeaseScript, "1", absl::StrCat("rapport:ratelimit:", credential), absl::StrCat(per_ms),
                       absl::StrCat(options_.burst), absl::StrCat(want)});
  if (!reply.ok() || reply->type != redis::Reply::Type::kArray || reply->elements.size() != 3) {
    // Redis down: this instance limits alone, every waiter from the local bucket.
    std::deque<Done> waiters;
    {
      absl::MutexLock lock(&mu_);
      Lease& lease = leases_[credential];
      waiters.swap(lease.waiters);
      lease.refilling = false;
    }
    for (Done& done : waiters) done(Local(credential));
    return;
  }
  const int granted = static_cast<int>(reply->elements[0].integer);
  const int left = static_cast<int>(reply->elements[1].integer);
  const long long wait_ms = reply->elements[2].integer;
  bool again = false;
  {
    absl::MutexLock lock(&mu_);
    Lease& lease = leases_[credential];
    const auto now = std::chrono::steady_clock::now();
    if (granted > 0) {
      // Tokens of a live earlier lease stay usable; an expired lease's are dropped.
      const bool live = lease.expiry > now;
      lease.tokens = (live ? std::max(0, lease.tokens) : 0) + granted;
      lease.expiry = now + options_.lease_ttl;
    }
    lease.bucket_remaining = left;
    // Tokens still in a live lease are spent before anyone is refused.
    ServeWaiters(lease, answers);
    if (lease.waiters.empty()) {
      lease.refilling = false;
    } else if (granted > 0) {
      again = true;  // more arrived than this lease held: another round
    } else {
      RateDecision refused;
      refused.allowed = false;
      refused.limit = options_.per_minute;
      refused.retry_after_seconds = std::max(1, static_cast<int>((wait_ms + 999) / 1000));
      for (Done& done : lease.waiters) answers.push_back({std::move(done), refused});
      lease.waiters.clear();
      lease.refilling = false;
    }
  }
  for (Answer& a : answers) a.done(a.decision);
  // A fresh task rather than a loop, so one busy credential does not hold a
  // pool thread for good.
  if (again) executor_([this, credential] { Refill(credential); });
}

}  // namespace rapport::gateway
