// Ledger arithmetic on hand-computed cases.
#include "services/interactions/ledger.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/time_util.h"

namespace rapport::interactions {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1790000000);  // 2026-09-21

pb::Interaction Make(pb::InteractionKind kind, pb::Direction direction, absl::Time when) {
  pb::Interaction i;
  i.set_kind(kind);
  i.set_direction(direction);
  i.add_contact_ids("c1");
  *i.mutable_occurred_at() = ToTimestamp(ToMicros(when));
  return i;
}

TEST(LedgerTest, WeightsTable) {
  EXPECT_EQ(KindWeightMilli(pb::REFERRAL), 6000);
  EXPECT_EQ(KindWeightMilli(pb::INTRODUCTION), 5000);
  EXPECT_EQ(KindWeightMilli(pb::MEETING), 3000);
  EXPECT_EQ(KindWeightMilli(pb::COMMENT), 500);
  EXPECT_GT(KindWeightMilli(pb::REFERRAL), KindWeightMilli(pb::COMMENT));
  // Every kind has a weight.
  for (int k = pb::InteractionKind_MIN + 1; k <= pb::InteractionKind_MAX; ++k) {
    EXPECT_GT(KindWeightMilli(static_cast<pb::InteractionKind>(k)), 0) << k;
  }
}

TEST(LedgerTest, OneMeetingTodayAndItsDecay) {
  LedgerRow row;
  row.cadence_days = 30;
  ApplyContribution(Make(pb::MEETING, pb::GAVE, kNow), +1, &row);
  pb::LedgerEntry today = ToEntry(row, kNow);
  EXPECT_DOUBLE_EQ(today.given(), 3.0);
  EXPECT_DOUBLE_EQ(today.balance(), 3.0);
  EXPECT_EQ(today.interaction_count(), 1);
  // 100 * (1 - e^-0.3) = 25.918...
  EXPECT_NEAR(today.strength(), 25.92, 0.01);
  // One half-life later the decayed sum is 1.5: 100 * (1 - e^-0.15) = 13.929...
  pb::LedgerEntry later = ToEntry(row, kNow + absl::Hours(24 * 90));
  EXPECT_NEAR(later.strength(), 13.93, 0.01);
  // Two half-lives: 0.75 -> 7.226...
  EXPECT_NEAR(ToEntry(row, kNow + absl::Hours(24 * 180)).strength(), 7.23, 0.01);
}

TEST(LedgerTest, BalanceSigns) {
  LedgerRow row;
  ApplyContribution(Make(pb::REFERRAL, pb::RECEIVED, kNow), +1, &row);
  ApplyContribution(Make(pb::COMMENT, pb::GAVE, kNow), +1, &row);
  ApplyContribution(Make(pb::CALL, pb::MUTUAL, kNow), +1, &row);
  pb::LedgerEntry e = ToEntry(row, kNow);
  EXPECT_DOUBLE_EQ(e.given(), 0.5);
  EXPECT_DOUBLE_EQ(e.received(), 6.0);
  EXPECT_DOUBLE_EQ(e.balance(), -5.5);  // they gave more: we owe them
  EXPECT_EQ(e.interaction_count(), 3);
  // All three count for strength: 6 + 0.5 + 2 = 8.5 -> 100 * (1 - e^-0.85) = 57.26...
  EXPECT_NEAR(e.strength(), 57.26, 0.01);
}

TEST(LedgerTest, CadenceResetAndOverdueDays) {
  LedgerRow row;
  row.cadence_days = 30;
  absl::Time first = kNow - absl::Hours(24 * 45);
  ApplyContribution(Make(pb::EMAIL, pb::GAVE, first), +1, &row);
  pb::LedgerEntry e = ToEntry(row, kNow);
  EXPECT_EQ(e.overdue_days(), 15);
  EXPECT_EQ(TimestampToMicros(e.next_due_time()), ToMicros(first + absl::Hours(24 * 30)));
  // Any logged interaction resets the due date.
  ApplyContribution(Make(pb::MESSAGE, pb::RECEIVED, kNow - absl::Hours(24)), +1, &row);
  e = ToEntry(row, kNow);
  EXPECT_EQ(e.overdue_days(), 0);
  EXPECT_EQ(TimestampToMicros(e.next_due_time()), ToMicros(kNow - absl::Hours(24) + absl::Hours(24 * 30)));
  // An older interaction logged late does not move the last time back.
  ApplyContribution(Make(pb::MESSAGE, pb::RECEIVED, kNow - absl::Hours(24 * 100)), +1, &row);
  EXPECT_EQ(row.last_us, ToMicros(kNow - absl::Hours(24)));
}

TEST(LedgerTest, RemovingEverythingReturnsToZero) {
  LedgerRow row;
  pb::Interaction a = Make(pb::GIFT, pb::GAVE, kNow - absl::Hours(24 * 400));
  pb::Interaction b = Make(pb::FAVOR, pb::RECEIVED, kNow);
  ApplyContribution(a, +1, &row);
  ApplyContribution(b, +1, &row);
  ApplyContribution(b, -1, &row);
  ApplyContribution(a, -1, &row);
  EXPECT_EQ(row.count, 0);
  EXPECT_EQ(row.given_milli, 0);
  EXPECT_EQ(row.received_milli, 0);
  EXPECT_EQ(row.anchored, 0.0);
  EXPECT_EQ(ToEntry(row, kNow).strength(), 0.0);
}

TEST(LedgerTest, NeverContactedHasNoDueDate) {
  LedgerRow row;
  row.cadence_days = 14;
  pb::LedgerEntry e = ToEntry(row, kNow);
  EXPECT_FALSE(e.has_last_interaction_time());
  EXPECT_FALSE(e.has_next_due_time());
  EXPECT_EQ(e.overdue_days(), 0);
  EXPECT_EQ(e.cadence_days(), 14);
}

}  // namespace
}  // namespace rapport::interactions

// --- planned interactions and the explanation (issue 19) ---

namespace rapport::interactions {
namespace {

TEST(LedgerTest, PlannedAndCancelledInteractionsCountTowardNothing) {
  LedgerRow row;
  pb::Interaction planned = Make(pb::MEETING, pb::GAVE, kNow + absl::Hours(24 * 7));
  planned.set_state(pb::PLANNED);
  ApplyContribution(planned, +1, &row);
  pb::Interaction cancelled = Make(pb::REFERRAL, pb::RECEIVED, kNow - absl::Hours(24));
  cancelled.set_state(pb::CANCELLED);
  ApplyContribution(cancelled, +1, &row);
  EXPECT_EQ(row.given_milli, 0);
  EXPECT_EQ(row.received_milli, 0);
  EXPECT_EQ(row.count, 0);
  EXPECT_EQ(row.last_us, 0);
  EXPECT_EQ(row.anchored, 0);
  EXPECT_FALSE(Counts(planned));
  EXPECT_FALSE(Counts(cancelled));
  // Stored before states existed, or happened: counts.
  EXPECT_TRUE(Counts(Make(pb::MEETING, pb::GAVE, kNow)));
  pb::Interaction happened = planned;
  happened.set_state(pb::HAPPENED);
  EXPECT_TRUE(Counts(happened));
}

// Hand-computed: a meeting given today (3.0, decayed 3.0), an email received
// 90 days ago (1.0, decayed 0.5), a mutual call 180 days ago (2.0, decayed
// 0.5) and a comment given 90 days ago (0.5, decayed 0.25).
TEST(LedgerTest, ExplanationListsTheLargestDecayedWeightsAndAddsUpToTheEntry) {
  std::vector<pb::Interaction> items = {
      Make(pb::EMAIL, pb::RECEIVED, kNow - absl::Hours(24 * 90)),
      Make(pb::COMMENT, pb::GAVE, kNow - absl::Hours(24 * 90)),
      Make(pb::MEETING, pb::GAVE, kNow),
      Make(pb::CALL, pb::MUTUAL, kNow - absl::Hours(24 * 180)),
  };
  LedgerRow row;
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].set_id(absl::StrCat("i", i));
    ApplyContribution(items[i], +1, &row);
  }
  pb::LedgerExplanation x = Explain(row, items, kNow, /*top=*/3);
  ASSERT_EQ(x.top_size(), 3);
  EXPECT_EQ(x.top(0).interaction_id(), "i2");
  EXPECT_DOUBLE_EQ(x.top(0).weight(), 3.0);
  EXPECT_NEAR(x.top(0).decayed_weight(), 3.0, 1e-9);
  EXPECT_DOUBLE_EQ(x.top(0).balance(), 3.0);
  // The two of 0.5: the newer first.
  EXPECT_EQ(x.top(1).interaction_id(), "i0");
  EXPECT_NEAR(x.top(1).decayed_weight(), 0.5, 1e-9);
  EXPECT_DOUBLE_EQ(x.top(1).balance(), -1.0);
  EXPECT_EQ(x.top(2).interaction_id(), "i3");
  EXPECT_NEAR(x.top(2).decayed_weight(), 0.5, 1e-9);
  EXPECT_DOUBLE_EQ(x.top(2).balance(), 0.0);
  EXPECT_EQ(x.others_count(), 1);
  EXPECT_NEAR(x.others_decayed_weight(), 0.25, 1e-9);
  EXPECT_DOUBLE_EQ(x.others_balance(), 0.5);
  EXPECT_NEAR(x.decayed_sum(), 4.25, 1e-9);

  // The documented formula, from the explanation alone, gives the entry.
  pb::LedgerEntry entry = ToEntry(row, kNow);
  double sum = x.others_decayed_weight(), balance = x.others_balance();
  for (const pb::LedgerContribution& c : x.top()) {
    sum += c.decayed_weight();
    balance += c.balance();
  }
  EXPECT_NEAR(100.0 * (1.0 - std::exp(-sum / 10.0)), entry.strength(), 0.006);
  EXPECT_DOUBLE_EQ(balance, entry.balance());

  // Planned ones are not part of it, and no interaction: an empty explanation.
  pb::Interaction planned = Make(pb::REFERRAL, pb::GAVE, kNow + absl::Hours(1));
  planned.set_state(pb::PLANNED);
  items.push_back(planned);
  EXPECT_EQ(Explain(row, items, kNow).top_size(), 4);
  pb::LedgerExplanation none = Explain(LedgerRow(), {}, kNow);
  EXPECT_EQ(none.top_size(), 0);
  EXPECT_EQ(none.decayed_sum(), 0);
}

}  // namespace
}  // namespace rapport::interactions
