// Table tests of input validation: every checker of Violations with the edge
// cases a client can send (empty, whitespace, too long by code points, bad
// UTF-8, odd addresses), and the one INVALID_ARGUMENT they add up to.
#include "services/common/validate.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "google/protobuf/repeated_ptr_field.h"

namespace rapport {
namespace {

// --- Utf8Length: code points, or npos for anything that is not UTF-8 ---

struct Utf8Case {
  const char* name;
  std::string input;
  size_t want;  // std::string_view::npos: not UTF-8
};

class Utf8LengthTest : public ::testing::TestWithParam<Utf8Case> {};

TEST_P(Utf8LengthTest, CountsCodePointsOrRefuses) { EXPECT_EQ(Utf8Length(GetParam().input), GetParam().want); }

constexpr size_t kNotUtf8 = std::string_view::npos;

INSTANTIATE_TEST_SUITE_P(Utf8, Utf8LengthTest,
                         ::testing::Values(Utf8Case{"EmptyIsZero", "", 0}, Utf8Case{"AsciiCountsBytes", "hello", 5},
                                           Utf8Case{"NulIsOneCodePoint", std::string("a\0b", 3), 3},
                                           Utf8Case{"TwoByteSequenceIsOne", "\xc3\xa9", 1},             // é
                                           Utf8Case{"ThreeByteSequenceIsOne", "\xe2\x82\xac", 1},       // €
                                           Utf8Case{"FourByteSequenceIsOne", "\xf0\x9f\x98\x80", 1},    // 😀
                                           Utf8Case{"LastCodePointIsAccepted", "\xf4\x8f\xbf\xbf", 1},  // U+10FFFF
                                           Utf8Case{"RejectsLoneContinuationByte", "a\x80", kNotUtf8},
                                           Utf8Case{"RejectsTruncatedSequenceAtEnd", "ab\xc3", kNotUtf8},
                                           Utf8Case{"RejectsTruncatedFourByteSequence", "\xf0\x9f\x98", kNotUtf8},
                                           Utf8Case{"RejectsSequenceInterruptedByAscii", "\xe2\x82x", kNotUtf8},
                                           Utf8Case{"RejectsOverlongSlash", "\xc0\xaf", kNotUtf8},
                                           Utf8Case{"RejectsOverlongNul", "\xc0\x80", kNotUtf8},
                                           Utf8Case{"RejectsOverlongThreeByte", "\xe0\x80\xaf", kNotUtf8},
                                           Utf8Case{"RejectsSurrogate", "\xed\xa0\x80", kNotUtf8},
                                           Utf8Case{"RejectsAboveU10FFFF", "\xf4\x90\x80\x80", kNotUtf8},
                                           Utf8Case{"RejectsFiveByteLead", "\xf8\x88\x80\x80\x80", kNotUtf8},
                                           Utf8Case{"RejectsFfByte", "\xff", kNotUtf8}),
                         [](const ::testing::TestParamInfo<Utf8Case>& info) { return std::string(info.param.name); });

// --- each checker: one field in, at most one violation out ---

struct CheckCase {
  const char* name;
  std::function<void(Violations&)> check;  // runs one checker on field "f"
  const char* want;                        // the whole message, "" when the value is valid
};

class CheckerTest : public ::testing::TestWithParam<CheckCase> {};

TEST_P(CheckerTest, Answers) {
  Violations v;
  GetParam().check(v);
  absl::Status status = v.ToStatus();
  if (std::string(GetParam().want).empty()) {
    EXPECT_TRUE(status.ok()) << status;
  } else {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), GetParam().want);
  }
}

std::function<void(Violations&)> Text(std::string value, size_t max, bool required = false) {
  return [=](Violations& v) { v.Text("f", value, max, required); };
}
std::function<void(Violations&)> Email(std::string value) {
  return [=](Violations& v) { v.Email("f", value); };
}
std::function<void(Violations&)> Url(std::string value) {
  return [=](Violations& v) { v.Url("f", value); };
}
std::function<void(Violations&)> Phone(std::string value) {
  return [=](Violations& v) { v.Phone("f", value); };
}
std::function<void(Violations&)> Id(std::string value, bool required) {
  return [=](Violations& v) { v.Id("f", value, required); };
}
std::function<void(Violations&)> TextList(std::vector<std::string> values, size_t max_items, size_t max_chars) {
  return [=](Violations& v) {
    google::protobuf::RepeatedPtrField<std::string> field(values.begin(), values.end());
    v.TextList("f", field, max_items, max_chars);
  };
}

INSTANTIATE_TEST_SUITE_P(
    Text, CheckerTest,
    ::testing::Values(CheckCase{"TextAcceptsEmptyWhenOptional", Text("", 10), ""},
                      CheckCase{"TextRejectsEmptyWhenRequired", Text("", 10, true), "f: is required"},
                      CheckCase{"TextRejectsOnlySpacesWhenRequired", Text(" \t\n ", 10, true), "f: is required"},
                      CheckCase{"TextAcceptsExactlyMaxChars", Text("abcde", 5), ""},
                      CheckCase{"TextRejectsOneCharTooMany", Text("abcdef", 5), "f: is longer than 5 characters"},
                      CheckCase{"TextCountsCodePointsNotBytes", Text("\xc3\xa9\xc3\xa9\xc3\xa9", 3), ""},
                      CheckCase{"TextCountsEmojiAsOne", Text("\xf0\x9f\x98\x80", 1), ""},
                      CheckCase{"TextRejectsBadUtf8", Text("ok\xff", 100), "f: is not valid UTF-8"},
                      // Bad UTF-8 is the one problem named, even when also empty-ish or long.
                      CheckCase{"TextRejectsBadUtf8BeforeLength", Text(std::string(20, '\x80'), 5, true),
                                "f: is not valid UTF-8"}),
    [](const ::testing::TestParamInfo<CheckCase>& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Email, CheckerTest,
    ::testing::Values(
        CheckCase{"EmailAcceptsPlainAddress", Email("ada@example.com"), ""},
        CheckCase{"EmailAcceptsPlusAndSubdomain", Email("ada+crm@mail.example.co.uk"), ""},
        CheckCase{"EmailRejectsEmpty", Email(""), "f: is required"},
        CheckCase{"EmailRejectsMissingAt", Email("ada.example.com"), "f: is not an email address"},
        CheckCase{"EmailRejectsEmptyLocalPart", Email("@example.com"), "f: is not an email address"},
        CheckCase{"EmailRejectsTwoAts", Email("a@b@example.com"), "f: is not an email address"},
        CheckCase{"EmailRejectsDomainWithoutDot", Email("ada@localhost"), "f: is not an email address"},
        CheckCase{"EmailRejectsDomainStartingWithDot", Email("ada@.example.com"), "f: is not an email address"},
        CheckCase{"EmailRejectsDomainEndingWithDot", Email("ada@example."), "f: is not an email address"},
        CheckCase{"EmailRejectsDoubleDot", Email("ada@example..com"), "f: is not an email address"},
        CheckCase{"EmailRejectsSpace", Email("ada lovelace@example.com"), "f: is not an email address"},
        CheckCase{"EmailRejectsAngleBrackets", Email("<ada@example.com>"), "f: is not an email address"},
        CheckCase{"EmailRejectsComma", Email("ada@example.com,bob@example.com"), "f: is not an email address"},
        CheckCase{"EmailRejectsCarriageReturn", Email("ada@example.com\r"), "f: is not an email address"},
        CheckCase{"EmailRejectsControlCharacter", Email("ada\x01@example.com"), "f: is not an email address"},
        CheckCase{"EmailRejectsNul", Email(std::string("ada\0@example.com", 16)), "f: is not an email address"},
        CheckCase{"EmailRejectsDelete", Email("ada\x7f@example.com"), "f: is not an email address"},
        CheckCase{"EmailRejectsLongerThan254", Email(std::string(250, 'a') + "@b.co"),
                  "f: is longer than 254 characters"},
        CheckCase{"EmailRejectsBadUtf8", Email("ada\xc3@example.com"), "f: is not valid UTF-8"}),
    [](const ::testing::TestParamInfo<CheckCase>& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Url, CheckerTest,
    ::testing::Values(CheckCase{"UrlAcceptsHttps", Url("https://example.com"), ""},
                      CheckCase{"UrlAcceptsHttpWithPathQueryAndFragment", Url("http://example.com:8080/a/b?c=d#e"), ""},
                      CheckCase{"UrlRejectsEmpty", Url(""), "f: is required"},
                      CheckCase{"UrlRejectsOtherScheme", Url("ftp://example.com"), "f: must be an http or https URL"},
                      CheckCase{"UrlRejectsJavascript", Url("javascript:alert(1)"), "f: must be an http or https URL"},
                      CheckCase{"UrlRejectsNoScheme", Url("example.com"), "f: must be an http or https URL"},
                      CheckCase{"UrlRejectsEmptyHost", Url("https://"), "f: is not a valid URL"},
                      CheckCase{"UrlRejectsPathWithoutHost", Url("https:///path"), "f: is not a valid URL"},
                      CheckCase{"UrlRejectsQueryWithoutHost", Url("https://?q=1"), "f: is not a valid URL"},
                      CheckCase{"UrlRejectsSpace", Url("https://example.com/a b"), "f: is not a valid URL"},
                      CheckCase{"UrlRejectsNewline", Url("https://example.com/\nX-Injected: 1"),
                                "f: is not a valid URL"},
                      CheckCase{"UrlRejectsLongerThan2048", Url("https://example.com/" + std::string(2040, 'a')),
                                "f: is longer than 2048 characters"}),
    [](const ::testing::TestParamInfo<CheckCase>& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(Phone, CheckerTest,
                         ::testing::Values(CheckCase{"PhoneAcceptsInternationalFormat", Phone("+1 (555) 010-9999"), ""},
                                           CheckCase{"PhoneAcceptsDots", Phone("555.010.9999"), ""},
                                           CheckCase{"PhoneAcceptsThreeDigits", Phone("112"), ""},
                                           CheckCase{"PhoneRejectsEmpty", Phone(""), "f: is required"},
                                           CheckCase{"PhoneRejectsTwoDigits", Phone("+12"), "f: has too few digits"},
                                           CheckCase{"PhoneRejectsLetters", Phone("555-CALL-NOW"),
                                                     "f: may hold only digits, spaces and + - ( ) ."},
                                           CheckCase{"PhoneRejectsLongerThan40", Phone(std::string(41, '1')),
                                                     "f: is longer than 40 characters"}),
                         [](const ::testing::TestParamInfo<CheckCase>& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Id, CheckerTest,
    ::testing::Values(CheckCase{"IdAcceptsUlid", Id("01hzy3k5n8q2w7e4r6t9y0u1i2", true), ""},
                      CheckCase{"IdAcceptsMe", Id("me", true), ""},
                      CheckCase{"IdAcceptsEmptyWhenOptional", Id("", false), ""},
                      CheckCase{"IdRejectsEmptyWhenRequired", Id("", true), "f: is required"},
                      CheckCase{"IdRejectsUppercase", Id("01HZY3K5N8", true), "f: is not a valid id"},
                      CheckCase{"IdRejectsSlash", Id("a/../b", true), "f: is not a valid id"},
                      CheckCase{"IdRejectsSpace", Id("a b", false), "f: is not a valid id"},
                      CheckCase{"IdRejectsLongerThan64", Id(std::string(65, 'a'), true), "f: is not a valid id"}),
    [](const ::testing::TestParamInfo<CheckCase>& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    TextList, CheckerTest,
    ::testing::Values(
        CheckCase{"TextListAcceptsEmptyList", TextList({}, 3, 10), ""},
        CheckCase{"TextListAcceptsMaxItems", TextList({"a", "b", "c"}, 3, 10), ""},
        CheckCase{"TextListRejectsTooManyItems", TextList({"a", "b", "c", "d"}, 3, 10), "f: has more than 3 items"},
        CheckCase{"TextListNamesTheEmptyItemByIndex", TextList({"a", " "}, 3, 10), "f[1]: is required"},
        CheckCase{"TextListNamesTheLongItemByIndex", TextList({"abcdefghijk"}, 3, 10),
                  "f[0]: is longer than 10 characters"},
        CheckCase{"TextListNamesTheBadUtf8Item", TextList({"ok", "ok", "\xc0\xaf"}, 3, 10), "f[2]: is not valid UTF-8"},
        CheckCase{"TextListNamesEveryBadItem", TextList({"", "ok", ""}, 3, 10),
                  "f[0]: is required; f[2]: is required"}),
    [](const ::testing::TestParamInfo<CheckCase>& info) { return std::string(info.param.name); });

// --- Violations as a whole ---

TEST(ViolationsTest, NoViolationIsOk) {
  Violations v;
  v.Text("name", "Ada", 10, true);
  EXPECT_TRUE(v.empty());
  EXPECT_TRUE(v.ToStatus().ok());
}

TEST(ViolationsTest, EveryViolationIsListedInOrderInOneInvalidArgument) {
  Violations v;
  v.Text("contact.displayName", "", 200, true);
  v.Email("contact.emails[0]", "nope");
  v.Add("updateMask", "unknown field \"x\"");
  ASSERT_EQ(v.items().size(), 3u);
  absl::Status s = v.ToStatus();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "contact.displayName: is required; contact.emails[0]: is not an email address; "
            "updateMask: unknown field \"x\"");
}

struct RequireIdCase {
  const char* name;
  std::string id;
  const char* want;  // "" when OK
};

class RequireIdTest : public ::testing::TestWithParam<RequireIdCase> {};

TEST_P(RequireIdTest, Answers) {
  absl::Status s = RequireId("contactId", GetParam().id);
  if (std::string(GetParam().want).empty()) {
    EXPECT_TRUE(s.ok()) << s;
  } else {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), GetParam().want);
  }
}

INSTANTIATE_TEST_SUITE_P(
    RequireId, RequireIdTest,
    ::testing::Values(RequireIdCase{"AcceptsWellFormedId", "01hzy3k5n8q2w7e4r6t9y0u1i2", ""},
                      RequireIdCase{"RejectsEmpty", "", "contactId: is required"},
                      RequireIdCase{"RejectsMalformed", "DROP TABLE", "contactId: is not a valid id"}),
    [](const ::testing::TestParamInfo<RequireIdCase>& info) { return std::string(info.param.name); });

struct NormalizeCase {
  const char* name;
  std::string input;
  std::string want;
};

class NormalizeKeyTest : public ::testing::TestWithParam<NormalizeCase> {};

TEST_P(NormalizeKeyTest, Answers) { EXPECT_EQ(NormalizeKey(GetParam().input), GetParam().want); }

INSTANTIATE_TEST_SUITE_P(
    NormalizeKey, NormalizeKeyTest,
    ::testing::Values(NormalizeCase{"LowercasesAscii", "Ada@Example.COM", "ada@example.com"},
                      NormalizeCase{"TrimsSpacesAndTabs", " \tfounders\n ", "founders"},
                      NormalizeCase{"KeepsInnerSpaces", "Angel Investors", "angel investors"},
                      NormalizeCase{"LeavesNonAsciiAlone", "\xc3\x89t\xc3\xa9", "\xc3\x89t\xc3\xa9"},
                      NormalizeCase{"EmptyStaysEmpty", "", ""}),
    [](const ::testing::TestParamInfo<NormalizeCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace rapport
