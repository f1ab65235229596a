#include "gateway/rate_limit.h"

#include <gtest/gtest.h>

#include "tests/testing/harness.h"

namespace rapport::gateway {
namespace {

// Runs the "blocking" work inline: the test's thread is the executor.
void Inline(std::function<void()> task) { task(); }

RateDecision AcquireNow(RateLimiter& limiter, const std::string& credential) {
  RateDecision out;
  out.limit = -1;
  limiter.Acquire(credential, [&](RateDecision d) { out = d; });
  EXPECT_NE(out.limit, -1) << "Acquire did not answer";
  return out;
}

RateLimitOptions Options() {
  RateLimitOptions o;
  o.per_minute = 6;  // one token every 10 s: none come back during the test
  o.burst = 5;
  o.lease_size = 2;
  return o;
}

TEST(RateLimiterTest, SharesOneBucketInRedisAcrossInstances) {
  testing::RedisServer server;
  ASSERT_TRUE(server.Start().ok());
  redis::ClientOptions ro;
  ro.addr = server.addr();
  redis::Client client(ro);
  RateLimiter a(Options(), &client, Inline);
  RateLimiter b(Options(), &client, Inline);
  // Leases of 2: a takes 2, b takes 2, a takes the last one.
  int allowed = 0;
  for (RateLimiter* l : {&a, &a, &b, &b, &a, &a, &b}) allowed += AcquireNow(*l, "key:k1").allowed ? 1 : 0;
  EXPECT_EQ(allowed, 5);
  RateDecision refused = AcquireNow(b, "key:k1");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.limit, 6);
  EXPECT_GE(refused.retry_after_seconds, 1);
  EXPECT_LE(refused.retry_after_seconds, 10);
  // Another credential has its own bucket.
  RateDecision other = AcquireNow(a, "key:k2");
  EXPECT_TRUE(other.allowed);
  EXPECT_EQ(other.remaining, 4);
}

TEST(RateLimiterTest, FallsBackToALocalBucketWhenRedisIsDown) {
  redis::ClientOptions ro;
  ro.addr = "127.0.0.1:" + std::to_string(testing::FreePort());  // nobody listens
  redis::Client client(ro);
  RateLimiter limiter(Options(), &client, Inline);
  int allowed = 0;
  for (int i = 0; i < 8; ++i) allowed += AcquireNow(limiter, "key:k1").allowed ? 1 : 0;
  EXPECT_EQ(allowed, 5);
}

TEST(RateLimiterTest, DisabledAllowsEverything) {
  RateLimitOptions o = Options();
  o.per_minute = 0;
  RateLimiter limiter(o, nullptr, Inline);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(AcquireNow(limiter, "k").allowed);
}

}  // namespace
}  // namespace rapport::gateway
