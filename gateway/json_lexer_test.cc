// The lexer's tokens and errors, one table per reader. (Its users are tested
// on top: ScanJson in transcoder_test.cc, ParseJsonFast and ParseJsonValue in
// json_parser_test.cc.)
#include "gateway/json_lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rapport::gateway {
namespace {

struct StringCase {
  std::string text;
  bool ok;
  std::string value_or_error;  // the unescaped value, or the error
  size_t offset;               // the cursor after the string, or where the error is
};

TEST(JsonLexerTest, StringsAreUnescapedOrRefusedWithTheirOffset) {
  const std::vector<StringCase> cases = {
      {R"("plain")", true, "plain", 7},
      {R"(  "lead")", true, "lead", 8},
      {R"("a\"b\\c\/d\b\f\n\r\t")", true, "a\"b\\c/d\b\f\n\r\t", 22},
      {R"("\u00e9\u20ac")", true, "\xc3\xa9\xe2\x82\xac", 14},
      {R"("\ud83d\ude00")", true, "\xf0\x9f\x98\x80", 14},
      {R"("\u0000")", true, std::string(1, '\0'), 8},
      {"'single'", false, "expected a double-quoted string", 0},
      {R"("open)", false, "unterminated string", 5},
      {"\"tab\there\"", false, "unescaped control character in a string", 4},
      {R"("a\qb")", false, "invalid escape in a string", 3},
      {R"("a\)", false, "invalid escape in a string", 3},
      {R"("\u12")", false, "truncated \\u escape", 3},
      {R"("\u12G4")", false, "invalid \\u escape", 3},
      {R"("\ud800")", false, "unpaired surrogate in a \\u escape", 7},
      {R"("\ud800\u0041")", false, "unpaired surrogate in a \\u escape", 13},
      {R"("\udc00")", false, "unpaired surrogate in a \\u escape", 7},
  };
  for (const StringCase& c : cases) {
    JsonLexer lexer(c.text);
    std::string value = "stale";
    const bool ok = lexer.String(&value);
    EXPECT_EQ(ok, c.ok) << c.text;
    EXPECT_EQ(ok ? value : lexer.error(), c.value_or_error) << c.text;
    EXPECT_EQ(lexer.offset(), c.offset) << c.text;
  }
}

TEST(JsonLexerTest, NumbersFollowTheGrammar) {
  struct Case {
    std::string text;
    bool ok;
    std::string number_or_error;
    bool integral;
  };
  const std::vector<Case> cases = {
      {"0", true, "0", true},
      {"-12", true, "-12", true},
      {" 3.25,", true, "3.25", false},
      {"1e9}", true, "1e9", false},
      {"-0.5E-3", true, "-0.5E-3", false},
      {"01", false, "leading zero in a number", false},
      {"1.", false, "invalid number", false},
      {".5", false, "invalid number", false},
      {"1e", false, "invalid number", false},
      {"+1", false, "invalid number", false},
      {"-", false, "invalid number", false},
  };
  for (const Case& c : cases) {
    JsonLexer lexer(c.text);
    std::string_view text;
    bool integral = false;
    const bool ok = lexer.Number(&text, &integral);
    EXPECT_EQ(ok, c.ok) << c.text;
    EXPECT_EQ(ok ? std::string(text) : lexer.error(), c.number_or_error) << c.text;
    if (ok) {
      EXPECT_EQ(integral, c.integral) << c.text;
    }
  }
}

TEST(JsonLexerTest, PunctuationLiteralsAndTheFirstErrorKept) {
  JsonLexer lexer(" { \"k\" : [ true , null ] } ");
  EXPECT_EQ(lexer.PeekToken(), JsonLexer::Token::kBad);  // whitespace is not skipped by a peek
  lexer.SkipSpace();
  EXPECT_EQ(lexer.PeekToken(), JsonLexer::Token::kObject);
  EXPECT_TRUE(lexer.Consume('{'));
  std::string key;
  EXPECT_TRUE(lexer.String(&key));
  EXPECT_EQ(key, "k");
  EXPECT_FALSE(lexer.Consume(','));
  EXPECT_TRUE(lexer.Consume(':'));
  EXPECT_TRUE(lexer.Consume('['));
  EXPECT_TRUE(lexer.Literal("true"));
  EXPECT_TRUE(lexer.Consume(','));
  EXPECT_FALSE(lexer.Literal("nul!"));
  EXPECT_EQ(lexer.error(), "invalid literal (only true, false and null)");
  EXPECT_FALSE(lexer.Fail("later"));
  EXPECT_EQ(lexer.error(), "invalid literal (only true, false and null)");
  EXPECT_TRUE(lexer.Literal("null"));
  EXPECT_TRUE(lexer.Consume(']'));
  EXPECT_TRUE(lexer.Consume('}'));
  EXPECT_TRUE(lexer.AtEnd());
}

TEST(JsonLexerTest, AppendUtf8EncodesEveryLength) {
  std::string out;
  for (uint32_t cp : {0x41u, 0xe9u, 0x20acu, 0x1f600u}) AppendUtf8(cp, &out);
  EXPECT_EQ(out, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

}  // namespace
}  // namespace rapport::gateway
