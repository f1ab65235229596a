// The weekly health job under a clock the test moves: one snapshot per user
// and finished week, two replicas never double it, and the catch-up rule
// (after an outage only the week that ended last is taken, late).
#include "services/recommendations/health_snapshots.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "absl/time/civil_time.h"
#include "services/common/time_util.h"
#include "services/recommendations/test_network.h"
#include "tests/testing/test_database.h"

namespace rapport::recommendations {
namespace {

constexpr int64_t kDayUs = int64_t{86400} * 1000000;
constexpr int64_t kWeekUs = 7 * kDayUs;

int64_t At(int y, int m, int d, int h = 0) {
  return ToMicros(absl::FromCivil(absl::CivilSecond(y, m, d, h, 0, 0), absl::UTCTimeZone()));
}

class HealthSnapshotsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto options = rapport::testing::TestDatabase(GetParam(), "recommendations");
    if (options.status().code() == absl::StatusCode::kFailedPrecondition) GTEST_SKIP() << options.status();
    ASSERT_TRUE(options.ok()) << options.status();
    if (!options->path.empty()) dir_ = std::filesystem::path(options->path).parent_path();
    auto s = RecommendationsStore::Open(*options);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    net_.User("o1", "u1", "Uma");
    net_.User("o1", "u2", "Ugo");
    net_.User("o2", "v1", "Vic");
    net_.Contact("o1", "u1", "c1", "Ann");
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<HealthSnapshotter> Replica(const std::string& name) {
    HealthSnapshotOptions options;
    options.holder = name;
    options.now = [this] { return now_; };
    return std::make_unique<HealthSnapshotter>(&net_.model, store_.get(), nullptr, options);
  }
  std::vector<HealthSnapshot> Of(const std::string& org, const std::string& user) {
    return store_->ListSnapshots({org, user}, 0, At(2100, 1, 1)).value();
  }

  std::filesystem::path dir_;
  std::unique_ptr<RecommendationsStore> store_;
  testing::TestNetwork net_;
  int64_t now_ = 0;
};

TEST_P(HealthSnapshotsTest, WeeksStartOnMondayUtc) {
  SnapshotPeriod week;
  EXPECT_EQ(week.StartOf(At(2026, 12, 5, 13)), At(2026, 11, 30));  // a Saturday -> Monday 30 Nov
  EXPECT_EQ(week.StartOf(At(2026, 11, 30)), At(2026, 11, 30));
  EXPECT_EQ(week.StartOf(At(2026, 11, 29, 23)), At(2026, 11, 23));
}

TEST_P(HealthSnapshotsTest, OnePerUserAndWeekWhateverTheReplicasAndRuns) {
  auto a = Replica("r1");
  auto b = Replica("r2");
  now_ = At(2026, 12, 1, 9);    // Tuesday: the week of 23 Nov has ended
  EXPECT_EQ(*a->RunOnce(), 2);  // both orgs
  EXPECT_EQ(*b->RunOnce(), 0);  // taken already
  EXPECT_EQ(*a->RunOnce(), 0);
  now_ += kDayUs;
  EXPECT_EQ(*b->RunOnce(), 0);  // same week still
  ASSERT_EQ(Of("o1", "u1").size(), 1u);
  EXPECT_EQ(Of("o1", "u1")[0].week_start_us, At(2026, 11, 23));
  EXPECT_EQ(Of("o1", "u1")[0].taken_us, At(2026, 12, 1, 9));
  EXPECT_EQ(Of("o1", "u1")[0].health.size(), 1);
  EXPECT_EQ(Of("o1", "u2")[0].health.size(), 0);
  EXPECT_EQ(Of("o2", "v1").size(), 1u);

  now_ = At(2026, 12, 7, 0);  // the next Monday
  EXPECT_EQ(*b->RunOnce(), 2);
  EXPECT_EQ(*a->RunOnce(), 0);
  EXPECT_EQ(Of("o1", "u1").size(), 2u);
}

TEST_P(HealthSnapshotsTest, AfterAnOutageOnlyTheLastFinishedWeekIsTakenLate) {
  auto a = Replica("r1");
  now_ = At(2026, 11, 24);
  EXPECT_EQ(*a->RunOnce(), 2);  // week of 16 Nov
  now_ = At(2026, 12, 10, 15);  // down across two Mondays
  EXPECT_EQ(*a->RunOnce(), 2);
  std::vector<HealthSnapshot> s = Of("o1", "u1");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].week_start_us, At(2026, 11, 16));
  EXPECT_EQ(s[1].week_start_us, At(2026, 11, 30));  // the week of 23 Nov stays a gap
  EXPECT_EQ(s[1].taken_us, At(2026, 12, 10, 15));
}

TEST_P(HealthSnapshotsTest, ALeaseLeftByADeadReplicaIsTakenOverAfterItExpires) {
  now_ = At(2026, 12, 1);
  const int64_t week = At(2026, 11, 23);
  ASSERT_TRUE(*store_->ClaimSnapshotLease("o1", week, "dead", now_, 600 * int64_t{1000000}));
  auto a = Replica("r1");
  EXPECT_EQ(*a->RunOnce(), 1);  // o2 only: o1 is leased
  EXPECT_TRUE(Of("o1", "u1").empty());
  now_ += 601 * int64_t{1000000};
  EXPECT_EQ(*a->RunOnce(), 1);  // o1, taken over
  EXPECT_EQ(Of("o1", "u1").size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Drivers, HealthSnapshotsTest, ::testing::ValuesIn(rapport::testing::Drivers()),
                         rapport::testing::DriverName);

}  // namespace
}  // namespace rapport::recommendations
