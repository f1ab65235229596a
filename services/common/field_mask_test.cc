// Table tests of ApplyFieldMask on a real message (profiles' Contact): which
// fields a PATCH changes, and how it refuses unknown, malformed and
// read-only paths.
#include "services/common/field_mask.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "rapport/profiles/v1/profiles.pb.h"

namespace rapport {
namespace {

using ::rapport::profiles::v1::Contact;

// As profiles declares them for a contact.
const std::set<std::string> kReadOnly = {"id", "create_time", "update_time", "effective_cadence_days"};

// The stored contact every case patches.
constexpr char kStored[] = R"pb(
  id: "c1"
  display_name: "Ada"
  headline: "Analyst"
  tags: "math"
  tags: "engines"
  birthday { month: 12 day: 10 year: 1815 }
  tier: CLOSE
  create_time { seconds: 100 }
)pb";

struct MaskCase {
  const char* name;
  const char* patch;               // text format Contact
  std::vector<std::string> paths;  // the update mask
  absl::StatusCode code;
  const char* want;  // the contact after the patch when OK, else the whole error message
};

Contact Parse(const char* text) {
  Contact c;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &c)) << text;
  return c;
}

class ApplyFieldMaskTest : public ::testing::TestWithParam<MaskCase> {};

TEST_P(ApplyFieldMaskTest, Answers) {
  const MaskCase& c = GetParam();
  Contact patch = Parse(c.patch);
  google::protobuf::FieldMask mask;
  for (const std::string& p : c.paths) mask.add_paths(p);
  Contact target = Parse(kStored);
  absl::Status s = ApplyFieldMask(patch, mask, kReadOnly, "contact", &target);
  ASSERT_EQ(s.code(), c.code) << s;
  if (s.ok()) {
    Contact want = Parse(c.want);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(target, want)) << "got:\n"
                                                                                  << target.DebugString() << "want:\n"
                                                                                  << want.DebugString();
  } else {
    EXPECT_EQ(s.message(), c.want);
    // A refused patch changes nothing.
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(target, Parse(kStored)));
  }
}

constexpr absl::StatusCode kOk = absl::StatusCode::kOk;
constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

INSTANTIATE_TEST_SUITE_P(
    FieldMasks, ApplyFieldMaskTest,
    ::testing::Values(
        MaskCase{"EmptyMaskAndEmptyPatchChangeNothing", "", {}, kOk, kStored},
        MaskCase{"EmptyMaskCopiesEveryFieldSetInThePatch",
                 R"pb(headline: "Countess" company: "Babbage & Co")pb",
                 {},
                 kOk,
                 R"pb(
                   id: "c1"
                   display_name: "Ada"
                   headline: "Countess"
                   company: "Babbage & Co"
                   tags: "math"
                   tags: "engines"
                   birthday { month: 12 day: 10 year: 1815 }
                   tier: CLOSE
                   create_time { seconds: 100 })pb"},
        MaskCase{"EmptyMaskSkipsReadOnlyFieldsSetInThePatch",
                 R"pb(id: "forged"
                      headline: "Countess"
                      create_time { seconds: 1 })pb",
                 {},
                 kOk,
                 R"pb(
                   id: "c1"
                   display_name: "Ada"
                   headline: "Countess"
                   tags: "math"
                   tags: "engines"
                   birthday { month: 12 day: 10 year: 1815 }
                   tier: CLOSE
                   create_time { seconds: 100 })pb"},
        MaskCase{"MaskCopiesOnlyTheNamedFields",
                 R"pb(headline: "Countess" company: "ignored")pb",
                 {"headline"},
                 kOk,
                 R"pb(
                   id: "c1"
                   display_name: "Ada"
                   headline: "Countess"
                   tags: "math"
                   tags: "engines"
                   birthday { month: 12 day: 10 year: 1815 }
                   tier: CLOSE
                   create_time { seconds: 100 })pb"},
        MaskCase{"NamedFieldUnsetInThePatchIsCleared", "", {"headline", "tier"}, kOk, R"pb(
                   id: "c1"
                   display_name: "Ada"
                   tags: "math"
                   tags: "engines"
                   birthday { month: 12 day: 10 year: 1815 }
                   create_time { seconds: 100 })pb"},
        MaskCase{"RepeatedFieldIsReplacedNotAppended", R"pb(tags: "poetry")pb", {"tags"}, kOk, R"pb(
                   id: "c1"
                   display_name: "Ada"
                   headline: "Analyst"
                   tags: "poetry"
                   birthday { month: 12 day: 10 year: 1815 }
                   tier: CLOSE
                   create_time { seconds: 100 })pb"},
        MaskCase{"DuplicatePathIsAppliedOnce", R"pb(tags: "poetry")pb", {"tags", "tags"}, kOk, R"pb(
                   id: "c1"
                   display_name: "Ada"
                   headline: "Analyst"
                   tags: "poetry"
                   birthday { month: 12 day: 10 year: 1815 }
                   tier: CLOSE
                   create_time { seconds: 100 })pb"},
        MaskCase{"MessageFieldIsReplacedWhole", R"pb(birthday { month: 1 day: 2 })pb", {"birthday"}, kOk, R"pb(
                   id: "c1"
                   display_name: "Ada"
                   headline: "Analyst"
                   tags: "math"
                   tags: "engines"
                   birthday { month: 1 day: 2 }
                   tier: CLOSE
                   create_time { seconds: 100 })pb"},
        MaskCase{"NestedPathChangesOnlyThatSubfield",
                 R"pb(birthday { month: 1 day: 2 })pb",
                 {"birthday.month"},
                 kOk,
                 R"pb(
                   id: "c1"
                   display_name: "Ada"
                   headline: "Analyst"
                   tags: "math"
                   tags: "engines"
                   birthday { month: 1 day: 10 year: 1815 }
                   tier: CLOSE
                   create_time { seconds: 100 })pb"},
        MaskCase{"RejectsUnknownField",
                 R"pb(headline: "x")pb",
                 {"nickname"},
                 kInvalid,
                 "updateMask: unknown field \"nickname\""},
        MaskCase{"RejectsJsonNameInsteadOfProtoName",
                 R"pb(display_name: "x")pb",
                 {"displayName"},
                 kInvalid,
                 "updateMask: unknown field \"displayName\""},
        MaskCase{"RejectsEmptyPath", "", {""}, kInvalid, "updateMask: unknown field \"\""},
        MaskCase{
            "RejectsUnknownSubfield", "", {"birthday.era"}, kInvalid, "updateMask: unknown field \"birthday.era\""},
        MaskCase{"RejectsPathThroughAScalar",
                 "",
                 {"display_name.first"},
                 kInvalid,
                 "updateMask: unknown field \"display_name.first\""},
        MaskCase{"RejectsPathThroughARepeatedField",
                 "",
                 {"tags.value"},
                 kInvalid,
                 "updateMask: unknown field \"tags.value\""},
        MaskCase{"RejectsReadOnlyFieldByItsJsonName",
                 R"pb(id: "forged")pb",
                 {"id"},
                 kInvalid,
                 "contact.id: cannot be changed"},
        MaskCase{"RejectsOutputOnlyField",
                 R"pb(effective_cadence_days: 3)pb",
                 {"effective_cadence_days"},
                 kInvalid,
                 "contact.effectiveCadenceDays: cannot be changed"},
        MaskCase{"RejectsSubfieldOfReadOnlyField",
                 "",
                 {"create_time.seconds"},
                 kInvalid,
                 "contact.createTime: cannot be changed"},
        MaskCase{"ListsEveryBadPathAndAppliesNone",
                 R"pb(headline: "x")pb",
                 {"headline", "nickname", "update_time"},
                 kInvalid,
                 "updateMask: unknown field \"nickname\"; contact.updateTime: cannot be changed"}),
    [](const ::testing::TestParamInfo<MaskCase>& info) { return std::string(info.param.name); });

TEST(ApplyFieldMaskPrefixTest, TopLevelResourceNamesTheFieldWithoutPrefix) {
  Contact patch;
  google::protobuf::FieldMask mask;
  mask.add_paths("create_time");
  Contact target;
  absl::Status s = ApplyFieldMask(patch, mask, kReadOnly, "", &target);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "createTime: cannot be changed");
}

// ChangedFields names the top-level fields whose values differ (repeated
// and nested ones compared whole), in field-number order, minus those ignored.
TEST(ChangedFieldsTest, NamesWhatDiffers) {
  Contact before;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(kStored, &before));
  Contact after = before;
  EXPECT_TRUE(ChangedFields(before, after).paths().empty());
  after.add_tags("poetry");
  after.mutable_birthday()->set_day(11);
  after.set_notes("secret");
  after.mutable_update_time()->set_seconds(200);
  google::protobuf::FieldMask changed = ChangedFields(before, after, {"notes"});
  EXPECT_EQ(std::vector<std::string>(changed.paths().begin(), changed.paths().end()),
            (std::vector<std::string>{"birthday", "tags", "update_time"}));
  after = before;
  after.clear_headline();
  changed = ChangedFields(before, after);
  EXPECT_EQ(std::vector<std::string>(changed.paths().begin(), changed.paths().end()),
            std::vector<std::string>{"headline"});
}

TEST(MayHaveChangedTest, NamesOneOfTheFieldsOrNothingAtAll) {
  google::protobuf::FieldMask changed;
  EXPECT_TRUE(MayHaveChanged(changed, {"company"}));  // a producer that does not say
  changed.add_paths("phones");
  changed.add_paths("update_time");
  EXPECT_FALSE(MayHaveChanged(changed, {"company", "title"}));
  changed.add_paths("title");
  EXPECT_TRUE(MayHaveChanged(changed, {"company", "title"}));
  EXPECT_FALSE(MayHaveChanged(changed, {}));
}

}  // namespace
}  // namespace rapport
