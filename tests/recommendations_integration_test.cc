// End-to-end tests of the recommendations service with a real redis-server
// and the real profiles, interactions, recommendations (and gateway)
// binaries: freshness after writes, backfill after a restart, tenant
// isolation, the Redis result cache, and the HTTP routes.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/auth.h"
#include "rapport/backfill/v1/backfill.grpc.pb.h"
#include "rapport/interactions/v1/interactions.grpc.pb.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "rapport/recommendations/v1/recommendations.grpc.pb.h"
#include "services/common/http_client.h"
#include "services/common/ids.h"
#include "services/common/outbox.h"
#include "services/common/redis_client.h"
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

class RecommendationsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    ASSERT_TRUE(stack_.Start("profiles").ok());
    ASSERT_TRUE(stack_.Start("interactions").ok());
    absl::Status s = stack_.Start("recommendations");
    ASSERT_TRUE(s.ok()) << s;
    profiles_ =
        ppb::ProfilesService::NewStub(grpc::CreateChannel(stack_.Addr("profiles"), grpc::InsecureChannelCredentials()));
    interactions_ = ipb::InteractionsService::NewStub(
        grpc::CreateChannel(stack_.Addr("interactions"), grpc::InsecureChannelCredentials()));
    reco_ = rpb::RecommendationsService::NewStub(
        grpc::CreateChannel(stack_.Addr("recommendations"), grpc::InsecureChannelCredentials()));
  }

  std::string NewOrg() {
    ppb::CreateOrgRequest req;
    req.set_display_name("org");
    ppb::CreateOrgResponse org;
    EXPECT_TRUE(profiles_->CreateOrg(Stack::Call(Stack::Platform()).get(), req, &org).ok());
    return org.org().id();
  }

  TenantContext NewUser(const std::string& org, const std::string& name) {
    ppb::CreateUserRequest req;
    req.set_display_name(name);
    req.set_email(NewId() + "@example.test");
    req.set_timezone("UTC");
    ppb::User user;
    grpc::Status s = profiles_->CreateUser(Stack::Call(Stack::Admin(org)).get(), req, &user);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return Stack::User(org, user.id());
  }

  std::string NewContact(const TenantContext& who, const std::string& name, const std::string& email,
                         ppb::Visibility visibility, const std::string& company = "", const std::string& title = "",
                         ppb::Tier tier = ppb::CLOSE) {
    ppb::CreateContactRequest req;
    req.mutable_contact()->set_display_name(name);
    req.mutable_contact()->add_emails(email);
    req.mutable_contact()->set_visibility(visibility);
    req.mutable_contact()->set_company(company);
    req.mutable_contact()->set_title(title);
    req.mutable_contact()->set_tier(tier);
    ppb::Contact c;
    grpc::Status s = profiles_->CreateContact(Stack::Call(who).get(), req, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return c.id();
  }

  void Log(const TenantContext& who, const std::string& contact, ipb::InteractionKind kind, ipb::Direction dir,
           int days_ago) {
    ipb::CreateInteractionRequest req;
    req.mutable_interaction()->set_kind(kind);
    req.mutable_interaction()->set_direction(dir);
    req.mutable_interaction()->add_contact_ids(contact);
    *req.mutable_interaction()->mutable_occurred_at() = ToTimestamp(NowMicros() - days_ago * kDayUs);
    ipb::Interaction out;
    grpc::Status s = interactions_->CreateInteraction(Stack::Call(who).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  std::vector<std::string> ReachOutIds(const TenantContext& who) {
    rpb::ListReachOutsResponse resp;
    grpc::Status s = reco_->ListReachOuts(Stack::Call(who).get(), rpb::ListReachOutsRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const auto& i : resp.items()) ids.push_back(i.contact().id());
    return ids;
  }

  grpc::Status Paths(const TenantContext& who, const std::string& target, const std::string& company,
                     rpb::FindPathsResponse* out) {
    rpb::FindPathsRequest req;
    req.set_target_contact_id(target);
    req.set_company(company);
    return reco_->FindPaths(Stack::Call(who).get(), req, out);
  }

  static std::vector<std::vector<std::string>> Routes(const rpb::FindPathsResponse& r) {
    std::vector<std::vector<std::string>> out;
    for (const auto& p : r.paths()) {
      std::vector<std::string> hops;
      for (const auto& h : p.hops()) hops.push_back(h.display_name());
      out.push_back(hops);
    }
    return out;
  }

  // Every answer for who, as comparable text (ids and routes, not the scores,
  // which decay between two calls).
  std::string Snapshot(const TenantContext& who, const std::string& company) {
    std::string out;
    rpb::ListReachOutsResponse ro;
    EXPECT_TRUE(reco_->ListReachOuts(Stack::Call(who).get(), {}, &ro).ok());
    for (const auto& i : ro.items()) absl::StrAppend(&out, "reach:", i.contact().id(), ";");
    rpb::ListGiveBacksResponse gb;
    EXPECT_TRUE(reco_->ListGiveBacks(Stack::Call(who).get(), {}, &gb).ok());
    for (const auto& i : gb.items()) absl::StrAppend(&out, "give:", i.contact().id(), ":", i.suggested_act(), ";");
    rpb::ListFollowUpsResponse fu;
    EXPECT_TRUE(reco_->ListFollowUps(Stack::Call(who).get(), {}, &fu).ok());
    for (const auto& i : fu.items()) absl::StrAppend(&out, "follow:", i.interaction_id(), ";");
    rpb::ListIntroductionSuggestionsResponse in;
    EXPECT_TRUE(reco_->ListIntroductionSuggestions(Stack::Call(who).get(), {}, &in).ok());
    for (const auto& i : in.items()) absl::StrAppend(&out, "intro:", i.contact_a().id(), ">", i.contact_b().id(), ";");
    rpb::NetworkHealth h;
    EXPECT_TRUE(reco_->GetNetworkHealth(Stack::Call(who).get(), {}, &h).ok());
    absl::StrAppend(&out, "health:", h.size(), "/", h.active_ties(), "/", h.decaying_ties(), "/", h.given(), "/",
                    h.received(), "/", h.first_conversations(), ";");
    rpb::FindPathsResponse paths;
    EXPECT_TRUE(Paths(who, "", company, &paths).ok());
    for (const auto& r : Routes(paths)) {
      for (const auto& hop : r) absl::StrAppend(&out, hop, ">");
      absl::StrAppend(&out, ";");
    }
    return out;
  }

  Stack stack_;
  std::unique_ptr<ppb::ProfilesService::Stub> profiles_;
  std::unique_ptr<ipb::InteractionsService::Stub> interactions_;
  std::unique_ptr<rpb::RecommendationsService::Stub> reco_;
};

TEST_F(RecommendationsIntegrationTest, WritesShowWithinTwoSecondsAndOrgsStayApart) {
  std::string org = NewOrg();
  TenantContext alice = NewUser(org, "Alice");
  TenantContext theo = NewUser(org, "Theo");
  std::string ann = NewContact(alice, "Ann", "ann@x.test", ppb::ORG);
  NewContact(theo, "Ann T", "ANN@x.test", ppb::ORG);
  std::string carol = NewContact(theo, "Carol", "carol@acme.test", ppb::ORG, "Acme", "Hiring Manager");
  std::string secret = NewContact(theo, "Dave", "dave@acme.test", ppb::PRIVATE, "Acme", "Hiring Manager");
  std::string other_org = NewOrg();
  TenantContext zed = NewUser(other_org, "Zed");
  std::string zed_carol = NewContact(zed, "Carol Z", "carol@acme.test", ppb::ORG, "Acme", "Hiring Manager");

  // Freshness: a meeting 60 days ago makes the CLOSE (30-day) Ann overdue.
  auto written = std::chrono::steady_clock::now();
  Log(alice, ann, ipb::MEETING, ipb::MUTUAL, 60);
  ASSERT_TRUE(
      WaitFor([&] { return ReachOutIds(alice) == std::vector<std::string>{ann}; }, std::chrono::milliseconds(2000)))
      << "the meeting did not show within 2 s";
  auto fresh_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - written).count();
  std::cout << "reach-out visible " << fresh_ms << " ms after the write\n";
  // A later interaction resets the due date: Ann leaves the list, as fast.
  Log(alice, ann, ipb::CALL, ipb::GAVE, 1);
  ASSERT_TRUE(WaitFor([&] { return ReachOutIds(alice).empty(); }, std::chrono::milliseconds(2000)));

  // Warm paths across the org; Theo's private Dave is not a target.
  rpb::FindPathsResponse paths;
  ASSERT_TRUE(WaitFor([&] { return Paths(alice, "", "acme", &paths).ok() && paths.paths_size() == 1; },
                      std::chrono::milliseconds(2000)));
  // Theo is asked directly, never through Ann (no detour to a colleague).
  EXPECT_EQ(Routes(paths), (std::vector<std::vector<std::string>>{{"Alice", "Theo", "Carol"}}));
  EXPECT_FALSE(paths.paths(0).ask().empty());

  // Another org: its identical email never connects, its ids are NOT_FOUND.
  rpb::FindPathsResponse zed_paths;
  ASSERT_TRUE(Paths(zed, "", "Acme", &zed_paths).ok());
  EXPECT_EQ(Routes(zed_paths), (std::vector<std::vector<std::string>>{{"Zed", "Carol Z"}}));
  EXPECT_EQ(Paths(zed, carol, "", &zed_paths).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Paths(alice, zed_carol, "", &zed_paths).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status private_one = Paths(alice, secret, "", &zed_paths);
  grpc::Status missing = Paths(alice, "01missingcontactid", "", &zed_paths);
  EXPECT_EQ(private_one.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(private_one.error_message(), missing.error_message());

  // Without a user, or with a bad query: refused.
  rpb::ListReachOutsResponse ro;
  EXPECT_EQ(reco_->ListReachOuts(Stack::Call(Stack::Admin(org)).get(), {}, &ro).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  rpb::FindPathsRequest bad;
  bad.set_company("Acme");
  bad.set_max_hops(4);
  grpc::Status refused = reco_->FindPaths(Stack::Call(alice).get(), bad, &zed_paths);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused.error_message(), "maxHops: must be between 1 and 3");
}

TEST_F(RecommendationsIntegrationTest, ResultsAreCachedInRedisAndInvalidatedByTheUsersEvents) {
  std::string org = NewOrg();
  TenantContext alice = NewUser(org, "Alice");
  std::string ann = NewContact(alice, "Ann", "ann@x.test", ppb::ORG);
  Log(alice, ann, ipb::MEETING, ipb::MUTUAL, 60);
  ASSERT_TRUE(WaitFor([&] { return ReachOutIds(alice).size() == 1; }, std::chrono::milliseconds(2000)));
  redis::Client redis({.addr = stack_.redis().addr()});
  auto keys = redis.Command({"KEYS", org + ":recommendations:r:" + alice.user_id + ":ListReachOuts:*"});
  ASSERT_TRUE(keys.ok());
  EXPECT_GE(keys->elements.size(), 1u);
  // The user's next event bumps the generation: the cached answer is not served.
  auto gen = [&] {
    auto r = redis.Command({"GET", org + ":recommendations:gen:" + alice.user_id});
    return r.ok() ? r->str : "";
  };
  std::string before = gen();
  Log(alice, ann, ipb::CALL, ipb::GAVE, 1);
  ASSERT_TRUE(WaitFor([&] { return ReachOutIds(alice).empty(); }, std::chrono::milliseconds(2000)));
  EXPECT_NE(gen(), before);

  // Redis down: answers are computed, not refused.
  stack_.redis().Kill9();
  EXPECT_TRUE(ReachOutIds(alice).empty());
  rpb::NetworkHealth h;
  ASSERT_TRUE(reco_->GetNetworkHealth(Stack::Call(alice).get(), {}, &h).ok());
  EXPECT_EQ(h.size(), 1);
}

TEST_F(RecommendationsIntegrationTest, RestartBackfillsTheSameAnswersAndWhatChangedMeanwhile) {
  std::string org = NewOrg();
  TenantContext alice = NewUser(org, "Alice");
  TenantContext theo = NewUser(org, "Theo");
  std::string ann = NewContact(alice, "Ann", "ann@x.test", ppb::ORG);
  std::string bob = NewContact(alice, "Bob", "bob@x.test", ppb::PRIVATE);
  NewContact(theo, "Ann T", "ann@x.test", ppb::ORG);
  NewContact(theo, "Carol", "carol@acme.test", ppb::ORG, "Acme", "CTO");
  Log(alice, ann, ipb::MEETING, ipb::MUTUAL, 60);
  Log(alice, bob, ipb::INTRODUCTION, ipb::RECEIVED, 50);
  // The snapshot is several RPCs in a row: wait until the first of them
  // (reach-outs) shows the last writes too, not only the later ones
  // (give-backs, paths), or a snapshot torn across Bob's last events is
  // taken and the restarted service "adds" his reach-out.
  std::string before;
  ASSERT_TRUE(WaitFor(
      [&] {
        before = Snapshot(alice, "Acme");
        return before.find("give:" + bob) != std::string::npos && before.find("reach:" + ann) != std::string::npos &&
               before.find("reach:" + bob) != std::string::npos &&
               before.find("Alice>Theo>Carol>") != std::string::npos;
      },
      std::chrono::milliseconds(5000)))
      << before;

  // kill -9 and restart with the result cache off, so that answers come
  // from the rebuilt model; then change things while it is down.
  stack_.Kill9("recommendations");
  absl::Status restarted = stack_.Start("recommendations", {{"RAPPORT_RECOMMENDATIONS_CACHE", "false"}});
  ASSERT_TRUE(restarted.ok()) << restarted;
  EXPECT_EQ(Snapshot(alice, "Acme"), before);

  stack_.Kill9("recommendations");
  std::string cy = NewContact(alice, "Cy", "cy@x.test", ppb::PRIVATE, "", "", ppb::INNER);
  Log(alice, cy, ipb::CALL, ipb::MUTUAL, 30);
  restarted = stack_.Start("recommendations", {{"RAPPORT_RECOMMENDATIONS_CACHE", "false"}});
  ASSERT_TRUE(restarted.ok()) << restarted;
  // Serving means backfilled: no waiting for the change made while it was down.
  std::vector<std::string> ids = ReachOutIds(alice);
  // Bob (owed an introduction: x1.5) 2.88, Cy (INNER, 16 days late) 2.52, Ann 1.38.
  EXPECT_EQ(ids, (std::vector<std::string>{bob, cy, ann}));

  // Killed twice, yet one consumer group in Redis: each run destroyed its
  // killed predecessor's. A replica under another name destroys the group of
  // one gone for longer than RAPPORT_ABANDONED_GROUP_MS.
  redis::Client redis({.addr = stack_.redis().addr()});
  auto groups = [&] {
    std::vector<std::string> names;
    auto r = redis.Command({"XINFO", "GROUPS", events::kEventStream});
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return names;
    for (const redis::Reply& g : r->elements) {
      for (size_t i = 0; i + 1 < g.elements.size(); i += 2) {
        if (g.elements[i].str == "name" && absl::StartsWith(g.elements[i + 1].str, "recommendations-")) {
          names.push_back(g.elements[i + 1].str);
        }
      }
    }
    return names;
  };
  EXPECT_EQ(groups(), (std::vector<std::string>{"recommendations-recommendations-1"}));
  stack_.Kill9("recommendations");
  restarted =
      stack_.Start("recommendations", {{"RAPPORT_CONSUMER_NAME", "reco-2"}, {"RAPPORT_ABANDONED_GROUP_MS", "1"}});
  ASSERT_TRUE(restarted.ok()) << restarted;
  EXPECT_EQ(groups(), (std::vector<std::string>{"recommendations-reco-2"}));
}

TEST_F(RecommendationsIntegrationTest, RankingsPageWithTokens) {
  std::string org = NewOrg();
  TenantContext alice = NewUser(org, "Alice");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(NewContact(alice, absl::StrCat("C", i), absl::StrCat("c", i, "@x.test"), ppb::PRIVATE));
    Log(alice, ids.back(), ipb::MEETING, ipb::MUTUAL, 40 + 20 * i);  // the older, the more overdue
  }
  ASSERT_TRUE(WaitFor([&] { return ReachOutIds(alice).size() == 3; }, std::chrono::milliseconds(2000)));
  rpb::ListReachOutsRequest req;
  req.set_page_size(2);
  rpb::ListReachOutsResponse first, second;
  ASSERT_TRUE(reco_->ListReachOuts(Stack::Call(alice).get(), req, &first).ok());
  ASSERT_EQ(first.items_size(), 2);
  EXPECT_EQ(first.items(0).contact().id(), ids[2]);
  EXPECT_EQ(first.items(1).contact().id(), ids[1]);
  ASSERT_FALSE(first.next_page_token().empty());
  req.set_page_token(first.next_page_token());
  ASSERT_TRUE(reco_->ListReachOuts(Stack::Call(alice).get(), req, &second).ok());
  ASSERT_EQ(second.items_size(), 1);
  EXPECT_EQ(second.items(0).contact().id(), ids[0]);
  EXPECT_TRUE(second.next_page_token().empty());
  req.set_page_token("not-a-token");
  grpc::Status bad = reco_->ListReachOuts(Stack::Call(alice).get(), req, &second);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad.error_message(), "pageToken: is not a token from a previous page");
  req.set_page_token("");
  req.set_page_size(-1);
  EXPECT_EQ(reco_->ListReachOuts(Stack::Call(alice).get(), req, &second).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(RecommendationsIntegrationTest, ExportsArePlatformOnlyKeysetPagedAndWithoutNotes) {
  std::string org1 = NewOrg(), org2 = NewOrg();
  TenantContext a = NewUser(org1, "A");
  TenantContext b = NewUser(org2, "B");
  ppb::CreateContactRequest req;
  req.mutable_contact()->set_display_name("Noted");
  req.mutable_contact()->set_notes("private notes");
  ppb::Contact noted;
  ASSERT_TRUE(profiles_->CreateContact(Stack::Call(a).get(), req, &noted).ok());
  std::string other = NewContact(b, "Other", "o@x.test", ppb::PRIVATE);
  Log(a, noted.id(), ipb::MEETING, ipb::MUTUAL, 3);

  auto exports = backfill::v1::ProfilesBackfill::NewStub(
      grpc::CreateChannel(stack_.Addr("profiles"), grpc::InsecureChannelCredentials()));
  backfill::v1::ExportRequest page;
  page.set_page_size(1);
  backfill::v1::ExportResponse resp;
  // Users, admins and unsigned callers are refused.
  EXPECT_EQ(exports->ExportContacts(Stack::Call(a).get(), page, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(exports->ExportContacts(Stack::Call(Stack::Admin(org1)).get(), page, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext unsigned_ctx;
  EXPECT_EQ(exports->ExportContacts(&unsigned_ctx, page, &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The platform pages through every org, one row a page.
  std::vector<std::string> ids;
  do {
    resp.Clear();
    grpc::Status s = exports->ExportContacts(Stack::Call(Stack::Platform()).get(), page, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_LE(resp.events_size(), 1);
    for (const auto& e : resp.events()) {
      ids.push_back(e.contact().contact().id());
      EXPECT_EQ(e.type(), "contact.created");
      EXPECT_TRUE(e.contact().contact().notes().empty());
      EXPECT_EQ(e.org_id(), e.contact().contact().id() == other ? org2 : org1);
    }
    page.set_page_token(resp.next_page_token());
  } while (!resp.next_page_token().empty());
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> want = {noted.id(), other};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids, want);
  page.set_page_token("garbage");
  EXPECT_EQ(exports->ExportContacts(Stack::Call(Stack::Platform()).get(), page, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  auto ledger = backfill::v1::InteractionsBackfill::NewStub(
      grpc::CreateChannel(stack_.Addr("interactions"), grpc::InsecureChannelCredentials()));
  backfill::v1::ExportRequest all;
  ASSERT_TRUE(ledger->ExportInteractions(Stack::Call(Stack::Platform()).get(), all, &resp).ok());
  ASSERT_EQ(resp.events_size(), 1);
  EXPECT_EQ(resp.events(0).user_id(), a.user_id);
  ASSERT_TRUE(ledger->ExportLedger(Stack::Call(Stack::Platform()).get(), all, &resp).ok());
  // The interaction's row; the other contact's (an empty row made from its
  // contact.created event) is there too once interactions consumed that event.
  const events::v1::Event* logged = nullptr;
  for (const auto& e : resp.events()) {
    if (e.ledger().contact_id() == noted.id()) {
      logged = &e;
    } else {
      EXPECT_EQ(e.ledger().contact_id(), other);
      EXPECT_EQ(e.ledger().strength(), 0);
    }
  }
  ASSERT_NE(logged, nullptr);
  EXPECT_GT(logged->ledger().strength(), 0);
}

TEST_F(RecommendationsIntegrationTest, GatewayServesTheRoutes) {
  absl::Status s = stack_.StartGateway();
  ASSERT_TRUE(s.ok()) << s;
  std::string org = NewOrg();
  TenantContext alice = NewUser(org, "Alice");
  std::string ann = NewContact(alice, "Ann", "ann@x.test", ppb::ORG, "Acme", "CTO");
  Log(alice, ann, ipb::MEETING, ipb::MUTUAL, 60);
  std::string jwt = gateway::SignJwtHs256(
      absl::StrCat(R"({"sub":")", alice.user_id, R"(","org":")", org, R"(","iss":"rapport","aud":"rapport","exp":)",
                   absl::ToUnixSeconds(absl::Now()) + 300, "}"),
      testing::kTestJwtSecret);
  const std::string url = stack_.GatewayUrl();
  const std::vector<std::string> auth = {"Authorization: Bearer " + jwt};
  HttpResponse r;
  ASSERT_TRUE(WaitFor(
      [&] {
        r = HttpCall("GET", url + "/v1/recommendations/reachOuts", auth);
        return r.status == 200 && r.body.find(ann) != std::string::npos;
      },
      std::chrono::milliseconds(2000)))
      << r.status << " " << r.body;
  EXPECT_NE(r.body.find("\"overdueDays\":30"), std::string::npos) << r.body;
  for (const char* path :
       {"/v1/recommendations/giveBacks", "/v1/recommendations/followUps", "/v1/recommendations/introductions",
        "/v1/recommendations/groups", "/v1/network/health", "/v1/paths?company=acme&maxHops=2"}) {
    r = HttpCall("GET", url + path, auth);
    EXPECT_EQ(r.status, 200) << path << " " << r.body;
  }
  r = HttpCall("GET", url + "/v1/paths?company=acme", auth);
  EXPECT_NE(r.body.find("\"kind\":\"YOU\""), std::string::npos) << r.body;
  r = HttpCall("GET", url + "/v1/paths?company=acme&maxHops=4", auth);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("maxHops"), std::string::npos) << r.body;
  r = HttpCall("GET", url + "/v1/paths?targetContactId=01nosuchcontact", auth);
  EXPECT_EQ(r.status, 404) << r.body;
  r = HttpCall("GET", url + "/v1/recommendations/reachOuts");
  EXPECT_EQ(r.status, 401) << r.body;
}

// Export pages are bounded by bytes as well as rows: 48 contacts of ~24 KiB
// each (the contact limit is 32 KiB as JSON) make more than 1 MiB, which the
// 500-row page the backfill asks for would have held at once; each page stays
// under 1 MiB, paging yields every contact once, and a restarted
// recommendations backfills them all over several pages.
TEST_F(RecommendationsIntegrationTest, ExportPagesAreBoundedByBytes) {
  std::string org = NewOrg();
  TenantContext alice = NewUser(org, "Alice");
  std::set<std::string> want;
  for (int i = 0; i < 48; ++i) {
    ppb::CreateContactRequest req;
    req.mutable_contact()->set_display_name(absl::StrCat("Big ", i));
    for (int l = 0; l < 12; ++l) {
      req.mutable_contact()->add_links(absl::StrCat("https://example.test/", l, "/", std::string(1950, 'a' + l)));
    }
    ppb::Contact c;
    grpc::Status s = profiles_->CreateContact(Stack::Call(alice).get(), req, &c);
    ASSERT_TRUE(s.ok()) << s.error_message();
    want.insert(c.id());
  }
  auto exports = backfill::v1::ProfilesBackfill::NewStub(
      grpc::CreateChannel(stack_.Addr("profiles"), grpc::InsecureChannelCredentials()));
  for (const std::string& only : {std::string(), org}) {  // every org's export, and the org's alone
    backfill::v1::ExportRequest page;
    page.set_page_size(500);
    page.set_org_id(only);
    backfill::v1::ExportResponse resp;
    std::set<std::string> got;
    int pages = 0;
    size_t total = 0;
    do {
      resp.Clear();
      grpc::Status s = exports->ExportContacts(Stack::Call(Stack::Platform()).get(), page, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ++pages;
      EXPECT_LE(resp.ByteSizeLong(), size_t{1} << 20);
      total += resp.ByteSizeLong();
      for (const auto& e : resp.events()) {
        if (e.org_id() == org) {
          EXPECT_TRUE(got.insert(e.contact().contact().id()).second);
        }
      }
      page.set_page_token(resp.next_page_token());
    } while (!resp.next_page_token().empty());
    EXPECT_EQ(got, want);
    EXPECT_GT(total, size_t{1} << 20);  // the row limit alone would have made one page over 1 MiB
    EXPECT_GE(pages, 2);
  }

  // A restarted recommendations backfills them (pages of 500 rows asked).
  stack_.Kill9("recommendations");
  ASSERT_TRUE(stack_.Start("recommendations", {{"RAPPORT_RECOMMENDATIONS_CACHE", "false"}}).ok());
  rpb::NetworkHealth health;
  grpc::Status s = reco_->GetNetworkHealth(Stack::Call(alice).get(), rpb::GetNetworkHealthRequest(), &health);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(health.size(), 48);
}

// One org whose backfill cannot be read (a corrupt contact row in profiles'
// database) is refused UNAVAILABLE and retried with capped exponential
// backoff, each failure logged and counted in the backfill status (health
// detail and metrics), while the other org is answered, also its changes
// made meanwhile; once the row reads again, the org is answered.
TEST_F(RecommendationsIntegrationTest, AFailingOrgBackfillIsRetriedAndReportedWhileOtherOrgsAreAnswered) {
  std::string broken_org = NewOrg(), fine_org = NewOrg();
  TenantContext ann = NewUser(broken_org, "Ann");
  TenantContext bob = NewUser(fine_org, "Bob");
  std::string ann_contact = NewContact(ann, "Carl", "carl@x.test", ppb::PRIVATE);
  Log(ann, ann_contact, ipb::MEETING, ipb::MUTUAL, 60);
  std::string bob_contact = NewContact(bob, "Dora", "dora@x.test", ppb::PRIVATE);
  Log(bob, bob_contact, ipb::MEETING, ipb::MUTUAL, 60);
  ASSERT_TRUE(WaitFor([&] { return ReachOutIds(bob) == std::vector<std::string>{bob_contact}; },
                      std::chrono::milliseconds(5000)));

  // Corrupt Ann's contact row where profiles keeps it (the export cannot
  // parse it), keeping the bytes to put back.
  stack_.Kill9("recommendations");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((stack_.data_dir() + "/profiles.db").c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  std::string saved;
  {
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT data FROM contacts WHERE org_id = ? AND contact_id = ?", -1, &st, nullptr),
              SQLITE_OK);
    sqlite3_bind_text(st, 1, broken_org.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, ann_contact.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    saved.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)), sqlite3_column_bytes(st, 0));
    sqlite3_finalize(st);
  }
  auto set_data = [&](const std::string& bytes) {
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(
        sqlite3_prepare_v2(db, "UPDATE contacts SET data = ? WHERE org_id = ? AND contact_id = ?", -1, &st, nullptr),
        SQLITE_OK);
    sqlite3_bind_blob(st, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, broken_org.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, ann_contact.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
  };
  set_data(std::string("\xff\xff\xff\xff\xff\xff", 6));

  // Retries 200 ms apart, then 400, then 800 at most.
  absl::Status s = stack_.Start("recommendations", {{"RAPPORT_RECOMMENDATIONS_CACHE", "false"},
                                                    {"RAPPORT_BACKFILL_RETRY_MS", "200"},
                                                    {"RAPPORT_BACKFILL_RETRY_MAX_MS", "800"}});
  ASSERT_TRUE(s.ok()) << s;
  // The other org is answered, and so are its changes made meanwhile.
  EXPECT_EQ(ReachOutIds(bob), std::vector<std::string>{bob_contact});
  std::string bob_second = NewContact(bob, "Eve", "eve@x.test", ppb::PRIVATE);
  Log(bob, bob_second, ipb::MEETING, ipb::MUTUAL, 50);
  ASSERT_TRUE(WaitFor([&] { return ReachOutIds(bob).size() == 2; }, std::chrono::milliseconds(5000)));
  // The broken org is refused, not answered from half a model.
  rpb::ListReachOutsResponse refused;
  grpc::Status no = reco_->ListReachOuts(Stack::Call(ann).get(), rpb::ListReachOutsRequest(), &refused);
  EXPECT_EQ(no.error_code(), grpc::StatusCode::UNAVAILABLE) << no.error_message();

  // The health detail (platform only) names the org, its failures and the
  // next attempt, capped; the counters are in its metrics text.
  rpb::BackfillStatus status;
  EXPECT_EQ(reco_->GetBackfillStatus(Stack::Call(ann).get(), rpb::GetBackfillStatusRequest(), &status).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(WaitFor(
      [&] {
        status.Clear();
        return reco_->GetBackfillStatus(Stack::Call(Stack::Platform()).get(), rpb::GetBackfillStatusRequest(), &status)
                   .ok() &&
               status.pending_size() == 1 && status.pending(0).failures() >= 4;
      },
      std::chrono::milliseconds(10000)))
      << status.DebugString();
  EXPECT_EQ(status.pending(0).org_id(), broken_org);
  EXPECT_LE(status.pending(0).next_attempt_ms(), 800);
  EXPECT_NE(status.pending(0).last_error().find("contacts"), std::string::npos) << status.pending(0).last_error();
  EXPECT_GE(status.failures_total(), 4);
  EXPECT_NE(status.metrics().find("rapport_backfill_orgs_pending{service=\"recommendations\"} 1"), std::string::npos)
      << status.metrics();
  EXPECT_NE(status.metrics().find("rapport_backfill_failures_total{service=\"recommendations\"} "), std::string::npos);
  {
    std::ifstream log(stack_.LogPath("recommendations"));
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("backfill of an org failed"), std::string::npos) << text;
    EXPECT_NE(text.find(broken_org), std::string::npos);
  }

  // The row reads again: the next retry succeeds and the org is answered.
  set_data(saved);
  sqlite3_close(db);
  ASSERT_TRUE(WaitFor(
      [&] {
        rpb::ListReachOutsResponse r;
        return reco_->ListReachOuts(Stack::Call(ann).get(), rpb::ListReachOutsRequest(), &r).ok() &&
               r.items_size() == 1 && r.items(0).contact().id() == ann_contact;
      },
      std::chrono::milliseconds(5000)));
  status.Clear();
  ASSERT_TRUE(
      reco_->GetBackfillStatus(Stack::Call(Stack::Platform()).get(), rpb::GetBackfillStatusRequest(), &status).ok());
  EXPECT_EQ(status.pending_size(), 0);
  EXPECT_EQ(status.recovered_total(), 1);
  EXPECT_EQ(ReachOutIds(bob).size(), 2u);
}

}  // namespace
}  // namespace rapport
