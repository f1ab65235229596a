#include "tools/rapportctl/rapportctl.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "gateway/auth.h"

namespace rapport::ctl {
namespace {

const std::vector<FlagSpec> kGlobal = {{"url", true, ""}, {"help", false, ""}};
const std::map<std::string, std::vector<FlagSpec>> kCommands = {
    {"get", {{"data", true, ""}, {"raw", false, ""}}},
    {"create-org", {{"json", false, ""}}},
};

TEST(RapportctlParseArgsTest, GlobalFlagsBeforeAndAfterTheCommand) {
  auto parsed = ParseArgs({"--url", "http://x", "get", "/v1/me", "--raw", "--data={\"a\":1}"}, kGlobal, kCommands);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->command, "get");
  EXPECT_EQ(parsed->Get("url"), "http://x");
  EXPECT_EQ(parsed->Get("raw"), "true");
  EXPECT_EQ(parsed->Get("data"), "{\"a\":1}");
  EXPECT_EQ(parsed->positional, std::vector<std::string>{"/v1/me"});
}

TEST(RapportctlParseArgsTest, HelpAndDoubleDash) {
  auto parsed = ParseArgs({"create-org", "-h", "--", "--weird name"}, kGlobal, kCommands);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->Has("help"));
  EXPECT_EQ(parsed->positional, std::vector<std::string>{"--weird name"});
}

TEST(RapportctlParseArgsTest, Errors) {
  EXPECT_FALSE(ParseArgs({"get", "/v1/me", "--json"}, kGlobal, kCommands).ok());  // another command's flag
  EXPECT_FALSE(ParseArgs({"--raw", "get"}, kGlobal, kCommands).ok());             // command flag before it
  EXPECT_FALSE(ParseArgs({"get", "--data"}, kGlobal, kCommands).ok());            // missing value
  EXPECT_FALSE(ParseArgs({"get", "--raw=yes"}, kGlobal, kCommands).ok());         // boolean with a value
}

TEST(RapportctlParseTtlTest, Forms) {
  EXPECT_EQ(*ParseTtl("3600"), absl::Hours(1));
  EXPECT_EQ(*ParseTtl("90s"), absl::Seconds(90));
  EXPECT_EQ(*ParseTtl("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseTtl("7d"), absl::Hours(7 * 24));
  EXPECT_FALSE(ParseTtl("0").ok());
  EXPECT_FALSE(ParseTtl("-1h").ok());
  EXPECT_FALSE(ParseTtl("soon").ok());
}

TEST(RapportctlMintJwtTest, TheGatewayAcceptsIt) {
  JwtClaims claims;
  claims.user_id = "u_123";
  claims.org_id = "o_456";
  claims.ttl = absl::Minutes(10);
  const absl::Time now = absl::Now();
  const std::string token = MintJwt(claims, "s3cret", now);

  gateway::AuthOptions options;
  options.jwt_secret = "s3cret";
  auto ctx = gateway::VerifyJwt(token, options, now);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ(ctx->user_id, "u_123");
  EXPECT_EQ(ctx->org_id, "o_456");
  // Same bytes as the gateway's own signer would produce for the same claims.
  EXPECT_EQ(token.substr(0, token.find('.')), absl::WebSafeBase64Escape(R"({"alg":"HS256","typ":"JWT"})"));

  EXPECT_FALSE(gateway::VerifyJwt(token, options, now + absl::Minutes(12)).ok());  // expired (60 s skew)
  options.jwt_secret = "other";
  EXPECT_FALSE(gateway::VerifyJwt(token, options, now).ok());
  options.jwt_secret = "s3cret";
  options.jwt_audience = "elsewhere";
  EXPECT_FALSE(gateway::VerifyJwt(token, options, now).ok());
}

TEST(RapportctlMintJwtTest, WithAKidTheGatewayVerifiesItWithThatOrgKey) {
  JwtClaims claims;
  claims.user_id = "u_123";
  claims.org_id = "o_456";
  claims.kid = "o_456.k_1";
  const absl::Time now = absl::Now();
  const std::string token = MintJwt(claims, "org-secret", now);
  auto kid = gateway::JwtKeyId(token);
  ASSERT_TRUE(kid.ok()) << kid.status();
  EXPECT_EQ(*kid, "o_456.k_1");
  gateway::JwtKey key{"o_456.k_1", "o_456", "org-secret", absl::InfiniteFuture()};
  auto ctx = gateway::VerifyOrgJwt(token, key, gateway::AuthOptions(), now);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ(ctx->org_id, "o_456");
  key.org_id = "o_789";  // another org's key
  EXPECT_FALSE(gateway::VerifyOrgJwt(token, key, gateway::AuthOptions(), now).ok());
}

TEST(RapportctlJsonQuoteTest, Escapes) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), R"("a\"b\\c\n\u0001")");
  EXPECT_EQ(JsonQuote("Zoë"), "\"Zoë\"");
}

TEST(RapportctlPrettyJsonTest, IndentsAndKeepsOrderAndStrings) {
  EXPECT_EQ(PrettyJson(R"({"b":1,"a":[true,{}],"s":"x, {y}: \"z\"","e":[]})"),
            "{\n  \"b\": 1,\n  \"a\": [\n    true,\n    {}\n  ],\n  \"s\": \"x, {y}: \\\"z\\\"\",\n  \"e\": []\n}");
  EXPECT_EQ(PrettyJson(""), "");
}

TEST(ImportProgressTest, PlainLinesAndABarThatFits) {
  ImportProgress p;
  p.state = "IMPORT_RUNNING";
  p.total = 1000;
  p.read = 500;
  p.created = 480;
  p.merged = 10;
  p.skipped = 10;
  EXPECT_EQ(ProgressLine(p, false, 80), "500/1000 rows: 480 created, 10 merged, 10 skipped");
  std::string bar = ProgressLine(p, true, 100);
  EXPECT_EQ(bar.rfind("[", 0), 0u) << bar;
  EXPECT_NE(bar.find("] 50%  500/1000 rows"), std::string::npos) << bar;
  EXPECT_LE(bar.size(), 100u);
  p.read = 1000;
  EXPECT_NE(ProgressLine(p, true, 100).find("100%"), std::string::npos);
  p.total = 0;
  p.read = 0;
  p.state = "IMPORT_SUCCEEDED";
  EXPECT_NE(ProgressLine(p, true, 100).find("100%"), std::string::npos);
}

TEST(QueryEscapeTest, EscapesAllButUnreserved) {
  EXPECT_EQ(QueryEscape("Full Name=displayName,a&b"), "Full%20Name%3DdisplayName%2Ca%26b");
  EXPECT_EQ(QueryEscape("é~_.-"), "%C3%A9~_.-");
}

}  // namespace
}  // namespace rapport::ctl
