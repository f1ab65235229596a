// Sampling of repeated log lines per key (the client address of requests
// refused for their credentials), so that a client flooding the gateway with
// bad or missing credentials cannot flood its log too: in each window (a
// minute) the first `first` lines of a key are written, then one in `every`;
// a written line carries how many of the key's lines were suppressed since
// the one before, so counts can still be summed from the log.
//
// Keys are forgotten when their window ends; at most `max_keys` are tracked
// (beyond that, lines of new keys are sampled under one shared key).
//
// Thread-safety: safe for concurrent use.
#ifndef RAPPORT_GATEWAY_LOG_SAMPLER_H_
#define RAPPORT_GATEWAY_LOG_SAMPLER_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace rapport::gateway {

struct LogSamplerOptions {
  int first = 10;   // lines written per key and window before sampling
  int every = 100;  // then one line in this many
  std::chrono::steady_clock::duration window = std::chrono::minutes(1);
  size_t max_keys = 10000;
};

class LogSampler {
 public:
  struct Verdict {
    bool write = true;
    int64_t suppressed = 0;  // the key's lines dropped since its last written one
  };

  explicit LogSampler(LogSamplerOptions options = {}) : options_(options) {}

  // Whether to write the key's next line, at now.
  Verdict Sample(const std::string& key, std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    int64_t seen = 0;        // lines in this window
    int64_t suppressed = 0;  // since the last written line (carried across windows)
  };
  const LogSamplerOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Window> windows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_LOG_SAMPLER_H_
