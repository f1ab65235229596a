// The Redis cache of recommendation results, per (org, user, rpc, request).
//
// Keys: "<org>:recommendations:r:<user>:<rpc>:<user gen>:<org gen>:<sha256 of
// the request>" with a TTL. Invalidation never deletes results: events bump
// generation counters ("<org>:recommendations:gen:<user>" for the user's own
// data, "<org>:recommendations:gen" for anything a teammate's view may use),
// and a result is looked up under the current generations, so a bumped
// result is never read again and expires on its own. Generations are read
// before computing, so a result computed from an older model is stored under
// the older generation and a result never hides an event applied before it
// was looked up.
//
// Redis is never required: a failed read computes, a failed write is
// ignored, and a failed bump makes the cache bypass itself for one TTL (every
// result stored before the lost bump has expired by then).
//
// Thread-safety: safe for concurrent use.
#ifndef RAPPORT_SERVICES_RECOMMENDATIONS_RESULT_CACHE_H_
#define RAPPORT_SERVICES_RECOMMENDATIONS_RESULT_CACHE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "services/common/redis_client.h"

namespace rapport::recommendations {

struct ResultCacheOptions {
  bool enabled = true;
  std::chrono::milliseconds ttl{std::chrono::minutes(5)};
};

class ResultCache {
 public:
  // redis must outlive the cache.
  ResultCache(redis::Client* redis, ResultCacheOptions options);

  // The cached serialized result, or compute()'s (stored when OK). org_wide:
  // the result depends on teammates' data too (paths, groups).
  absl::StatusOr<std::string> GetOrCompute(const std::string& org, const std::string& user, const std::string& rpc,
                                           const std::string& request_bytes, bool org_wide,
                                           const std::function<absl::StatusOr<std::string>()>& compute);

  // After an event of (org, user) was applied to the read model. org_wide:
  // the event may change what teammates see.
  void Invalidate(const std::string& org, const std::string& user, bool org_wide);

  // Counters for tests and logs.
  int64_t hits() const { return hits_.load(); }
  int64_t misses() const { return misses_.load(); }

 private:
  bool Trusted() const;

  redis::Client* redis_;
  ResultCacheOptions options_;
  std::atomic<int64_t> untrusted_until_ms_{0};
  std::atomic<int64_t> hits_{0};
  std::atomic<int64_t> misses_{0};
};

}  // namespace rapport::recommendations

#endif  // RAPPORT_SERVICES_RECOMMENDATIONS_RESULT_CACHE_H_
