// End-to-end tests of the HTTP/JSON gateway: a real redis-server, the real
// profiles, interactions and gateway binaries, and HTTP through libcurl.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/auth.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "tests/testing/http_client.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
using ::rapport::testing::HttpCall;
using ::rapport::testing::HttpResponse;
using ::rapport::testing::Stack;

constexpr char kJson[] = "Content-Type: application/json";

template <typename T>
T Parse(const HttpResponse& r) {
  T out;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(r.body, &out, options);
  EXPECT_TRUE(status.ok()) << r.body;
  return out;
}

google::protobuf::Struct Problem(const HttpResponse& r) {
  EXPECT_EQ(r.Header("content-type"), "application/problem+json") << r.body;
  google::protobuf::Struct s = Parse<google::protobuf::Struct>(r);
  EXPECT_EQ(static_cast<long>(s.fields().at("status").number_value()), r.status);
  EXPECT_EQ(s.fields().at("requestId").string_value(), r.Header("x-request-id"));
  return s;
}

class GatewayIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    ASSERT_TRUE(stack_.Start("profiles").ok());
    ASSERT_TRUE(stack_.Start("interactions").ok());
    absl::Status s = stack_.StartGateway();
    ASSERT_TRUE(s.ok()) << s;
    url_ = stack_.GatewayUrl();
  }

  HttpResponse Call(const std::string& method, const std::string& path, const std::vector<std::string>& headers,
                    const std::string& body = "") {
    return HttpCall(method, url_ + path, headers, body);
  }

  // A new org through the platform admin key; returns its admin key secret.
  std::string NewOrg(const std::string& name, std::string* org_id = nullptr) {
    HttpResponse r = Call("POST", "/v1/orgs", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), kJson},
                          absl::StrCat(R"({"displayName":")", name, R"("})"));
    EXPECT_EQ(r.status, 200) << r.body;
    auto org = Parse<ppb::CreateOrgResponse>(r);
    if (org_id != nullptr) *org_id = org.org().id();
    return org.admin_key().secret();
  }

  std::string NewUser(const std::string& admin_key, const std::string& email) {
    HttpResponse r = Call("POST", "/v1/users", {"X-Api-Key: " + admin_key, kJson},
                          absl::StrCat(R"({"displayName":"Ann","email":")", email, R"(","timezone":"Europe/Paris"})"));
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse<ppb::User>(r).id();
  }

  static std::string Jwt(const std::string& org, const std::string& user) {
    return gateway::SignJwtHs256(
        absl::StrCat(R"({"sub":")", user, R"(","org":")", org, R"(","iss":"rapport","aud":"rapport","exp":)",
                     absl::ToUnixSeconds(absl::Now()) + 300, "}"),
        testing::kTestJwtSecret);
  }

  Stack stack_;
  std::string url_;
};

TEST_F(GatewayIntegrationTest, AdminActsAsUserThroughTheContactLifecycle) {
  const std::string admin = NewOrg("acme");
  const std::string user = NewUser(admin, "ann@acme.test");
  const std::vector<std::string> as_user = {"X-Api-Key: " + admin, "X-Rapport-User: " + user, kJson};

  HttpResponse created = Call("POST", "/v1/contacts", as_user,
                              R"({"displayName":"Bob","tier":"INNER","tags":["mentor"],"howWeMet":"school"})");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_FALSE(created.Header("x-request-id").empty());
  auto bob = Parse<ppb::Contact>(created);
  EXPECT_FALSE(bob.id().empty());
  EXPECT_EQ(bob.tier(), ppb::INNER);
  EXPECT_EQ(bob.effective_cadence_days(), 14);
  EXPECT_TRUE(bob.has_create_time());

  HttpResponse got = Call("GET", "/v1/contacts/" + bob.id(), as_user);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(Parse<ppb::Contact>(got).display_name(), "Bob");

  // PATCH changes only the fields in the body.
  HttpResponse patched = Call("PATCH", "/v1/contacts/" + bob.id(), as_user, R"({"company":"Initech"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  auto after = Parse<ppb::Contact>(patched);
  EXPECT_EQ(after.company(), "Initech");
  EXPECT_EQ(after.display_name(), "Bob");
  EXPECT_EQ(after.how_we_met(), "school");
  EXPECT_EQ(after.tags_size(), 1);

  ASSERT_EQ(Call("POST", "/v1/contacts", as_user, R"({"displayName":"Carol"})").status, 200);
  HttpResponse page1 = Call("GET", "/v1/contacts?pageSize=1", as_user);
  ASSERT_EQ(page1.status, 200) << page1.body;
  auto list1 = Parse<ppb::ListContactsResponse>(page1);
  ASSERT_EQ(list1.contacts_size(), 1);
  ASSERT_FALSE(list1.next_page_token().empty());
  HttpResponse page2 = Call("GET", "/v1/contacts?pageSize=1&pageToken=" + list1.next_page_token(), as_user);
  ASSERT_EQ(page2.status, 200) << page2.body;
  auto list2 = Parse<ppb::ListContactsResponse>(page2);
  ASSERT_EQ(list2.contacts_size(), 1);
  EXPECT_NE(list2.contacts(0).id(), list1.contacts(0).id());
  auto filtered = Parse<ppb::ListContactsResponse>(Call("GET", "/v1/contacts?tag=mentor&tier=INNER", as_user));
  ASSERT_EQ(filtered.contacts_size(), 1);
  EXPECT_EQ(filtered.contacts(0).id(), bob.id());

  HttpResponse deleted = Call("DELETE", "/v1/contacts/" + bob.id(), as_user);
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  HttpResponse gone = Call("GET", "/v1/contacts/" + bob.id(), as_user);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(Problem(gone).fields().at("code").string_value(), "NOT_FOUND");
}

TEST_F(GatewayIntegrationTest, UserTokenLogsInteractionsIdempotentlyAndReadsTheLedger) {
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string user = NewUser(admin, "ann@acme.test");
  const std::vector<std::string> as_user = {"Authorization: Bearer " + Jwt(org, user), kJson};

  HttpResponse me = Call("GET", "/v1/me", as_user);
  ASSERT_EQ(me.status, 200) << me.body;
  auto bob = Parse<ppb::Contact>(Call("POST", "/v1/contacts", as_user, R"({"displayName":"Bob","tier":"CLOSE"})"));
  ASSERT_FALSE(bob.id().empty());

  const std::string body = absl::StrCat(R"({"kind":"MEETING","direction":"GAVE","contactIds":[")", bob.id(),
                                        R"("],"summary":"coffee"})");
  std::vector<std::string> with_key = as_user;
  with_key.push_back("Idempotency-Key: log-1");
  HttpResponse first = Call("POST", "/v1/interactions", with_key, body);
  ASSERT_EQ(first.status, 200) << first.body;
  HttpResponse replay = Call("POST", "/v1/interactions", with_key, body);
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(Parse<ipb::Interaction>(replay).id(), Parse<ipb::Interaction>(first).id());
  HttpResponse other = Call("POST", "/v1/interactions", with_key,
                            absl::StrCat(R"({"kind":"CALL","direction":"GAVE","contactIds":[")", bob.id(), R"("]})"));
  EXPECT_EQ(other.status, 422) << other.body;
  Problem(other);

  HttpResponse ledger = Call("GET", "/v1/contacts/" + bob.id() + "/ledger", as_user);
  ASSERT_EQ(ledger.status, 200) << ledger.body;
  auto entry = Parse<ipb::LedgerEntry>(ledger);
  EXPECT_DOUBLE_EQ(entry.given(), 3.0);  // one MEETING, counted once
  EXPECT_EQ(entry.interaction_count(), 1);
  EXPECT_EQ(entry.cadence_days(), 30);

  auto listed = Parse<ipb::ListInteractionsResponse>(
      Call("GET", "/v1/interactions?kind=MEETING&contactId=" + bob.id() + "&after=2000-01-01T00:00:00Z", as_user));
  EXPECT_EQ(listed.interactions_size(), 1);

  // A token signed with another secret, or expired, is refused.
  std::vector<std::string> forged = {"Authorization: Bearer " +
                                     gateway::SignJwtHs256(R"({"sub":"u","org":"o","iss":"rapport","aud":"rapport","exp":9999999999})", "wrong")};
  EXPECT_EQ(Call("GET", "/v1/me", forged).status, 401);
}

TEST_F(GatewayIntegrationTest, ErrorsAreProblemsWithTheRightStatus) {
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string user = NewUser(admin, "ann@acme.test");
  const std::vector<std::string> as_user = {"X-Api-Key: " + admin, "X-Rapport-User: " + user, kJson};

  // 401 without credentials or with a bad key; the request id is echoed.
  HttpResponse none = Call("GET", "/v1/contacts", {"X-Request-Id: req-123"});
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.Header("x-request-id"), "req-123");
  EXPECT_EQ(Problem(none).fields().at("code").string_value(), "UNAUTHENTICATED");
  EXPECT_EQ(Call("GET", "/v1/contacts", {"X-Api-Key: rpk.nope"}).status, 401);

  // 403: a read-only key may not create; an org key may not create orgs.
  HttpResponse key = Call("POST", "/v1/apiKeys", {"X-Api-Key: " + admin, kJson},
                          R"({"displayName":"reader","scopes":["READ","ACT_AS_USER"]})");
  ASSERT_EQ(key.status, 200) << key.body;
  const std::string reader = Parse<ppb::ApiKeySecret>(key).secret();
  EXPECT_EQ(Call("GET", "/v1/contacts", {"X-Api-Key: " + reader, "X-Rapport-User: " + user}).status, 200);
  HttpResponse denied = Call("POST", "/v1/contacts", {"X-Api-Key: " + reader, "X-Rapport-User: " + user, kJson},
                             R"({"displayName":"Bob"})");
  EXPECT_EQ(denied.status, 403) << denied.body;
  Problem(denied);
  EXPECT_EQ(Call("POST", "/v1/orgs", {"X-Api-Key: " + admin, kJson}, R"({"displayName":"x"})").status, 403);

  // 404 for another org's contact.
  const std::string other_admin = NewOrg("globex");
  const std::string other_user = NewUser(other_admin, "zed@globex.test");
  auto theirs = Parse<ppb::Contact>(Call("POST", "/v1/contacts",
                                         {"X-Api-Key: " + other_admin, "X-Rapport-User: " + other_user, kJson},
                                         R"({"displayName":"Secret"})"));
  ASSERT_FALSE(theirs.id().empty());
  EXPECT_EQ(Call("GET", "/v1/contacts/" + theirs.id(), as_user).status, 404);
  EXPECT_EQ(Call("GET", "/v1/contacts/" + theirs.id() + "/ledger", as_user).status, 404);

  // 400 with violations from the service, and for an unknown field.
  HttpResponse bad = Call("POST", "/v1/contacts", as_user, R"({"displayName":"","emails":["not-an-email"]})");
  ASSERT_EQ(bad.status, 400) << bad.body;
  google::protobuf::Struct problem = Problem(bad);
  EXPECT_EQ(problem.fields().at("code").string_value(), "INVALID_ARGUMENT");
  const auto& violations = problem.fields().at("violations").list_value().values();
  ASSERT_GE(violations.size(), 2);
  EXPECT_FALSE(violations[0].struct_value().fields().at("field").string_value().empty());
  HttpResponse unknown = Call("POST", "/v1/contacts", as_user, R"({"displayName":"Bob","orgId":"x"})");
  ASSERT_EQ(unknown.status, 400) << unknown.body;
  EXPECT_EQ(Problem(unknown).fields().at("violations").list_value().values(0).struct_value().fields().at("field").string_value(),
            "contact.orgId");
  EXPECT_EQ(Call("POST", "/v1/contacts", as_user, R"({"displayName":)").status, 400);
  EXPECT_EQ(Call("GET", "/v1/contacts?pageSize=lots", as_user).status, 400);

  // 413 for a 2 MiB body, 415 for text/plain, 404/405 for unknown routes.
  HttpResponse big = Call("POST", "/v1/contacts", as_user,
                          absl::StrCat(R"({"displayName":")", std::string(2 << 20, 'a'), R"("})"));
  EXPECT_EQ(big.status, 413) << big.error;
  HttpResponse plain = Call("POST", "/v1/contacts", {"X-Api-Key: " + admin, "X-Rapport-User: " + user,
                                                     "Content-Type: text/plain"}, "displayName=Bob");
  EXPECT_EQ(plain.status, 415);
  Problem(plain);
  EXPECT_EQ(Call("GET", "/v1/nothing", as_user).status, 404);
  HttpResponse wrong_method = Call("PUT", "/v1/contacts/x", as_user, "{}");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.Header("allow"), "DELETE, GET, PATCH");
  // X-Rapport-User must name a user of the key's org.
  EXPECT_EQ(Call("GET", "/v1/contacts", {"X-Api-Key: " + admin, "X-Rapport-User: " + other_user}).status, 403);
  EXPECT_EQ(Call("GET", "/v1/contacts", {"X-Api-Key: " + admin, "X-Rapport-User: nobody"}).status, 403);
  // X-Rapport-User needs ACT_AS_USER: the platform key has no org and no such scope.
  EXPECT_EQ(Call("GET", "/v1/contacts", {"X-Api-Key: " + std::string(testing::kTestAdminKey), "X-Rapport-User: " + user}).status, 403);
}

TEST_F(GatewayIntegrationTest, OperationsEndpoints) {
  HttpResponse openapi = Call("GET", "/openapi.json", {});
  ASSERT_EQ(openapi.status, 200);
  auto doc = Parse<google::protobuf::Struct>(openapi);
  const auto& paths = doc.fields().at("paths").struct_value().fields();
  ASSERT_TRUE(paths.count("/v1/contacts"));
  EXPECT_TRUE(paths.at("/v1/contacts").struct_value().fields().count("post"));
  EXPECT_TRUE(paths.at("/v1/contacts").struct_value().fields().at("post").struct_value().fields().count("requestBody"));
  ASSERT_TRUE(paths.count("/v1/contacts/{contactId}"));
  EXPECT_TRUE(paths.count("/v1/introductions/{id}:respond"));

  EXPECT_EQ(Call("GET", "/healthz", {}).status, 200);
  EXPECT_EQ(Call("GET", "/readyz", {}).status, 200);
  HttpResponse metrics = Call("GET", "/metrics", {});
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("rapport_gateway_requests_total{route=\"/readyz\",code=\"200\"} 1"), std::string::npos)
      << metrics.body;

  // A backend down: not ready, and its routes answer 503 without leaking why.
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string user = NewUser(admin, "ann@acme.test");
  stack_.Stop("interactions");
  EXPECT_EQ(Call("GET", "/readyz", {}).status, 503);
  HttpResponse down = Call("GET", "/v1/interactions", {"Authorization: Bearer " + Jwt(org, user)});
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(Problem(down).fields().at("code").string_value(), "UNAVAILABLE");
  EXPECT_EQ(Call("GET", "/v1/contacts", {"Authorization: Bearer " + Jwt(org, user)}).status, 200);
}

TEST_F(GatewayIntegrationTest, RateLimitsPerCredentialAndAnswersAllowedOrigins) {
  stack_.Stop("gateway");
  absl::Status s = stack_.StartGateway({{"RAPPORT_RATE_LIMIT_PER_MINUTE", "6"},
                                        {"RAPPORT_RATE_LIMIT_BURST", "3"},
                                        {"RAPPORT_CORS_ORIGINS", "https://app.example"}});
  ASSERT_TRUE(s.ok()) << s;
  const std::string admin = NewOrg("acme");
  const std::string user = NewUser(admin, "ann@acme.test");
  const std::vector<std::string> as_user = {"X-Api-Key: " + admin, "X-Rapport-User: " + user};
  // The admin key spent 1 of its 3 tokens creating the user.
  HttpResponse second = Call("GET", "/v1/contacts", as_user);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.Header("x-ratelimit-limit"), "6");
  EXPECT_EQ(Call("GET", "/v1/contacts", as_user).status, 200);
  HttpResponse limited = Call("GET", "/v1/contacts", as_user);
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(Problem(limited).fields().at("code").string_value(), "RESOURCE_EXHAUSTED");
  EXPECT_FALSE(limited.Header("retry-after").empty());
  EXPECT_EQ(limited.Header("x-ratelimit-remaining"), "0");
  // Another credential (the platform key) has its own bucket.
  EXPECT_EQ(Call("POST", "/v1/orgs", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), kJson},
                 R"({"displayName":"globex"})").status, 200);

  HttpResponse preflight = Call("OPTIONS", "/v1/contacts", {"Origin: https://app.example",
                                                           "Access-Control-Request-Method: POST"});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.Header("access-control-allow-origin"), "https://app.example");
  EXPECT_NE(preflight.Header("access-control-allow-headers").find("X-Api-Key"), std::string::npos);
  HttpResponse cross = Call("GET", "/healthz", {"Origin: https://app.example"});
  EXPECT_EQ(cross.Header("access-control-allow-origin"), "https://app.example");
  HttpResponse foreign = Call("GET", "/healthz", {"Origin: https://evil.example"});
  EXPECT_EQ(foreign.Header("access-control-allow-origin"), "");
}

}  // namespace
}  // namespace rapport
