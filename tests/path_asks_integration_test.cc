// POST /v1/paths:ask end to end through the gateway (issue 19): a warm path
// becomes an introduction REQUEST; through a teammate, the teammate sees it
// in their inbox and answers it with their own credential (double opt-in by
// the real parties); through an outside contact, the asker records the
// answer. Real redis, profiles, interactions, notifications and gateway.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/http_client.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
namespace npb = ::rapport::notifications::v1;
using ::rapport::testing::Stack;
using ::rapport::testing::WaitFor;

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

class PathAsksIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    ASSERT_TRUE(stack_.Start("profiles").ok());
    ASSERT_TRUE(stack_.Start("interactions").ok());
    ASSERT_TRUE(stack_.Start("notifications").ok());
    absl::Status s = stack_.StartGateway();
    ASSERT_TRUE(s.ok()) << s;
    url_ = stack_.GatewayUrl();
  }

  HttpResponse Call(const std::string& method, const std::string& path, const std::vector<std::string>& headers,
                    const std::string& body = "") {
    return HttpCall(method, url_ + path, headers, body);
  }

  // A new org; returns its admin key secret.
  std::string NewOrg(const std::string& name) {
    HttpResponse r = Call("POST", "/v1/orgs", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), kJson},
                          absl::StrCat(R"({"displayName":")", name, R"("})"));
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse<ppb::CreateOrgResponse>(r).admin_key().secret();
  }

  // A user of the admin key's org; returns the headers acting as them.
  std::vector<std::string> NewUser(const std::string& admin_key, const std::string& name, std::string* id) {
    HttpResponse r = Call("POST", "/v1/users", {"X-Api-Key: " + admin_key, kJson},
                          absl::StrCat(R"({"displayName":")", name, R"(","email":")", name, R"(@org.test"})"));
    EXPECT_EQ(r.status, 200) << r.body;
    *id = Parse<ppb::User>(r).id();
    return {"X-Api-Key: " + admin_key, "X-Rapport-User: " + *id, kJson};
  }

  std::string NewContact(const std::vector<std::string>& as, const std::string& name, const std::string& visibility) {
    HttpResponse r = Call("POST", "/v1/contacts", as,
                          absl::StrCat(R"({"displayName":")", name, R"(","visibility":")", visibility, R"("})"));
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse<ppb::Contact>(r).id();
  }

  std::string url_;
  Stack stack_;
};

TEST_F(PathAsksIntegrationTest, TeammateAnswersTheirOwnAskAndTheAskerRecordsAnOutsiders) {
  const std::string admin = NewOrg("acme");
  std::string a_id, b_id, z_id;
  const auto a = NewUser(admin, "alice", &a_id);
  const auto b = NewUser(admin, "bruno", &b_id);
  const std::string other_admin = NewOrg("globex");
  const auto z = NewUser(other_admin, "zoe", &z_id);
  const std::string carol = NewContact(b, "Carol", "ORG");  // Bruno's, visible to the org
  const std::string secret = NewContact(b, "Sam", "PRIVATE");

  // Alice asks via her teammate Bruno to meet his contact Carol.
  HttpResponse asked = Call("POST", "/v1/paths:ask", a,
                            absl::StrCat(R"({"targetContactId":")", carol, R"(","via":")", b_id,
                                         R"(","ask":"Hi Bruno, could you introduce me to Carol?"})"));
  ASSERT_EQ(asked.status, 200) << asked.body;
  const auto intro = Parse<ipb::Introduction>(asked);
  EXPECT_EQ(intro.state(), ipb::REQUESTED);
  EXPECT_EQ(intro.mode(), ipb::REQUEST);
  EXPECT_EQ(intro.via_user_id(), b_id);
  EXPECT_EQ(intro.asker_user_id(), a_id);
  EXPECT_EQ(intro.target(), "Carol");
  EXPECT_EQ(intro.reason(), "Hi Bruno, could you introduce me to Carol?");

  // It lands in Bruno's inbox (the event goes through the stream).
  HttpResponse inbox;
  ASSERT_TRUE(WaitFor(
      [&] {
        inbox = Call("GET", "/v1/notifications", b);
        return inbox.status == 200 && inbox.body.find(intro.id()) != std::string::npos;
      },
      std::chrono::seconds(10)))
      << inbox.status << " " << inbox.body;
  const auto list = Parse<npb::ListNotificationsResponse>(inbox);
  ASSERT_EQ(list.notifications_size(), 1);
  EXPECT_EQ(list.notifications(0).kind(), "introduction_ask");
  EXPECT_EQ(list.notifications(0).introduction_id(), intro.id());
  EXPECT_EQ(list.notifications(0).body(), "Hi Bruno, could you introduce me to Carol?");
  // Not in Alice's.
  EXPECT_EQ(Call("GET", "/v1/notifications", a).body.find(intro.id()), std::string::npos);

  // Alice cannot answer for Bruno: not with :accept, nor with :respond.
  EXPECT_EQ(Call("POST", "/v1/introductions/" + intro.id() + ":accept", a, "{}").status, 404);
  HttpResponse respond =
      Call("POST", "/v1/introductions/" + intro.id() + ":respond", a, R"({"party":"A","accept":true})");
  EXPECT_EQ(respond.status, 403) << respond.body;
  // Another org's user neither sees nor answers it.
  EXPECT_EQ(Call("POST", "/v1/introductions/" + intro.id() + ":accept", z, "{}").status, 404);
  EXPECT_EQ(Call("POST", "/v1/introductions/" + intro.id() + ":decline", z, "{}").status, 404);
  EXPECT_EQ(Call("GET", "/v1/introductions", z).body.find(intro.id()), std::string::npos);

  // Bruno accepts; Alice sees it accepted, and an answer in her inbox.
  HttpResponse accepted = Call("POST", "/v1/introductions/" + intro.id() + ":accept", b, "{}");
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(Parse<ipb::Introduction>(accepted).state(), ipb::ACCEPTED);
  HttpResponse mine = Call("GET", "/v1/introductions?state=ACCEPTED", a);
  ASSERT_EQ(mine.status, 200) << mine.body;
  const auto intros = Parse<ipb::ListIntroductionsResponse>(mine);
  ASSERT_EQ(intros.introductions_size(), 1);
  EXPECT_EQ(intros.introductions(0).id(), intro.id());
  ASSERT_TRUE(
      WaitFor([&] { return Call("GET", "/v1/notifications", a).body.find("introduction_answer") != std::string::npos; },
              std::chrono::seconds(10)));
  // Answered once: a second answer is refused (FAILED_PRECONDITION), not a change.
  EXPECT_EQ(Call("POST", "/v1/introductions/" + intro.id() + ":decline", b, "{}").status, 400);

  // Through an outside contact: Alice records the answer herself.
  const std::string dan = NewContact(a, "Dan", "PRIVATE");
  const std::string erin = NewContact(a, "Erin", "PRIVATE");
  HttpResponse outside =
      Call("POST", "/v1/paths:ask", a, absl::StrCat(R"({"targetContactId":")", erin, R"(","via":")", dan, R"("})"));
  ASSERT_EQ(outside.status, 200) << outside.body;
  const auto out_intro = Parse<ipb::Introduction>(outside);
  EXPECT_EQ(out_intro.contact_a_id(), dan);
  EXPECT_TRUE(out_intro.via_user_id().empty());
  EXPECT_EQ(out_intro.reason(), "Hi Dan, could you introduce me to Erin?");
  EXPECT_EQ(Call("POST", "/v1/introductions/" + out_intro.id() + ":accept", a, "{}").status, 404);
  HttpResponse recorded =
      Call("POST", "/v1/introductions/" + out_intro.id() + ":respond", a, R"({"party":"A","accept":false})");
  ASSERT_EQ(recorded.status, 200) << recorded.body;
  EXPECT_EQ(Parse<ipb::Introduction>(recorded).state(), ipb::DECLINED);

  // Validation: fields named; via and target must be usable by Alice.
  HttpResponse bad = Call("POST", "/v1/paths:ask", a, R"({"via":")" + dan + R"("})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("targetContactId"), std::string::npos) << bad.body;
  bad = Call("POST", "/v1/paths:ask", a, absl::StrCat(R"({"targetContactId":")", erin, R"("})"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("via"), std::string::npos) << bad.body;
  HttpResponse stranger =
      Call("POST", "/v1/paths:ask", a, absl::StrCat(R"({"targetContactId":")", erin, R"(","via":")", z_id, R"("})"));
  EXPECT_EQ(stranger.status, 404) << stranger.body;
  EXPECT_NE(stranger.body.find("via"), std::string::npos) << stranger.body;
  HttpResponse hidden =
      Call("POST", "/v1/paths:ask", a, absl::StrCat(R"({"targetContactId":")", secret, R"(","via":")", b_id, R"("})"));
  EXPECT_EQ(hidden.status, 404) << hidden.body;
  EXPECT_NE(hidden.body.find("targetContactId"), std::string::npos) << hidden.body;
  HttpResponse self =
      Call("POST", "/v1/paths:ask", a, absl::StrCat(R"({"target":"the CTO of Acme","via":")", a_id, R"("})"));
  EXPECT_EQ(self.status, 404) << self.body;
  // Another org's user cannot ask through Alice's teammate.
  EXPECT_EQ(
      Call("POST", "/v1/paths:ask", z, absl::StrCat(R"({"targetContactId":")", carol, R"(","via":")", b_id, R"("})"))
          .status,
      404);

  // Idempotency: the same key answers the same introduction.
  auto with_key = a;
  with_key.push_back("Idempotency-Key: ask-1");
  const std::string body = absl::StrCat(R"({"target":"the CTO of Acme","via":")", b_id, R"("})");
  HttpResponse first = Call("POST", "/v1/paths:ask", with_key, body);
  HttpResponse again = Call("POST", "/v1/paths:ask", with_key, body);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(Parse<ipb::Introduction>(first).id(), Parse<ipb::Introduction>(again).id());

  // No credential: 401; a read-only key: 403.
  EXPECT_EQ(Call("POST", "/v1/paths:ask", {kJson}, body).status, 401);
  EXPECT_EQ(Call("POST", "/v1/introductions/" + intro.id() + ":accept", {kJson}, "{}").status, 401);
  HttpResponse key = Call("POST", "/v1/apiKeys", {"X-Api-Key: " + admin, kJson},
                          R"({"displayName":"reader","scopes":["READ","ACT_AS_USER"]})");
  ASSERT_EQ(key.status, 200) << key.body;
  const std::vector<std::string> reader = {"X-Api-Key: " + Parse<ppb::ApiKeySecret>(key).secret(),
                                           "X-Rapport-User: " + b_id, kJson};
  EXPECT_EQ(Call("POST", "/v1/paths:ask", reader, body).status, 403);
  EXPECT_EQ(Call("POST", "/v1/introductions/" + intro.id() + ":decline", reader, "{}").status, 403);
}

}  // namespace
}  // namespace rapport
