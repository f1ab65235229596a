// End-to-end tests of planned (future) interactions and of the ledger's
// explanation (issue 19), through the gateway, with a real redis-server and
// the real profiles, interactions, notifications, recommendations and gateway
// binaries. The sweep that makes planned interactions happen runs every
// 100 ms here (RAPPORT_PLANNED_SWEEP_MS); the tests wait for conditions with
// deadlines.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/auth.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "rapport/recommendations/v1/recommendations.pb.h"
#include "services/common/http_client.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
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

class PlannedIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    for (const char* service : {"profiles", "interactions", "notifications", "recommendations"}) {
      absl::Status s = stack_.Start(service, {{"RAPPORT_PLANNED_SWEEP_MS", "100"}});
      ASSERT_TRUE(s.ok()) << service << ": " << s;
    }
    absl::Status s =
        stack_.StartGateway({{"RAPPORT_RATE_LIMIT_PER_MINUTE", "1000000"}, {"RAPPORT_RATE_LIMIT_BURST", "100000"}});
    ASSERT_TRUE(s.ok()) << s;
    url_ = stack_.GatewayUrl();
    org_admin_ = NewOrg(&org_);
    ann_ = NewUser(org_admin_, "ann@acme.test");
    me_ = As(org_, ann_);
  }

  HttpResponse Call(const std::string& method, const std::string& path, const std::vector<std::string>& headers,
                    const std::string& body = "") {
    return HttpCall(method, url_ + path, headers, body);
  }
  template <typename T>
  T Ok(const std::string& method, const std::string& path, const std::vector<std::string>& headers,
       const std::string& body = "") {
    HttpResponse r = Call(method, path, headers, body);
    EXPECT_EQ(r.status, 200) << method << " " << path << ": " << r.body;
    return Parse<T>(r);
  }
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
  static std::string At(absl::Duration from_now) {
    return absl::FormatTime(absl::RFC3339_full, absl::Now() + from_now, absl::UTCTimeZone());
  }
  ipb::Interaction Log(const std::string& contact, const std::string& kind, absl::Duration from_now,
                       const std::string& direction = "GAVE") {
    return Ok<ipb::Interaction>(
        "POST", "/v1/interactions", me_,
        absl::StrCat(R"({"kind":")", kind, R"(","direction":")", direction, R"(","contactIds":[")", contact,
                     R"("],"occurredAt":")", At(from_now), R"(","summary":"lunch"})"));
  }
  ipb::LedgerEntry Ledger(const std::string& contact) {
    return Ok<ipb::LedgerEntry>("GET", "/v1/contacts/" + contact + "/ledger", me_);
  }
  bool InReachOuts(const std::string& contact) {
    const auto list = Ok<rpb::ListReachOutsResponse>("GET", "/v1/recommendations/reachOuts", me_);
    return std::any_of(list.items().begin(), list.items().end(),
                       [&](const auto& i) { return i.contact().id() == contact; });
  }
  ipb::Interaction Get(const std::string& id) { return Ok<ipb::Interaction>("GET", "/v1/interactions/" + id, me_); }

  Stack stack_;
  std::string url_, org_, org_admin_, ann_;
  std::vector<std::string> me_;
};

// A user's view: a meeting next week changes nothing yet; one whose time
// comes counts once, and the contact leaves reach-outs then.
TEST_F(PlannedIntegrationTest, MeetingNextWeekCountsWhenItHappensAndOnce) {
  const auto dee = Ok<ppb::Contact>("POST", "/v1/contacts", me_, R"({"displayName":"Dee","tier":"CLOSE"})");
  const auto eve = Ok<ppb::Contact>("POST", "/v1/contacts", me_, R"({"displayName":"Eve","tier":"CLOSE"})");
  Log(dee.id(), "MEETING", -absl::Hours(24 * 100));
  const ipb::LedgerEntry before = Ledger(dee.id());
  ASSERT_EQ(before.interaction_count(), 1);
  ASSERT_TRUE(WaitFor([&] { return InReachOuts(dee.id()); }, kEventually)) << "Dee, 100 days without contact";

  // A meeting next week: in the timeline as planned, the ledger unchanged.
  const ipb::Interaction next_week = Log(dee.id(), "MEETING", absl::Hours(24 * 7));
  EXPECT_EQ(next_week.state(), ipb::PLANNED);
  const ipb::LedgerEntry after = Ledger(dee.id());
  EXPECT_EQ(after.interaction_count(), 1);
  EXPECT_EQ(after.given(), before.given());
  EXPECT_EQ(after.balance(), before.balance());
  EXPECT_NEAR(after.strength(), before.strength(), 0.01);
  EXPECT_EQ(after.last_interaction_time().seconds(), before.last_interaction_time().seconds());
  EXPECT_EQ(after.next_due_time().seconds(), before.next_due_time().seconds());
  const auto timeline = Ok<ipb::ListInteractionsResponse>("GET", "/v1/interactions?contactId=" + dee.id(), me_);
  ASSERT_EQ(timeline.interactions_size(), 2);
  EXPECT_EQ(timeline.interactions(0).id(), next_week.id());
  EXPECT_EQ(timeline.interactions(0).state(), ipb::PLANNED);
  EXPECT_EQ(timeline.interactions(1).state(), ipb::HAPPENED);
  // Still in reach-outs once the events written after the planned meeting
  // have reached recommendations (Eve's interaction is one of them).
  Log(eve.id(), "CALL", -absl::Hours(24 * 200));
  ASSERT_TRUE(WaitFor([&] { return InReachOuts(eve.id()); }, kEventually));
  EXPECT_TRUE(InReachOuts(dee.id()));

  // A meeting in two seconds: planned now, then counted once it happened.
  const ipb::Interaction soon = Log(dee.id(), "MEETING", absl::Seconds(2));
  EXPECT_EQ(soon.state(), ipb::PLANNED);
  EXPECT_EQ(Ledger(dee.id()).interaction_count(), 1);
  ASSERT_TRUE(WaitFor([&] { return Get(soon.id()).state() == ipb::HAPPENED; }, kEventually));
  ipb::LedgerEntry counted = Ledger(dee.id());
  EXPECT_EQ(counted.interaction_count(), 2);
  EXPECT_EQ(counted.given(), before.given() + 3);
  EXPECT_EQ(counted.last_interaction_time().seconds(), soon.occurred_at().seconds());
  EXPECT_GT(counted.strength(), before.strength() + 20);
  ASSERT_TRUE(WaitFor([&] { return !InReachOuts(dee.id()); }, kEventually)) << "Dee was just met";

  // Counted once: another planned one (Eve's) happening later proves the
  // sweep ran again meanwhile.
  const ipb::Interaction eve_soon = Log(eve.id(), "CALL", absl::Seconds(1));
  ASSERT_TRUE(WaitFor([&] { return Get(eve_soon.id()).state() == ipb::HAPPENED; }, kEventually));
  EXPECT_EQ(Ledger(dee.id()).interaction_count(), 2);
  EXPECT_EQ(Ledger(dee.id()).given(), before.given() + 3);
  EXPECT_EQ(Get(next_week.id()).state(), ipb::PLANNED);
}

TEST_F(PlannedIntegrationTest, CancelAPlannedOneOnly) {
  const auto dee = Ok<ppb::Contact>("POST", "/v1/contacts", me_, R"({"displayName":"Dee"})");
  const ipb::Interaction planned = Log(dee.id(), "MEETING", absl::Hours(24 * 7));
  const ipb::Interaction past = Log(dee.id(), "CALL", -absl::Hours(24));
  const std::string cancel = "/v1/interactions/" + planned.id() + ":cancel";

  // Isolation: another org's user 404, a READ-only key 403, no credential 401.
  std::string other_org;
  const std::string other_admin = NewOrg(&other_org);
  const auto cy = As(other_org, NewUser(other_admin, "cy@other.test"));
  EXPECT_EQ(Call("POST", cancel, cy, "{}").status, 404);
  auto key = Ok<ppb::ApiKeySecret>("POST", "/v1/apiKeys", {"X-Api-Key: " + org_admin_, kJson},
                                   R"({"displayName":"ro","scopes":["READ","ACT_AS_USER"]})");
  const std::vector<std::string> read_only = {"X-Api-Key: " + key.secret(), "X-Rapport-User: " + ann_, kJson};
  EXPECT_EQ(Call("POST", cancel, read_only, "{}").status, 403);
  EXPECT_EQ(Call("POST", cancel, {kJson}, "{}").status, 401);
  EXPECT_EQ(Get(planned.id()).state(), ipb::PLANNED);

  const auto cancelled = Ok<ipb::Interaction>("POST", cancel, me_, "{}");
  EXPECT_EQ(cancelled.state(), ipb::CANCELLED);
  // Stays in the timeline as cancelled, and never counts.
  EXPECT_EQ(Get(planned.id()).state(), ipb::CANCELLED);
  EXPECT_EQ(Ledger(dee.id()).interaction_count(), 1);
  // Twice, or a past one: 400 FAILED_PRECONDITION with a clear message.
  HttpResponse again = Call("POST", cancel, me_, "{}");
  EXPECT_EQ(again.status, 400) << again.body;
  EXPECT_NE(again.body.find("FAILED_PRECONDITION"), std::string::npos) << again.body;
  HttpResponse happened = Call("POST", "/v1/interactions/" + past.id() + ":cancel", me_, "{}");
  EXPECT_EQ(happened.status, 400) << happened.body;
  EXPECT_NE(happened.body.find("only a planned interaction can be cancelled"), std::string::npos) << happened.body;
  // A cancelled one cannot be edited back to life.
  HttpResponse edit = Call("PATCH", "/v1/interactions/" + planned.id(), me_, R"({"summary":"on again"})");
  EXPECT_EQ(edit.status, 400) << edit.body;

  // In /openapi.json.
  HttpResponse spec = Call("GET", "/openapi.json", {});
  EXPECT_NE(spec.body.find("/v1/interactions/{interactionId}:cancel"), std::string::npos);
}

TEST_F(PlannedIntegrationTest, MovingAMeetingInTimeRecomputesTheLedger) {
  const auto dee = Ok<ppb::Contact>("POST", "/v1/contacts", me_, R"({"displayName":"Dee"})");
  const ipb::Interaction met = Log(dee.id(), "MEETING", -absl::Hours(24));
  EXPECT_EQ(Ledger(dee.id()).interaction_count(), 1);
  auto moved = Ok<ipb::Interaction>("PATCH", "/v1/interactions/" + met.id(), me_,
                                    absl::StrCat(R"({"occurredAt":")", At(absl::Hours(24 * 3)), R"("})"));
  EXPECT_EQ(moved.state(), ipb::PLANNED);
  EXPECT_EQ(Ledger(dee.id()).interaction_count(), 0);
  EXPECT_EQ(Ledger(dee.id()).given(), 0);
  auto back = Ok<ipb::Interaction>("PATCH", "/v1/interactions/" + met.id(), me_,
                                   absl::StrCat(R"({"occurredAt":")", At(-absl::Hours(2)), R"("})"));
  EXPECT_EQ(back.state(), ipb::HAPPENED);
  EXPECT_EQ(Ledger(dee.id()).interaction_count(), 1);
  EXPECT_EQ(Ledger(dee.id()).given(), 3);
}

// The explanation checked by hand: strength and balance recomputed from its
// items with the documented formula.
TEST_F(PlannedIntegrationTest, LedgerExplanationAddsUpToStrengthAndBalance) {
  const auto dee = Ok<ppb::Contact>("POST", "/v1/contacts", me_, R"({"displayName":"Dee"})");
  const std::vector<std::pair<std::string, int>> log = {
      {"MEETING", 1},  {"EMAIL", 30},  {"REFERRAL", 200}, {"CALL", 60},     {"GIFT", 10},   {"COMMENT", 5},
      {"MESSAGE", 90}, {"FAVOR", 120}, {"EVENT", 45},     {"MEETING", 300}, {"EMAIL", 400}, {"CALL", 15}};
  for (size_t i = 0; i < log.size(); ++i) {
    Log(dee.id(), log[i].first, -absl::Hours(24 * log[i].second), i % 3 == 0 ? "RECEIVED" : "GAVE");
  }
  Log(dee.id(), "REFERRAL", absl::Hours(24 * 3));  // planned: not part of it
  const ipb::LedgerEntry entry = Ledger(dee.id());
  ASSERT_EQ(entry.interaction_count(), static_cast<int>(log.size()));
  const ipb::LedgerExplanation& x = entry.explanation();
  ASSERT_EQ(x.top_size(), 10);
  EXPECT_EQ(x.others_count(), 2);
  double sum = x.others_decayed_weight(), balance = x.others_balance();
  for (int i = 0; i < x.top_size(); ++i) {
    const ipb::LedgerContribution& c = x.top(i);
    if (i > 0) {
      EXPECT_LE(c.decayed_weight(), x.top(i - 1).decayed_weight());
    }
    // Each item by hand: weight * 2^(-age / 90 days).
    const double age_days = (absl::ToUnixMicros(absl::Now()) - c.occurred_at().seconds() * 1e6) / 86400e6;
    EXPECT_NEAR(c.decayed_weight(), c.weight() * std::exp2(-age_days / 90.0), 1e-3);
    EXPECT_EQ(c.balance(), c.direction() == ipb::GAVE ? c.weight() : -c.weight());
    sum += c.decayed_weight();
    balance += c.balance();
  }
  EXPECT_NEAR(sum, x.decayed_sum(), 1e-9);
  EXPECT_NEAR(100.0 * (1.0 - std::exp(-sum / 10.0)), entry.strength(), 0.01);
  EXPECT_NEAR(balance, entry.balance(), 1e-9);
  // The referral 200 days ago (6.0 * 2^(-200/90) ~ 1.29) outranks the email
  // 30 days ago (1.0 * 2^(-1/3) ~ 0.79).
  auto rank = [&](const std::string& kind, int days) {
    for (int i = 0; i < x.top_size(); ++i) {
      const double age = (absl::ToUnixSeconds(absl::Now()) - x.top(i).occurred_at().seconds()) / 86400.0;
      if (ipb::InteractionKind_Name(x.top(i).kind()) == kind && std::abs(age - days) < 0.5) return i;
    }
    return -1;
  };
  EXPECT_GE(rank("REFERRAL", 200), 0);
  EXPECT_LT(rank("REFERRAL", 200), rank("EMAIL", 30));
}

}  // namespace
}  // namespace rapport
