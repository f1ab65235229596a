#include "services/interactions/interactions_logic.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "services/common/time_util.h"

namespace rapport::interactions {
namespace {

pb::Interaction Valid() {
  pb::Interaction i;
  i.set_kind(pb::MEETING);
  i.set_direction(pb::MUTUAL);
  i.add_contact_ids("c1");
  *i.mutable_occurred_at() = ToTimestamp(int64_t{1700000000} * 1000000);
  return i;
}

struct Case {
  const char* name;
  void (*mutate)(pb::Interaction&);
  const char* field;
};

class InteractionValidationTest : public ::testing::TestWithParam<Case> {};

TEST_P(InteractionValidationTest, NamesTheBadField) {
  pb::Interaction i = Valid();
  GetParam().mutate(i);
  absl::Status s = ValidateInteraction(i, int64_t{1790000000} * 1000000);
  if (GetParam().field == nullptr) {
    EXPECT_TRUE(s.ok()) << s;
  } else {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(GetParam().field), std::string::npos) << s.message();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, InteractionValidationTest,
    ::testing::Values(
        Case{"valid", [](pb::Interaction&) {}, nullptr},
        Case{"no_kind", [](pb::Interaction& i) { i.clear_kind(); }, "interaction.kind"},
        Case{"bad_kind", [](pb::Interaction& i) { i.set_kind(static_cast<pb::InteractionKind>(99)); },
             "interaction.kind"},
        Case{"no_direction", [](pb::Interaction& i) { i.clear_direction(); }, "interaction.direction"},
        Case{"no_contacts", [](pb::Interaction& i) { i.clear_contact_ids(); }, "interaction.contactIds"},
        Case{"repeated_contact", [](pb::Interaction& i) { i.add_contact_ids("c1"); },
             "interaction.contactIds[1]: is repeated"},
        Case{"bad_contact_id", [](pb::Interaction& i) { i.set_contact_ids(0, "C/1"); }, "interaction.contactIds[0]"},
        Case{"too_many_contacts",
             [](pb::Interaction& i) {
               for (int k = 0; k < 20; ++k) i.add_contact_ids(absl::StrCat("x", k));
             },
             "more than 20"},
        Case{"summary_too_long", [](pb::Interaction& i) { i.set_summary(std::string(501, 's')); },
             "interaction.summary"},
        Case{"notes_too_long", [](pb::Interaction& i) { i.set_notes(std::string(10001, 'n')); }, "interaction.notes"},
        Case{"bad_time", [](pb::Interaction& i) { i.mutable_occurred_at()->set_nanos(-5); }, "interaction.occurredAt"},
        Case{"far_future", [](pb::Interaction& i) { i.mutable_occurred_at()->set_seconds(253402300000LL); },
             "interaction.occurredAt"},
        Case{"before_1900", [](pb::Interaction& i) { i.mutable_occurred_at()->set_seconds(-2208988801LL); },
             "interaction.occurredAt"},
        Case{"planned_next_month",
             [](pb::Interaction& i) { i.mutable_occurred_at()->set_seconds(1790000000 + 30 * 86400); }, nullptr},
        Case{"bad_utf8", [](pb::Interaction& i) { i.set_summary("\xfe"); }, "interaction.summary: is not valid UTF-8"}),
    [](const auto& info) { return std::string(info.param.name); });

pb::Introduction Requested(pb::IntroductionMode mode) {
  pb::Introduction i;
  i.set_id("intro1");
  i.set_mode(mode);
  i.set_contact_a_id("a");
  i.set_contact_b_id("b");
  i.set_state(pb::REQUESTED);
  return i;
}

TEST(IntroductionLifecycleTest, DoubleOptInThenMadeThenCompleted) {
  pb::Introduction i = Requested(pb::CONNECT);
  ASSERT_TRUE(Respond(i, pb::A, true, 1).ok());
  EXPECT_EQ(i.state(), pb::REQUESTED);  // one side is not enough
  EXPECT_EQ(MarkMade(i, 2).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Respond(i, pb::B, true, 3).ok());
  EXPECT_EQ(i.state(), pb::ACCEPTED);
  EXPECT_EQ(Complete(i, "hired", "", 4).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(MarkMade(i, 5).ok());
  EXPECT_EQ(i.state(), pb::MADE);
  EXPECT_EQ(Complete(i, "", "", 6).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(Complete(i, "hired", "started in March", 7).ok());
  EXPECT_EQ(i.state(), pb::COMPLETED);
  EXPECT_EQ(i.outcome(), "hired");
  EXPECT_EQ(Respond(i, pb::A, false, 8).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(IntroductionLifecycleTest, DeclineEndsIt) {
  pb::Introduction i = Requested(pb::REQUEST);
  ASSERT_TRUE(Respond(i, pb::B, false, 1).ok());
  EXPECT_EQ(i.state(), pb::DECLINED);
  EXPECT_EQ(Respond(i, pb::A, true, 2).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(MarkMade(i, 3).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Respond(i, pb::PARTY_UNSPECIFIED, true, 2).code(), absl::StatusCode::kInvalidArgument);
}

TEST(IntroductionLifecycleTest, MadeInteractionCreditsTheRightSide) {
  pb::Interaction connect = MadeInteraction(Requested(pb::CONNECT), "i1", 10);
  EXPECT_EQ(connect.kind(), pb::INTRODUCTION);
  EXPECT_EQ(connect.direction(), pb::GAVE);  // the user connected A and B: a give to both
  ASSERT_EQ(connect.contact_ids_size(), 2);
  pb::Interaction request = MadeInteraction(Requested(pb::REQUEST), "i2", 10);
  EXPECT_EQ(request.direction(), pb::RECEIVED);  // A introduced the user: a receive from A
  ASSERT_EQ(request.contact_ids_size(), 1);
  EXPECT_EQ(request.contact_ids(0), "a");
}

TEST(IntroductionValidationTest, Fields) {
  pb::CreateIntroductionRequest r;
  EXPECT_NE(ValidateNewIntroduction(r).message().find("mode"), std::string::npos);
  r.set_mode(pb::CONNECT);
  r.set_contact_a_id("a");
  r.set_contact_b_id("a");
  EXPECT_NE(ValidateNewIntroduction(r).message().find("must differ"), std::string::npos);
  r.set_contact_b_id("b");
  EXPECT_TRUE(ValidateNewIntroduction(r).ok());
}

}  // namespace
}  // namespace rapport::interactions
