// Issue 19 end to end, through the gateway, with a real redis-server and the
// real profiles, interactions, recommendations and gateway binaries:
// recommendations can be dismissed, snoozed and acted on, old follow-ups
// expire, and network health is snapshotted weekly without anyone asking
// (a 2-second "week" here: RAPPORT_HEALTH_SNAPSHOT_PERIOD_SECONDS).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/auth.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/interactions/v1/interactions.grpc.pb.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "rapport/recommendations/v1/recommendations.grpc.pb.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/common/http_client.h"
#include "services/common/ids.h"
#include "services/common/time_util.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
namespace rpb = ::rapport::recommendations::v1;
using ::rapport::testing::Stack;
using ::rapport::testing::WaitFor;

constexpr int64_t kDayUs = int64_t{86400} * 1000000;
constexpr auto kEventually = std::chrono::milliseconds(5000);

class RecommendationActionsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    ASSERT_TRUE(stack_.Start("profiles").ok());
    ASSERT_TRUE(stack_.Start("interactions").ok());
  }
  void StartRest(const std::map<std::string, std::string>& env = {}) {
    absl::Status s = stack_.Start("recommendations", env);
    ASSERT_TRUE(s.ok()) << s;
    s = stack_.StartGateway({{"RAPPORT_RATE_LIMIT_PER_MINUTE", "1000000"}, {"RAPPORT_RATE_LIMIT_BURST", "100000"}});
    ASSERT_TRUE(s.ok()) << s;
    profiles_ =
        ppb::ProfilesService::NewStub(grpc::CreateChannel(stack_.Addr("profiles"), grpc::InsecureChannelCredentials()));
    interactions_ = ipb::InteractionsService::NewStub(
        grpc::CreateChannel(stack_.Addr("interactions"), grpc::InsecureChannelCredentials()));
    url_ = stack_.GatewayUrl();
  }

  std::string NewOrg() {
    ppb::CreateOrgRequest req;
    req.set_display_name("org");
    ppb::CreateOrgResponse org;
    EXPECT_TRUE(profiles_->CreateOrg(Stack::Call(Stack::Platform()).get(), req, &org).ok());
    return org.org().id();
  }
  std::string NewUser(const std::string& org, const std::string& name) {
    ppb::CreateUserRequest req;
    req.set_display_name(name);
    req.set_email(NewId() + "@example.test");
    req.set_timezone("UTC");
    ppb::User user;
    grpc::Status s = profiles_->CreateUser(Stack::Call(Stack::Admin(org)).get(), req, &user);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return user.id();
  }
  std::string NewContact(const std::string& org, const std::string& user, const std::string& name) {
    ppb::CreateContactRequest req;
    req.mutable_contact()->set_display_name(name);
    req.mutable_contact()->set_tier(ppb::CLOSE);  // cadence 30 days
    ppb::Contact c;
    grpc::Status s = profiles_->CreateContact(Stack::Call(Stack::User(org, user)).get(), req, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return c.id();
  }
  // Logs through the gateway, as a client would.
  void Log(const std::vector<std::string>& auth, const std::string& contact, const char* kind, const char* direction,
           int days_ago) {
    const std::string at =
        absl::FormatTime(absl::RFC3339_sec, FromMicros(NowMicros() - days_ago * kDayUs), absl::UTCTimeZone());
    HttpResponse r = HttpCall("POST", url_ + "/v1/interactions", Json(auth),
                              absl::StrCat(R"({"kind":")", kind, R"(","direction":")", direction,
                                           R"(","contactIds":[")", contact, R"("],"occurredAt":")", at, R"("})"));
    EXPECT_EQ(r.status, 200) << r.body;
  }
  std::vector<std::string> Bearer(const std::string& org, const std::string& user) {
    return {"Authorization: Bearer " + gateway::SignJwtHs256(absl::StrCat(R"({"sub":")", user, R"(","org":")", org,
                                                                          R"(","iss":"rapport","aud":"rapport","exp":)",
                                                                          absl::ToUnixSeconds(absl::Now()) + 600, "}"),
                                                             testing::kTestJwtSecret)};
  }
  static std::vector<std::string> Json(std::vector<std::string> headers) {
    headers.push_back("Content-Type: application/json");
    return headers;
  }
  // The contact ids a list names (contactA for introductions).
  std::vector<std::string> Listed(const std::vector<std::string>& auth, const std::string& kind) {
    HttpResponse r = HttpCall("GET", url_ + "/v1/recommendations/" + kind + "?pageSize=100", auth);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> ids;
    auto add = [&](const auto& resp) {
      for (const auto& i : resp.items()) ids.push_back(i.contact().id());
    };
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    if (kind == "reachOuts") {
      rpb::ListReachOutsResponse resp;
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &resp, options).ok());
      add(resp);
    } else if (kind == "giveBacks") {
      rpb::ListGiveBacksResponse resp;
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &resp, options).ok());
      add(resp);
    } else {
      rpb::ListFollowUpsResponse resp;
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &resp, options).ok());
      add(resp);
    }
    return ids;
  }
  static bool Has(const std::vector<std::string>& ids, const std::string& id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  }
  HttpResponse Act(const std::vector<std::string>& auth, const std::string& kind, const std::string& id,
                   const std::string& verb, const std::string& body = "{}") {
    return HttpCall("POST", absl::StrCat(url_, "/v1/recommendations/", kind, "/", id, ":", verb), Json(auth), body);
  }
  static std::string Until(int64_t us) {
    return absl::StrCat(R"({"until":")", absl::FormatTime(absl::RFC3339_full, FromMicros(us), absl::UTCTimeZone()),
                        R"("})");
  }
  std::string ReadOnlyKey(const std::string& org, api::v1::Scope scope) {
    ppb::CreateApiKeyRequest ck;
    ck.set_display_name("one scope");
    ck.add_scopes(scope);
    ck.add_scopes(api::v1::ACT_AS_USER);
    ppb::ApiKeySecret key;
    EXPECT_TRUE(profiles_->CreateApiKey(Stack::Call(Stack::Admin(org)).get(), ck, &key).ok());
    return key.secret();
  }

  Stack stack_;
  std::unique_ptr<ppb::ProfilesService::Stub> profiles_;
  std::unique_ptr<ipb::InteractionsService::Stub> interactions_;
  std::string url_;
};

TEST_F(RecommendationActionsIntegrationTest, DismissSnoozeActAndExpireThroughTheGateway) {
  StartRest();
  const std::string org = NewOrg();
  const std::string alice = NewUser(org, "Alice");
  const auto auth = Bearer(org, alice);
  const std::string ann = NewContact(org, alice, "Ann");
  const std::string bob = NewContact(org, alice, "Bob");
  const std::string cat = NewContact(org, alice, "Cat");
  const std::string dan = NewContact(org, alice, "Dan");
  Log(auth, ann, "MEETING", "MUTUAL", 50);  // reach-out (20 days late) and follow-up
  Log(auth, bob, "MEETING", "MUTUAL", 50);
  Log(auth, cat, "MEETING", "MUTUAL", 61);  // a reach-out, but its follow-up expired
  Log(auth, dan, "ENDORSEMENT", "RECEIVED", 6);
  Log(auth, dan, "REFERRAL", "RECEIVED", 5);  // give-back: refer Dan

  ASSERT_TRUE(WaitFor(
      [&] {
        return Has(Listed(auth, "reachOuts"), cat) && Has(Listed(auth, "followUps"), bob) &&
               Has(Listed(auth, "giveBacks"), dan);
      },
      kEventually));
  EXPECT_TRUE(Has(Listed(auth, "followUps"), ann));
  EXPECT_FALSE(Has(Listed(auth, "followUps"), cat)) << "a 61-day-old follow-up is not listed";

  // Dismiss: gone at once (the cache is bypassed), the other item stays.
  HttpResponse r = Act(auth, "followUps", ann, "dismiss");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("dismissed":true)"), std::string::npos) << r.body;
  EXPECT_FALSE(Has(Listed(auth, "followUps"), ann));
  EXPECT_TRUE(Has(Listed(auth, "followUps"), bob));
  EXPECT_TRUE(Has(Listed(auth, "reachOuts"), ann)) << "dismissing a follow-up leaves the reach-out";

  // Snooze: gone until the date, then back.
  r = Act(auth, "reachOuts", bob, "snooze", Until(NowMicros() + 3 * 1000000));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(Has(Listed(auth, "reachOuts"), bob));
  EXPECT_TRUE(WaitFor([&] { return Has(Listed(auth, "reachOuts"), bob); }, std::chrono::milliseconds(10000)))
      << "a snoozed item comes back after its date";

  // Acting: the suggested referral for Dan, a call with Ann.
  Log(auth, dan, "REFERRAL", "GAVE", 0);
  Log(auth, ann, "CALL", "MUTUAL", 0);
  EXPECT_TRUE(WaitFor([&] { return !Has(Listed(auth, "giveBacks"), dan); }, kEventually))
      << "logging the suggested give-back removes it";
  EXPECT_TRUE(WaitFor([&] { return !Has(Listed(auth, "reachOuts"), ann); }, kEventually));

  // 400 naming the field.
  r = Act(auth, "reachOuts", cat, "snooze", Until(NowMicros() - 1000000));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("until"), std::string::npos) << r.body;
  r = Act(auth, "reachOuts", cat, "snooze", Until(NowMicros() + 400 * kDayUs));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("until"), std::string::npos) << r.body;
  r = Act(auth, "reachOuts", cat, "snooze");
  EXPECT_EQ(r.status, 400) << r.body;
  r = Act(auth, "bogus", cat, "dismiss");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("kind"), std::string::npos) << r.body;

  // Isolation: another org's contact (and a teammate's) is 404, a read-only
  // key 403, no credential 401.
  const std::string other = NewOrg();
  const std::string olga = NewUser(other, "Olga");
  const std::string theirs = NewContact(other, olga, "Oscar");
  const std::string teammate = NewUser(org, "Tom");
  const std::string toms = NewContact(org, teammate, "Tia");
  ASSERT_TRUE(
      WaitFor([&] { return Act(Bearer(other, olga), "reachOuts", theirs, "dismiss").status == 200; }, kEventually));
  EXPECT_EQ(Act(auth, "reachOuts", theirs, "dismiss").status, 404);
  ASSERT_TRUE(
      WaitFor([&] { return Act(Bearer(org, teammate), "reachOuts", toms, "dismiss").status == 200; }, kEventually));
  EXPECT_EQ(Act(auth, "reachOuts", toms, "snooze", Until(NowMicros() + kDayUs)).status, 404);
  const std::vector<std::string> reader = {"X-Api-Key: " + ReadOnlyKey(org, api::v1::READ), "X-Rapport-User: " + alice};
  EXPECT_EQ(Act(reader, "reachOuts", cat, "dismiss").status, 403);
  EXPECT_EQ(Act({}, "reachOuts", cat, "dismiss").status, 401);
  EXPECT_TRUE(Has(Listed(auth, "reachOuts"), cat)) << "refused actions changed nothing";
}

TEST_F(RecommendationActionsIntegrationTest, NetworkHealthIsSnapshottedEachWeekWithoutAsking) {
  StartRest({{"RAPPORT_HEALTH_SNAPSHOT_PERIOD_SECONDS", "2"}, {"RAPPORT_HEALTH_SNAPSHOT_POLL_MS", "100"}});
  const std::string org = NewOrg();
  const std::string alice = NewUser(org, "Alice");
  const auto auth = Bearer(org, alice);
  NewContact(org, alice, "Ann");

  auto history = [&](const std::string& query, rpb::NetworkHealthHistory* out) {
    HttpResponse r = HttpCall("GET", url_ + "/v1/network/health/history" + query, auth);
    if (r.status == 200) {
      out->Clear();
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, out).ok()) << r.body;
    }
    return r;
  };
  rpb::NetworkHealthHistory h;
  // Three finished "weeks" stored by the job, nobody having asked.
  ASSERT_TRUE(WaitFor(
      [&] {
        return history("?weeks=104", &h).status == 200 && h.snapshots_size() >= 4 &&
               h.snapshots(h.snapshots_size() - 2).health().size() == 1;
      },
      std::chrono::milliseconds(15000)))
      << h.DebugString();
  for (int i = 0; i < h.snapshots_size(); ++i) {
    const bool last = i == h.snapshots_size() - 1;
    EXPECT_EQ(h.snapshots(i).live(), last) << i;
    if (i > 0) {
      const int64_t gap =
          TimestampToMicros(h.snapshots(i).week_start()) - TimestampToMicros(h.snapshots(i - 1).week_start());
      EXPECT_GT(gap, 0) << "oldest first";
      EXPECT_EQ(gap % 2000000, 0) << "on the week grid";
    }
  }
  EXPECT_EQ(h.snapshots(h.snapshots_size() - 1).health().size(), 1) << "the current week is live";
  // Each week is stored once, whatever the number of runs (10 per week here).
  std::vector<int64_t> weeks;
  for (const auto& s : h.snapshots()) weeks.push_back(TimestampToMicros(s.week_start()));
  EXPECT_TRUE(std::adjacent_find(weeks.begin(), weeks.end()) == weeks.end());

  ASSERT_EQ(history("?weeks=1", &h).status, 200);
  ASSERT_EQ(h.snapshots_size(), 1);
  EXPECT_TRUE(h.snapshots(0).live());
  ASSERT_EQ(history("?weeks=2", &h).status, 200);
  EXPECT_LE(h.snapshots_size(), 2);
  for (const char* bad : {"?weeks=105", "?weeks=-1"}) {
    HttpResponse r = history(bad, &h);
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_NE(r.body.find("weeks"), std::string::npos) << r.body;
  }
  // A write-only key may not read it; no credential is 401.
  const std::vector<std::string> writer = {"X-Api-Key: " + ReadOnlyKey(org, api::v1::WRITE),
                                           "X-Rapport-User: " + alice};
  EXPECT_EQ(HttpCall("GET", url_ + "/v1/network/health/history", writer).status, 403);
  EXPECT_EQ(HttpCall("GET", url_ + "/v1/network/health/history").status, 401);
  // Another org's user sees only their own (empty network) history.
  const std::string other = NewOrg();
  const std::string olga = NewUser(other, "Olga");
  HttpResponse r = HttpCall("GET", url_ + "/v1/network/health/history", Bearer(other, olga));
  ASSERT_EQ(r.status, 200) << r.body;
  rpb::NetworkHealthHistory theirs;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &theirs).ok());
  for (const auto& s : theirs.snapshots()) EXPECT_EQ(s.health().size(), 0);
}

// Erasing a user (DELETE /v1/users/{id} by an org admin) takes their
// dismissals and snoozes out of recommendations' store.
TEST_F(RecommendationActionsIntegrationTest, ErasingAUserErasesTheirActions) {
  StartRest();
  const std::string org = NewOrg();
  const std::string alice = NewUser(org, "Alice");
  const std::string bea = NewUser(org, "Bea");
  const std::string ann = NewContact(org, alice, "Ann");
  const std::string bob = NewContact(org, bea, "Bob");
  ASSERT_TRUE(WaitFor([&] { return Act(Bearer(org, alice), "reachOuts", ann, "dismiss").status == 200; }, kEventually));
  ASSERT_TRUE(WaitFor([&] { return Act(Bearer(org, bea), "reachOuts", bob, "dismiss").status == 200; }, kEventually));

  db::Options options;
  options.path = stack_.data_dir() + "/recommendations.db";
  options.read_only = true;
  auto store = db::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  auto rows = [&](const std::string& user) {
    int64_t n = -1;
    absl::Status s = (*store)->Read([&](db::Connection& conn) -> absl::Status {
      db::Statement st = conn.Prepare("SELECT COUNT(*) FROM recommendation_actions WHERE org_id = ? AND user_id = ?");
      st.Bind(1, org).Bind(2, user);
      ASSIGN_OR_RETURN(auto count, db::ReadRow<int64_t>(st, [](const db::Statement& r) { return r.ColumnInt(0); }));
      n = count.value_or(0);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return n;
  };
  EXPECT_EQ(rows(alice), 1);
  ppb::DeleteUserRequest del;
  del.set_user_id(alice);
  ppb::DeleteUserResponse deleted;
  grpc::Status s = profiles_->DeleteUser(Stack::Call(Stack::Admin(org)).get(), del, &deleted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(WaitFor([&] { return rows(alice) == 0; }, kEventually));
  EXPECT_EQ(rows(bea), 1) << "a teammate's actions stay";
}

}  // namespace
}  // namespace rapport
