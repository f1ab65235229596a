#include "services/interactions/path_asks.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rapport::interactions {
namespace {

using ::testing::HasSubstr;

constexpr char kCarol[] = "01hzzzzzzzzzzzzzzzzzzzzzz1";
constexpr char kBruno[] = "01hzzzzzzzzzzzzzzzzzzzzzz2";

TEST(PathAsks, ValidationNamesTheField) {
  auto field = [](const std::function<void(pb::AskPathRequest&)>& edit) {
    pb::AskPathRequest r;
    r.set_target_contact_id(kCarol);
    r.set_via(kBruno);
    edit(r);
    absl::Status s = ValidateAskPath(r);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  };
  pb::AskPathRequest ok;
  ok.set_target_contact_id(kCarol);
  ok.set_via(kBruno);
  EXPECT_TRUE(ValidateAskPath(ok).ok());
  ok.clear_target_contact_id();
  ok.set_target("the CTO of Acme");
  EXPECT_TRUE(ValidateAskPath(ok).ok());
  EXPECT_THAT(field([](auto& r) { r.clear_via(); }), HasSubstr("via:"));
  EXPECT_THAT(field([](auto& r) { r.clear_target_contact_id(); }), HasSubstr("targetContactId:"));
  EXPECT_THAT(field([](auto& r) { r.set_target("x"); }), HasSubstr("target:"));
  EXPECT_THAT(field([](auto& r) { r.set_via(kCarol); }), HasSubstr("via:"));
  EXPECT_THAT(field([](auto& r) { r.set_target_contact_id("bad id!"); }), HasSubstr("targetContactId:"));
  EXPECT_THAT(field([](auto& r) { r.set_ask(std::string(2001, 'a')); }), HasSubstr("ask:"));
}

TEST(PathAsks, OnlyTheTeammateAskedAnswersOnce) {
  pb::AskPathRequest r;
  r.set_target_contact_id(kCarol);
  r.set_via(kBruno);
  ResolvedAsk teammate{true, "Bruno", "Carol"};
  pb::Introduction intro = NewAskIntroduction(r, teammate, "alice", "i1", 1000);
  EXPECT_EQ(intro.via_user_id(), kBruno);
  EXPECT_TRUE(intro.contact_a_id().empty());
  EXPECT_EQ(intro.reason(), "Hi Bruno, could you introduce me to Carol?");
  EXPECT_EQ(intro.state(), pb::REQUESTED);
  EXPECT_EQ(AskerMayAnswer(intro).code(), absl::StatusCode::kPermissionDenied);
  pb::Introduction copy = intro;
  EXPECT_EQ(AnswerAsk(copy, "alice", true, 2000).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(copy.state(), pb::REQUESTED);
  EXPECT_TRUE(AnswerAsk(copy, kBruno, true, 2000).ok());
  EXPECT_EQ(copy.state(), pb::ACCEPTED);
  EXPECT_EQ(AnswerAsk(copy, kBruno, false, 3000).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(AnswerAsk(intro, kBruno, false, 2000).ok());
  EXPECT_EQ(intro.state(), pb::DECLINED);

  ResolvedAsk outside{false, "Dan", "Carol"};
  r.set_ask("Could you put me in touch with Carol?");
  pb::Introduction theirs = NewAskIntroduction(r, outside, "alice", "i2", 1000);
  EXPECT_EQ(theirs.contact_a_id(), kBruno);
  EXPECT_TRUE(theirs.via_user_id().empty());
  EXPECT_EQ(theirs.reason(), "Could you put me in touch with Carol?");
  EXPECT_TRUE(AskerMayAnswer(theirs).ok());
  EXPECT_EQ(AnswerAsk(theirs, kBruno, true, 2000).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace rapport::interactions
