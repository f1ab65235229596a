#include "services/recommendations/recommendations_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/await.h"
#include "tests/testing/test_database.h"

namespace rapport::recommendations {
namespace {

constexpr int64_t kWeekUs = int64_t{7} * 86400 * 1000000;
constexpr int64_t kBaseUs = int64_t{1780000000} * 1000000;

// Every test runs against both drivers of the database layer.
class RecommendationsStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto options = rapport::testing::TestDatabase(GetParam(), "recommendations");
    if (options.status().code() == absl::StatusCode::kFailedPrecondition) GTEST_SKIP() << options.status();
    ASSERT_TRUE(options.ok()) << options.status();
    if (!options->path.empty()) dir_ = std::filesystem::path(options->path).parent_path();
    auto s = RecommendationsStore::Open(*options);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  absl::Status Put(const Owner& o, const ItemAction& a) {
    return rapport::testing::AwaitStatus([&](DoneStatus d) { store_->PutAction(o, a, d); });
  }
  static v1::NetworkHealth Health(int size) {
    v1::NetworkHealth h;
    h.set_size(size);
    return h;
  }

  std::filesystem::path dir_;
  std::unique_ptr<RecommendationsStore> store_;
};

TEST_P(RecommendationsStoreTest, ActionsArePerUserAndALaterOneReplacesTheEarlier) {
  const Owner u1{"o1", "u1"}, u2{"o1", "u2"}, other{"o2", "u1"};
  ASSERT_TRUE(Put(u1, {"reachOuts", "c1", true, 0, kBaseUs}).ok());
  ASSERT_TRUE(Put(u1, {"followUps", "c2", false, kBaseUs + kWeekUs, kBaseUs}).ok());
  ASSERT_TRUE(Put(u2, {"reachOuts", "c9", true, 0, kBaseUs}).ok());
  ASSERT_TRUE(Put(u1, {"reachOuts", "c1", false, kBaseUs + 2 * kWeekUs, kBaseUs + 1}).ok());  // snooze replaces
  auto actions = store_->ListActions(u1);
  ASSERT_TRUE(actions.ok()) << actions.status();
  ASSERT_EQ(actions->size(), 2u);
  EXPECT_EQ((*actions)[0].kind, "followUps");
  EXPECT_EQ((*actions)[1].item_id, "c1");
  EXPECT_FALSE((*actions)[1].dismissed);
  EXPECT_EQ((*actions)[1].until_us, kBaseUs + 2 * kWeekUs);
  EXPECT_EQ((*actions)[1].acted_us, kBaseUs + 1);
  EXPECT_TRUE(store_->ListActions(other)->empty());
}

TEST_P(RecommendationsStoreTest, OneHolderPerOrgWeekUntilItExpiresAndNoneOnceFinished) {
  const int64_t week = kBaseUs;
  EXPECT_TRUE(*store_->ClaimSnapshotLease("o1", week, "r1", kBaseUs, 1000));
  EXPECT_FALSE(*store_->ClaimSnapshotLease("o1", week, "r2", kBaseUs + 10, 1000));   // held
  EXPECT_TRUE(*store_->ClaimSnapshotLease("o1", week, "r1", kBaseUs + 10, 1000));    // renewed by its holder
  EXPECT_TRUE(*store_->ClaimSnapshotLease("o2", week, "r2", kBaseUs + 10, 1000));    // another org
  EXPECT_TRUE(*store_->ClaimSnapshotLease("o1", week, "r2", kBaseUs + 2000, 1000));  // r1 died: expired
  ASSERT_TRUE(store_->FinishSnapshotLease("o1", week, "r2").ok());
  EXPECT_FALSE(*store_->ClaimSnapshotLease("o1", week, "r1", kBaseUs + 9000, 1000));  // done for good
  EXPECT_FALSE(*store_->ClaimSnapshotLease("o1", week, "r2", kBaseUs + 9000, 1000));
  EXPECT_TRUE(*store_->ClaimSnapshotLease("o1", week + kWeekUs, "r1", kBaseUs + 9000, 1000));  // next week
}

TEST_P(RecommendationsStoreTest, SnapshotsInRangeOldestFirstAndTheFirstOfAWeekKept) {
  ASSERT_TRUE(store_->PutSnapshots("o1", kBaseUs + kWeekUs, 5, {{"u1", Health(2)}, {"u2", Health(7)}}).ok());
  ASSERT_TRUE(store_->PutSnapshots("o1", kBaseUs, 4, {{"u1", Health(1)}}).ok());
  ASSERT_TRUE(store_->PutSnapshots("o1", kBaseUs + kWeekUs, 6, {{"u1", Health(99)}}).ok());  // a late duplicate
  ASSERT_TRUE(store_->PutSnapshots("o1", kBaseUs + 2 * kWeekUs, 6, {{"u1", Health(3)}}).ok());
  auto list = store_->ListSnapshots({"o1", "u1"}, kBaseUs, kBaseUs + 2 * kWeekUs);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].health.size(), 1);
  EXPECT_EQ((*list)[1].health.size(), 2);
  EXPECT_EQ((*list)[1].taken_us, 5);
  EXPECT_TRUE(store_->ListSnapshots({"o2", "u1"}, 0, kBaseUs * 2)->empty());
}

TEST_P(RecommendationsStoreTest, ErasureTakesTheUsersRowsThenTheOrgs) {
  ASSERT_TRUE(Put({"o1", "u1"}, {"reachOuts", "c1", true, 0, kBaseUs}).ok());
  ASSERT_TRUE(Put({"o1", "u2"}, {"reachOuts", "c1", true, 0, kBaseUs}).ok());
  ASSERT_TRUE(store_->PutSnapshots("o1", kBaseUs, 1, {{"u1", Health(1)}, {"u2", Health(2)}}).ok());
  ASSERT_TRUE(store_->ClaimSnapshotLease("o1", kBaseUs, "r1", kBaseUs, 1000).value());
  auto erase = [&](const std::string& user) {
    return store_->db().Write(
        [&](db::Connection& conn) { return EraseSubject(conn, RecommendationsErasureTables(), "o1", user, kBaseUs); });
  };
  ASSERT_TRUE(erase("u1").ok());
  EXPECT_TRUE(store_->ListActions({"o1", "u1"})->empty());
  EXPECT_TRUE(store_->ListSnapshots({"o1", "u1"}, 0, kBaseUs * 2)->empty());
  EXPECT_EQ(store_->ListActions({"o1", "u2"})->size(), 1u);
  EXPECT_EQ(store_->ListSnapshots({"o1", "u2"}, 0, kBaseUs * 2)->size(), 1u);
  ASSERT_TRUE(erase("").ok());
  EXPECT_TRUE(store_->ListActions({"o1", "u2"})->empty());
  EXPECT_TRUE(store_->ListSnapshots({"o1", "u2"}, 0, kBaseUs * 2)->empty());
  EXPECT_TRUE(*store_->ClaimSnapshotLease("o1", kBaseUs, "r2", kBaseUs + 1, 1000));  // the lease went too
  // A replica late to hear of the erasure brings nothing back.
  ASSERT_TRUE(store_->PutSnapshots("o1", kBaseUs + kWeekUs, 1, {{"u1", Health(1)}}).ok());
  EXPECT_TRUE(store_->ListSnapshots({"o1", "u1"}, 0, kBaseUs * 2)->empty());
  EXPECT_EQ(Put({"o1", "u1"}, {"reachOuts", "c1", true, 0, kBaseUs}).code(), absl::StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Drivers, RecommendationsStoreTest, ::testing::ValuesIn(rapport::testing::Drivers()),
                         rapport::testing::DriverName);

}  // namespace
}  // namespace rapport::recommendations
