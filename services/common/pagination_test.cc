// Table tests of list pagination: page sizes as API.md fixes them (0 means
// 50, above 500 clamped, negative refused) and page tokens, which a client
// may send back corrupted, truncated or forged.
#include "services/common/pagination.h"

#include <gtest/gtest.h>

#include <climits>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"

namespace rapport {
namespace {

// --- page sizes ---

struct PageSizeCase {
  const char* name;  // the behaviour, used as the test's name
  int requested;
  absl::StatusCode code;
  int want;             // when OK
  const char* message;  // a fragment of the error message, when not OK
};

class PageSizeTest : public ::testing::TestWithParam<PageSizeCase> {};

TEST_P(PageSizeTest, Answers) {
  const PageSizeCase& c = GetParam();
  absl::StatusOr<int> got = PageSize(c.requested);
  ASSERT_EQ(got.status().code(), c.code) << got.status();
  if (got.ok()) {
    EXPECT_EQ(*got, c.want);
  } else {
    EXPECT_NE(got.status().message().find(c.message), std::string::npos) << got.status();
  }
}

INSTANTIATE_TEST_SUITE_P(
    PageSizes, PageSizeTest,
    ::testing::Values(PageSizeCase{"ZeroMeansTheDefault", 0, absl::StatusCode::kOk, kDefaultPageSize, ""},
                      PageSizeCase{"OneIsKept", 1, absl::StatusCode::kOk, 1, ""},
                      PageSizeCase{"SizeBelowMaximumIsKept", 123, absl::StatusCode::kOk, 123, ""},
                      PageSizeCase{"MaximumIsKept", kMaxPageSize, absl::StatusCode::kOk, kMaxPageSize, ""},
                      PageSizeCase{"ClampsOneAboveMaximum", kMaxPageSize + 1, absl::StatusCode::kOk, kMaxPageSize, ""},
                      PageSizeCase{"ClampsHugeSize", INT_MAX, absl::StatusCode::kOk, kMaxPageSize, ""},
                      PageSizeCase{"RejectsMinusOne", -1, absl::StatusCode::kInvalidArgument, 0,
                                   "pageSize: must not be negative"},
                      PageSizeCase{"RejectsMostNegative", INT_MIN, absl::StatusCode::kInvalidArgument, 0, "pageSize:"}),
    [](const ::testing::TestParamInfo<PageSizeCase>& info) { return std::string(info.param.name); });

// --- page tokens ---

TEST(PageTokenTest, RoundTripsEveryKeyShape) {
  for (const std::string& key : std::vector<std::string>{"01hzy3k5n8q2w7e4r6t9y0u1i2", "a", "0", std::string(200, 'z'),
                                                         "with space and \"quotes\"", std::string("nul\0inside", 10),
                                                         "\xff\xfe binary", JoinKeyParts({"org", "user", "id"})}) {
    std::string token = EncodePageToken(key);
    // Opaque and safe in a URL query without escaping.
    EXPECT_EQ(token.find_first_of("+/=&?# "), std::string::npos) << token;
    absl::StatusOr<std::string> back = DecodePageToken(token);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, key);
  }
}

std::string Base64Url(const std::string& raw) { return absl::WebSafeBase64Escape(raw); }

struct TokenCase {
  const char* name;
  std::string token;
  absl::StatusCode code;
  std::string want;  // the key, when OK
};

class DecodePageTokenTest : public ::testing::TestWithParam<TokenCase> {};

TEST_P(DecodePageTokenTest, Answers) {
  const TokenCase& c = GetParam();
  absl::StatusOr<std::string> got = DecodePageToken(c.token);
  ASSERT_EQ(got.status().code(), c.code) << got.status();
  if (got.ok()) {
    EXPECT_EQ(*got, c.want);
  } else {
    // The message names the request field and says what is wrong, never echoes the token.
    EXPECT_EQ(got.status().message(), "pageToken: is not a token from a previous page");
  }
}

INSTANTIATE_TEST_SUITE_P(
    PageTokens, DecodePageTokenTest,
    ::testing::Values(
        TokenCase{"EmptyTokenIsTheFirstPage", "", absl::StatusCode::kOk, ""},
        TokenCase{"AcceptsItsOwnToken", EncodePageToken("abc"), absl::StatusCode::kOk, "abc"},
        TokenCase{"RejectsNotBase64", "not base64!", absl::StatusCode::kInvalidArgument, ""},
        TokenCase{"RejectsPlainKeyNotEncoded", "01hzy3k5n8q2w7e4r6t9y0u1i2", absl::StatusCode::kInvalidArgument, ""},
        TokenCase{"RejectsWrongVersionPrefix", Base64Url("k2:abc"), absl::StatusCode::kInvalidArgument, ""},
        TokenCase{"RejectsMissingPrefix", Base64Url("abc"), absl::StatusCode::kInvalidArgument, ""},
        TokenCase{"RejectsPrefixAlone", Base64Url("k1:"), absl::StatusCode::kInvalidArgument, ""},
        TokenCase{"RejectsTruncatedPrefix", Base64Url("k1"), absl::StatusCode::kInvalidArgument, ""},
        TokenCase{"RejectsStandardBase64Alphabet", "azE6Pz8/", absl::StatusCode::kInvalidArgument, ""},
        TokenCase{"RejectsTokenLongerThan1024", Base64Url("k1:" + std::string(1000, 'a')),
                  absl::StatusCode::kInvalidArgument, ""}),
    [](const ::testing::TestParamInfo<TokenCase>& info) { return std::string(info.param.name); });

// --- a whole request: size and token together ---

TEST(ParsePageTest, ReportsTheSizeErrorBeforeTheTokenError) {
  absl::StatusOr<Page> page = ParsePage(-5, "garbage!");
  ASSERT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(page.status().message().find("pageSize"), std::string::npos) << page.status();
}

TEST(ParsePageTest, FirstPageHasDefaultSizeAndNoKey) {
  absl::StatusOr<Page> page = ParsePage(0, "");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->size, kDefaultPageSize);
  EXPECT_EQ(page->after, "");
}

TEST(ParsePageTest, LaterPageStartsAfterTheTokensKey) {
  absl::StatusOr<Page> page = ParsePage(1000, EncodePageToken("last-id"));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->size, kMaxPageSize);
  EXPECT_EQ(page->after, "last-id");
}

TEST(ParsePageTest, RejectsCorruptToken) {
  absl::StatusOr<Page> page = ParsePage(10, "%%%");
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(page.status().message().find("pageToken"), std::string::npos) << page.status();
}

// --- multi-column keys ---

struct SplitCase {
  const char* name;
  std::string key;
  size_t n;
  absl::StatusCode code;
  std::vector<std::string> want;
};

class SplitKeyPartsTest : public ::testing::TestWithParam<SplitCase> {};

TEST_P(SplitKeyPartsTest, Answers) {
  const SplitCase& c = GetParam();
  absl::StatusOr<std::vector<std::string>> got = SplitKeyParts(c.key, c.n);
  ASSERT_EQ(got.status().code(), c.code) << got.status();
  if (got.ok()) {
    EXPECT_EQ(*got, c.want);
  } else {
    EXPECT_NE(got.status().message().find("pageToken:"), std::string::npos) << got.status();
  }
}

INSTANTIATE_TEST_SUITE_P(
    KeyParts, SplitKeyPartsTest,
    ::testing::Values(
        SplitCase{"EmptyKeyPadsEveryPart", "", 3, absl::StatusCode::kOk, {"", "", ""}},
        SplitCase{"ExactPartCountSplits", JoinKeyParts({"o", "u", "i"}), 3, absl::StatusCode::kOk, {"o", "u", "i"}},
        SplitCase{"FewerPartsArePadded", JoinKeyParts({"o"}), 3, absl::StatusCode::kOk, {"o", "", ""}},
        SplitCase{"EmptyInnerPartIsKept", JoinKeyParts({"o", "", "i"}), 3, absl::StatusCode::kOk, {"o", "", "i"}},
        SplitCase{"RejectsMorePartsThanTheKeyHas",
                  JoinKeyParts({"a", "b", "c", "d"}),
                  3,
                  absl::StatusCode::kInvalidArgument,
                  {}}),
    [](const ::testing::TestParamInfo<SplitCase>& info) { return std::string(info.param.name); });

// --- one row more than the page tells whether another page follows ---

TEST(TrimToPageTest, LastPageHasNoNextToken) {
  std::vector<std::string> items = {"a", "b"};
  EXPECT_EQ(TrimToPage(items, 2, [](const std::string& s) { return s; }), "");
  EXPECT_EQ(items.size(), 2u);
}

TEST(TrimToPageTest, ExtraRowIsDroppedAndNextTokenStartsAfterTheLastKept) {
  std::vector<std::string> items = {"a", "b", "c"};
  std::string next = TrimToPage(items, 2, [](const std::string& s) { return s; });
  EXPECT_EQ(items, (std::vector<std::string>{"a", "b"}));
  absl::StatusOr<std::string> after = DecodePageToken(next);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, "b");
}

}  // namespace
}  // namespace rapport
