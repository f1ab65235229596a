// Ledger arithmetic on hand-computed cases.
#include "services/interactions/ledger.h"

#include <gtest/gtest.h>

#include <cmath>

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
