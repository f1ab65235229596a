// Per-credential rate limiting: a token bucket per credential kept in Redis,
// shared by every gateway instance, handed out in small leases. A request
// spends one token from the instance's local lease; when the lease is empty
// (or older than lease_ttl) the instance asks Redis for another lease with one
// Lua script that refills the bucket by Redis' own clock and grants up to
// `lease_size` tokens. When Redis is unreachable the instance falls back to a
// local bucket with the same limits, so a Redis outage never fails requests
// (each instance then limits on its own).
//
// Acquire never blocks its caller: a lease refill runs on `executor` and the
// callback follows from there; a decision from the local lease is given at once.
// At most one refill per credential is in flight: requests that find the lease
// empty or expired queue behind it (no thread waits) and are answered from the
// lease it brings back, which is sized for all of them (up to `burst`).
//
// Thread-safety: safe for concurrent use.
#ifndef RAPPORT_GATEWAY_RATE_LIMIT_H_
#define RAPPORT_GATEWAY_RATE_LIMIT_H_

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "services/common/redis_client.h"

namespace rapport::gateway {

struct RateLimitOptions {
  int per_minute = 600;  // refill rate; 0 disables limiting
  int burst = 100;       // bucket capacity
  int lease_size = 0;    // tokens per lease; 0: burst / 20, at least 1
  std::chrono::milliseconds lease_ttl{1000};
};

struct RateDecision {
  bool allowed = true;
  int limit = 0;                // X-RateLimit-Limit (requests per minute)
  int remaining = 0;            // X-RateLimit-Remaining (approximate across instances)
  int retry_after_seconds = 0;  // when refused
};

class RateLimiter {
 public:
  // redis may be null (local buckets only). executor runs blocking Redis calls.
  RateLimiter(RateLimitOptions options, redis::Client* redis, std::function<void(std::function<void()>)> executor);

  bool enabled() const { return options_.per_minute > 0; }
  // Spends one token of credential's bucket; done is called exactly once.
  void Acquire(const std::string& credential, std::function<void(RateDecision)> done);

  // Buckets of this process only (never Redis), for work that may be given
  // back (API-key lookups per client address, refunded unless the key is
  // refused): Take answers at once, spending a token when one is left;
  // Refund returns a token taken (the bucket never exceeds its burst).
  RateDecision Take(const std::string& key);
  void Refund(const std::string& key);

 private:
  using Done = std::function<void(RateDecision)>;
  struct Lease {
    int tokens = 0;
    int bucket_remaining = 0;  // what Redis said was left after the lease
    std::chrono::steady_clock::time_point expiry;
    bool refilling = false;    // a Refill for this credential is queued or running
    std::deque<Done> waiters;  // requests waiting for that refill, oldest first
  };
  struct Answer {
    Done done;
    RateDecision decision;
  };
  struct LocalBucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
  };
  RateDecision FromLease(Lease& lease);
  // Answers waiters from lease while it is live and holds tokens.
  void ServeWaiters(Lease& lease, std::vector<Answer>& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  RateDecision Local(const std::string& credential);
  // One round of the credential's single refill: runs on executor_.
  void Refill(const std::string& credential);

  const RateLimitOptions options_;
  redis::Client* const redis_;
  const std::function<void(std::function<void()>)> executor_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Lease> leases_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, LocalBucket> local_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_RATE_LIMIT_H_
