#include "gateway/router.h"

#include <gtest/gtest.h>

#include "gateway/backends.h"

namespace rapport::gateway {
namespace {

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(router_.AddServices(BackendServiceNames()).ok()); }
  Router router_;
};

TEST_F(RouterTest, BuildsEveryAnnotatedMethodAndSkipsInternalOnes) {
  bool verify = false, create_contact = false;
  for (const Route& r : router_.routes()) {
    if (r.method->name() == "VerifyApiKey") verify = true;
    if (r.grpc_method == "/rapport.profiles.v1.ProfilesService/CreateContact") {
      create_contact = true;
      EXPECT_EQ(r.http_method, "POST");
      EXPECT_EQ(r.rule.body(), "contact");
      EXPECT_TRUE(r.rule.idempotent_create());
    }
  }
  EXPECT_FALSE(verify);
  EXPECT_TRUE(create_contact);
  EXPECT_GE(router_.routes().size(), 30u);
}

struct MatchCase {
  std::string method;
  std::string path;
  RouteMatch::Kind kind;
  std::string rpc;  // method name when matched
  PathVars vars;
};

TEST_F(RouterTest, MatchesMethodPathAndExtractsVariables) {
  using K = RouteMatch::Kind;
  const std::vector<MatchCase> cases = {
      {"GET", "/v1/contacts", K::kMatched, "ListContacts", {}},
      {"POST", "/v1/contacts", K::kMatched, "CreateContact", {}},
      {"GET", "/v1/contacts/abc", K::kMatched, "GetContact", {{"contact_id", "abc"}}},
      {"PATCH", "/v1/contacts/abc", K::kMatched, "UpdateContact", {{"contact_id", "abc"}}},
      {"GET", "/v1/contacts/a%20b/ledger", K::kMatched, "GetLedger", {{"contact_id", "a b"}}},
      {"GET", "/v1/contacts/abc/groups", K::kMatched, "ListContactGroups", {{"contact_id", "abc"}}},
      {"GET", "/v1/me", K::kMatched, "GetMe", {}},
      {"GET", "/v1/me/completeness", K::kMatched, "GetCompleteness", {}},
      {"PUT", "/v1/groups/g1/members/me", K::kMatched, "PutMember", {{"group_id", "g1"}, {"member_id", "me"}}},
      {"POST", "/v1/introductions/i1:respond", K::kMatched, "RespondIntroduction", {{"id", "i1"}}},
      {"POST", "/v1/introductions/i1:make", K::kMatched, "MakeIntroduction", {{"id", "i1"}}},
      {"POST", "/v1/introductions/i1:complete", K::kMatched, "CompleteIntroduction", {{"id", "i1"}}},
      {"POST", "/v1/introductions", K::kMatched, "CreateIntroduction", {}},
      {"POST", "/v1/introductions/i1:unknown", K::kNoSuchPath, "", {}},
      {"POST", "/v1/introductions/a%3Ab:respond", K::kMatched, "RespondIntroduction", {{"id", "a:b"}}},
      {"POST", "/v1/introductions/:respond", K::kNoSuchPath, "", {}},
      {"POST", "/v1/introductions/%zz:respond", K::kNoSuchPath, "", {}},
      {"GET", "/v1/contacts/%zz", K::kNoSuchPath, "", {}},
      {"GET", "/v1/contacts/%41b%2Fc", K::kMatched, "GetContact", {{"contact_id", "Ab/c"}}},
      {"POST", "/v1/introductions/i1", K::kNoSuchPath, "", {}},
      {"GET", "/v1/nothing", K::kNoSuchPath, "", {}},
      {"GET", "/v1/contacts/", K::kNoSuchPath, "", {}},
      {"GET", "/v1/contacts/abc/extra/more", K::kNoSuchPath, "", {}},
      {"PUT", "/v1/contacts/abc", K::kMethodNotAllowed, "", {}},
      {"DELETE", "/v1/orgs", K::kMethodNotAllowed, "", {}},
  };
  for (const MatchCase& c : cases) {
    RouteMatch m = router_.Match(c.method, c.path);
    EXPECT_EQ(m.kind, c.kind) << c.method << " " << c.path;
    if (c.kind == K::kMatched && m.route != nullptr) {
      EXPECT_EQ(m.route->method->name(), c.rpc) << c.path;
      EXPECT_EQ(m.vars, c.vars) << c.path;
    }
  }
  RouteMatch m = router_.Match("PUT", "/v1/contacts/abc");
  EXPECT_EQ(m.allowed_methods, (std::vector<std::string>{"DELETE", "GET", "PATCH"}));
}

TEST(ParseTemplateTest, ParsesVerbsAndVariablesAndRejectsBadTemplates) {
  Route r;
  ASSERT_TRUE(ParseTemplate("/v1/introductions/{id}:respond", &r).ok());
  EXPECT_EQ(r.verb, "respond");
  EXPECT_EQ(r.segments, (std::vector<std::string>{"v1", "introductions", "{id}"}));
  EXPECT_EQ(r.vars, (std::vector<std::string>{"id"}));
  EXPECT_EQ(r.literal_count, 2);
  EXPECT_FALSE(ParseTemplate("v1/x", &r).ok());
  EXPECT_FALSE(ParseTemplate("/v1//x", &r).ok());
  EXPECT_FALSE(ParseTemplate("/v1/a{id}", &r).ok());
  EXPECT_FALSE(ParseTemplate("/v1/x:", &r).ok());
}

TEST(PercentDecodeTest, DecodesAndRejectsMalformedEscapes) {
  EXPECT_EQ(*PercentDecode("a%2Fb+c", false), "a/b+c");
  EXPECT_EQ(*PercentDecode("a%2fb+c", true), "a/b c");
  EXPECT_FALSE(PercentDecode("a%2", false).ok());
  EXPECT_FALSE(PercentDecode("a%zz", false).ok());
}

}  // namespace
}  // namespace rapport::gateway
