#include "services/common/polling_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "tests/testing/harness.h"

namespace rapport {
namespace {

using ::rapport::testing::WaitFor;

constexpr std::chrono::seconds kDeadline{10};

TEST(PollingLoopTest, RunsAgainAtOnceWhileMoreAndWakesFromALongIdle) {
  std::atomic<int> steps{0};
  std::atomic<int> more_left{5};
  PollingLoop::Options options;
  options.what = "test loop";
  options.idle = std::chrono::hours(1);  // only Wake or more work can bring the next step
  options.retry = std::chrono::hours(1);
  PollingLoop loop(options, [&]() -> absl::StatusOr<bool> {
    ++steps;
    return more_left.fetch_sub(1) > 0;
  });
  loop.Start();
  loop.Start();                                                        // idempotent
  EXPECT_TRUE(WaitFor([&] { return steps.load() == 6; }, kDeadline));  // 5 with more, then idle
  loop.Wake();
  EXPECT_TRUE(WaitFor([&] { return steps.load() == 7; }, kDeadline));
  loop.Stop();  // returns although the idle wait is an hour
  loop.Stop();  // idempotent
  int after = steps.load();
  loop.Wake();
  EXPECT_EQ(steps.load(), after);
}

TEST(PollingLoopTest, RetriesAfterAFailure) {
  std::atomic<int> steps{0};
  PollingLoop::Options options;
  options.what = "test loop";
  options.idle = std::chrono::hours(1);
  options.retry = std::chrono::milliseconds(1);
  PollingLoop loop(options, [&]() -> absl::StatusOr<bool> {
    int n = ++steps;
    if (n < 3) return absl::UnavailableError("down");
    return false;
  });
  loop.Start();
  EXPECT_TRUE(WaitFor([&] { return steps.load() == 3; }, kDeadline));  // two failures retried, then idle
}

}  // namespace
}  // namespace rapport
