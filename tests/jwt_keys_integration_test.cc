// Orgs' JWT signing keys end to end (issue 17): real redis-server, profiles
// and gateway binaries, HTTP through libcurl. Each org's tokens are signed
// with its own secret and name its kid; a token for org A signed with org
// B's secret is 401 whichever kid it names; a rotation keeps the old key
// valid for the grace period (short here: RAPPORT_JWT_KEY_GRACE_SECONDS) and
// not after; org admins reach only their own keys; tokens without kid keep
// the global secret.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/auth.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/http_client.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
using ::rapport::testing::Stack;

constexpr char kJson[] = "Content-Type: application/json";
constexpr int kGraceSeconds = 4;

template <typename T>
T Parse(const HttpResponse& r) {
  T out;
  auto status = google::protobuf::util::JsonStringToMessage(r.body, &out);
  EXPECT_TRUE(status.ok()) << r.body;
  return out;
}

struct Org {
  std::string id;
  std::string admin_key;
  std::string user_id;
  std::string kid;
  std::string secret;
};

class JwtKeysIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    absl::Status s = stack_.Start("profiles", {{"RAPPORT_JWT_KEY_GRACE_SECONDS", absl::StrCat(kGraceSeconds)}});
    ASSERT_TRUE(s.ok()) << s;
    // A short cache, so that a test sees a rotated key's expiry soon; the
    // gateway checks the expiry it cached anyway.
    s = stack_.StartGateway({{"RAPPORT_JWT_KEY_CACHE_SECONDS", "1"},
                             {"RAPPORT_RATE_LIMIT_PER_MINUTE", "1000000"},
                             {"RAPPORT_RATE_LIMIT_BURST", "100000"}});
    ASSERT_TRUE(s.ok()) << s;
    url_ = stack_.GatewayUrl();
  }

  HttpResponse Call(const std::string& method, const std::string& path, const std::vector<std::string>& headers,
                    const std::string& body = "") {
    return HttpCall(method, url_ + path, headers, body);
  }

  Org NewOrg(const std::string& name) {
    Org org;
    HttpResponse r = Call("POST", "/v1/orgs", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), kJson},
                          absl::StrCat(R"({"displayName":")", name, R"("})"));
    EXPECT_EQ(r.status, 200) << r.body;
    auto created = Parse<ppb::CreateOrgResponse>(r);
    org.id = created.org().id();
    org.admin_key = created.admin_key().secret();
    org.kid = created.jwt_key().jwt_key().kid();
    org.secret = created.jwt_key().secret();
    EXPECT_TRUE(absl::StartsWith(org.kid, org.id + ".")) << org.kid;
    EXPECT_EQ(org.secret.size(), 64u);
    r = Call("POST", "/v1/users", {"X-Api-Key: " + org.admin_key, kJson},
             absl::StrCat(R"({"displayName":"Ann","email":"ann@)", name, R"(.test","timezone":"UTC"})"));
    EXPECT_EQ(r.status, 200) << r.body;
    org.user_id = Parse<ppb::User>(r).id();
    return org;
  }

  // A token for user in org, signed with secret; kid in the header unless empty.
  static std::string Token(const std::string& org, const std::string& user, const std::string& secret,
                           const std::string& kid) {
    const std::string claims =
        absl::StrCat(R"({"sub":")", user, R"(","org":")", org, R"(","iss":"rapport","aud":"rapport","exp":)",
                     absl::ToUnixSeconds(absl::Now()) + 300, "}");
    if (kid.empty()) return gateway::SignJwtHs256(claims, secret);
    return gateway::SignJwtHs256(claims, secret, absl::StrCat(R"({"alg":"HS256","typ":"JWT","kid":")", kid, R"("})"));
  }

  // GET /v1/me with a Bearer token.
  HttpResponse Me(const std::string& token) { return Call("GET", "/v1/me", {"Authorization: Bearer " + token}); }

  static std::vector<std::string> Admin(const Org& org) { return {"X-Api-Key: " + org.admin_key, kJson}; }

  Stack stack_;
  std::string url_;
};

TEST_F(JwtKeysIntegrationTest, EachOrgsTokensAreVerifiedWithItsOwnKey) {
  const Org a = NewOrg("a");
  const Org b = NewOrg("b");
  ASSERT_NE(a.secret, b.secret);

  HttpResponse ok = Me(Token(a.id, a.user_id, a.secret, a.kid));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Parse<ppb::Profile>(ok).user_id(), a.user_id);
  EXPECT_EQ(Me(Token(b.id, b.user_id, b.secret, b.kid)).status, 200);

  struct Case {
    std::string name;
    std::string token;
  };
  const std::vector<Case> refused = {
      {"org A's token signed with B's secret, A's kid", Token(a.id, a.user_id, b.secret, a.kid)},
      {"org A's token signed with B's secret, B's kid", Token(a.id, a.user_id, b.secret, b.kid)},
      {"B's user under B's kid claiming org A", Token(a.id, b.user_id, b.secret, b.kid)},
      {"an unknown kid of org A", Token(a.id, a.user_id, a.secret, a.id + ".01jzzzzzzzzzzzzzzzzzzzzzzz")},
      {"a malformed kid", Token(a.id, a.user_id, a.secret, "not-a-kid")},
      {"the global secret under A's kid", Token(a.id, a.user_id, testing::kTestJwtSecret, a.kid)},
  };
  for (const Case& c : refused) {
    HttpResponse r = Me(c.token);
    EXPECT_EQ(r.status, 401) << c.name << ": " << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json") << c.name;
  }

  // A token without kid keeps the deployment's global secret (RAPPORT_JWT_SECRET).
  HttpResponse global = Me(Token(a.id, a.user_id, testing::kTestJwtSecret, ""));
  EXPECT_EQ(global.status, 200) << global.body;
  EXPECT_EQ(Me(Token(a.id, a.user_id, a.secret, "")).status, 401);  // an org secret is no global one
}

TEST_F(JwtKeysIntegrationTest, RotationKeepsTheOldKeyForTheGracePeriodOnly) {
  const Org a = NewOrg("a");
  const std::string old_token = Token(a.id, a.user_id, a.secret, a.kid);
  ASSERT_EQ(Me(old_token).status, 200);

  const absl::Time rotated = absl::Now();
  HttpResponse r = Call("POST", "/v1/org/jwtKeys:rotate", Admin(a), "{}");
  ASSERT_EQ(r.status, 200) << r.body;
  auto next = Parse<ppb::JwtKeySecret>(r);
  ASSERT_NE(next.jwt_key().kid(), a.kid);
  EXPECT_TRUE(absl::StartsWith(next.jwt_key().kid(), a.id + "."));
  ASSERT_EQ(next.secret().size(), 64u);
  EXPECT_NE(next.secret(), a.secret);
  const std::string new_token = Token(a.id, a.user_id, next.secret(), next.jwt_key().kid());

  // During the grace period both keys work.
  EXPECT_EQ(Me(new_token).status, 200);
  HttpResponse during = Me(old_token);
  const absl::Duration checked_after = absl::Now() - rotated;
  if (checked_after < absl::Seconds(kGraceSeconds)) {
    EXPECT_EQ(during.status, 200) << during.body;
  }

  // The list shows both kids with their times, never a secret.
  r = Call("GET", "/v1/org/jwtKeys", Admin(a));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(absl::StrContains(r.body, a.secret));
  EXPECT_FALSE(absl::StrContains(r.body, next.secret()));
  auto listed = Parse<ppb::ListJwtKeysResponse>(r);
  ASSERT_EQ(listed.jwt_keys_size(), 2);
  for (const ppb::JwtKey& k : listed.jwt_keys()) {
    EXPECT_TRUE(k.has_create_time());
    if (k.kid() == a.kid) {
      EXPECT_TRUE(k.has_retire_time());
      ASSERT_TRUE(k.has_expire_time());
      EXPECT_EQ(k.expire_time().seconds() - k.retire_time().seconds(), kGraceSeconds);
    } else {
      EXPECT_EQ(k.kid(), next.jwt_key().kid());
      EXPECT_FALSE(k.has_expire_time());
    }
  }

  // After the grace period the old key is refused; the new one still works.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  int status = 200;
  while ((status = Me(old_token).status) == 200 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(status, 401);
  EXPECT_GE(absl::Now() - rotated, absl::Seconds(kGraceSeconds));
  EXPECT_EQ(Me(new_token).status, 200);
  // A token made now with the old key is refused too.
  EXPECT_EQ(Me(Token(a.id, a.user_id, a.secret, a.kid)).status, 401);
}

TEST_F(JwtKeysIntegrationTest, OrgAdminsReachOnlyTheirOwnKeys) {
  const Org a = NewOrg("a");
  const Org b = NewOrg("b");

  // B's admin lists only B's key.
  HttpResponse r = Call("GET", "/v1/org/jwtKeys", Admin(b));
  ASSERT_EQ(r.status, 200) << r.body;
  auto listed = Parse<ppb::ListJwtKeysResponse>(r);
  ASSERT_EQ(listed.jwt_keys_size(), 1);
  EXPECT_EQ(listed.jwt_keys(0).kid(), b.kid);
  EXPECT_FALSE(absl::StrContains(r.body, a.kid));

  // B's admin rotating rotates B's keys: A's key stays current.
  r = Call("POST", "/v1/org/jwtKeys:rotate", Admin(b), "{}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(absl::StartsWith(Parse<ppb::JwtKeySecret>(r).jwt_key().kid(), b.id + "."));
  r = Call("GET", "/v1/org/jwtKeys", Admin(a));
  ASSERT_EQ(r.status, 200) << r.body;
  listed = Parse<ppb::ListJwtKeysResponse>(r);
  ASSERT_EQ(listed.jwt_keys_size(), 1);
  EXPECT_EQ(listed.jwt_keys(0).kid(), a.kid);
  EXPECT_FALSE(listed.jwt_keys(0).has_expire_time());

  // Wrong scope: a key without ADMIN, and a user's token.
  r = Call("POST", "/v1/apiKeys", Admin(a), R"({"displayName":"app","scopes":["READ","WRITE"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::vector<std::string> app = {"X-Api-Key: " + Parse<ppb::ApiKeySecret>(r).secret(), kJson};
  const std::vector<std::string> user = {"Authorization: Bearer " + Token(a.id, a.user_id, a.secret, a.kid), kJson};
  for (const auto& headers : {app, user}) {
    EXPECT_EQ(Call("POST", "/v1/org/jwtKeys:rotate", headers, "{}").status, 403);
    EXPECT_EQ(Call("GET", "/v1/org/jwtKeys", headers).status, 403);
  }
  // No credential.
  EXPECT_EQ(Call("POST", "/v1/org/jwtKeys:rotate", {kJson}, "{}").status, 401);
  EXPECT_EQ(Call("GET", "/v1/org/jwtKeys", {}).status, 401);
  // Nothing of that rotated A's key.
  r = Call("GET", "/v1/org/jwtKeys", Admin(a));
  EXPECT_EQ(Parse<ppb::ListJwtKeysResponse>(r).jwt_keys_size(), 1);
}

}  // namespace
}  // namespace rapport
