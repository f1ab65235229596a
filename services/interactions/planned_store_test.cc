// Planned (future) interactions in the store, over both drivers: they count
// toward nothing until the sweep makes them happen, once, whoever claims
// them; cancelling and moving them in time; the interactions a ledger
// explanation is made of.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "services/common/ids.h"
#include "services/common/time_util.h"
#include "services/interactions/interactions_store.h"
#include "services/interactions/planned_sweeper.h"
#include "tests/testing/await.h"
#include "tests/testing/test_database.h"

namespace rapport::interactions {
namespace {

using ::rapport::testing::Await;
using ::rapport::testing::AwaitStatus;

constexpr int64_t kDayUs = int64_t{86400} * 1000000;
constexpr int64_t kSecondUs = 1000000;

class PlannedStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto options = rapport::testing::TestDatabase(GetParam(), "planned");
    if (options.status().code() == absl::StatusCode::kFailedPrecondition) GTEST_SKIP() << options.status();
    ASSERT_TRUE(options.ok()) << options.status();
    if (!options->path.empty()) dir_ = std::filesystem::path(options->path).parent_path();
    auto s = InteractionsStore::Open(*options);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    now_ = NowMicros();
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // As the service stores it: the state follows the time.
  pb::Interaction Meeting(const std::string& contact, int64_t occurred_us) {
    pb::Interaction i;
    i.set_id(NewId());
    i.set_kind(pb::MEETING);
    i.set_direction(pb::GAVE);
    i.add_contact_ids(contact);
    *i.mutable_occurred_at() = ToTimestamp(occurred_us);
    i.set_state(occurred_us > now_ ? pb::PLANNED : pb::HAPPENED);
    return i;
  }

  absl::StatusOr<pb::Interaction> Create(const pb::Interaction& i) {
    pb::CreateInteractionRequest req;
    *req.mutable_interaction() = i;
    Cadences cadences;
    for (const auto& c : i.contact_ids()) cadences[c] = 30;
    return Await<pb::Interaction>([&](Done<pb::Interaction> d) {
      store_->CreateInteraction(alice_, i, cadences, IdempotencyScope{alice_.org, alice_.user, "", "CreateInteraction"},
                                req, d);
    });
  }

  absl::StatusOr<pb::Interaction> MoveTo(const std::string& id, int64_t occurred_us) {
    const int64_t now = now_;
    return Await<pb::Interaction>([&](Done<pb::Interaction> d) {
      store_->UpdateInteraction(
          alice_, id,
          [occurred_us, now](pb::Interaction& i) -> absl::Status {
            *i.mutable_occurred_at() = ToTimestamp(occurred_us);
            i.set_state(occurred_us > now ? pb::PLANNED : pb::HAPPENED);
            return absl::OkStatus();
          },
          Cadences(), d);
    });
  }

  // The ledger row's (count, given) for the contact; (0, 0) with no row.
  std::pair<int64_t, int64_t> Counted(const std::string& contact) {
    auto row = store_->GetLedgerRow(alice_, contact);
    if (absl::IsNotFound(row.status())) return {0, 0};
    EXPECT_TRUE(row.ok()) << row.status();
    if (!row.ok()) return {-1, -1};
    auto fresh = store_->RecomputeLedgerRow(alice_, contact);
    EXPECT_TRUE(fresh.ok()) << fresh.status();
    if (fresh.ok()) {
      EXPECT_EQ(fresh->count, row->count);
      EXPECT_EQ(fresh->given_milli, row->given_milli);
      EXPECT_EQ(fresh->last_us, row->last_us);
      EXPECT_NEAR(fresh->anchored, row->anchored, 1e-9 * std::max(1.0, row->anchored));
    }
    return {row->count, row->given_milli};
  }

  int64_t LastUs(const std::string& contact) {
    auto row = store_->GetLedgerRow(alice_, contact);
    return row.ok() ? row->last_us : 0;
  }

  int64_t OutboxCount(const std::string& type) {
    int64_t n = 0;
    EXPECT_TRUE(store_->db()
                    .Read([&](db::Connection& conn) {
                      auto st = conn.Prepare("SELECT COUNT(*) FROM outbox WHERE type = ?");
                      st.Bind(1, type);
                      auto row = st.Step();
                      if (!row.ok()) return row.status();
                      n = st.ColumnInt(0);
                      return absl::OkStatus();
                    })
                    .ok());
    return n;
  }

  // One pass of the sweep as a runner would make it at now_us.
  int Sweep(const std::string& runner, int64_t now_us) {
    auto claimed = store_->ClaimDuePlanned(runner, now_us, now_us + 30 * kSecondUs, 100);
    EXPECT_TRUE(claimed.ok()) << claimed.status();
    if (!claimed.ok()) return -1;
    for (const PlannedRef& ref : *claimed) {
      absl::Status s = AwaitStatus([&](DoneStatus d) { store_->HappenPlanned(ref, now_us, d); });
      EXPECT_TRUE(s.ok()) << s;
    }
    return static_cast<int>(claimed->size());
  }

  std::filesystem::path dir_;
  std::unique_ptr<InteractionsStore> store_;
  Owner alice_{"org1", "alice"};
  int64_t now_ = 0;
};

TEST_P(PlannedStoreTest, PlannedMeetingCountsTowardNothingUntilItsTimeThenOnce) {
  ASSERT_TRUE(Create(Meeting("c1", now_ - 10 * kDayUs)).ok());
  const int64_t next_week = now_ + 7 * kDayUs;
  auto planned = Create(Meeting("c1", next_week));
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(planned->state(), pb::PLANNED);

  // The ledger is the past meeting's alone: last interaction, next due and
  // strength unchanged; no interaction.created for the planned one.
  EXPECT_EQ(Counted("c1"), std::make_pair(int64_t{1}, int64_t{3000}));
  EXPECT_EQ(LastUs("c1"), now_ - 10 * kDayUs);
  EXPECT_EQ(OutboxCount("interaction.created"), 1);
  EXPECT_EQ(OutboxCount("interaction.planned"), 1);
  // It shows in the timeline, as planned.
  auto listed = store_->ListInteractions(alice_, InteractionFilter{"c1"}, std::nullopt, 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id(), planned->id());
  EXPECT_EQ((*listed)[0].state(), pb::PLANNED);
  auto explained = store_->CountedInteractions(alice_, "c1");
  ASSERT_TRUE(explained.ok());
  EXPECT_EQ(explained->size(), 1u);

  // Not due yet: the sweep claims nothing.
  EXPECT_EQ(Sweep("r1", now_ + kDayUs), 0);
  EXPECT_EQ(Counted("c1"), std::make_pair(int64_t{1}, int64_t{3000}));

  // Its time came: counted once, as happening at its time.
  EXPECT_EQ(Sweep("r1", next_week + kSecondUs), 1);
  EXPECT_EQ(Counted("c1"), std::make_pair(int64_t{2}, int64_t{6000}));
  EXPECT_EQ(LastUs("c1"), next_week);
  EXPECT_EQ(OutboxCount("interaction.created"), 2);
  auto got = store_->GetInteraction(alice_, planned->id());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state(), pb::HAPPENED);
  // And never again.
  EXPECT_EQ(Sweep("r1", next_week + 2 * kSecondUs), 0);
  EXPECT_EQ(Sweep("r2", next_week + kDayUs), 0);
  EXPECT_EQ(Counted("c1"), std::make_pair(int64_t{2}, int64_t{6000}));
  EXPECT_EQ(OutboxCount("interaction.created"), 2);
}

TEST_P(PlannedStoreTest, HappeningTwiceForTheSameClaimChangesNothingMore) {
  const int64_t when = now_ + kDayUs;
  auto planned = Create(Meeting("c1", when));
  ASSERT_TRUE(planned.ok());
  auto claimed = store_->ClaimDuePlanned("r1", when, when + 30 * kSecondUs, 10);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  // The same ref applied twice (a retry after a lost acknowledgement).
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->HappenPlanned((*claimed)[0], when, d); }).ok());
  }
  EXPECT_EQ(Counted("c1"), std::make_pair(int64_t{1}, int64_t{3000}));
  EXPECT_EQ(OutboxCount("interaction.created"), 1);
}

// Two replicas sweep at once; one of them dies after claiming (kill -9: its
// lease holds, nothing applied). Every interaction is applied exactly once.
TEST_P(PlannedStoreTest, TwoReplicasAndACrashedOneApplyEachOnce) {
  constexpr int kPlanned = 30;
  for (int i = 0; i < kPlanned; ++i) {
    ASSERT_TRUE(Create(Meeting(absl::StrCat("c", i % 3), now_ + kDayUs + i * kSecondUs)).ok());
  }
  const int64_t due = now_ + 2 * kDayUs;
  // The crashed replica claims five and never applies them.
  auto crashed = store_->ClaimDuePlanned("dead", due, due + 60 * kSecondUs, 5);
  ASSERT_TRUE(crashed.ok());
  EXPECT_EQ(crashed->size(), 5u);
  int applied[2] = {0, 0};
  std::thread a([&] { applied[0] = Sweep("r1", due); });
  std::thread b([&] { applied[1] = Sweep("r2", due); });
  a.join();
  b.join();
  EXPECT_EQ(applied[0] + applied[1], kPlanned - 5);
  // Its lease lapses: the rest are taken over.
  EXPECT_EQ(Sweep("r1", due + 61 * kSecondUs), 5);
  EXPECT_EQ(Sweep("r2", due + 62 * kSecondUs), 0);
  int64_t count = 0;
  for (int c = 0; c < 3; ++c) count += Counted(absl::StrCat("c", c)).first;
  EXPECT_EQ(count, kPlanned);
  EXPECT_EQ(OutboxCount("interaction.created"), kPlanned);
}

TEST_P(PlannedStoreTest, CancelOnlyWhilePlanned) {
  auto planned = Create(Meeting("c1", now_ + kDayUs));
  ASSERT_TRUE(planned.ok());
  auto cancel = [&](const std::string& id) {
    return Await<pb::Interaction>([&](Done<pb::Interaction> d) { store_->CancelInteraction(alice_, id, now_, d); });
  };
  auto cancelled = cancel(planned->id());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->state(), pb::CANCELLED);
  EXPECT_EQ(OutboxCount("interaction.cancelled"), 1);
  // Still in the timeline, as cancelled; never counted.
  auto got = store_->GetInteraction(alice_, planned->id());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state(), pb::CANCELLED);
  EXPECT_EQ(Sweep("r1", now_ + 2 * kDayUs), 0);
  EXPECT_EQ(Counted("c1"), std::make_pair(int64_t{0}, int64_t{0}));
  // Twice, or one that happened: FAILED_PRECONDITION.
  auto again = cancel(planned->id());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition) << again.status();
  auto past = Create(Meeting("c1", now_ - kDayUs));
  ASSERT_TRUE(past.ok());
  auto not_planned = cancel(past->id());
  EXPECT_EQ(not_planned.status().code(), absl::StatusCode::kFailedPrecondition) << not_planned.status();
  EXPECT_NE(not_planned.status().message().find("only a planned interaction"), std::string::npos);
  // Another tenant's id: NOT_FOUND.
  auto other = Await<pb::Interaction>([&](Done<pb::Interaction> d) {
    store_->CancelInteraction(Owner{"org2", "bob"}, planned->id(), now_, d);
  });
  EXPECT_EQ(other.status().code(), absl::StatusCode::kNotFound);
  // Deleting the cancelled one works.
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->DeleteInteraction(alice_, planned->id(), d); }).ok());
  EXPECT_EQ(Counted("c1"), std::make_pair(int64_t{1}, int64_t{3000}));
}

TEST_P(PlannedStoreTest, MovingInTimePlansOrHappensWithTheLedgerRecomputed) {
  auto done = Create(Meeting("c1", now_ - 3 * kDayUs));
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(Counted("c1"), std::make_pair(int64_t{1}, int64_t{3000}));
  // Past -> future: planned again, out of the ledger.
  auto moved = MoveTo(done->id(), now_ + 3 * kDayUs);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->state(), pb::PLANNED);
  EXPECT_EQ(Counted("c1"), std::make_pair(int64_t{0}, int64_t{0}));
  EXPECT_EQ(LastUs("c1"), 0);
  EXPECT_EQ(OutboxCount("interaction.planned"), 1);
  // Future -> past: it happens now, counted once, and the sweep has nothing
  // left to do.
  auto back = MoveTo(done->id(), now_ - kDayUs);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->state(), pb::HAPPENED);
  EXPECT_EQ(Counted("c1"), std::make_pair(int64_t{1}, int64_t{3000}));
  EXPECT_EQ(LastUs("c1"), now_ - kDayUs);
  EXPECT_EQ(Sweep("r1", now_ + 10 * kDayUs), 0);
  EXPECT_EQ(Counted("c1"), std::make_pair(int64_t{1}, int64_t{3000}));
  // interaction.created once when logged, once when it happened again.
  EXPECT_EQ(OutboxCount("interaction.created"), 2);
  // A planned one moved later is claimed at its new time only.
  auto later = Create(Meeting("c2", now_ + kDayUs));
  ASSERT_TRUE(later.ok());
  ASSERT_TRUE(MoveTo(later->id(), now_ + 5 * kDayUs).ok());
  EXPECT_EQ(Sweep("r1", now_ + 2 * kDayUs), 0);
  EXPECT_EQ(Sweep("r1", now_ + 5 * kDayUs), 1);
  EXPECT_EQ(Counted("c2"), std::make_pair(int64_t{1}, int64_t{3000}));
}

// The sweeper's pass, as the process runs it, with a test clock.
TEST_P(PlannedStoreTest, SweeperAppliesWhatIsDue) {
  ASSERT_TRUE(Create(Meeting("c1", now_ + kDayUs)).ok());
  ASSERT_TRUE(Create(Meeting("c2", now_ + 3 * kDayUs)).ok());
  PlannedSweeper sweeper(store_.get(), PlannedSweepOptions{"test/1"});
  EXPECT_EQ(sweeper.RunOnce(now_).value_or(-1), 0);
  EXPECT_EQ(sweeper.RunOnce(now_ + 2 * kDayUs).value_or(-1), 1);
  EXPECT_EQ(Counted("c1"), std::make_pair(int64_t{1}, int64_t{3000}));
  EXPECT_EQ(Counted("c2"), std::make_pair(int64_t{0}, int64_t{0}));
  EXPECT_EQ(sweeper.RunOnce(now_ + 2 * kDayUs).value_or(-1), 0);
  EXPECT_EQ(sweeper.RunOnce(now_ + 4 * kDayUs).value_or(-1), 1);
  EXPECT_EQ(Counted("c2"), std::make_pair(int64_t{1}, int64_t{3000}));
}

INSTANTIATE_TEST_SUITE_P(Drivers, PlannedStoreTest, ::testing::ValuesIn(rapport::testing::Drivers()),
                         rapport::testing::DriverName);

}  // namespace
}  // namespace rapport::interactions
