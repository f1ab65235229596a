#include "gateway/rate_limit.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"

namespace rapport::gateway {
namespace {

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
  auto [it, inserted] = local_.try_emplace(credential);
  LocalBucket& b = it->second;
  if (inserted) {
    b.tokens = options_.burst;
    b.last = now;
  }
  b.tokens = std::min<double>(options_.burst, b.tokens + std::chrono::duration<double>(now - b.last).count() * per_second);
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

void RateLimiter::Acquire(const std::string& credential, std::function<void(RateDecision)> done) {
  if (!enabled()) return done(RateDecision{});
  if (redis_ == nullptr) return done(Local(credential));
  std::optional<RateDecision> from_lease;
  {
    absl::MutexLock lock(&mu_);
    auto it = leases_.find(credential);
    if (it != leases_.end() && it->second.tokens > 0 && it->second.expiry > std::chrono::steady_clock::now()) {
      from_lease = FromLease(it->second);
    }
  }
  if (from_lease.has_value()) return done(*from_lease);
  executor_([this, credential, done = std::move(done)]() mutable { Refill(credential, std::move(done)); });
}

void RateLimiter::Refill(const std::string& credential, std::function<void(RateDecision)> done) {
  const int lease_size = options_.lease_size > 0 ? options_.lease_size : std::max(1, options_.burst / 20);
  const double per_ms = options_.per_minute / 60000.0;
  absl::StatusOr<redis::Reply> reply =
      redis_->Command({"EVAL", kLeaseScript, "1", absl::StrCat("rapport:ratelimit:", credential),
                       absl::StrCat(per_ms), absl::StrCat(options_.burst), absl::StrCat(lease_size)});
  if (!reply.ok() || reply->type != redis::Reply::Type::kArray || reply->elements.size() != 3) {
    return done(Local(credential));  // Redis down: this instance limits alone
  }
  const int granted = static_cast<int>(reply->elements[0].integer);
  const int left = static_cast<int>(reply->elements[1].integer);
  const long long wait_ms = reply->elements[2].integer;
  if (granted == 0) {
    RateDecision d;
    d.allowed = false;
    d.limit = options_.per_minute;
    d.retry_after_seconds = std::max(1, static_cast<int>((wait_ms + 999) / 1000));
    return done(d);
  }
  RateDecision d;
  {
    absl::MutexLock lock(&mu_);
    Lease& lease = leases_[credential];
    // Tokens of a live earlier lease stay usable; an expired lease's are dropped.
    const bool live = lease.expiry > std::chrono::steady_clock::now();
    lease.tokens = (live ? std::max(0, lease.tokens) : 0) + granted;
    lease.bucket_remaining = left;
    lease.expiry = std::chrono::steady_clock::now() + options_.lease_ttl;
    d = FromLease(lease);
    if (leases_.size() > 100000) leases_.clear();
  }
  done(d);
}

}  // namespace rapport::gateway
