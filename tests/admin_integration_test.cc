// Org administration end to end (issue 18): a real redis-server, the real
// profiles, notifications and gateway binaries, HTTP through libcurl. Users
// listed, updated, deactivated (their token and personal key refused within
// 5 s) and reactivated; keys listed without secrets, expired, revoked and
// rate limited; the audit log of every such action with who, what, when and
// the client's address, per org; the 401/403/404 cases of each route.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/auth.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/http_client.h"
#include "tests/testing/harness.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
using ::rapport::HttpCall;
using ::rapport::HttpResponse;

constexpr char kJson[] = "Content-Type: application/json";
// The client address a trusted proxy (the test, on loopback) forwards.
constexpr char kClient[] = "203.0.113.7";
// A deactivation is refused within the gateway's 5 s verdict cache; the rest
// of the deadline is for the requests themselves on a loaded machine.
constexpr std::chrono::seconds kRefusedWithin{8};

// RFC 3339 in UTC with a Z (no '+' to escape in a query string).
std::string Rfc3339(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()); }

template <typename T>
T Parse(const HttpResponse& r) {
  T out;
  auto status = google::protobuf::util::JsonStringToMessage(r.body, &out);
  EXPECT_TRUE(status.ok()) << r.body;
  return out;
}

class AdminIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    ASSERT_TRUE(stack_.Start("profiles").ok());
    // Webhooks to a loopback address (nothing listens: only their audit matters).
    ASSERT_TRUE(stack_.Start("notifications", {{"RAPPORT_WEBHOOK_ALLOW_PRIVATE", "1"}}).ok());
    absl::Status s = stack_.StartGateway({{"RAPPORT_TRUSTED_PROXIES", "127.0.0.1,::1"},
                                          {"RAPPORT_RATE_LIMIT_PER_MINUTE", "1000000"},
                                          {"RAPPORT_RATE_LIMIT_BURST", "100000"}});
    ASSERT_TRUE(s.ok()) << s;
    url_ = stack_.GatewayUrl();
  }

  HttpResponse Call(const std::string& method, const std::string& path, std::vector<std::string> headers,
                    const std::string& body = "") {
    headers.push_back(absl::StrCat("X-Forwarded-For: ", kClient));
    if (!body.empty()) headers.push_back(kJson);
    return HttpCall(method, url_ + path, headers, body);
  }

  struct Org {
    std::string id;
    std::string admin_key_id;
    std::vector<std::string> admin;  // headers
  };
  Org NewOrg(const std::string& name) {
    HttpResponse r = Call("POST", "/v1/orgs", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey)},
                          absl::StrCat(R"({"displayName":")", name, R"("})"));
    EXPECT_EQ(r.status, 200) << r.body;
    auto created = Parse<ppb::CreateOrgResponse>(r);
    return Org{created.org().id(), created.admin_key().api_key().id(), {"X-Api-Key: " + created.admin_key().secret()}};
  }
  ppb::User NewUser(const Org& org, const std::string& email) {
    HttpResponse r = Call("POST", "/v1/users", org.admin,
                          absl::StrCat(R"({"displayName":"Ann","email":")", email, R"(","timezone":"UTC"})"));
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse<ppb::User>(r);
  }
  ppb::ApiKeySecret NewKey(const Org& org, const std::string& body) {
    HttpResponse r = Call("POST", "/v1/apiKeys", org.admin, body);
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse<ppb::ApiKeySecret>(r);
  }
  static std::vector<std::string> Bearer(const std::string& org, const std::string& user) {
    return {"Authorization: Bearer " + gateway::SignJwtHs256(absl::StrCat(R"({"sub":")", user, R"(","org":")", org,
                                                                          R"(","iss":"rapport","aud":"rapport","exp":)",
                                                                          absl::ToUnixSeconds(absl::Now()) + 300, "}"),
                                                             testing::kTestJwtSecret)};
  }
  std::vector<ppb::AuditEntry> Audit(const Org& org, const std::string& query = "") {
    HttpResponse r = Call("GET", "/v1/audit?pageSize=500" + query, org.admin);
    EXPECT_EQ(r.status, 200) << r.body;
    auto page = Parse<ppb::ListAuditEntriesResponse>(r);
    return {page.entries().begin(), page.entries().end()};
  }

  testing::Stack stack_;
  std::string url_;
};

TEST_F(AdminIntegrationTest, UsersAreListedInPagesAndUpdatedByTheirOrgAdminOnly) {
  Org acme = NewOrg("acme");
  Org other = NewOrg("other");
  std::set<std::string> ids;
  for (const char* email : {"a@acme.test", "b@acme.test", "c@acme.test"}) ids.insert(NewUser(acme, email).id());

  // Pages of two: every user once.
  std::set<std::string> listed;
  std::string token;
  for (int page = 0; page < 5; ++page) {
    HttpResponse r = Call("GET", "/v1/users?pageSize=2&pageToken=" + token, acme.admin);
    ASSERT_EQ(r.status, 200) << r.body;
    auto users = Parse<ppb::ListUsersResponse>(r);
    EXPECT_LE(users.users_size(), 2);
    for (const auto& u : users.users()) {
      EXPECT_EQ(u.state(), ppb::ACTIVE);
      listed.insert(u.id());
    }
    token = users.next_page_token();
    if (token.empty()) break;
  }
  EXPECT_EQ(listed, ids);

  const std::string ann = *ids.begin();
  HttpResponse updated = Call("PATCH", "/v1/users/" + ann, acme.admin,
                              R"({"displayName":"Anne","email":"anne@acme.test","timezone":"Europe/Paris"})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(Parse<ppb::User>(updated).timezone(), "Europe/Paris");
  EXPECT_EQ(Parse<ppb::User>(Call("GET", "/v1/users/" + ann, acme.admin)).email(), "anne@acme.test");
  // The user's own profile follows (the name lives there).
  EXPECT_EQ(Parse<ppb::Profile>(Call("GET", "/v1/me", Bearer(acme.id, ann))).display_name(), "Anne");

  // 400 naming the field, 409 for a taken email, 404 for another org's user
  // or a missing one, 403 without ADMIN, 401 without credentials.
  HttpResponse bad = Call("PATCH", "/v1/users/" + ann, acme.admin, R"({"timezone":"Mars/Olympus"})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("user.timezone"), std::string::npos) << bad.body;
  EXPECT_EQ(Call("PATCH", "/v1/users/" + ann, acme.admin, R"({"state":"USER_STATE_UNSPECIFIED"})").status, 400);
  EXPECT_EQ(Call("PATCH", "/v1/users/" + ann, acme.admin, R"({"email":"b@acme.test"})").status, 409);
  EXPECT_EQ(Call("PATCH", "/v1/users/" + ann, other.admin, R"({"displayName":"x"})").status, 404);
  EXPECT_EQ(Call("PATCH", "/v1/users/01nosuchuser", acme.admin, R"({"displayName":"x"})").status, 404);
  EXPECT_EQ(Call("PATCH", "/v1/users/" + ann, Bearer(acme.id, ann), R"({"displayName":"x"})").status, 403);
  EXPECT_EQ(Call("PATCH", "/v1/users/" + ann, {}, R"({"displayName":"x"})").status, 401);
  EXPECT_EQ(Call("GET", "/v1/users", Bearer(acme.id, ann)).status, 403);
  EXPECT_EQ(Call("GET", "/v1/users", {}).status, 401);
  // The other org's list holds none of acme's users.
  EXPECT_EQ(Parse<ppb::ListUsersResponse>(Call("GET", "/v1/users", other.admin)).users_size(), 0);
}

TEST_F(AdminIntegrationTest, DeactivatedUsersTokenAndKeyAreRefusedWithinFiveSecondsAndBackAfterReactivation) {
  Org acme = NewOrg("acme");
  ppb::User ann = NewUser(acme, "ann@acme.test");
  ppb::ApiKeySecret personal = NewKey(
      acme, absl::StrCat(R"({"displayName":"ann's cli","scopes":["READ","WRITE"],"userId":")", ann.id(), R"("})"));
  EXPECT_EQ(personal.api_key().user_id(), ann.id());
  const std::vector<std::string> token = Bearer(acme.id, ann.id());
  const std::vector<std::string> key = {"X-Api-Key: " + personal.secret()};
  ppb::ApiKeySecret app = NewKey(acme, R"({"displayName":"app","scopes":["READ","WRITE","ACT_AS_USER"]})");
  const std::vector<std::string> as_ann = {"X-Api-Key: " + app.secret(), "X-Rapport-User: " + ann.id()};
  // The personal key acts as its user; its data is the user's.
  HttpResponse contact = Call("POST", "/v1/contacts", key, R"({"displayName":"Bob"})");
  ASSERT_EQ(contact.status, 200) << contact.body;
  for (const auto& h : {token, key, as_ann}) ASSERT_EQ(Call("GET", "/v1/me", h).status, 200);

  const absl::Time deactivated_at = absl::Now();
  HttpResponse off = Call("PATCH", "/v1/users/" + ann.id(), acme.admin, R"({"state":"DEACTIVATED"})");
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(Parse<ppb::User>(off).state(), ppb::DEACTIVATED);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return Call("GET", "/v1/me", token).status == 401 && Call("GET", "/v1/me", key).status == 401 &&
               Call("GET", "/v1/me", as_ann).status == 403;
      },
      kRefusedWithin));
  const absl::Duration took = absl::Now() - deactivated_at;
  EXPECT_LT(took, absl::Seconds(7)) << took;
  // Stays refused, and the other users and keys of the org are untouched.
  EXPECT_EQ(Call("GET", "/v1/contacts", token).status, 401);
  EXPECT_EQ(Call("GET", "/v1/users/" + ann.id(), acme.admin).status, 200);

  ASSERT_EQ(Call("PATCH", "/v1/users/" + ann.id(), acme.admin, R"({"state":"ACTIVE"})").status, 200);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return Call("GET", "/v1/me", token).status == 200 && Call("GET", "/v1/me", key).status == 200 &&
               Call("GET", "/v1/me", as_ann).status == 200;
      },
      kRefusedWithin));
  // The data stayed.
  auto contacts = Parse<ppb::ListContactsResponse>(Call("GET", "/v1/contacts", token));
  ASSERT_EQ(contacts.contacts_size(), 1);
  EXPECT_EQ(contacts.contacts(0).display_name(), "Bob");
  // A personal key may not hold ADMIN, and names a user of the org.
  EXPECT_EQ(Call("POST", "/v1/apiKeys", acme.admin,
                 absl::StrCat(R"({"displayName":"x","scopes":["ADMIN"],"userId":")", ann.id(), R"("})"))
                .status,
            400);
  EXPECT_EQ(
      Call("POST", "/v1/apiKeys", acme.admin, R"({"displayName":"x","scopes":["READ"],"userId":"01nobody"})").status,
      400);
}

TEST_F(AdminIntegrationTest, KeysAreListedWithoutSecretsExpiredAndRevoked) {
  Org acme = NewOrg("acme");
  Org other = NewOrg("other");
  ppb::User ann = NewUser(acme, "ann@acme.test");
  ppb::ApiKeySecret app = NewKey(acme, R"({"displayName":"app","scopes":["READ","ACT_AS_USER"]})");
  const std::vector<std::string> as_ann = {"X-Api-Key: " + app.secret(), "X-Rapport-User: " + ann.id()};
  ASSERT_EQ(Call("GET", "/v1/me", as_ann).status, 200);

  // Listed without secrets; the last use appears once recorded.
  auto find = [&]() {
    HttpResponse r = Call("GET", "/v1/apiKeys", acme.admin);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.find(app.secret()), std::string::npos);
    EXPECT_EQ(r.body.find("secret"), std::string::npos);
    const auto keys = Parse<ppb::ListApiKeysResponse>(r);
    for (const auto& k : keys.api_keys()) {
      if (k.id() == app.api_key().id()) return k;
    }
    ADD_FAILURE() << "key not listed: " << r.body;
    return ppb::ApiKey();
  };
  EXPECT_TRUE(testing::WaitFor([&] { return find().has_last_use_time(); }, std::chrono::seconds(5)));
  ppb::ApiKey listed = find();
  EXPECT_EQ(listed.display_name(), "app");
  EXPECT_TRUE(listed.has_create_time());
  EXPECT_FALSE(listed.has_expire_time());
  EXPECT_GE(google::protobuf::util::TimeUtil::TimestampToSeconds(listed.last_use_time()),
            google::protobuf::util::TimeUtil::TimestampToSeconds(listed.create_time()));

  // An expiry in the future changes nothing yet; one now refuses the key.
  const std::string later = Rfc3339(absl::Now() + absl::Hours(24));
  HttpResponse set = Call("PATCH", "/v1/apiKeys/" + app.api_key().id(), acme.admin,
                          absl::StrCat(R"({"expireTime":")", later, R"("})"));
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_TRUE(Parse<ppb::ApiKey>(set).has_expire_time());
  EXPECT_EQ(Call("GET", "/v1/me", as_ann).status, 200);
  const std::string now = Rfc3339(absl::Now());
  ASSERT_EQ(
      Call("PATCH", "/v1/apiKeys/" + app.api_key().id(), acme.admin, absl::StrCat(R"({"expireTime":")", now, R"("})"))
          .status,
      200);
  EXPECT_TRUE(testing::WaitFor([&] { return Call("GET", "/v1/me", as_ann).status == 401; }, kRefusedWithin));
  // Clearing the expiry brings it back.
  ASSERT_EQ(Call("PATCH", "/v1/apiKeys/" + app.api_key().id() + "?updateMask=expireTime", acme.admin, "{}").status,
            200);
  EXPECT_TRUE(testing::WaitFor([&] { return Call("GET", "/v1/me", as_ann).status == 200; }, kRefusedWithin));

  // 400, 404 (another org's key, a missing one), 403, 401.
  HttpResponse bad = Call("PATCH", "/v1/apiKeys/" + app.api_key().id(), acme.admin, R"({"rateLimitPerMinute":-1})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("apiKey.rateLimitPerMinute"), std::string::npos) << bad.body;
  EXPECT_EQ(Call("PATCH", "/v1/apiKeys/" + app.api_key().id(), acme.admin, R"({"scopes":["ADMIN"]})").status, 400);
  EXPECT_EQ(Call("PATCH", "/v1/apiKeys/" + app.api_key().id(), other.admin, R"({"displayName":"x"})").status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/apiKeys/" + app.api_key().id(), other.admin).status, 404);
  EXPECT_EQ(Call("PATCH", "/v1/apiKeys/01nosuchkey", acme.admin, R"({"displayName":"x"})").status, 404);
  EXPECT_EQ(Call("PATCH", "/v1/apiKeys/" + app.api_key().id(), as_ann, R"({"displayName":"x"})").status, 403);
  EXPECT_EQ(Call("GET", "/v1/apiKeys", Bearer(acme.id, ann.id())).status, 403);
  EXPECT_EQ(Call("PATCH", "/v1/apiKeys/" + app.api_key().id(), {}, R"({"displayName":"x"})").status, 401);

  ASSERT_EQ(Call("DELETE", "/v1/apiKeys/" + app.api_key().id(), acme.admin).status, 200);
  EXPECT_TRUE(testing::WaitFor([&] { return Call("GET", "/v1/me", as_ann).status == 401; }, kRefusedWithin));
  // A revoked key takes no more changes.
  EXPECT_EQ(Call("PATCH", "/v1/apiKeys/" + app.api_key().id(), acme.admin, R"({"displayName":"x"})").status, 400);
}

TEST_F(AdminIntegrationTest, AKeysOwnRateLimitGives429) {
  Org acme = NewOrg("acme");
  ppb::User ann = NewUser(acme, "ann@acme.test");
  ppb::ApiKeySecret slow =
      NewKey(acme, R"({"displayName":"slow","scopes":["READ","ACT_AS_USER"],"rateLimitPerMinute":3})");
  EXPECT_EQ(slow.api_key().rate_limit_per_minute(), 3);
  const std::vector<std::string> as_ann = {"X-Api-Key: " + slow.secret(), "X-Rapport-User: " + ann.id()};
  int ok = 0;
  HttpResponse refused;
  for (int i = 0; i < 6 && refused.status != 429; ++i) {
    HttpResponse r = Call("GET", "/v1/me", as_ann);
    if (r.status == 200) {
      ++ok;
      EXPECT_EQ(r.Header("x-ratelimit-limit"), "3");
    } else {
      refused = r;
    }
  }
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_LE(ok, 3);
  EXPECT_FALSE(refused.Header("retry-after").empty());
  // The org's other credentials keep the deployment's (here generous) limit.
  for (int i = 0; i < 6; ++i) EXPECT_EQ(Call("GET", "/v1/users", acme.admin).status, 200);
  // Raising the key's limit lets it through again (within the verdict cache).
  ASSERT_EQ(Call("PATCH", "/v1/apiKeys/" + slow.api_key().id(), acme.admin, R"({"rateLimitPerMinute":100000})").status,
            200);
  EXPECT_TRUE(testing::WaitFor([&] { return Call("GET", "/v1/me", as_ann).status == 200; }, kRefusedWithin));
}

TEST_F(AdminIntegrationTest, AuditRecordsEachActionWithActorTimeAndAddressForItsOrgOnly) {
  const absl::Time start = absl::Now() - absl::Seconds(1);
  Org acme = NewOrg("acme");
  Org other = NewOrg("other");
  ppb::User ann = NewUser(acme, "ann@acme.test");
  ASSERT_EQ(Call("PATCH", "/v1/users/" + ann.id(), acme.admin, R"({"displayName":"Anne"})").status, 200);
  ASSERT_EQ(Call("PATCH", "/v1/users/" + ann.id(), acme.admin, R"({"state":"DEACTIVATED"})").status, 200);
  ASSERT_EQ(Call("PATCH", "/v1/users/" + ann.id(), acme.admin, R"({"state":"ACTIVE"})").status, 200);
  ppb::ApiKeySecret app = NewKey(acme, R"({"displayName":"app","scopes":["READ"]})");
  ASSERT_EQ(Call("PATCH", "/v1/apiKeys/" + app.api_key().id(), acme.admin, R"({"rateLimitPerMinute":60})").status, 200);
  ASSERT_EQ(Call("DELETE", "/v1/apiKeys/" + app.api_key().id(), acme.admin).status, 200);
  // A webhook change, recorded by notifications, by the user herself. The
  // gateway may still hold her "deactivated" verdict for a few seconds.
  HttpResponse hook;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        hook = Call("POST", "/v1/webhooks", Bearer(acme.id, ann.id()), R"({"url":"http://127.0.0.1:9/hook"})");
        return hook.status == 200;
      },
      kRefusedWithin))
      << hook.body;
  const std::string webhook_id =
      Parse<google::protobuf::Struct>(hook).fields().at("webhook").struct_value().fields().at("id").string_value();
  ASSERT_EQ(Call("DELETE", "/v1/webhooks/" + webhook_id, Bearer(acme.id, ann.id())).status, 200);

  const std::vector<std::string> expected = {
      "webhook.deleted",  "webhook.created",  "apiKey.revoked", "apiKey.updated", "apiKey.created",
      "user.reactivated", "user.deactivated", "user.updated",   "user.created",   "org.created"};
  std::vector<ppb::AuditEntry> entries;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        entries = Audit(acme);
        return entries.size() >= expected.size();
      },
      std::chrono::seconds(15)))
      << entries.size();
  std::vector<std::string> actions;
  for (const auto& e : entries) actions.push_back(e.action());
  // Newest first; the two services' entries interleave by time.
  std::multiset<std::string> got(actions.begin(), actions.end()), want(expected.begin(), expected.end());
  EXPECT_EQ(got, want);
  for (size_t i = 1; i < entries.size(); ++i) {
    EXPECT_GE(google::protobuf::util::TimeUtil::TimestampToMicroseconds(entries[i - 1].time()),
              google::protobuf::util::TimeUtil::TimestampToMicroseconds(entries[i].time()));
  }
  for (const auto& e : entries) {
    SCOPED_TRACE(e.action());
    EXPECT_FALSE(e.id().empty());
    EXPECT_GE(google::protobuf::util::TimeUtil::TimestampToSeconds(e.time()), absl::ToUnixSeconds(start));
    EXPECT_EQ(e.client_address(), kClient);
    EXPECT_FALSE(e.request_id().empty());
    if (e.action() == "org.created") {
      EXPECT_EQ(e.actor(), "platform");
    } else if (e.action().rfind("webhook.", 0) == 0) {
      EXPECT_EQ(e.actor_user_id(), ann.id());
      EXPECT_EQ(e.actor(), "user:" + ann.id());
      EXPECT_EQ(e.service(), "notifications");
      EXPECT_EQ(e.target_id(), webhook_id);
    } else {
      EXPECT_EQ(e.actor_key_id(), acme.admin_key_id);
      EXPECT_EQ(e.actor(), "key:" + acme.admin_key_id);
      EXPECT_EQ(e.service(), "profiles");
    }
    if (e.action() == "user.deactivated") {
      EXPECT_EQ(e.target_id(), ann.id());
    }
    if (e.action() == "apiKey.revoked") {
      EXPECT_EQ(e.target_id(), app.api_key().id());
    }
  }

  // Filters: actor, action (exact and prefix), since; pages.
  EXPECT_EQ(Audit(acme, "&actor=" + ann.id()).size(), 2u);
  EXPECT_EQ(Audit(acme, "&actor=" + acme.admin_key_id).size(), 7u);
  EXPECT_EQ(Audit(acme, "&action=apiKey.*").size(), 3u);
  EXPECT_EQ(Audit(acme, "&action=user.deactivated").size(), 1u);
  const std::string future = Rfc3339(absl::Now() + absl::Hours(1));
  EXPECT_TRUE(Audit(acme, "&since=" + future).empty());
  HttpResponse first = Call("GET", "/v1/audit?pageSize=4", acme.admin);
  auto page = Parse<ppb::ListAuditEntriesResponse>(first);
  ASSERT_EQ(page.entries_size(), 4);
  ASSERT_FALSE(page.next_page_token().empty());
  auto second = Parse<ppb::ListAuditEntriesResponse>(
      Call("GET", "/v1/audit?pageSize=4&pageToken=" + page.next_page_token(), acme.admin));
  ASSERT_EQ(second.entries_size(), 4);
  EXPECT_EQ(second.entries(0).id(), entries[4].id());

  // Another org's admin sees none of it; the route's 400/403/401.
  for (const auto& e : Audit(other)) EXPECT_EQ(e.action(), "org.created");
  EXPECT_EQ(Audit(other).size(), 1u);
  EXPECT_EQ(Call("GET", "/v1/audit?since=yesterday", acme.admin).status, 400);
  EXPECT_EQ(Call("GET", "/v1/audit?pageToken=nope", acme.admin).status, 400);
  EXPECT_EQ(Call("GET", "/v1/audit", Bearer(acme.id, ann.id())).status, 403);
  EXPECT_EQ(Call("GET", "/v1/audit", {}).status, 401);
}

}  // namespace
}  // namespace rapport
