#include "gateway/rate_limit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
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

// Holds the "blocking" work until the test runs it: every Acquire made before
// RunAll finds the lease as empty as concurrent requests would.
class QueuedExecutor {
 public:
  std::function<void(std::function<void()>)> executor() {
    return [this](std::function<void()> task) {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    };
  }
  // Runs tasks, including those they queue, until none is left; returns how many.
  int RunAll() {
    int ran = 0;
    for (;;) {
      std::function<void()> task;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (tasks_.empty()) return ran;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
      ++ran;
    }
  }

 private:
  std::mutex mu_;
  std::deque<std::function<void()>> tasks_;
};

// A small pool of threads, as the gateway runs its Redis calls on.
class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        for (;;) {
          std::function<void()> task;
          {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
            if (tasks_.empty()) return;
            task = std::move(tasks_.front());
            tasks_.pop_front();
          }
          task();
        }
      });
    }
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  std::function<void(std::function<void()>)> executor() {
    return [this](std::function<void()> task) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        tasks_.push_back(std::move(task));
      }
      cv_.notify_one();
    };
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// Collects the decisions of acquisitions answered on any thread.
class Decisions {
 public:
  std::function<void(RateDecision)> Callback() {
    return [this](RateDecision d) {
      absl::MutexLock lock(&mu_);
      decisions_.push_back(d);
    };
  }
  // Waits (up to a deadline) for n decisions; false if they did not all come.
  bool WaitFor(size_t n, absl::Duration deadline = absl::Seconds(20)) {
    absl::MutexLock lock(&mu_);
    want_ = n;
    return mu_.AwaitWithTimeout(absl::Condition(this, &Decisions::Enough), deadline);
  }
  int allowed() {
    absl::MutexLock lock(&mu_);
    int n = 0;
    for (const RateDecision& d : decisions_) n += d.allowed ? 1 : 0;
    return n;
  }
  std::vector<RateDecision> all() {
    absl::MutexLock lock(&mu_);
    return decisions_;
  }

 private:
  bool Enough() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return decisions_.size() >= want_; }

  absl::Mutex mu_;
  std::vector<RateDecision> decisions_ ABSL_GUARDED_BY(mu_);
  size_t want_ ABSL_GUARDED_BY(mu_) = 0;
};

// Acquires on limiter, one at a time, until it refuses; returns how many were
// allowed. Works whichever thread answers.
int Drain(RateLimiter& limiter, const std::string& credential, int at_most) {
  for (int i = 0; i < at_most; ++i) {
    Decisions d;
    limiter.Acquire(credential, d.Callback());
    if (!d.WaitFor(1)) {
      ADD_FAILURE() << "Acquire did not answer";
      return i;
    }
    if (d.allowed() == 0) return i;
  }
  return at_most;
}

RateLimitOptions BurstOptions(int burst) {
  RateLimitOptions o;
  o.per_minute = 1;  // no token comes back while the test runs
  o.burst = burst;   // leases of burst / 20
  o.lease_ttl = std::chrono::minutes(1);
  return o;
}

// Requests that find the lease empty while a refill is queued wait for it
// instead of each leasing its own batch (which drained the shared bucket and
// answered 429 with the tokens sitting in this process's lease).
TEST(RateLimiterTest, ConcurrentAcquisitionsWithinTheBurstAllSucceed) {
  testing::RedisServer server;
  ASSERT_TRUE(server.Start().ok());
  redis::ClientOptions ro;
  ro.addr = server.addr();
  redis::Client client(ro);
  QueuedExecutor queue;
  RateLimiter a(BurstOptions(100), &client, queue.executor());
  Decisions decisions;
  constexpr int kConcurrent = 64;
  for (int i = 0; i < kConcurrent; ++i) a.Acquire("key:k1", decisions.Callback());
  EXPECT_EQ(decisions.all().size(), 0u);  // all wait for the refill
  EXPECT_EQ(queue.RunAll(), 1);           // one refill, sized for all of them
  ASSERT_TRUE(decisions.WaitFor(kConcurrent));
  EXPECT_EQ(decisions.allowed(), kConcurrent);
  // The bucket is shared: a second instance gets exactly what is left.
  RateLimiter b(BurstOptions(100), &client, Inline);
  EXPECT_EQ(Drain(b, "key:k1", 200), 100 - kConcurrent);
  Decisions last;
  a.Acquire("key:k1", last.Callback());
  queue.RunAll();
  ASSERT_TRUE(last.WaitFor(1));
  EXPECT_EQ(last.allowed(), 0);
}

// The same with the acquisitions racing from many threads and refills on a pool.
TEST(RateLimiterTest, ConcurrentAcquisitionsFromManyThreadsWithinTheBurstAllSucceed) {
  testing::RedisServer server;
  ASSERT_TRUE(server.Start().ok());
  redis::ClientOptions ro;
  ro.addr = server.addr();
  redis::Client client(ro);
  Decisions decisions;
  constexpr int kConcurrent = 64;
  {
    Pool pool(4);
    RateLimiter a(BurstOptions(100), &client, pool.executor());
    std::vector<std::thread> threads;
    std::atomic<int> ready = 0;
    for (int i = 0; i < kConcurrent; ++i) {
      threads.emplace_back([&] {
        ++ready;
        while (ready.load() < kConcurrent) std::this_thread::yield();
        a.Acquire("key:k1", decisions.Callback());
      });
    }
    for (std::thread& t : threads) t.join();
    ASSERT_TRUE(decisions.WaitFor(kConcurrent));
    EXPECT_EQ(decisions.allowed(), kConcurrent);
    // What a leased beyond the requests is still its own to spend.
    RateLimiter b(BurstOptions(100), &client, Inline);
    const int by_b = Drain(b, "key:k1", 200);
    const int rest_of_a = Drain(a, "key:k1", 200);
    EXPECT_EQ(kConcurrent + by_b + rest_of_a, 100);
    EXPECT_GT(by_b, 0);
  }
}

// More concurrent requests than the burst: exactly the burst is allowed, the
// rest refused with a Retry-After; tokens the lease holds are spent first.
TEST(RateLimiterTest, ConcurrentAcquisitionsBeyondTheBurstAreLimited) {
  testing::RedisServer server;
  ASSERT_TRUE(server.Start().ok());
  redis::ClientOptions ro;
  ro.addr = server.addr();
  redis::Client client(ro);
  QueuedExecutor queue;
  RateLimiter a(BurstOptions(20), &client, queue.executor());
  Decisions decisions;
  for (int i = 0; i < 50; ++i) a.Acquire("key:k1", decisions.Callback());
  queue.RunAll();
  ASSERT_TRUE(decisions.WaitFor(50));
  EXPECT_EQ(decisions.allowed(), 20);
  for (const RateDecision& d : decisions.all()) {
    if (d.allowed) continue;
    EXPECT_EQ(d.limit, 1);
    EXPECT_GE(d.retry_after_seconds, 1);
    EXPECT_LE(d.retry_after_seconds, 60);
  }
}

// Two instances, each with a burst of concurrent requests, share one bucket:
// between them exactly the burst is allowed.
TEST(RateLimiterTest, ConcurrentAcquisitionsOnTwoInstancesShareTheBucket) {
  testing::RedisServer server;
  ASSERT_TRUE(server.Start().ok());
  redis::ClientOptions ro;
  ro.addr = server.addr();
  redis::Client client(ro);
  Decisions decisions;
  {
    Pool pool(4);
    RateLimiter a(BurstOptions(40), &client, pool.executor());
    RateLimiter b(BurstOptions(40), &client, pool.executor());
    std::vector<std::thread> threads;
    for (RateLimiter* l : {&a, &b}) {
      threads.emplace_back([&, l] {
        for (int i = 0; i < 30; ++i) l->Acquire("key:k1", decisions.Callback());
      });
    }
    for (std::thread& t : threads) t.join();
    ASSERT_TRUE(decisions.WaitFor(60));
    // Tokens one instance leased but did not use are still its own to spend.
    const int rest = Drain(a, "key:k1", 100) + Drain(b, "key:k1", 100);
    EXPECT_EQ(decisions.allowed() + rest, 40);
    EXPECT_GE(decisions.allowed(), 30);
  }
}

// Redis down: concurrent requests are limited by the local bucket alone.
TEST(RateLimiterTest, ConcurrentAcquisitionsFallBackToTheLocalBucketWhenRedisIsDown) {
  redis::ClientOptions ro;
  ro.addr = "127.0.0.1:" + std::to_string(testing::FreePort());  // nobody listens
  redis::Client client(ro);
  QueuedExecutor queue;
  RateLimiter limiter(BurstOptions(20), &client, queue.executor());
  Decisions decisions;
  for (int i = 0; i < 30; ++i) limiter.Acquire("key:k1", decisions.Callback());
  queue.RunAll();
  ASSERT_TRUE(decisions.WaitFor(30));
  EXPECT_EQ(decisions.allowed(), 20);
}

TEST(RateLimiterTest, DisabledAllowsEverything) {
  RateLimitOptions o = Options();
  o.per_minute = 0;
  RateLimiter limiter(o, nullptr, Inline);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(AcquireNow(limiter, "k").allowed);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(limiter.Take("k").allowed);
}

TEST(RateLimiterTest, TakeSpendsTheLocalBucketAndRefundGivesBack) {
  RateLimitOptions o;
  o.per_minute = 6;  // a token every 10 s
  o.burst = 2;
  RateLimiter limiter(o, nullptr, nullptr);
  EXPECT_EQ(limiter.Take("10.0.0.1").remaining, 1);
  limiter.Refund("10.0.0.1");
  limiter.Refund("10.0.0.1");  // never above the burst
  EXPECT_EQ(limiter.Take("10.0.0.1").remaining, 1);
  EXPECT_EQ(limiter.Take("10.0.0.1").remaining, 0);
  RateDecision d = limiter.Take("10.0.0.1");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.limit, 6);
  EXPECT_GE(d.retry_after_seconds, 9);
  EXPECT_LE(d.retry_after_seconds, 10);
  EXPECT_TRUE(limiter.Take("10.0.0.2").allowed);  // each key its own bucket
  limiter.Refund("10.0.0.1");
  EXPECT_TRUE(limiter.Take("10.0.0.1").allowed);
}

}  // namespace
}  // namespace rapport::gateway
