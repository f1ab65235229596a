#include "services/interactions/interactions_logic.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/ids.h"
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

// --- contacts a request names ---

struct PatchCase {
  const char* name;
  std::vector<std::string> mask;  // update_mask paths
  std::vector<std::string> ids;   // interaction.contact_ids in the patch
  std::vector<std::string> want;
};

class ContactsNamedByPatchTest : public ::testing::TestWithParam<PatchCase> {};

TEST_P(ContactsNamedByPatchTest, ChecksOnlyContactsThePatchSets) {
  pb::UpdateInteractionRequest request;
  for (const std::string& path : GetParam().mask) request.mutable_update_mask()->add_paths(path);
  for (const std::string& id : GetParam().ids) request.mutable_interaction()->add_contact_ids(id);
  EXPECT_EQ(ContactsNamedByPatch(request), GetParam().want) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(Table, ContactsNamedByPatchTest,
                         ::testing::Values(PatchCase{"no_mask_no_contacts", {}, {}, {}},
                                           PatchCase{"no_mask_sets_contacts", {}, {"c1", "c2"}, {"c1", "c2"}},
                                           PatchCase{"mask_names_contacts", {"summary", "contact_ids"}, {"c1"}, {"c1"}},
                                           PatchCase{"mask_clears_contacts", {"contact_ids"}, {}, {}},
                                           PatchCase{"mask_leaves_contacts_alone", {"summary"}, {"c1"}, {}}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ContactFieldsTest, NamesEachPosition) {
  pb::Interaction i;
  i.add_contact_ids("a");
  i.add_contact_ids("b");
  EXPECT_EQ(ContactFields(i), (std::vector<std::string>{"interaction.contactIds[0]", "interaction.contactIds[1]"}));
}

profiles::v1::Contact ProfilesContact(const std::string& id, int32_t cadence) {
  profiles::v1::Contact c;
  c.set_id(id);
  c.set_effective_cadence_days(cadence);
  return c;
}

struct ResolveCase {
  const char* name;
  std::vector<std::string> ids;
  Cadences known;                               // the local ledger's answer
  std::vector<std::string> want_asked;          // ContactsToAsk
  std::vector<profiles::v1::Contact> profiles;  // what profiles found
  Cadences want;                                // when every id resolves
  const char* want_error;                       // else the error message
};

class ResolveContactsTest : public ::testing::TestWithParam<ResolveCase> {};

TEST_P(ResolveContactsTest, LocalFirstThenProfiles) {
  const ResolveCase& c = GetParam();
  EXPECT_EQ(ContactsToAsk(c.ids, c.known), c.want_asked) << c.name;
  std::vector<std::string> fields;
  for (size_t i = 0; i < c.ids.size(); ++i) fields.push_back(absl::StrCat("f", i));
  absl::StatusOr<Cadences> got = ResolveContacts(c.ids, fields, c.known, c.profiles);
  if (c.want_error != nullptr) {
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(got.status().message(), c.want_error) << c.name;
  } else {
    ASSERT_TRUE(got.ok()) << c.name << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ResolveContactsTest,
    ::testing::Values(
        ResolveCase{"none", {}, {}, {}, {}, {}, nullptr},
        ResolveCase{"all_known_locally", {"a", "b"}, {{"a", 14}, {"b", 30}}, {}, {}, {{"a", 14}, {"b", 30}}, nullptr},
        ResolveCase{"all_from_profiles",
                    {"a", "b"},
                    {},
                    {"a", "b"},
                    {ProfilesContact("b", 30), ProfilesContact("a", 14)},
                    {{"a", 14}, {"b", 30}},
                    nullptr},
        ResolveCase{"mixed_asks_only_the_unknown",
                    {"a", "b", "c"},
                    {{"b", 90}},
                    {"a", "c"},
                    {ProfilesContact("a", 14), ProfilesContact("c", 180)},
                    {{"a", 14}, {"b", 90}, {"c", 180}},
                    nullptr},
        ResolveCase{"local_cadence_wins", {"a"}, {{"a", 14}}, {}, {ProfilesContact("a", 180)}, {{"a", 14}}, nullptr},
        ResolveCase{"missing_names_its_field",
                    {"a", "b"},
                    {},
                    {"a", "b"},
                    {ProfilesContact("a", 14)},
                    {},
                    "f1: no such contact"},
        ResolveCase{
            "first_missing_in_request_order", {"a", "b", "c"}, {{"b", 30}}, {"a", "c"}, {}, {}, "f0: no such contact"},
        ResolveCase{"repeated_unknown_asked_once",
                    {"a", "b", "a"},
                    {{"b", 30}},
                    {"a"},
                    {ProfilesContact("a", 14)},
                    {{"a", 14}, {"b", 30}},
                    nullptr},
        ResolveCase{"extra_answers_ignored",
                    {"a"},
                    {},
                    {"a"},
                    {ProfilesContact("a", 14), ProfilesContact("z", 30)},
                    {{"a", 14}},
                    nullptr}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ResolveContactsTest, NamesTheIdWhenNoFieldIsGiven) {
  absl::StatusOr<Cadences> got = ResolveContacts({"a", "b"}, {"contactAId"}, {{"a", 14}}, {});
  EXPECT_EQ(got.status().message(), "b: no such contact");
}

// Profiles as a test sees it: the contacts it holds for the caller, and a
// switch to make it unreachable. Answers at once, on the caller's thread.
class FakeDirectory : public profiles::ContactDirectory {
 public:
  void FindMany(const TenantContext& caller, const std::vector<std::string>& ids,
                std::function<void(absl::StatusOr<std::vector<profiles::v1::Contact>>)> done) override {
    asked.push_back(ids);
    if (down) return done(absl::UnavailableError("profiles is unavailable; try again"));
    std::vector<profiles::v1::Contact> found;
    for (const std::string& id : ids) {
      auto it = contacts.find({caller.user_id, id});
      if (it != contacts.end()) found.push_back(ProfilesContact(id, it->second));
    }
    done(std::move(found));
  }

  std::map<std::pair<std::string, std::string>, int32_t> contacts;  // (user, contact id) -> cadence
  std::vector<std::vector<std::string>> asked;
  bool down = false;
};

// The checker on a real store (temporary file) and a fake profiles.
class ContactCheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("contact_checker_test_" + NewId());
    std::filesystem::create_directories(dir_);
    auto s = InteractionsStore::Open((dir_ / "interactions.db").string());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    checker_ = std::make_unique<ContactChecker>(store_.get(), &profiles_);
    alice_.org_id = "org1";
    alice_.user_id = "alice";
  }
  void TearDown() override {
    checker_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Gives the contact a ledger row, as its contact.created event does.
  void KnownLocally(const std::string& id, int32_t cadence) {
    events::v1::Event e;
    e.set_type("contact.created");
    e.set_org_id(alice_.org_id);
    e.set_user_id(alice_.user_id);
    e.mutable_contact()->mutable_contact()->set_id(id);
    e.mutable_contact()->mutable_contact()->set_effective_cadence_days(cadence);
    ASSERT_TRUE(
        store_->db().Write([&](db::Connection& conn) { return InteractionsStore::ApplyContactEvent(conn, e); }).ok());
  }

  absl::StatusOr<Cadences> Check(const std::vector<std::string>& ids) {
    std::vector<std::string> fields;
    for (size_t i = 0; i < ids.size(); ++i) fields.push_back(absl::StrCat("contactIds[", i, "]"));
    std::promise<absl::StatusOr<Cadences>> answer;
    checker_->Check(alice_, ids, fields, [&](absl::StatusOr<Cadences> r) { answer.set_value(std::move(r)); });
    return answer.get_future().get();
  }

  std::filesystem::path dir_;
  std::unique_ptr<InteractionsStore> store_;
  FakeDirectory profiles_;
  std::unique_ptr<ContactChecker> checker_;
  TenantContext alice_;
};

TEST_F(ContactCheckerTest, ContactsTheLedgerKnowsNeedNoCallToProfiles) {
  KnownLocally("c1", 14);
  KnownLocally("c2", 30);
  absl::StatusOr<Cadences> got = Check({"c1", "c2"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, (Cadences{{"c1", 14}, {"c2", 30}}));
  EXPECT_TRUE(profiles_.asked.empty());
  // Known locally, they are accepted even with profiles down.
  profiles_.down = true;
  EXPECT_TRUE(Check({"c1"}).ok());
}

TEST_F(ContactCheckerTest, ProfilesIsAskedOnceForOnlyTheUnknownContacts) {
  KnownLocally("c1", 14);
  profiles_.contacts[{"alice", "c2"}] = 30;
  profiles_.contacts[{"alice", "c3"}] = 180;
  absl::StatusOr<Cadences> got = Check({"c2", "c1", "c3"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, (Cadences{{"c1", 14}, {"c2", 30}, {"c3", 180}}));
  ASSERT_EQ(profiles_.asked.size(), 1u);
  EXPECT_EQ(profiles_.asked[0], (std::vector<std::string>{"c2", "c3"}));
}

TEST_F(ContactCheckerTest, AnotherUsersContactIsInvalidArgumentNamingItsField) {
  profiles_.contacts[{"bob", "b1"}] = 30;  // bob's, not alice's
  profiles_.contacts[{"alice", "c1"}] = 30;
  absl::StatusOr<Cadences> got = Check({"c1", "b1"});
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(got.status().message(), "contactIds[1]: no such contact");
}

TEST_F(ContactCheckerTest, ProfilesDownIsUnavailableForUnknownContacts) {
  KnownLocally("c1", 14);
  profiles_.down = true;
  EXPECT_EQ(Check({"c1", "c2"}).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace rapport::interactions

// --- planned interactions (issue 19) ---

namespace rapport::interactions {
namespace {

TEST(InteractionStateTest, TheFutureIsPlannedAndThePastHappened) {
  const int64_t now = int64_t{1790000000} * 1000000;
  pb::Interaction i;
  *i.mutable_occurred_at() = ToTimestamp(now + 7 * int64_t{86400} * 1000000);
  ASSERT_TRUE(SetStateFromTime(i, now).ok());
  EXPECT_EQ(i.state(), pb::PLANNED);
  // Moved to the past (or to now): it happened.
  *i.mutable_occurred_at() = ToTimestamp(now);
  ASSERT_TRUE(SetStateFromTime(i, now).ok());
  EXPECT_EQ(i.state(), pb::HAPPENED);
  // And back to the future: planned again.
  *i.mutable_occurred_at() = ToTimestamp(now + 1);
  ASSERT_TRUE(SetStateFromTime(i, now).ok());
  EXPECT_EQ(i.state(), pb::PLANNED);
  // A cancelled one stays cancelled: it can only be deleted.
  i.set_state(pb::CANCELLED);
  absl::Status s = SetStateFromTime(i, now);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("cancelled"), std::string::npos) << s;
}

}  // namespace
}  // namespace rapport::interactions
