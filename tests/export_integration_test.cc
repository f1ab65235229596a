// Exports and erasure through the gateway, with real redis-server, service
// and gateway processes: the streamed contact export (vCard and CSV), the
// whole-account export job and its download, and erasure of a contact, a
// user and an org, checked through the API (404s, empty lists) and in each
// service's SQLite file directly.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gateway/auth.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/db.h"
#include "services/common/http_client.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
using ::rapport::testing::Stack;

constexpr char kJson[] = "Content-Type: application/json";

template <typename T>
T Parse(const HttpResponse& r) {
  T out;
  auto status = google::protobuf::util::JsonStringToMessage(r.body, &out);
  EXPECT_TRUE(status.ok()) << r.status << " " << r.body;
  return out;
}

std::string Field(const HttpResponse& r, const std::string& name) {
  google::protobuf::Struct s;
  if (!google::protobuf::util::JsonStringToMessage(r.body, &s).ok()) return "";
  auto it = s.fields().find(name);
  return it == s.fields().end() ? "" : it->second.string_value();
}

// Rows of table in a service's SQLite file matching `where` (with one
// parameter, the value).
int64_t CountRows(const std::string& db_path, const std::string& table, const std::string& where,
                  const std::string& value) {
  db::Options options;
  options.path = db_path;
  options.read_only = true;
  options.read_connections = 1;
  auto db = db::Open(options);
  if (!db.ok()) {
    ADD_FAILURE() << db.status();
    return -1;
  }
  int64_t n = -1;
  absl::Status s = (*db)->Read([&](db::Connection& conn) -> absl::Status {
    auto st = conn.Prepare(absl::StrCat("SELECT COUNT(*) FROM ", table, " WHERE ", where));
    st.Bind(1, value);
    auto row = st.Step();
    if (!row.ok()) return row.status();
    n = st.ColumnInt(0);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return n;
}

// The tables of a service's file that have the column.
std::vector<std::string> TablesWith(const std::string& db_path, const std::string& column) {
  db::Options options;
  options.path = db_path;
  options.read_only = true;
  options.read_connections = 1;
  auto db = db::Open(options);
  std::vector<std::string> out;
  if (!db.ok()) return out;
  absl::Status s = (*db)->Read([&](db::Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c WHERE m.type = 'table' AND c.name = ? "
        "ORDER BY m.name");
    st.Bind(1, column);
    for (;;) {
      auto row = st.Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back(st.ColumnText(0));
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

class ExportIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    for (const char* service : {"profiles", "interactions", "notifications", "recommendations"}) {
      absl::Status s = stack_.Start(service, {{"RAPPORT_WEBHOOK_ALLOW_PRIVATE", "1"}});
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

  static std::vector<std::string> Platform() { return {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), kJson}; }

  // A new org; its admin key's headers.
  std::vector<std::string> NewOrg(const std::string& name, std::string* org_id) {
    HttpResponse r = Call("POST", "/v1/orgs", Platform(), absl::StrCat(R"({"displayName":")", name, R"("})"));
    EXPECT_EQ(r.status, 200) << r.body;
    auto org = Parse<ppb::CreateOrgResponse>(r);
    *org_id = org.org().id();
    return {"X-Api-Key: " + org.admin_key().secret(), kJson};
  }

  std::string NewUser(const std::vector<std::string>& admin, const std::string& name) {
    HttpResponse r = Call(
        "POST", "/v1/users", admin,
        absl::StrCat(R"({"displayName":")", name, R"(","email":")", name, R"(@x.test","timezone":"Europe/Paris"})"));
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse<ppb::User>(r).id();
  }

  static std::vector<std::string> Token(const std::string& org, const std::string& user) {
    return {"Authorization: Bearer " + gateway::SignJwtHs256(absl::StrCat(R"({"sub":")", user, R"(","org":")", org,
                                                                          R"(","iss":"rapport","aud":"rapport","exp":)",
                                                                          absl::ToUnixSeconds(absl::Now()) + 600, "}"),
                                                             testing::kTestJwtSecret),
            kJson};
  }

  std::string NewContact(const std::vector<std::string>& auth, const std::string& json) {
    HttpResponse r = Call("POST", "/v1/contacts", auth, json);
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse<ppb::Contact>(r).id();
  }

  std::string DbPath(const std::string& service) const { return absl::StrCat(stack_.data_dir(), "/", service, ".db"); }

  Stack stack_;
  std::string url_;
};

TEST_F(ExportIntegrationTest, ContactsExportStreamsVCardAndCsvPagedAndIsolated) {
  std::string org, other_org;
  auto admin = NewOrg("Acme", &org);
  auto other_admin = NewOrg("Other", &other_org);
  const std::string ann = NewUser(admin, "ann");
  const std::string bob = NewUser(admin, "bob");
  const auto token = Token(org, ann);
  const std::string ada = NewContact(
      token,
      R"({"displayName":"Ada Lovelace, Countess","givenName":"Ada","familyName":"Lovelace","company":"Engines; Ltd",)"
      R"("title":"Analyst","emails":["ada@example.com","ada2@example.com"],"phones":["+44 20 7946 0000"],)"
      R"("links":["https://www.linkedin.com/in/ada"],"birthday":{"month":12,"day":10},"tags":["math"],)"
      R"("notes":"Line one\nLine \"two\"","tier":"CLOSE"})");
  // More than one page of kExportPageContacts (500).
  std::set<std::string> ids = {ada};
  for (int i = 0; i < 505; ++i) {
    ids.insert(NewContact(token, absl::StrCat(R"({"displayName":"Contact )", i, R"("})")));
  }
  NewContact(Token(org, bob), R"({"displayName":"Bob's own"})");

  HttpResponse r = Call("GET", "/v1/contacts:export", token);
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
  EXPECT_EQ(r.Header("content-type"), "text/vcard; charset=utf-8");
  EXPECT_EQ(r.Header("transfer-encoding"), "chunked");
  size_t cards = 0;
  for (size_t at = r.body.find("BEGIN:VCARD"); at != std::string::npos; at = r.body.find("BEGIN:VCARD", at + 1)) {
    ++cards;
  }
  EXPECT_EQ(cards, ids.size());
  for (const std::string& id : ids) EXPECT_TRUE(absl::StrContains(r.body, "UID:urn:rapport:contact:" + id)) << id;
  EXPECT_FALSE(absl::StrContains(r.body, "Bob's own"));  // another user's contacts stay theirs
  for (const char* line : {"FN:Ada Lovelace\\, Countess\r\n", "N:Lovelace;Ada;;;\r\n", "ORG:Engines\\; Ltd\r\n",
                           "EMAIL:ada2@example.com\r\n", "BDAY:--1210\r\n", "NOTE:Line one\\nLine \"two\"\r\n",
                           "X-RAPPORT-TIER:CLOSE\r\n"}) {
    EXPECT_TRUE(absl::StrContains(r.body, line)) << line;
  }
  EXPECT_TRUE(absl::EndsWith(r.body, "END:VCARD\r\n"));

  r = Call("GET", "/v1/contacts:export?format=csv", token);
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
  EXPECT_EQ(r.Header("content-type"), "text/csv; charset=utf-8; header=present");
  EXPECT_TRUE(absl::StartsWith(r.body, "id,displayName,givenName,familyName,headline,company,title,emails,"));
  for (const std::string& id : ids) EXPECT_TRUE(absl::StrContains(r.body, id + ",")) << id;
  EXPECT_TRUE(absl::StrContains(r.body,
                                "\"Ada Lovelace, Countess\",Ada,Lovelace,,Engines; Ltd,Analyst,"
                                "\"ada@example.com\nada2@example.com\""));
  EXPECT_TRUE(absl::StrContains(r.body, "\"Line one\nLine \"\"two\"\"\""));

  // Each export is in the org's audit log, with its format and who asked.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        HttpResponse log = Call("GET", "/v1/audit?action=contacts.exported", admin);
        return log.status == 200 && absl::StrContains(log.body, "format: vcard") &&
               absl::StrContains(log.body, "format: csv") && absl::StrContains(log.body, "user:" + ann);
      },
      std::chrono::seconds(15)))
      << Call("GET", "/v1/audit", admin).body;

  // Bad format: a problem naming the field; nothing streamed.
  r = Call("GET", "/v1/contacts:export?format=xlsx", token);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.Header("content-type"), "application/problem+json");
  EXPECT_TRUE(absl::StrContains(r.body, "format")) << r.body;
  // No credentials: 401; a key without READ: 403; another org's user: its own (empty) export.
  EXPECT_EQ(Call("GET", "/v1/contacts:export", {}).status, 401);
  HttpResponse key = Call("POST", "/v1/apiKeys", admin, R"({"displayName":"w","scopes":["WRITE","ACT_AS_USER"]})");
  ASSERT_EQ(key.status, 200) << key.body;
  EXPECT_EQ(Call("GET", "/v1/contacts:export",
                 {"X-Api-Key: " + Parse<ppb::ApiKeySecret>(key).secret(), "X-Rapport-User: " + ann})
                .status,
            403);
  const std::string stranger = NewUser(other_admin, "sam");
  r = Call("GET", "/v1/contacts:export", Token(other_org, stranger));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
}

TEST_F(ExportIntegrationTest, AccountExportThenErasureOfContactUserAndOrg) {
  std::string org, other_org;
  auto admin = NewOrg("Acme", &org);
  auto other_admin = NewOrg("Other", &other_org);
  const std::string ann = NewUser(admin, "ann");
  const std::string vic = NewUser(admin, "vic");
  const std::string sam = NewUser(other_admin, "sam");
  const auto token = Token(org, ann);

  // Ann's data in every service.
  const std::string zed = NewContact(
      token, R"({"displayName":"Zed Zebra","company":"Initech","title":"CTO","visibility":"ORG","notes":"private"})");
  const std::string yan = NewContact(token, R"({"displayName":"Yan Yak","company":"Globex"})");
  const std::string kim = NewContact(token, R"({"displayName":"Kim Koala"})");
  HttpResponse group = Call("POST", "/v1/groups", token, R"({"displayName":"Alumni","kind":"ALUMNI"})");
  ASSERT_EQ(group.status, 200) << group.body;
  ASSERT_EQ(Call("PUT", "/v1/groups/" + Field(group, "id") + "/members/" + zed, token, R"({"role":"MEMBER"})").status,
            200);
  const std::string now = absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone());
  ASSERT_EQ(Call("POST", "/v1/interactions", token,
                 absl::StrCat(R"({"kind":"MEETING","direction":"MUTUAL","contactIds":[")", zed, R"("],"occurredAt":")",
                              now, R"(","summary":"coffee"})"))
                .status,
            200);
  ASSERT_EQ(Call("POST", "/v1/introductions", token,
                 absl::StrCat(R"({"mode":"CONNECT","contactAId":")", zed, R"(","contactBId":")", yan, R"("})"))
                .status,
            200);
  const std::string due = absl::FormatTime(absl::RFC3339_sec, absl::Now() + absl::Hours(48), absl::UTCTimeZone());
  HttpResponse reminder = Call("POST", "/v1/reminders", token,
                               absl::StrCat(R"({"contactId":")", kim, R"(","dueTime":")", due, R"(","note":"call"})"));
  ASSERT_EQ(reminder.status, 200) << reminder.body;
  ASSERT_EQ(Call("POST", "/v1/webhooks", token, R"({"url":"http://127.0.0.1:9/in","description":"mine"})").status, 200);

  // --- the whole-account export ---
  HttpResponse job = Call("POST", "/v1/me:export", token, "{}");
  ASSERT_EQ(job.status, 200) << job.body;
  const std::string export_id = Field(job, "id");
  ASSERT_FALSE(export_id.empty());
  EXPECT_EQ(Field(job, "state"), "PENDING");
  HttpResponse state;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        state = Call("GET", "/v1/exports/" + export_id, token);
        return Field(state, "state") == "SUCCEEDED" || Field(state, "state") == "FAILED";
      },
      std::chrono::seconds(20)));
  ASSERT_EQ(Field(state, "state"), "SUCCEEDED") << state.body;
  HttpResponse file = Call("GET", "/v1/exports/" + export_id + ":download", token);
  ASSERT_EQ(file.status, 200) << file.body;
  EXPECT_EQ(file.Header("content-type"), "application/x-ndjson");
  std::map<std::string, int> kinds;
  for (absl::string_view line : absl::StrSplit(file.body, '\n', absl::SkipEmpty())) {
    google::protobuf::Struct s;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &s).ok()) << line;
    ++kinds[s.fields().at("type").string_value()];
  }
  for (const auto& [kind, n] : std::map<std::string, int>{{"export", 1},
                                                          {"profile", 1},
                                                          {"contact", 3},
                                                          {"group", 1},
                                                          {"groupMember", 1},
                                                          {"interaction", 1},
                                                          {"introduction", 1},
                                                          {"reminder", 1},
                                                          {"webhook", 1}}) {
    EXPECT_EQ(kinds[kind], n) << kind << " in\n" << file.body;
  }
  EXPECT_GE(kinds["ledgerEntry"], 1);
  EXPECT_GE(kinds["workflow"], 1);                                     // the built-in ones
  EXPECT_TRUE(absl::StrContains(file.body, "\"notes\":\"private\""));  // notes are the user's own
  EXPECT_FALSE(absl::StrContains(file.body, "whsec_"));                // never a webhook secret
  // The export is the owner's: another user, another org, no credential.
  EXPECT_EQ(Call("GET", "/v1/exports/" + export_id, Token(org, vic)).status, 404);
  EXPECT_EQ(Call("GET", "/v1/exports/" + export_id, Token(other_org, sam)).status, 404);
  EXPECT_EQ(Call("GET", "/v1/exports/" + export_id + ":download", Token(other_org, sam)).status, 404);
  EXPECT_EQ(Call("GET", "/v1/exports/" + export_id, {}).status, 401);
  EXPECT_EQ(Call("POST", "/v1/me:export", {kJson}, "{}").status, 401);

  // --- erasing one contact: nothing about Kim stays in notifications, nor
  // her interactions (one with Kim alone) in interactions ---
  HttpResponse call = Call("POST", "/v1/interactions", token,
                           absl::StrCat(R"({"kind":"EMAIL","direction":"GAVE","contactIds":[")", kim,
                                        R"("],"occurredAt":")", now, R"(","summary":"about Kim"})"));
  ASSERT_EQ(call.status, 200) << call.body;
  ASSERT_EQ(Call("DELETE", "/v1/contacts/" + kim, token).status, 200);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return CountRows(DbPath("notifications"), "reminders", "user_id = ?", ann) == 0 &&
               CountRows(DbPath("notifications"), "timers", "contact_id = ?", kim) == 0;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(Call("GET", "/v1/reminders", token).body.find(Field(reminder, "id")), std::string::npos);
  EXPECT_TRUE(
      testing::WaitFor([&] { return Call("GET", "/v1/interactions/" + Field(call, "id"), token).status == 404; },
                       std::chrono::seconds(10)));
  EXPECT_EQ(CountRows(DbPath("interactions"), "interaction_contacts", "contact_id = ?", kim), 0);

  // A teammate finds Initech through Ann's ORG-visible contact, for now.
  const auto vic_token = Token(org, vic);
  ASSERT_TRUE(
      testing::WaitFor([&] { return absl::StrContains(Call("GET", "/v1/paths?company=initech", vic_token).body, zed); },
                       std::chrono::seconds(10)));

  HttpResponse key = Call("POST", "/v1/apiKeys", admin, R"({"displayName":"app","scopes":["READ","ACT_AS_USER"]})");
  ASSERT_EQ(key.status, 200) << key.body;
  const std::vector<std::string> act_as_ann = {"X-Api-Key: " + Parse<ppb::ApiKeySecret>(key).secret(),
                                               "X-Rapport-User: " + ann};
  EXPECT_EQ(Call("GET", "/v1/contacts", act_as_ann).status, 200);

  // --- erasing the user: only their own org's admin may ---
  EXPECT_EQ(Call("DELETE", "/v1/users/" + ann, {}).status, 401);
  EXPECT_EQ(Call("DELETE", "/v1/users/" + ann, token).status, 403);
  EXPECT_EQ(Call("DELETE", "/v1/users/" + ann, other_admin).status, 404);
  ASSERT_EQ(Call("DELETE", "/v1/users/" + ann, admin).status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/users/" + ann, admin).status, 404);  // gone already
  EXPECT_EQ(Call("GET", "/v1/users/" + ann, admin).status, 404);
  // Every service's rows of Ann go; the teammate's warm path through her too.
  for (const char* service : {"profiles", "interactions", "notifications"}) {
    const std::vector<std::string> tables = TablesWith(DbPath(service), "user_id");
    ASSERT_FALSE(tables.empty()) << service;
    for (const std::string& table : tables) {
      if (table == "erased_subjects") continue;  // the tombstone: ids only
      EXPECT_TRUE(testing::WaitFor([&] { return CountRows(DbPath(service), table, "user_id = ?", ann) == 0; },
                                   std::chrono::seconds(10)))
          << service << "." << table << " keeps " << CountRows(DbPath(service), table, "user_id = ?", ann)
          << " rows of the erased user";
    }
  }
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        HttpResponse p = Call("GET", "/v1/paths?company=initech", vic_token);
        return p.status == 200 && !absl::StrContains(p.body, zed);
      },
      std::chrono::seconds(10)));
  // A key acting as her is refused once the gateway's user cache expires;
  // her contact is nobody's.
  EXPECT_TRUE(testing::WaitFor([&] { return Call("GET", "/v1/contacts", act_as_ann).status == 403; },
                               std::chrono::seconds(15)));
  EXPECT_EQ(Call("GET", "/v1/contacts/" + zed, Token(org, vic)).status, 404);

  // --- erasing the org: the platform admin only ---
  EXPECT_EQ(Call("DELETE", "/v1/orgs/" + org, {}).status, 401);
  EXPECT_EQ(Call("DELETE", "/v1/orgs/" + org, admin).status, 403);
  EXPECT_EQ(Call("DELETE", "/v1/orgs/" + org, other_admin).status, 403);
  ASSERT_EQ(Call("DELETE", "/v1/orgs/" + org, Platform()).status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/orgs/" + org, Platform()).status, 404);
  // The org's log went with it; the platform's log says it was erased.
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        HttpResponse log = Call("GET", "/v1/platform/audit?action=org.erased", Platform());
        return log.status == 200 && absl::StrContains(log.body, org);
      },
      std::chrono::seconds(15)))
      << Call("GET", "/v1/platform/audit?action=org.erased", Platform()).body;
  EXPECT_FALSE(absl::StrContains(Call("GET", "/v1/audit", other_admin).body, "org.erased"));
  // The platform's log is the platform admin's alone.
  EXPECT_EQ(Call("GET", "/v1/platform/audit", other_admin).status, 403);
  EXPECT_EQ(Call("GET", "/v1/platform/audit", {}).status, 401);
  for (const char* service : {"profiles", "interactions", "notifications"}) {
    for (const std::string& table : TablesWith(DbPath(service), "org_id")) {
      if (table == "erased_subjects" || table == "processed_events") continue;  // ids only
      // The outbox keeps org.deleted itself until relayed and pruned: it holds the id only.
      const std::string where = table == "outbox" ? "org_id = ? AND type <> 'org.deleted'" : "org_id = ?";
      EXPECT_TRUE(testing::WaitFor([&] { return CountRows(DbPath(service), table, where, org) == 0; },
                                   std::chrono::seconds(10)))
          << service << "." << table << " keeps rows of the erased org";
    }
  }
  EXPECT_TRUE(
      testing::WaitFor([&] { return Call("GET", "/v1/users", admin).status == 401; }, std::chrono::seconds(15)));
  // The other org is untouched.
  EXPECT_EQ(Call("GET", "/v1/users/" + sam, other_admin).status, 200);
}

}  // namespace
}  // namespace rapport
