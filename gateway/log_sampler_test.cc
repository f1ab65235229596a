#include "gateway/log_sampler.h"

#include <gtest/gtest.h>

#include <chrono>

namespace rapport::gateway {
namespace {

using std::chrono::seconds;

TEST(LogSamplerTest, FirstLinesThenOneInEveryWithTheCountSuppressed) {
  LogSampler sampler(LogSamplerOptions{.first = 3, .every = 10});
  const auto t0 = std::chrono::steady_clock::now();
  int written = 0;
  int64_t suppressed = 0;
  for (int i = 0; i < 33; ++i) {
    LogSampler::Verdict v = sampler.Sample("203.0.113.5", t0);
    if (v.write) {
      ++written;
      suppressed += v.suppressed;
    }
  }
  // 3 written, then lines 13, 23 and 33 (one in ten), each after 9 suppressed.
  EXPECT_EQ(written, 6);
  EXPECT_EQ(suppressed, 27);
  EXPECT_EQ(written + suppressed, 33);
  // Another key is not sampled because of the first one.
  EXPECT_TRUE(sampler.Sample("198.51.100.7", t0).write);
}

TEST(LogSamplerTest, ANewWindowWritesAgainAndReportsWhatWasSuppressed) {
  LogSampler sampler(LogSamplerOptions{.first = 1, .every = 1000});
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(sampler.Sample("k", t0).write);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(sampler.Sample("k", t0 + seconds(1)).write);
  LogSampler::Verdict next = sampler.Sample("k", t0 + seconds(61));
  EXPECT_TRUE(next.write);
  EXPECT_EQ(next.suppressed, 5);
  EXPECT_FALSE(sampler.Sample("k", t0 + seconds(62)).write);
}

TEST(LogSamplerTest, KeysBeyondTheBoundShareOneWindow) {
  LogSampler sampler(LogSamplerOptions{.first = 2, .every = 1000, .max_keys = 4});
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(sampler.Sample("key" + std::to_string(i), t0).write);
  // Every key after the fourth is sampled together: two lines, then none.
  int written = 0;
  for (int i = 4; i < 100; ++i) written += sampler.Sample("key" + std::to_string(i), t0).write ? 1 : 0;
  EXPECT_EQ(written, 2);
  // Once the windows ended, new keys are tracked again.
  EXPECT_TRUE(sampler.Sample("late", t0 + seconds(61)).write);
  EXPECT_TRUE(sampler.Sample("late", t0 + seconds(61)).write);
}

}  // namespace
}  // namespace rapport::gateway
