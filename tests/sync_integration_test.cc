// End-to-end test of GET /v1/sync (issue 19) with a real redis-server and the
// real profiles, interactions, notifications, recommendations and gateway
// binaries. An offline client applies sync pages between bursts of hundreds
// of random changes (contacts, groups, memberships, interactions,
// introductions, reminders that fire into notifications, notifications read
// and dismissed, merges) and in the end holds exactly what the list routes
// answer. Also: another user's and org's changes never appear, 401 / 403,
// 400 for a bad cursor or page size, and 410 RESYNC_REQUIRED for a cursor
// older than the (shortened) retention.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/auth.h"
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
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &out).ok()) << r.body;
  return out;
}

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &out).ok());
  return out;
}

// What a client mirrors: per type, id -> the object's JSON (as compared; see
// Normalized).
using State = std::map<std::string, std::map<std::string, std::string>>;

class SyncIntegrationTest : public ::testing::Test {
 public:  // Workload calls through the fixture
  void StartStack(const std::map<std::string, std::string>& notifications_env = {}) {
    ASSERT_TRUE(stack_.redis().Start().ok());
    for (const char* service : {"profiles", "interactions", "recommendations"}) {
      absl::Status s = stack_.Start(service);
      ASSERT_TRUE(s.ok()) << service << ": " << s;
    }
    std::map<std::string, std::string> env = notifications_env;
    env["RAPPORT_SCHEDULER_POLL_MS"] = "100";
    absl::Status s = stack_.Start("notifications", env);
    ASSERT_TRUE(s.ok()) << s;
    s = stack_.StartGateway({{"RAPPORT_RATE_LIMIT_PER_MINUTE", "1000000"}, {"RAPPORT_RATE_LIMIT_BURST", "100000"}});
    ASSERT_TRUE(s.ok()) << s;
    url_ = stack_.GatewayUrl();
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
                     absl::ToUnixSeconds(absl::Now()) + 3600, "}"),
        testing::kTestJwtSecret);
    return {"Authorization: Bearer " + jwt, kJson};
  }

  // --- the offline client ---

  // The object of a change as compared with the list routes: notes never
  // travel (sync_log.h), a membership is its member's id, role and join time
  // (display names follow the contact).
  static std::string Normalized(const npb::SyncChange& c) {
    switch (c.object_case()) {
      case npb::SyncChange::kContact: {
        ppb::Contact x = c.contact();
        x.clear_notes();
        return Json(x);
      }
      case npb::SyncChange::kGroup:
        return Json(c.group());
      case npb::SyncChange::kMembership: {
        ppb::GroupMember m = c.membership().member();
        m.clear_display_name();
        return Json(m);
      }
      case npb::SyncChange::kInteraction: {
        ipb::Interaction x = c.interaction();
        x.clear_notes();
        return Json(x);
      }
      case npb::SyncChange::kIntroduction:
        return Json(c.introduction());
      case npb::SyncChange::kReminder:
        return Json(c.reminder());
      case npb::SyncChange::kNotification:
        return Json(c.notification());
      default:
        ADD_FAILURE() << "a change without an object: " << Json(c);
        return "";
    }
  }

  // Applies one page to the client's state; false when no more pages wait.
  bool SyncPage(const std::vector<std::string>& who, int page_size, std::string* cursor, State* state, int* changes) {
    HttpResponse r = Call("GET", absl::StrCat("/v1/sync?pageSize=", page_size, "&cursor=", *cursor), who);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return false;
    npb::SyncResponse page = Parse<npb::SyncResponse>(r);
    EXPECT_FALSE(page.next_cursor().empty());
    EXPECT_LE(page.changes_size(), page_size);
    std::set<std::string> seen;
    for (const npb::SyncChange& c : page.changes()) {
      EXPECT_TRUE(seen.insert(c.type() + ":" + c.id()).second) << "twice in one page: " << c.id();
      if (c.deleted()) {
        EXPECT_EQ(c.object_case(), npb::SyncChange::OBJECT_NOT_SET);
        (*state)[c.type()].erase(c.id());
      } else {
        (*state)[c.type()][c.id()] = Normalized(c);
      }
    }
    *changes += page.changes_size();
    *cursor = page.next_cursor();
    return page.has_more();
  }

  // The server's state through the ordinary list routes.
  template <typename Resp>
  void ListAll(const std::vector<std::string>& who, const std::string& path,
               const std::function<void(const Resp&)>& each) {
    std::string token;
    for (int pages = 0; pages < 100; ++pages) {
      const std::string sep = path.find('?') == std::string::npos ? "?" : "&";
      Resp resp = Ok<Resp>("GET", absl::StrCat(path, sep, "pageSize=500&pageToken=", token), who);
      each(resp);
      token = resp.next_page_token();
      if (token.empty()) return;
    }
    ADD_FAILURE() << path << ": too many pages";
  }
  State ServerState(const std::vector<std::string>& who) {
    State s;
    auto& contacts = s["contact"];
    ListAll<ppb::ListContactsResponse>(who, "/v1/contacts", [&](const ppb::ListContactsResponse& r) {
      for (ppb::Contact c : r.contacts()) {
        c.clear_notes();
        contacts[c.id()] = Json(c);
      }
    });
    auto& groups = s["group"];
    auto& members = s["membership"];
    std::vector<std::string> group_ids;
    ListAll<ppb::ListGroupsResponse>(who, "/v1/groups", [&](const ppb::ListGroupsResponse& r) {
      for (const ppb::Group& g : r.groups()) {
        groups[g.id()] = Json(g);
        group_ids.push_back(g.id());
      }
    });
    for (const std::string& g : group_ids) {
      ListAll<ppb::ListMembersResponse>(who, "/v1/groups/" + g + "/members", [&](const ppb::ListMembersResponse& r) {
        for (ppb::GroupMember m : r.members()) {
          m.clear_display_name();
          members[g + "/" + m.member_id()] = Json(m);
        }
      });
    }
    auto& interactions = s["interaction"];
    ListAll<ipb::ListInteractionsResponse>(who, "/v1/interactions", [&](const ipb::ListInteractionsResponse& r) {
      for (ipb::Interaction i : r.interactions()) {
        i.clear_notes();
        interactions[i.id()] = Json(i);
      }
    });
    auto& intros = s["introduction"];
    ListAll<ipb::ListIntroductionsResponse>(who, "/v1/introductions", [&](const ipb::ListIntroductionsResponse& r) {
      for (const ipb::Introduction& i : r.introductions()) {
        intros[i.id()] = Json(i);
      }
    });
    auto& reminders = s["reminder"];
    ListAll<npb::ListRemindersResponse>(who, "/v1/reminders", [&](const npb::ListRemindersResponse& r) {
      for (const npb::Reminder& x : r.reminders()) reminders[x.id()] = Json(x);
    });
    auto& notifications = s["notification"];
    ListAll<npb::ListNotificationsResponse>(who, "/v1/notifications?state=ALL",
                                            [&](const npb::ListNotificationsResponse& r) {
                                              for (const npb::Notification& n : r.notifications()) {
                                                notifications[n.id()] = Json(n);
                                              }
                                            });
    return s;
  }
  // The client's state as the list routes show it: the inbox lists unread
  // and read notifications (dismissed and snoozed ones are synced with their
  // state, and hidden by the client as by the inbox).
  static State Visible(State s) {
    auto& n = s["notification"];
    for (auto it = n.begin(); it != n.end();) {
      npb::Notification x;
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(it->second, &x).ok());
      if (x.state() == npb::UNREAD || x.state() == npb::READ) {
        ++it;
      } else {
        it = n.erase(it);
      }
    }
    for (const char* type :
         {"contact", "group", "membership", "interaction", "introduction", "reminder", "notification"}) {
      s[type];  // present, possibly empty, as in ServerState
    }
    return s;
  }

  Stack stack_;
  std::string url_;
};

// One user's random workload against the gateway.
class Workload {
 public:
  Workload(SyncIntegrationTest* t, std::vector<std::string> who, uint32_t seed) : t_(t), who_(std::move(who)) {
    rng_.seed(seed);
  }
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  template <typename V>
  std::string Any(const V& v) {
    return v[Pick(static_cast<int>(v.size()))];
  }
  void Remove(std::vector<std::string>* v, const std::string& id) { std::erase(*v, id); }

  // One random change; answers other than 200 are fine when the object went
  // meanwhile (a merge, a delete), never a server error.
  void Step() {
    const int op = Pick(22);
    HttpResponse r;
    const std::string when =
        absl::FormatTime(absl::RFC3339_sec, absl::Now() - absl::Hours(1 + Pick(500)), absl::UTCTimeZone());
    if (op <= 3 || contacts_.size() < 3) {
      ++n_;
      r = Do("POST", "/v1/contacts",
             absl::StrCat(R"({"displayName":"Person )", n_, R"(","company":"Co)", Pick(5), R"(","notes":"private )", n_,
                          R"(","tags":["t)", Pick(3), R"("]})"));
      if (r.status == 200) contacts_.push_back(Parse<ppb::Contact>(r).id());
    } else if (op == 4) {
      r = Do("PATCH", "/v1/contacts/" + Any(contacts_),
             absl::StrCat(R"({"company":"Moved )", Pick(100), R"(","title":"T)", Pick(9), R"("})"));
    } else if (op == 5) {
      const std::string id = Any(contacts_);
      r = Do("DELETE", "/v1/contacts/" + id);
      Remove(&contacts_, id);
    } else if (op == 6 && contacts_.size() >= 4) {
      const std::string survivor = Any(contacts_);
      std::string other = Any(contacts_);
      if (other == survivor) return;
      r = Do("POST", "/v1/contacts/" + survivor + ":merge", absl::StrCat(R"({"otherIds":[")", other, R"("]})"));
      if (r.status == 200) Remove(&contacts_, other);
      ++merges_;
    } else if (op == 7 || (op <= 9 && groups_.empty())) {
      r = Do("POST", "/v1/groups", absl::StrCat(R"({"displayName":"Group )", ++n_, R"(","kind":"ALUMNI"})"));
      if (r.status == 200) groups_.push_back(Parse<ppb::Group>(r).id());
    } else if (op == 8) {
      r = Do("PATCH", "/v1/groups/" + Any(groups_), absl::StrCat(R"({"description":"d)", Pick(100), R"("})"));
    } else if (op == 9 && groups_.size() > 2) {
      const std::string id = Any(groups_);
      r = Do("DELETE", "/v1/groups/" + id);
      Remove(&groups_, id);
    } else if (op <= 11 && !groups_.empty()) {
      const std::string member = Pick(5) == 0 ? "me" : Any(contacts_);
      const char* roles[] = {"MEMBER", "LEADER", "ORGANIZER"};
      const std::string path = "/v1/groups/" + Any(groups_) + "/members/" + member;
      r = Do("PUT", path, absl::StrCat(R"({"role":")", roles[Pick(3)], R"("})"));
      if (r.status == 200) members_.push_back(path);
    } else if (op == 12 && !members_.empty()) {
      const std::string path = Any(members_);
      r = Do("DELETE", path);
      Remove(&members_, path);
    } else if (op <= 15) {
      const char* kinds[] = {"CALL", "MEETING", "FAVOR", "EMAIL"};
      const char* directions[] = {"GAVE", "RECEIVED", "MUTUAL"};
      std::string ids = absl::StrCat("\"", Any(contacts_), "\"");
      if (Pick(3) == 0) {
        const std::string second = Any(contacts_);
        if (ids.find(second) == std::string::npos) absl::StrAppend(&ids, ",\"", second, "\"");
      }
      r = Do(
          "POST", "/v1/interactions",
          absl::StrCat(R"({"kind":")", kinds[Pick(4)], R"(","direction":")", directions[Pick(3)], R"(","contactIds":[)",
                       ids, R"(],"occurredAt":")", when, R"(","summary":"s)", Pick(100), R"(","notes":"n"})"));
      if (r.status == 200) interactions_.push_back(Parse<ipb::Interaction>(r).id());
    } else if (op == 16 && !interactions_.empty()) {
      r = Do("PATCH", "/v1/interactions/" + Any(interactions_),
             absl::StrCat(R"({"summary":"edited )", Pick(100), R"("})"));
    } else if (op == 17 && !interactions_.empty()) {
      const std::string id = Any(interactions_);
      r = Do("DELETE", "/v1/interactions/" + id);
      Remove(&interactions_, id);
    } else if (op == 18) {
      const std::string a = Any(contacts_), b = Any(contacts_);
      if (a == b) return;
      r = Do("POST", "/v1/introductions",
             absl::StrCat(R"({"mode":"CONNECT","contactAId":")", a, R"(","contactBId":")", b,
                          R"(","reason":"both like chess"})"));
      if (r.status == 200) intros_.push_back(Parse<ipb::Introduction>(r).id());
    } else if (op == 19 && !intros_.empty()) {
      r = Do("POST", "/v1/introductions/" + Any(intros_) + ":respond",
             absl::StrCat(R"({"party":")", Pick(2) == 0 ? "A" : "B", R"(","accept":true})"));
    } else if (op == 20) {
      // Half fire within a second (a notification), half wait a day.
      const std::string due = absl::FormatTime(
          absl::RFC3339_sec, absl::Now() + (Pick(2) == 0 ? absl::Seconds(1) : absl::Hours(24)), absl::UTCTimeZone());
      const std::string contact = Pick(2) == 0 ? "" : absl::StrCat(R"("contactId":")", Any(contacts_), R"(",)");
      r = Do("POST", "/v1/reminders", absl::StrCat("{", contact, R"("dueTime":")", due, R"(","note":"ping"})"));
      if (r.status == 200) reminders_.push_back(Parse<npb::Reminder>(r).id());
    } else if (op == 21 && !reminders_.empty()) {
      const std::string id = Any(reminders_);
      r = Do("DELETE", "/v1/reminders/" + id);
      Remove(&reminders_, id);
    } else {
      // The inbox: read or dismiss one.
      auto inbox = Parse<npb::ListNotificationsResponse>(Do("GET", "/v1/notifications?state=ALL"));
      if (inbox.notifications_size() == 0) return;
      const std::string id = inbox.notifications(Pick(inbox.notifications_size())).id();
      r = Do("POST", "/v1/notifications/" + id + (Pick(2) == 0 ? ":read" : ":dismiss"), "{}");
    }
  }

  HttpResponse Do(const std::string& method, const std::string& path, const std::string& body = "") {
    HttpResponse r = t_->Call(method, path, who_, body);
    EXPECT_LT(r.status, 500) << method << " " << path << ": " << r.body;
    ++calls_;
    if (r.status == 200) ++ok_;
    return r;
  }

  int calls_ = 0, ok_ = 0, merges_ = 0;

 private:
  SyncIntegrationTest* t_;
  std::vector<std::string> who_;
  std::mt19937 rng_;
  int n_ = 0;
  std::vector<std::string> contacts_, groups_, members_, interactions_, intros_, reminders_;
};

TEST_F(SyncIntegrationTest, AnOfflineClientEndsWithExactlyTheServersState) {
  StartStack();
  std::string org, other_org;
  const std::string admin = NewOrg(&org);
  const std::string other_admin = NewOrg(&other_org);
  const auto ann = As(org, NewUser(admin, "ann@acme.test"));
  const auto bea = As(org, NewUser(admin, "bea@acme.test"));
  const auto cy = As(other_org, NewUser(other_admin, "cy@other.test"));

  Workload mine(this, ann, 19), teammate(this, bea, 20), stranger(this, cy, 21);
  State client;
  std::string cursor;
  int synced = 0;
  // Bursts of changes with partial syncs in between (small and odd page
  // sizes, so pages end mid-burst and objects change between pages).
  for (int burst = 0; burst < 4; ++burst) {
    for (int k = 0; k < 90; ++k) {
      mine.Step();
      if (k % 6 == 0) teammate.Step();
      if (k % 9 == 0) stranger.Step();
    }
    for (int pages = 0; pages < 5; ++pages) {
      if (!SyncPage(ann, 3 + 11 * burst, &cursor, &client, &synced)) break;
    }
  }
  EXPECT_GE(mine.ok_, 250) << "calls " << mine.calls_;
  EXPECT_GE(mine.merges_, 5);

  // Eventually (events travel through Redis, reminders fire) the client
  // holds what the list routes answer.
  State server;
  const bool settled = WaitFor(
      [&] {
        while (SyncPage(ann, 100, &cursor, &client, &synced)) {
        }
        server = ServerState(ann);
        return Visible(client) == server;
      },
      std::chrono::seconds(60));
  const State visible = Visible(client);
  for (const auto& [type, objects] : server) {
    const auto& mirrored = visible.at(type);
    for (const auto& [id, json] : objects) {
      auto it = mirrored.find(id);
      if (it == mirrored.end()) {
        ADD_FAILURE() << type << " " << id << " missing from the client: " << json;
      } else {
        EXPECT_EQ(it->second, json) << type << " " << id;
      }
    }
    for (const auto& [id, json] : mirrored) {
      if (!objects.contains(id)) ADD_FAILURE() << type << " " << id << " only on the client: " << json;
    }
  }
  ASSERT_TRUE(settled);
  std::cout << "changes: " << mine.calls_ << " calls (" << mine.ok_ << " ok, " << mine.merges_ << " merges); synced "
            << synced << " changes;";
  for (const auto& [type, objects] : server) std::cout << " " << type << " " << objects.size();
  std::cout << "\n";
  // The workload touched every kind of object.
  for (const char* type :
       {"contact", "group", "membership", "interaction", "introduction", "reminder", "notification"}) {
    EXPECT_FALSE(server[type].empty()) << type;
  }

  // A fresh client from an empty cursor gets the same state in one walk.
  State fresh;
  std::string fresh_cursor;
  int fresh_changes = 0;
  while (SyncPage(ann, 1000, &fresh_cursor, &fresh, &fresh_changes)) {
  }
  EXPECT_EQ(Visible(fresh), server);

  // Nothing of the teammate's or the other org's ever reached ann.
  State theirs;
  std::string their_cursor;
  int their_changes = 0;
  while (SyncPage(bea, 1000, &their_cursor, &theirs, &their_changes)) {
  }
  EXPECT_GT(their_changes, 0);
  for (const auto& [type, objects] : theirs) {
    for (const auto& [id, json] : objects) EXPECT_FALSE(client[type].contains(id)) << type << " " << id;
  }
  EXPECT_EQ(Visible(theirs), ServerState(bea));
}

TEST_F(SyncIntegrationTest, BadInputCredentialsScopesAndAnExpiredCursor) {
  StartStack({{"RAPPORT_SYNC_RETENTION_SECONDS", "4"}});
  std::string org;
  const std::string admin = NewOrg(&org);
  const std::string ann_id = NewUser(admin, "ann@acme.test");
  const auto ann = As(org, ann_id);
  Ok<ppb::Contact>("POST", "/v1/contacts", ann, R"({"displayName":"Dee"})");

  // 400 naming the field.
  for (const char* query : {"?pageSize=1001", "?pageSize=-1", "?cursor=not-a-cursor", "?cursor=czE6eDox"}) {
    HttpResponse r = Call("GET", std::string("/v1/sync") + query, ann);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_NE(r.body.find(absl::StrContains(query, "cursor") ? "\"cursor\"" : "\"pageSize\""), std::string::npos)
        << r.body;
  }
  // 401 without a credential; 403 for a key without READ.
  EXPECT_EQ(Call("GET", "/v1/sync", {}).status, 401);
  auto key = Ok<ppb::ApiKeySecret>("POST", "/v1/apiKeys", {"X-Api-Key: " + admin, kJson},
                                   R"({"displayName":"wo","scopes":["WRITE","ACT_AS_USER"]})");
  EXPECT_EQ(Call("GET", "/v1/sync", {"X-Api-Key: " + key.secret(), "X-Rapport-User: " + ann_id}).status, 403);

  // The contact arrives; its cursor is good until the retention passes,
  // then 410 RESYNC_REQUIRED; an empty cursor starts again.
  std::string cursor;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto page = Ok<npb::SyncResponse>("GET", "/v1/sync", ann);
        cursor = page.next_cursor();
        return page.changes_size() == 1;
      },
      std::chrono::seconds(20)));
  HttpResponse fresh = Call("GET", "/v1/sync?cursor=" + cursor, ann);
  EXPECT_EQ(fresh.status, 200) << fresh.body;
  HttpResponse gone;
  ASSERT_TRUE(WaitFor(
      [&] {
        gone = Call("GET", "/v1/sync?cursor=" + cursor, ann);
        return gone.status != 200;
      },
      std::chrono::seconds(20)));
  EXPECT_EQ(gone.status, 410) << gone.body;
  EXPECT_NE(gone.body.find(R"("code":"RESYNC_REQUIRED")"), std::string::npos) << gone.body;
  EXPECT_NE(gone.Header("content-type").find("application/problem+json"), std::string::npos);
  EXPECT_EQ(Ok<npb::SyncResponse>("GET", "/v1/sync", ann).changes_size(), 1);
}

}  // namespace
}  // namespace rapport
