// Tests of the small shared utilities: ids, time conversions, JSON log escaping.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <chrono>
#include <set>
#include <thread>

#include "services/common/ids.h"
#include "services/common/log.h"
#include "services/common/polling_loop.h"
#include "services/common/time_util.h"

namespace rapport {
namespace {

TEST(IdsTest, UniqueWellFormedAndTimeOrdered) {
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 2000; ++i) {
    std::string id = NewId();
    EXPECT_EQ(id.size(), 26u);
    EXPECT_TRUE(IsWellFormedId(id)) << id;
    EXPECT_TRUE(seen.insert(id).second) << "duplicate " << id;
    // Same-millisecond ids are random in their low bits; the time prefix never goes back.
    if (!previous.empty()) {
      EXPECT_GE(id.substr(0, 10), previous.substr(0, 10));
    }
    previous = id;
  }
}

TEST(IdsTest, WellFormedRejectsOddInput) {
  EXPECT_FALSE(IsWellFormedId(""));
  EXPECT_FALSE(IsWellFormedId("ABC"));
  EXPECT_FALSE(IsWellFormedId("a/b"));
  EXPECT_FALSE(IsWellFormedId(std::string(65, 'a')));
  EXPECT_TRUE(IsWellFormedId("me"));
}

TEST(IdsTest, RandomHexLength) {
  EXPECT_EQ(RandomHex(16).size(), 32u);
  EXPECT_NE(RandomHex(16), RandomHex(16));
}

TEST(TimeUtilTest, TimestampRoundTripIncludingNegative) {
  for (int64_t micros : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1700000000123456},
                         int64_t{-1500000}}) {
    auto ts = ToTimestamp(micros);
    EXPECT_GE(ts.nanos(), 0);
    EXPECT_EQ(TimestampToMicros(ts), micros);
  }
}

TEST(TimeUtilTest, ValidRange) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(253402300800LL);
  EXPECT_FALSE(IsValidTimestamp(ts));
  ts.set_seconds(0);
  ts.set_nanos(-1);
  EXPECT_FALSE(IsValidTimestamp(ts));
  ts.set_nanos(5);
  EXPECT_TRUE(IsValidTimestamp(ts));
}

TEST(LogTest, JsonEscaping) {
  std::string out;
  log::AppendJsonString(&out, "a\"b\\c\nd\x01");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\u0001\"");
}

// Waits for cond with a deadline, polling; never a fixed sleep as a sync.
bool Eventually(const std::function<bool()>& cond) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

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
  loop.Start();  // idempotent
  EXPECT_TRUE(Eventually([&] { return steps.load() == 6; }));  // 5 with more, then idle
  loop.Wake();
  EXPECT_TRUE(Eventually([&] { return steps.load() == 7; }));
  loop.Stop();   // returns although the idle wait is an hour
  loop.Stop();   // idempotent
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
  EXPECT_TRUE(Eventually([&] { return steps.load() == 3; }));  // two failures retried, then idle
}

}  // namespace
}  // namespace rapport
