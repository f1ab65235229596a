// End-to-end test of duplicates and merge (issue 18) with a real redis-server
// and the real profiles, interactions, notifications, recommendations and
// gateway binaries: two records of one person, each with interactions, a
// group membership, an introduction, a reminder and a workflow run, are
// merged through the gateway; then every service answers for the survivor
// only. Also the retry, tenant isolation (404), scope (403) and no
// credential (401).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/auth.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "rapport/recommendations/v1/recommendations.pb.h"
#include "services/common/http_client.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
namespace npb = ::rapport::notifications::v1;
namespace rpb = ::rapport::recommendations::v1;
using ::rapport::testing::Stack;
using ::rapport::testing::WaitFor;

constexpr char kJson[] = "Content-Type: application/json";
constexpr std::chrono::seconds kEventually(20);

template <typename T>
T Parse(const HttpResponse& r) {
  T out;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &out, options).ok()) << r.body;
  return out;
}

class MergeIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    for (const char* service : {"profiles", "interactions", "notifications", "recommendations"}) {
      absl::Status s = stack_.Start(service);
      ASSERT_TRUE(s.ok()) << service << ": " << s;
    }
    absl::Status s =
        stack_.StartGateway({{"RAPPORT_RATE_LIMIT_PER_MINUTE", "1000000"}, {"RAPPORT_RATE_LIMIT_BURST", "100000"}});
    ASSERT_TRUE(s.ok()) << s;
    url_ = stack_.GatewayUrl();
  }

  HttpResponse Call(const std::string& method, const std::string& path, const std::vector<std::string>& headers,
                    const std::string& body = "") {
    return HttpCall(method, url_ + path, headers, body);
  }
  // Calls and expects 200, returning the parsed answer.
  template <typename T>
  T Ok(const std::string& method, const std::string& path, const std::vector<std::string>& headers,
       const std::string& body = "") {
    HttpResponse r = Call(method, path, headers, body);
    EXPECT_EQ(r.status, 200) << method << " " << path << ": " << r.body;
    return Parse<T>(r);
  }

  // A new org and its admin key secret.
  std::string NewOrg(std::string* org_id) {
    auto org = Ok<ppb::CreateOrgResponse>(
        "POST", "/v1/orgs", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), kJson}, R"({"displayName":"Acme"})");
    *org_id = org.org().id();
    return org.admin_key().secret();
  }
  std::string NewUser(const std::string& admin_key, const std::string& email) {
    return Ok<ppb::User>("POST", "/v1/users", {"X-Api-Key: " + admin_key, kJson},
                         absl::StrCat(R"({"displayName":"U","email":")", email, R"(","timezone":"UTC"})"))
        .id();
  }
  static std::vector<std::string> As(const std::string& org, const std::string& user) {
    std::string jwt = gateway::SignJwtHs256(
        absl::StrCat(R"({"sub":")", user, R"(","org":")", org, R"(","iss":"rapport","aud":"rapport","exp":)",
                     absl::ToUnixSeconds(absl::Now()) + 600, "}"),
        testing::kTestJwtSecret);
    return {"Authorization: Bearer " + jwt, kJson};
  }
  static std::string Days(int days_ago) {
    return absl::FormatTime(absl::RFC3339_sec, absl::Now() - absl::Hours(24 * days_ago), absl::UTCTimeZone());
  }
  std::vector<std::string> ReachOutIds(const std::vector<std::string>& who) {
    std::vector<std::string> ids;
    const auto list = Ok<rpb::ListReachOutsResponse>("GET", "/v1/recommendations/reachOuts", who);
    for (const auto& i : list.items()) {
      ids.push_back(i.contact().id());
    }
    return ids;
  }

  Stack stack_;
  std::string url_;
};

TEST_F(MergeIntegrationTest, EveryServiceFollowsTheMerge) {
  std::string org;
  const std::string admin = NewOrg(&org);
  const std::string ann = NewUser(admin, "ann@acme.test");
  const auto me = As(org, ann);

  // Two records of Dee (same email, written differently) and a friend.
  auto a =
      Ok<ppb::Contact>("POST", "/v1/contacts", me,
                       R"({"displayName":"Dee","emails":["dee@example.com"],"tier":"CLOSE","notes":"met at PyCon"})");
  auto b = Ok<ppb::Contact>(
      "POST", "/v1/contacts", me,
      R"({"displayName":"Dee Rivers","emails":["DEE@Example.com","dee@work.example"],"company":"Initech","tier":"CLOSE","phones":["+1 555 010 0199"],"notes":"likes chess"})");
  auto friend_ = Ok<ppb::Contact>("POST", "/v1/contacts", me, R"({"displayName":"Eve"})");

  auto dups = Ok<ppb::ListDuplicateContactsResponse>("GET", "/v1/contacts:duplicates", me);
  ASSERT_EQ(dups.sets_size(), 1);
  ASSERT_EQ(dups.sets(0).contacts_size(), 2);
  EXPECT_EQ(dups.sets(0).contacts(0).id(), a.id());
  EXPECT_EQ(dups.sets(0).contacts(1).id(), b.id());
  EXPECT_EQ(dups.sets(0).matches(0).reason(), "email");
  EXPECT_EQ(dups.sets(0).matches(0).value(), "dee@example.com");

  // Each record: two interactions long ago (both overdue), a group, an
  // introduction, a reminder and a workflow run.
  auto group = Ok<ppb::Group>("POST", "/v1/groups", me, R"({"displayName":"Chess club","kind":"HOBBY"})");
  auto wf = Ok<npb::Workflow>("POST", "/v1/workflows", me, R"({"displayName":"Nudge","trigger":{"kind":"MANUAL"},
      "steps":[{"kind":"NOTIFY","title":"Nudge {{contact.displayName}}"}]})");
  std::vector<std::string> interactions, intros, reminders, runs;
  for (const ppb::Contact* c : {&a, &b}) {
    for (int days : {100, 120}) {
      interactions.push_back(
          Ok<ipb::Interaction>("POST", "/v1/interactions", me,
                               absl::StrCat(R"({"kind":"MEETING","direction":"GAVE","contactIds":[")", c->id(),
                                            R"("],"occurredAt":")", Days(days), R"("})"))
              .id());
    }
    Ok<ppb::GroupMember>("PUT", absl::StrCat("/v1/groups/", group.id(), "/members/", c->id()), me,
                         R"({"role":"MEMBER"})");
    intros.push_back(Ok<ipb::Introduction>("POST", "/v1/introductions", me,
                                           absl::StrCat(R"({"mode":"CONNECT","contactAId":")", c->id(),
                                                        R"(","contactBId":")", friend_.id(), R"("})"))
                         .id());
    reminders.push_back(Ok<npb::Reminder>("POST", "/v1/reminders", me,
                                          absl::StrCat(R"({"contactId":")", c->id(), R"(","dueTime":")", Days(-30),
                                                       R"(","note":"coffee"})"))
                            .id());
    // A manual run reads the contact from notifications' projection, which
    // learns it from the contact.created event a moment after the create.
    HttpResponse run;
    ASSERT_TRUE(WaitFor(
        [&] {
          run = Call("POST", absl::StrCat("/v1/workflows/", wf.id(), ":run"), me,
                     absl::StrCat(R"({"contactId":")", c->id(), R"("})"));
          return run.status != 400;
        },
        std::chrono::seconds(10)));
    ASSERT_EQ(run.status, 200) << run.body;
    runs.push_back(Parse<npb::WorkflowRun>(run).id());
  }
  // Recommendations saw both records.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto ids = ReachOutIds(me);
        return std::count(ids.begin(), ids.end(), a.id()) == 1 && std::count(ids.begin(), ids.end(), b.id()) == 1;
      },
      kEventually));

  // The merge, and its retry.
  const std::string merge_path = absl::StrCat("/v1/contacts/", a.id(), ":merge");
  const std::string merge_body = absl::StrCat(R"({"otherIds":[")", b.id(), R"("]})");
  auto merged = Ok<ppb::MergeContactsResponse>("POST", merge_path, me, merge_body);
  EXPECT_EQ(merged.contact().id(), a.id());
  EXPECT_EQ(merged.contact().display_name(), "Dee");  // the survivor's own
  EXPECT_EQ(merged.contact().company(), "Initech");   // filled from the other
  EXPECT_EQ(merged.contact().emails_size(), 2);       // dee@example.com once, dee@work.example
  EXPECT_EQ(merged.contact().phones_size(), 1);
  EXPECT_EQ(merged.contact().notes(), "met at PyCon\n\nlikes chess");
  auto retried = Ok<ppb::MergeContactsResponse>("POST", merge_path, me, merge_body);
  EXPECT_EQ(retried.contact().id(), a.id());
  EXPECT_EQ(retried.contact().company(), "Initech");
  ASSERT_EQ(retried.merged_ids_size(), 1);
  EXPECT_EQ(retried.merged_ids(0), b.id());

  // profiles: the merged id is gone, the survivor holds the membership.
  EXPECT_EQ(Call("GET", "/v1/contacts/" + b.id(), me).status, 404);
  auto members = Ok<ppb::ListMembersResponse>("GET", absl::StrCat("/v1/groups/", group.id(), "/members"), me);
  ASSERT_EQ(members.members_size(), 1);
  EXPECT_EQ(members.members(0).member_id(), a.id());
  EXPECT_EQ(Ok<ppb::ListDuplicateContactsResponse>("GET", "/v1/contacts:duplicates", me).sets_size(), 0);

  // interactions: every interaction and introduction names the survivor, and
  // the ledger is that of the four interactions.
  ASSERT_TRUE(WaitFor(
      [&] {
        return Ok<ipb::ListInteractionsResponse>("GET", "/v1/interactions?contactId=" + a.id(), me)
                   .interactions_size() == 4;
      },
      kEventually));
  EXPECT_EQ(Ok<ipb::ListInteractionsResponse>("GET", "/v1/interactions?contactId=" + b.id(), me).interactions_size(),
            0);
  for (const std::string& id : interactions) {
    auto i = Ok<ipb::Interaction>("GET", "/v1/interactions/" + id, me);
    ASSERT_EQ(i.contact_ids_size(), 1);
    EXPECT_EQ(i.contact_ids(0), a.id());
  }
  auto intro_list = Ok<ipb::ListIntroductionsResponse>("GET", "/v1/introductions", me);
  ASSERT_EQ(intro_list.introductions_size(), 2);
  for (const auto& intro : intro_list.introductions()) EXPECT_EQ(intro.contact_a_id(), a.id());
  ASSERT_TRUE(WaitFor(
      [&] { return Ok<ipb::LedgerEntry>("GET", "/v1/contacts/" + a.id() + "/ledger", me).interaction_count() == 4; },
      kEventually));
  auto ledger = Ok<ipb::LedgerEntry>("GET", "/v1/contacts/" + a.id() + "/ledger", me);
  EXPECT_DOUBLE_EQ(ledger.given(), 4 * 3.0);  // four meetings given, 3.0 each
  EXPECT_DOUBLE_EQ(ledger.received(), 0);
  EXPECT_EQ(Call("GET", "/v1/contacts/" + b.id() + "/ledger", me).status, 404);
  // Logging with the merged id is refused like a deleted contact.
  EXPECT_EQ(Call("POST", "/v1/interactions", me,
                 absl::StrCat(R"({"kind":"CALL","direction":"GAVE","contactIds":[")", b.id(), R"("]})"))
                    .status /
                100,
            4);

  // notifications: reminders and runs name the survivor.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto list = Ok<npb::ListRemindersResponse>("GET", "/v1/reminders", me);
        int on_a = 0;
        for (const auto& r : list.reminders()) on_a += r.contact_id() == a.id();
        return list.reminders_size() == 2 && on_a == 2;
      },
      kEventually));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto list = Ok<npb::ListWorkflowRunsResponse>("GET", absl::StrCat("/v1/workflows/", wf.id(), "/runs"), me);
        int on_a = 0;
        for (const auto& r : list.runs()) on_a += r.contact_id() == a.id();
        return list.runs_size() == 2 && on_a == 2;
      },
      kEventually));
  // A new run for the survivor works; one for the merged id does not.
  Ok<npb::WorkflowRun>("POST", absl::StrCat("/v1/workflows/", wf.id(), ":run"), me,
                       absl::StrCat(R"({"contactId":")", a.id(), R"("})"));
  EXPECT_NE(Call("POST", absl::StrCat("/v1/workflows/", wf.id(), ":run"), me,
                 absl::StrCat(R"({"contactId":")", b.id(), R"("})"))
                .status,
            200);

  // recommendations: the survivor only.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto ids = ReachOutIds(me);
        return std::count(ids.begin(), ids.end(), a.id()) == 1 && std::count(ids.begin(), ids.end(), b.id()) == 0;
      },
      kEventually));
}

TEST_F(MergeIntegrationTest, ErrorsTenantsAndScopes) {
  std::string org, other_org;
  const std::string admin = NewOrg(&org);
  const std::string other_admin = NewOrg(&other_org);
  const std::string ann = NewUser(admin, "ann@acme.test");
  const std::string bea = NewUser(admin, "bea@acme.test");
  const std::string cy = NewUser(other_admin, "cy@other.test");
  const auto as_ann = As(org, ann);
  auto a = Ok<ppb::Contact>("POST", "/v1/contacts", as_ann, R"({"displayName":"A"})");
  auto b = Ok<ppb::Contact>("POST", "/v1/contacts", as_ann, R"({"displayName":"B"})");
  auto beas = Ok<ppb::Contact>("POST", "/v1/contacts", As(org, bea), R"({"displayName":"C"})");
  const std::string path = absl::StrCat("/v1/contacts/", a.id(), ":merge");
  const std::string body = absl::StrCat(R"({"otherIds":[")", b.id(), R"("]})");

  // Bad input names the field.
  HttpResponse empty = Call("POST", path, as_ann, R"({"otherIds":[]})");
  EXPECT_EQ(empty.status, 400);
  EXPECT_NE(empty.body.find("otherIds"), std::string::npos) << empty.body;
  HttpResponse self = Call("POST", path, as_ann, absl::StrCat(R"({"otherIds":[")", a.id(), R"("]})"));
  EXPECT_EQ(self.status, 400);
  EXPECT_NE(self.body.find("otherIds[0]"), std::string::npos) << self.body;
  std::string many = R"({"otherIds":[)";
  for (int i = 0; i < 51; ++i) absl::StrAppend(&many, i ? "," : "", "\"c", i, "\"");
  EXPECT_EQ(Call("POST", path, as_ann, many + "]}").status, 400);
  // Another user's contact among the others, another user's survivor, another org.
  HttpResponse theirs = Call("POST", path, as_ann, absl::StrCat(R"({"otherIds":[")", beas.id(), R"("]})"));
  EXPECT_EQ(theirs.status, 404);
  EXPECT_NE(theirs.body.find("otherIds[0]"), std::string::npos) << theirs.body;
  EXPECT_EQ(Call("POST", path, As(org, bea), absl::StrCat(R"({"otherIds":[")", beas.id(), R"("]})")).status, 404);
  EXPECT_EQ(Call("POST", path, As(other_org, cy), body).status, 404);
  EXPECT_EQ(Call("GET", "/v1/contacts:duplicates", As(other_org, cy)).status, 200);
  // Nothing was merged by any of these.
  EXPECT_EQ(Call("GET", "/v1/contacts/" + b.id(), as_ann).status, 200);
  // A key without WRITE may list duplicates but not merge; no credential: 401.
  auto key = Ok<ppb::ApiKeySecret>("POST", "/v1/apiKeys", {"X-Api-Key: " + admin, kJson},
                                   R"({"displayName":"ro","scopes":["READ","ACT_AS_USER"]})");
  const std::vector<std::string> read_only = {"X-Api-Key: " + key.secret(), "X-Rapport-User: " + ann, kJson};
  EXPECT_EQ(Call("GET", "/v1/contacts:duplicates", read_only).status, 200);
  EXPECT_EQ(Call("POST", path, read_only, body).status, 403);
  EXPECT_EQ(Call("POST", path, {kJson}, body).status, 401);
  EXPECT_EQ(Call("GET", "/v1/contacts:duplicates", {}).status, 401);
  // With an Idempotency-Key, a retry replays the first answer.
  std::vector<std::string> keyed = as_ann;
  keyed.push_back("Idempotency-Key: merge-1");
  auto first = Ok<ppb::MergeContactsResponse>("POST", path, keyed, body);
  auto replay = Ok<ppb::MergeContactsResponse>("POST", path, keyed, body);
  EXPECT_EQ(first.SerializeAsString(), replay.SerializeAsString());
  EXPECT_EQ(Call("GET", "/v1/contacts/" + b.id(), as_ann).status, 404);
}

}  // namespace
}  // namespace rapport
