#include "gateway/readiness.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"

namespace rapport::gateway {
namespace {

using namespace std::chrono_literals;

// A check that takes `delay`, counting calls and the threads they ran on.
struct FakeCheck {
  std::chrono::milliseconds delay{50};
  std::atomic<bool> serving{true};
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::map<std::string, bool> operator()() {
    {
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
    }
    std::this_thread::sleep_for(delay);
    return {{"rapport.profiles.v1.ProfilesService", serving.load()}};
  }
};

// Waits (bounded) for n answers.
struct Answers {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::map<std::string, bool>> got;
  void Add(const std::map<std::string, bool>& r) {
    std::lock_guard<std::mutex> lock(mu);
    got.push_back(r);
    cv.notify_all();
  }
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, 10s, [&] { return got.size() >= n; });
  }
};

TEST(ReadinessCacheTest, ConcurrentRequestsShareOneCheckOnItsOwnThread) {
  FakeCheck fake;
  ReadinessCache cache([&] { return fake(); }, 1s);
  Answers answers;
  std::vector<std::thread> callers;
  for (int i = 0; i < 16; ++i) {
    callers.emplace_back([&] { cache.Get([&](const auto& r) { answers.Add(r); }); });
  }
  for (std::thread& t : callers) t.join();
  ASSERT_TRUE(answers.WaitFor(16));
  EXPECT_EQ(cache.checks(), 1);
  for (const auto& r : answers.got) EXPECT_TRUE(r.at("rapport.profiles.v1.ProfilesService"));
  // Within the second, answered from the cache at once, on the caller's thread.
  bool inline_answer = false;
  cache.Get([&](const auto&) { inline_answer = true; });
  EXPECT_TRUE(inline_answer);
  EXPECT_EQ(cache.checks(), 1);
  // The check ran on none of the callers' threads, nor this one.
  std::lock_guard<std::mutex> lock(fake.mu);
  ASSERT_EQ(fake.threads.size(), 1u);
  EXPECT_NE(*fake.threads.begin(), std::this_thread::get_id());
}

TEST(ReadinessCacheTest, AtMostOneCheckASecondUnderAFlood) {
  FakeCheck fake;
  fake.delay = 1ms;
  ReadinessCache cache([&] { return fake(); }, 200ms);
  Answers answers;
  const auto start = std::chrono::steady_clock::now();
  size_t asked = 0;
  while (std::chrono::steady_clock::now() - start < 1s) {
    cache.Get([&](const auto& r) { answers.Add(r); });
    ++asked;
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(answers.WaitFor(asked));
  // About 5 checks in a second of 200 ms intervals (never one per request).
  EXPECT_GE(cache.checks(), 2);
  EXPECT_LE(cache.checks(), 7);
  EXPECT_GT(asked, 100u);
}

TEST(ReadinessCacheTest, AStaleResultWaitsForAFreshCheck) {
  FakeCheck fake;
  ReadinessCache cache([&] { return fake(); }, 100ms);
  Answers answers;
  cache.Get([&](const auto& r) { answers.Add(r); });
  ASSERT_TRUE(answers.WaitFor(1));
  EXPECT_TRUE(answers.got[0].begin()->second);
  fake.serving = false;
  std::this_thread::sleep_for(150ms);  // the result is now older than the interval
  cache.Get([&](const auto& r) { answers.Add(r); });
  ASSERT_TRUE(answers.WaitFor(2));
  EXPECT_FALSE(answers.got[1].begin()->second);
  EXPECT_EQ(cache.checks(), 2);
}

TEST(ReadinessCacheTest, StopAnswersWhoeverWaits) {
  absl::Notification release;
  ReadinessCache cache(
      [&] {
        release.WaitForNotificationWithTimeout(absl::Seconds(10));
        return std::map<std::string, bool>{{"svc", true}};
      },
      1s);
  Answers answers;
  cache.Get([&](const auto& r) { answers.Add(r); });
  std::thread stopper([&] { cache.Stop(); });
  release.Notify();
  stopper.join();
  ASSERT_TRUE(answers.WaitFor(1));
  // After Stop, answered at once from the last result.
  cache.Get([&](const auto& r) { answers.Add(r); });
  ASSERT_TRUE(answers.WaitFor(2));
}

}  // namespace
}  // namespace rapport::gateway
