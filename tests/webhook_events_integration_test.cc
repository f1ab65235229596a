// End-to-end tests of webhooks that carry domain events, through the gateway
// against the real profiles, interactions and notifications binaries and a
// receiver started by the test that checks every delivery's signature as a
// partner's backend would: a user's webhook filtered with a wildcard
// ("contact.*") gets the contact's created, updated and deleted events and
// nothing else; an org-level webhook (org admins, /v1/org/webhooks) gets the
// events of every user of its org and nothing of another org's.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gateway/auth.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "services/common/crypto.h"
#include "services/common/http_client.h"
#include "services/common/ids.h"
#include "tests/testing/harness.h"
#include "tests/testing/http_receiver.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

using ::rapport::testing::HttpReceiver;
using ::rapport::testing::ReceivedRequest;
using ::rapport::testing::Stack;
using ::rapport::testing::WaitFor;

google::protobuf::Struct ParseJson(const std::string& json) {
  google::protobuf::Struct out;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &out).ok()) << json;
  return out;
}

std::string Str(const google::protobuf::Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? "" : it->second.string_value();
}

// What a receiver accepts: a Rapport-Signature over "<t>.<body>" under the
// webhook's secret, fresh, and headers that agree with the body.
struct Verified {
  std::string id, type, user_id;
  google::protobuf::Struct data;
};
bool Verify(const ReceivedRequest& r, const std::string& secret, Verified* out) {
  auto header = [&](const char* name) { return r.headers.count(name) ? r.headers.at(name) : std::string(); };
  std::vector<std::string> parts = absl::StrSplit(header("rapport-signature"), ',');
  if (parts.size() != 2 || parts[0].substr(0, 2) != "t=" || parts[1].substr(0, 3) != "v1=") return false;
  const std::string t = parts[0].substr(2);
  if (!ConstantTimeEquals(parts[1].substr(3), HexEncode(HmacSha256(secret, t + "." + r.body)))) return false;
  int64_t sent = 0;
  if (!absl::SimpleAtoi(t, &sent) || std::abs(absl::ToUnixSeconds(absl::Now()) - sent) > 300) return false;
  google::protobuf::Struct body = ParseJson(r.body);
  out->id = Str(body, "id");
  out->type = Str(body, "type");
  out->user_id = Str(body, "userId");
  if (body.fields().count("data")) out->data = body.fields().at("data").struct_value();
  return out->id == header("rapport-event-id") && out->type == header("rapport-event-type") && !out->id.empty();
}

class WebhookEventsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    ASSERT_TRUE(stack_.Start("profiles").ok());
    ASSERT_TRUE(stack_.Start("interactions").ok());
    ASSERT_TRUE(stack_
                    .Start("notifications", {{"RAPPORT_WEBHOOK_ALLOW_PRIVATE", "1"},
                                             {"RAPPORT_WEBHOOK_BACKOFF_MS", "200"},
                                             {"RAPPORT_WEBHOOK_BACKOFF_CAP_MS", "1000"}})
                    .ok());
    ASSERT_TRUE(
        stack_.StartGateway({{"RAPPORT_RATE_LIMIT_PER_MINUTE", "100000"}, {"RAPPORT_RATE_LIMIT_BURST", "10000"}}).ok());
  }

  HttpResponse Call(const std::string& method, const std::string& path, const std::vector<std::string>& auth,
                    const std::string& body = "") {
    std::vector<std::string> headers = auth;
    if (!body.empty()) headers.push_back("Content-Type: application/json");
    return HttpCall(method, stack_.GatewayUrl() + path, headers, body);
  }

  // A new org: the admin key's header.
  std::vector<std::string> NewOrg(const std::string& name) {
    HttpResponse r = Call("POST", "/v1/orgs", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey)},
                          absl::StrCat(R"({"displayName":")", name, R"("})"));
    EXPECT_EQ(r.status, 200) << r.body;
    auto org = ParseJson(r.body);
    orgs_[Str(org.fields().at("org").struct_value(), "id")] = name;
    return {"X-Api-Key: " + Str(org.fields().at("adminKey").struct_value(), "secret"),
            Str(org.fields().at("org").struct_value(), "id")};
  }

  // A user of the org the admin header is for: {Authorization header, user id}.
  std::pair<std::vector<std::string>, std::string> NewUser(const std::vector<std::string>& admin) {
    HttpResponse r = Call("POST", "/v1/users", {admin[0]},
                          absl::StrCat(R"({"displayName":"u","email":")", NewId(), R"(@x.test","timezone":"UTC"})"));
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string user = Str(ParseJson(r.body), "id");
    std::string token = gateway::SignJwtHs256(
        absl::StrCat(R"({"sub":")", user, R"(","org":")", admin[1], R"(","iss":"rapport","aud":"rapport","exp":)",
                     absl::ToUnixSeconds(absl::Now()) + 600, "}"),
        testing::kTestJwtSecret);
    return {{"Authorization: Bearer " + token}, user};
  }

  // {webhook id, secret}
  std::pair<std::string, std::string> NewWebhook(const std::string& path, const std::vector<std::string>& auth,
                                                 const std::string& url, const std::string& event_types) {
    HttpResponse r = Call("POST", path, auth, absl::StrCat(R"({"url":")", url, R"(","eventTypes":)", event_types, "}"));
    EXPECT_EQ(r.status, 200) << r.body;
    auto created = ParseJson(r.body);
    if (!created.fields().count("webhook")) return {};
    return {Str(created.fields().at("webhook").struct_value(), "id"), Str(created, "secret")};
  }

  std::string NewContact(const std::vector<std::string>& user, const std::string& name) {
    HttpResponse r = Call("POST", "/v1/contacts", user, absl::StrCat(R"({"displayName":")", name, R"("})"));
    EXPECT_EQ(r.status, 200) << r.body;
    return Str(ParseJson(r.body), "id");
  }

  // The event types of the webhook's delivery log (durable: what was queued).
  std::multiset<std::string> Delivered(const std::string& path, const std::vector<std::string>& auth) {
    HttpResponse r = Call("GET", path, auth);
    EXPECT_EQ(r.status, 200) << r.body;
    std::multiset<std::string> out;
    auto list = ParseJson(r.body);
    if (!list.fields().count("deliveries")) return out;
    for (const auto& d : list.fields().at("deliveries").list_value().values()) {
      out.insert(Str(d.struct_value(), "eventType"));
    }
    return out;
  }

  static std::vector<Verified> VerifiedRequests(HttpReceiver& receiver, const std::string& secret) {
    std::vector<Verified> out;
    for (const ReceivedRequest& r : receiver.requests()) {
      Verified v;
      EXPECT_TRUE(Verify(r, secret, &v)) << r.body;
      out.push_back(v);
    }
    return out;
  }

  Stack stack_;
  std::map<std::string, std::string> orgs_;
};

// Failed before domain events: "contact.*" was refused (400) and webhooks
// only ever carried notification.created and workflow steps.
TEST_F(WebhookEventsIntegrationTest, WildcardFilterDeliversContactEventsAndNothingElse) {
  auto admin = NewOrg("acme");
  auto [alice, alice_id] = NewUser(admin);
  HttpReceiver contacts_only, everything;
  ASSERT_TRUE(contacts_only.Start().ok());
  ASSERT_TRUE(everything.Start().ok());
  auto [filtered, filtered_secret] =
      NewWebhook("/v1/webhooks", alice, contacts_only.Url("/contacts"), R"(["contact.*"])");
  auto [all, all_secret] = NewWebhook("/v1/webhooks", alice, everything.Url("/all"), R"(["*"])");
  ASSERT_FALSE(filtered.empty());
  ASSERT_FALSE(all.empty());
  // A bad pattern is a 400 naming the item.
  HttpResponse bad = Call("POST", "/v1/webhooks", alice,
                          absl::StrCat(R"({"url":")", everything.Url("/x"), R"(","eventTypes":["contact.*","con*"]})"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find(R"("field":"eventTypes[1]")"), std::string::npos) << bad.body;

  const std::string bob = NewContact(alice, "Bob Stone");
  HttpResponse patched = Call("PATCH", "/v1/contacts/" + bob, alice, R"({"company":"Initech"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  HttpResponse logged =
      Call("POST", "/v1/interactions", alice,
           absl::StrCat(R"({"kind":"CALL","direction":"MUTUAL","contactIds":[")", bob, R"("],"summary":"catch up"})"));
  ASSERT_EQ(logged.status, 200) << logged.body;
  const std::string interaction = Str(ParseJson(logged.body), "id");
  // The interaction's events are in before the contact goes.
  ASSERT_TRUE(WaitFor(
      [&] {
        std::multiset<std::string> types = Delivered("/v1/webhooks/" + all + "/deliveries", alice);
        return types.count("interaction.created") == 1 && types.count("ledger.changed") >= 1;
      },
      std::chrono::seconds(20)));
  ASSERT_EQ(Call("DELETE", "/v1/contacts/" + bob, alice).status, 200);

  ASSERT_TRUE(WaitFor([&] { return contacts_only.requests().size() >= 3; }, std::chrono::seconds(20)));
  ASSERT_TRUE(
      WaitFor([&] { return Delivered("/v1/webhooks/" + all + "/deliveries", alice).count("contact.deleted") == 1; },
              std::chrono::seconds(20)));
  // Every event the catch-all got was queued for the filtered webhook in the
  // same transaction, had it matched: its log holds the contact's three.
  EXPECT_EQ(Delivered("/v1/webhooks/" + filtered + "/deliveries", alice),
            (std::multiset<std::string>{"contact.created", "contact.updated", "contact.deleted"}));
  std::vector<Verified> got = VerifiedRequests(contacts_only, filtered_secret);
  ASSERT_EQ(got.size(), 3u);
  std::map<std::string, Verified> by_type;
  for (const Verified& v : got) by_type[v.type] = v;
  ASSERT_EQ(by_type.size(), 3u);
  EXPECT_EQ(Str(by_type["contact.created"].data, "displayName"), "Bob Stone");
  EXPECT_EQ(Str(by_type["contact.updated"].data, "company"), "Initech");
  EXPECT_EQ(Str(by_type["contact.deleted"].data, "id"), bob);
  for (const Verified& v : got) EXPECT_EQ(v.user_id, alice_id);
  // Distinct events, distinct ids (the receivers' dedupe key).
  EXPECT_EQ(std::set<std::string>({got[0].id, got[1].id, got[2].id}).size(), 3u);

  // The catch-all got the interaction as the REST API shows it, signed under its own secret.
  bool saw_interaction = false;
  for (const Verified& v : VerifiedRequests(everything, all_secret)) {
    if (v.type == "interaction.created") {
      saw_interaction = true;
      EXPECT_EQ(Str(v.data, "id"), interaction);
      EXPECT_EQ(Str(v.data, "summary"), "catch up");
      EXPECT_EQ(Str(v.data, "kind"), "CALL");
    }
  }
  EXPECT_TRUE(saw_interaction);
}

// Failed before org-level webhooks: /v1/org/webhooks did not exist.
TEST_F(WebhookEventsIntegrationTest, OrgWebhookGetsEveryUsersEventsOfItsOrgAndNoneOfAnothers) {
  auto acme = NewOrg("acme");
  auto globex = NewOrg("globex");
  auto [ann, ann_id] = NewUser(acme);
  auto [ben, ben_id] = NewUser(acme);
  auto [gus, gus_id] = NewUser(globex);
  HttpReceiver acme_hook, globex_hook;
  ASSERT_TRUE(acme_hook.Start().ok());
  ASSERT_TRUE(globex_hook.Start().ok());
  auto [acme_webhook, acme_secret] =
      NewWebhook("/v1/org/webhooks", {acme[0]}, acme_hook.Url("/org"), R"(["contact.created"])");
  auto [globex_webhook, globex_secret] =
      NewWebhook("/v1/org/webhooks", {globex[0]}, globex_hook.Url("/org"), R"(["contact.*"])");
  ASSERT_FALSE(acme_webhook.empty());
  ASSERT_FALSE(globex_webhook.empty());

  // Who may: an org admin. A user's credential is 403, none 401, another
  // org's admin 404.
  EXPECT_EQ(Call("POST", "/v1/org/webhooks", ann, absl::StrCat(R"({"url":")", acme_hook.Url("/x"), R"("})")).status,
            403);
  EXPECT_EQ(Call("GET", "/v1/org/webhooks", ann).status, 403);
  EXPECT_EQ(Call("DELETE", "/v1/org/webhooks/" + acme_webhook, ann).status, 403);
  EXPECT_EQ(Call("GET", "/v1/org/webhooks", {}).status, 401);
  EXPECT_EQ(Call("DELETE", "/v1/org/webhooks/" + acme_webhook, {}).status, 401);
  EXPECT_EQ(Call("DELETE", "/v1/org/webhooks/" + acme_webhook, {globex[0]}).status, 404);
  EXPECT_EQ(Call("GET", "/v1/org/webhooks/" + acme_webhook + "/deliveries", {globex[0]}).status, 404);
  // Nor is it a user's webhook.
  EXPECT_EQ(Call("DELETE", "/v1/webhooks/" + acme_webhook, ann).status, 404);
  EXPECT_EQ(Call("GET", "/v1/webhooks", ann).body.find(acme_webhook), std::string::npos);
  HttpResponse listed = Call("GET", "/v1/org/webhooks", {acme[0]});
  EXPECT_EQ(listed.status, 200);
  EXPECT_NE(listed.body.find(acme_webhook), std::string::npos) << listed.body;
  EXPECT_NE(listed.body.find(R"("scope":"ORG")"), std::string::npos) << listed.body;
  EXPECT_EQ(listed.body.find(globex_webhook), std::string::npos) << listed.body;

  NewContact(ann, "Ann's contact");
  NewContact(ben, "Ben's contact");
  NewContact(gus, "Gus's contact");
  ASSERT_TRUE(WaitFor([&] { return acme_hook.requests().size() >= 2; }, std::chrono::seconds(20)));
  // Globex's event was handled (its org webhook got it) before acme's log is read.
  ASSERT_TRUE(WaitFor([&] { return globex_hook.requests().size() >= 1; }, std::chrono::seconds(20)));
  EXPECT_EQ(Delivered("/v1/org/webhooks/" + acme_webhook + "/deliveries", {acme[0]}),
            (std::multiset<std::string>{"contact.created", "contact.created"}));
  std::set<std::string> users, names;
  for (const Verified& v : VerifiedRequests(acme_hook, acme_secret)) {
    EXPECT_EQ(v.type, "contact.created");
    users.insert(v.user_id);
    names.insert(Str(v.data, "displayName"));
  }
  EXPECT_EQ(users, (std::set<std::string>{ann_id, ben_id}));
  EXPECT_EQ(names, (std::set<std::string>{"Ann's contact", "Ben's contact"}));
  std::vector<Verified> theirs = VerifiedRequests(globex_hook, globex_secret);
  ASSERT_EQ(theirs.size(), 1u);
  EXPECT_EQ(theirs[0].user_id, gus_id);

  // Deleting stops it: the list is empty again.
  EXPECT_EQ(Call("DELETE", "/v1/org/webhooks/" + acme_webhook, {acme[0]}).status, 200);
  EXPECT_EQ(Call("GET", "/v1/org/webhooks", {acme[0]}).body, "{}");
}

// Failed before: a new title prompted nothing. Through the gateway: the
// prompt with its draft, then gone from the inbox once the congratulation is
// logged.
TEST_F(WebhookEventsIntegrationTest, ANewTitlePromptsACongratulationThatLoggingItCloses) {
  auto admin = NewOrg("acme");
  auto [alice, alice_id] = NewUser(admin);
  HttpResponse created =
      Call("POST", "/v1/contacts", alice, R"({"displayName":"Dan Ito","company":"Initech","title":"Engineer"})");
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string dan = Str(ParseJson(created.body), "id");
  auto milestone = [&]() -> std::optional<google::protobuf::Struct> {
    HttpResponse r = Call("GET", "/v1/notifications", alice);
    EXPECT_EQ(r.status, 200) << r.body;
    auto list = ParseJson(r.body);
    if (!list.fields().count("notifications")) return std::nullopt;
    for (const auto& n : list.fields().at("notifications").list_value().values()) {
      if (Str(n.struct_value(), "kind") == "milestone") return n.struct_value();
    }
    return std::nullopt;
  };
  // Its creation prompts nothing: once a later contact's event has reached a
  // webhook, the consumer is past Dan's creation.
  HttpReceiver receiver;
  ASSERT_TRUE(receiver.Start().ok());
  NewWebhook("/v1/webhooks", alice, receiver.Url("/c"), R"(["contact.created"])");
  NewContact(alice, "Probe");
  ASSERT_TRUE(WaitFor([&] { return receiver.requests().size() >= 1; }, std::chrono::seconds(20)));
  EXPECT_FALSE(milestone().has_value());
  ASSERT_EQ(Call("PATCH", "/v1/contacts/" + dan, alice, R"({"title":"Senior Engineer"})").status, 200);
  ASSERT_TRUE(WaitFor([&] { return milestone().has_value(); }, std::chrono::seconds(20)));
  auto n = *milestone();
  EXPECT_EQ(Str(n, "contactId"), dan);
  EXPECT_EQ(Str(n, "title"), "Congratulate Dan Ito on their new role");
  EXPECT_NE(Str(n, "draft").find("Senior Engineer at Initech, Dan!"), std::string::npos) << Str(n, "draft");
  HttpResponse logged =
      Call("POST", "/v1/interactions", alice,
           absl::StrCat(R"({"kind":"CONGRATULATION","direction":"GAVE","contactIds":[")", dan, R"("]})"));
  ASSERT_EQ(logged.status, 200) << logged.body;
  EXPECT_TRUE(WaitFor([&] { return !milestone().has_value(); }, std::chrono::seconds(20)));
}

}  // namespace
}  // namespace rapport
