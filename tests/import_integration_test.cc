// Contact imports from the user's side: real redis-server, profiles,
// notifications and gateway binaries, files uploaded over HTTP as the raw
// body of POST /v1/imports. A LinkedIn export lands with exact counts and
// its skip report; importing it again creates nothing; broken files are
// clear 400s; the routes keep tenants apart (404 / 403 / 401); the 20 MiB
// limit is the upload route's alone; and a job survives kill -9 of profiles
// mid-import, resuming without doubling a row.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/http_client.h"
#include "services/common/time_util.h"
#include "tests/testing/sse_client.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace npb = ::rapport::notifications::v1;
using ::rapport::testing::SseClient;
using ::rapport::testing::Stack;
using ::rapport::testing::WaitFor;

constexpr char kJson[] = "Content-Type: application/json";

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(RAPPORT_SOURCE_DIR) + "/tests/fixtures/import/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <typename T>
T Parse(const HttpResponse& r) {
  T out;
  auto status = google::protobuf::util::JsonStringToMessage(r.body, &out);
  EXPECT_TRUE(status.ok()) << r.body;
  return out;
}

// A clean LinkedIn export of n distinct people (no quirks: every row creates).
std::string LinkedInRows(int n) {
  std::string out =
      "Notes:\r\n\"When exporting your connection data, you may notice that some of the email addresses are "
      "missing.\"\r\n\r\nFirst Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n";
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&out, "Person,Number ", i, ",https://www.linkedin.com/in/person-", i, ",",
                    (i % 3 == 0 ? "" : absl::StrCat("p", i, "@example.com")), ",\"Company ", i % 97,
                    ", Inc.\",Engineer,0", 1 + i % 9, " Mar 2024\r\n");
  }
  return out;
}

class ImportIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    StartProfiles();
    absl::Status s =
        stack_.StartGateway({{"RAPPORT_RATE_LIMIT_PER_MINUTE", "1000000"}, {"RAPPORT_RATE_LIMIT_BURST", "100000"}});
    ASSERT_TRUE(s.ok()) << s;
    url_ = stack_.GatewayUrl();
    admin_ = NewOrg("acme", &org_);
    user_ = NewUser(admin_, "ann@acme.test");
    me_ = {"X-Api-Key: " + NewKey(admin_, "READ\",\"WRITE\",\"ACT_AS_USER"), "X-Rapport-User: " + user_};
  }

  void StartProfiles() {
    // A short lease: after kill -9 the job resumes within a second.
    absl::Status s = stack_.Start("profiles", {{"RAPPORT_IMPORT_LEASE_MS", "1000"}});
    ASSERT_TRUE(s.ok()) << s;
  }

  HttpResponse Call(const std::string& method, const std::string& path, const std::vector<std::string>& headers,
                    const std::string& body = "") {
    HttpOptions options;
    options.timeout_ms = 60000;
    return HttpCall(method, url_ + path, headers, body, options);
  }

  std::string NewOrg(const std::string& name, std::string* org_id) {
    HttpResponse r = Call("POST", "/v1/orgs", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), kJson},
                          absl::StrCat(R"({"displayName":")", name, R"("})"));
    EXPECT_EQ(r.status, 200) << r.body;
    auto org = Parse<ppb::CreateOrgResponse>(r);
    *org_id = org.org().id();
    return org.admin_key().secret();
  }
  std::string NewUser(const std::string& admin_key, const std::string& email) {
    HttpResponse r = Call("POST", "/v1/users", {"X-Api-Key: " + admin_key, kJson},
                          absl::StrCat(R"({"displayName":"Ann","email":")", email, R"(","timezone":"UTC"})"));
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse<ppb::User>(r).id();
  }
  // scopes: the inside of a JSON list of strings without its outer quotes.
  std::string NewKey(const std::string& admin_key, const std::string& scopes) {
    HttpResponse r = Call("POST", "/v1/apiKeys", {"X-Api-Key: " + admin_key, kJson},
                          absl::StrCat(R"({"displayName":"app","scopes":[")", scopes, R"("]})"));
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse<ppb::ApiKeySecret>(r).secret();
  }

  HttpResponse Upload(const std::string& query, const std::string& file, const std::string& content_type = "text/csv") {
    std::vector<std::string> headers = me_;
    headers.push_back("Content-Type: " + content_type);
    return Call("POST", "/v1/imports" + query, headers, file);
  }

  // The import, or false while the gateway cannot reach profiles (a restart).
  bool TryGet(const std::string& id, ppb::Import* out) {
    HttpResponse r = Call("GET", "/v1/imports/" + id, me_);
    if (r.status == 503) return false;
    EXPECT_EQ(r.status, 200) << r.body;
    *out = Parse<ppb::Import>(r);
    return r.status == 200;
  }

  ppb::Import Get(const std::string& id) {
    HttpResponse r = Call("GET", "/v1/imports/" + id, me_);
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse<ppb::Import>(r);
  }

  // Waits (up to 180 s: a loaded CI machine) for the job to end and returns it.
  ppb::Import AwaitDone(const std::string& id) {
    ppb::Import import;
    EXPECT_TRUE(WaitFor(
        [&] {
          return TryGet(id, &import) &&
                 (import.state() == ppb::IMPORT_SUCCEEDED || import.state() == ppb::IMPORT_FAILED);
        },
        std::chrono::seconds(180)))
        << import.DebugString();
    return import;
  }

  // Every contact of the user, through the API.
  std::vector<ppb::Contact> Contacts() {
    std::vector<ppb::Contact> out;
    std::string token;
    do {
      HttpResponse r = Call("GET", "/v1/contacts?pageSize=100&pageToken=" + token, me_);
      EXPECT_EQ(r.status, 200) << r.body;
      auto page = Parse<ppb::ListContactsResponse>(r);
      for (auto& c : *page.mutable_contacts()) out.push_back(std::move(c));
      token = page.next_page_token();
    } while (!token.empty());
    return out;
  }

  static std::string Detail(const HttpResponse& r) {
    google::protobuf::Struct s;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &s).ok()) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json") << r.body;
    return r.body;
  }

  Stack stack_;
  std::string url_, org_, admin_, user_;
  std::vector<std::string> me_;
};

TEST_F(ImportIntegrationTest, LinkedInExportLandsWithExactCountsAndTheSecondImportCreatesNothing) {
  HttpResponse r = Upload("?fileName=Connections.csv", Fixture("linkedin_connections.csv"));
  ASSERT_EQ(r.status, 200) << r.body;
  ppb::Import accepted = Parse<ppb::Import>(r);
  EXPECT_EQ(accepted.format(), "linkedin");
  EXPECT_EQ(accepted.rows_total(), 1000);
  EXPECT_EQ(accepted.file_name(), "Connections.csv");
  ppb::Import done = AwaitDone(accepted.id());
  ASSERT_EQ(done.state(), ppb::IMPORT_SUCCEEDED) << done.error();
  EXPECT_EQ(done.rows_read(), 1000);
  EXPECT_EQ(done.created(), 997);
  EXPECT_EQ(done.merged(), 1);
  EXPECT_EQ(done.skipped(), 2);
  ASSERT_EQ(done.skips_size(), 2);
  EXPECT_TRUE(absl::StrContains(done.skips(0).reason(), "has 3 columns, the header has 7")) << done.skips(0).reason();
  EXPECT_TRUE(absl::StrContains(done.skips(1).reason(), "not valid UTF-8")) << done.skips(1).reason();

  std::vector<ppb::Contact> contacts = Contacts();
  ASSERT_EQ(contacts.size(), 997u);
  const ppb::Contact* fatima = nullptr;
  for (const auto& c : contacts) {
    if (c.links_size() > 0 && c.links(0) == "https://www.linkedin.com/in/fatima-dubois-1") fatima = &c;
  }
  ASSERT_NE(fatima, nullptr);
  EXPECT_EQ(fatima->display_name(), "Fatima Dubois");
  EXPECT_EQ(fatima->company(), "Wayne Enterprises");
  EXPECT_EQ(fatima->title(), "CTO");
  EXPECT_EQ(fatima->how_we_met(), "Connected on LinkedIn on 2023-08-07");

  // The user edits one contact; importing the same file again changes no
  // field the user wrote and creates nobody.
  HttpResponse edit = Call("PATCH", "/v1/contacts/" + fatima->id(), {me_[0], me_[1], kJson},
                           R"({"company":"Her own firm","tags":["mentor"]})");
  ASSERT_EQ(edit.status, 200) << edit.body;
  r = Upload("", Fixture("linkedin_connections.csv"));
  ASSERT_EQ(r.status, 200) << r.body;
  done = AwaitDone(Parse<ppb::Import>(r).id());
  EXPECT_EQ(done.created(), 0);
  EXPECT_EQ(done.merged(), 998);
  EXPECT_EQ(Contacts().size(), 997u);
  HttpResponse again = Call("GET", "/v1/contacts/" + fatima->id(), me_);
  auto after = Parse<ppb::Contact>(again);
  EXPECT_EQ(after.company(), "Her own firm");
  ASSERT_EQ(after.tags_size(), 2);  // the user's tag and the import's, unioned
  EXPECT_EQ(after.tags(0), "mentor");
  EXPECT_EQ(after.tags(1), "linkedin");

  // Both imports are listed, paged.
  HttpResponse list = Call("GET", "/v1/imports?pageSize=1", me_);
  ASSERT_EQ(list.status, 200) << list.body;
  auto page = Parse<ppb::ListImportsResponse>(list);
  ASSERT_EQ(page.imports_size(), 1);
  EXPECT_EQ(page.imports(0).id(), accepted.id());
  ASSERT_FALSE(page.next_page_token().empty());
  page =
      Parse<ppb::ListImportsResponse>(Call("GET", "/v1/imports?pageSize=1&pageToken=" + page.next_page_token(), me_));
  ASSERT_EQ(page.imports_size(), 1);
  EXPECT_TRUE(page.next_page_token().empty());
}

// Issue 18's round trip: what Rapport exports (vCard 4.0 and CSV) imports back
// into an empty account as the same contacts, every field either format
// carries.
TEST_F(ImportIntegrationTest, ExportedVcardAndCsvImportBackAsTheSameContacts) {
  const std::vector<std::string> bodies = {
      R"({"displayName":"Bob, Jr.","givenName":"Bob","familyName":"Stone","headline":"Builds bridges; ships","company":"Acme, Inc.","title":"CTO","emails":["bob@x.test","b.stone@y.test"],"phones":["+1 555 0100"],"links":["https://www.linkedin.com/in/bob-stone"],"location":"Lyon, France","birthday":{"month":4,"day":12},"tags":["climbing","mentor"],"seeking":["a co-founder"],"offering":["intros to investors"],"tier":"INNER","cadenceDays":10,"howWeMet":"A conference in 2019","notes":"Line one\nline two, with a comma"})",
      R"({"displayName":"Zoë Ünal","emails":["zoe@example.com"],"birthday":{"year":1992,"month":2,"day":29},"tier":"ACQUAINTANCE"})",
      R"({"displayName":"Plain"})",
  };
  for (const std::string& body : bodies) {
    std::vector<std::string> headers = me_;
    headers.push_back(kJson);
    HttpResponse r = Call("POST", "/v1/contacts", headers, body);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  auto comparable = [](std::vector<ppb::Contact> contacts) {
    for (ppb::Contact& c : contacts) {
      c.clear_id();
      c.clear_create_time();
      c.clear_update_time();
    }
    std::sort(contacts.begin(), contacts.end(),
              [](const ppb::Contact& a, const ppb::Contact& b) { return a.display_name() < b.display_name(); });
    return contacts;
  };
  const std::vector<ppb::Contact> original = comparable(Contacts());
  ASSERT_EQ(original.size(), bodies.size());

  for (const std::string format : {"vcard", "csv"}) {
    SCOPED_TRACE(format);
    HttpResponse file = Call("GET", std::string("/v1/contacts:export?format=") + format, me_);
    ASSERT_EQ(file.status, 200) << file.body;
    // Into an empty account: a new user of the same org.
    const std::vector<std::string> exporter = me_;
    me_ = {exporter[0], "X-Rapport-User: " + NewUser(admin_, absl::StrCat("empty-", format, "@acme.test"))};
    ASSERT_TRUE(Contacts().empty());
    HttpResponse r =
        Upload(std::string("?format=") + format, file.body, format == std::string("vcard") ? "text/vcard" : "text/csv");
    ASSERT_EQ(r.status, 200) << r.body;
    ppb::Import done = AwaitDone(Parse<ppb::Import>(r).id());
    ASSERT_EQ(done.state(), ppb::IMPORT_SUCCEEDED) << done.error();
    EXPECT_EQ(done.created(), static_cast<int64_t>(bodies.size())) << done.DebugString();
    EXPECT_EQ(done.skipped(), 0) << done.DebugString();
    const std::vector<ppb::Contact> imported = comparable(Contacts());
    ASSERT_EQ(imported.size(), original.size());
    for (size_t i = 0; i < original.size(); ++i) {
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(original[i], imported[i]))
          << "exported:\n"
          << original[i].DebugString() << "imported:\n"
          << imported[i].DebugString() << "file:\n"
          << file.body;
    }
    me_ = exporter;
  }
}

TEST_F(ImportIntegrationTest, VcardsAndMappedCsvThroughTheGateway) {
  HttpResponse r = Upload("", Fixture("apple.vcf"), "text/vcard");
  ASSERT_EQ(r.status, 200) << r.body;
  ppb::Import done = AwaitDone(Parse<ppb::Import>(r).id());
  EXPECT_EQ(done.format(), "vcard");
  EXPECT_EQ(done.created(), 2);
  r = Upload("?format=csv&map=" +
                 std::string("Full%20Name%3DdisplayName%2CWork%20Email%3Demails%2CEmployer%3Dcompany") + "&tag=nasa",
             Fixture("mapped.csv"));
  ASSERT_EQ(r.status, 200) << r.body;
  done = AwaitDone(Parse<ppb::Import>(r).id());
  EXPECT_EQ(done.created(), 2);
  HttpResponse found = Call("GET", "/v1/contacts?tag=nasa", me_);
  EXPECT_EQ(Parse<ppb::ListContactsResponse>(found).contacts_size(), 2);
}

TEST_F(ImportIntegrationTest, BrokenFilesAreClearErrorsOrRowSkips) {
  HttpResponse r = Upload("", "");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(absl::StrContains(Detail(r), "file: is empty")) << r.body;
  r = Upload("", Fixture("binary.png"), "image/png");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(absl::StrContains(Detail(r), "file: is binary")) << r.body;
  r = Upload("?format=xlsx", "a,b\n1,2\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(absl::StrContains(Detail(r), "format")) << r.body;
  r = Upload("?format=csv&map=Nope%3Dnickname", "a\n1\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(absl::StrContains(Detail(r), "map")) << r.body;
  r = Upload("?format=linkedin", Fixture("mapped.csv"));
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(absl::StrContains(Detail(r), "not a LinkedIn")) << r.body;
  // Row-level problems are skips with reasons, the good rows land.
  r = Upload("", Fixture("mismatched.csv"));
  ASSERT_EQ(r.status, 200) << r.body;
  ppb::Import done = AwaitDone(Parse<ppb::Import>(r).id());
  EXPECT_EQ(done.created(), 2);
  EXPECT_EQ(done.skipped(), 2);
  ASSERT_EQ(done.skips_size(), 2);
  EXPECT_EQ(done.skips(0).reason(), "row 2: has 2 columns, the header has 4");
  EXPECT_EQ(done.skips(1).reason(), "row 4: column 1 is not valid UTF-8");
  r = Upload("", Fixture("broken.vcf"), "text/vcard");
  ASSERT_EQ(r.status, 200) << r.body;
  done = AwaitDone(Parse<ppb::Import>(r).id());
  EXPECT_EQ(done.created(), 1);
  EXPECT_EQ(done.skipped(), 3);
}

TEST_F(ImportIntegrationTest, UploadLimitIsTheImportRouteAlone) {
  // Over 20 MiB: 413 before the body is read.
  HttpResponse r = Upload("", std::string(20 * 1024 * 1024 + 10, 'a'));
  EXPECT_EQ(r.status, 413) << r.body;
  // Every other route keeps the 1 MiB JSON limit.
  r = Call("POST", "/v1/contacts", {me_[0], me_[1], kJson},
           absl::StrCat(R"({"displayName":")", std::string(2 * 1024 * 1024, 'x'), R"("})"));
  EXPECT_EQ(r.status, 413) << r.body.substr(0, 200);
  // A file of several MiB is taken (the body is not JSON and need not be).
  std::string big = LinkedInRows(40000);
  ASSERT_GT(big.size(), 2u * 1024 * 1024);
  r = Upload("", big);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse<ppb::Import>(r).rows_total(), 40000);
}

TEST_F(ImportIntegrationTest, RoutesKeepTenantsApart) {
  HttpResponse r = Upload("", Fixture("google.vcf"), "text/vcard");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string id = Parse<ppb::Import>(r).id();
  AwaitDone(id);
  // Another org's user: 404, exactly like a missing id.
  std::string other_org;
  std::string other_admin = NewOrg("globex", &other_org);
  std::string other_user = NewUser(other_admin, "bo@globex.test");
  std::vector<std::string> other = {"X-Api-Key: " + NewKey(other_admin, "READ\",\"WRITE\",\"ACT_AS_USER"),
                                    "X-Rapport-User: " + other_user};
  r = Call("GET", "/v1/imports/" + id, other);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(Parse<ppb::ListImportsResponse>(Call("GET", "/v1/imports", other)).imports_size(), 0);
  // Another user of the same org: 404 too.
  std::string colleague = NewUser(admin_, "cy@acme.test");
  r = Call("GET", "/v1/imports/" + id, {me_[0], "X-Rapport-User: " + colleague});
  EXPECT_EQ(r.status, 404) << r.body;
  // A key without WRITE cannot import; one without READ cannot look.
  std::vector<std::string> reader = {"X-Api-Key: " + NewKey(admin_, "READ\",\"ACT_AS_USER"), "X-Rapport-User: " + user_,
                                     "Content-Type: text/csv"};
  r = Call("POST", "/v1/imports", reader, "Name\nA\n");
  EXPECT_EQ(r.status, 403) << r.body;
  std::vector<std::string> writer = {"X-Api-Key: " + NewKey(admin_, "WRITE\",\"ACT_AS_USER"),
                                     "X-Rapport-User: " + user_};
  EXPECT_EQ(Call("GET", "/v1/imports/" + id, writer).status, 403);
  EXPECT_EQ(Call("GET", "/v1/imports", writer).status, 403);
  // No credential: 401.
  EXPECT_EQ(Call("POST", "/v1/imports", {"Content-Type: text/csv"}, "Name\nA\n").status, 401);
  EXPECT_EQ(Call("GET", "/v1/imports/" + id, {}).status, 401);
  EXPECT_EQ(Call("GET", "/v1/imports", {}).status, 401);
}

TEST_F(ImportIntegrationTest, AJobSurvivesKill9OfProfilesAndNeverDoubles) {
  constexpr int kRows = 6000;  // 24 chunks
  HttpResponse r = Upload("", LinkedInRows(kRows));
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string id = Parse<ppb::Import>(r).id();
  // Kill profiles once some chunks, not all, are in.
  ppb::Import mid;
  ASSERT_TRUE(WaitFor(
      [&] {
        mid = Get(id);
        return mid.rows_read() >= 250;
      },
      std::chrono::seconds(60)));
  stack_.Kill9("profiles");
  ASSERT_LT(mid.rows_read(), kRows) << "the import ended before the kill; the test proves nothing";
  StartProfiles();
  ppb::Import done = AwaitDone(id);
  ASSERT_EQ(done.state(), ppb::IMPORT_SUCCEEDED) << done.error();
  EXPECT_EQ(done.rows_read(), kRows);
  EXPECT_EQ(done.created(), kRows);
  EXPECT_EQ(done.merged(), 0);
  EXPECT_EQ(done.skipped(), 0);
  EXPECT_EQ(static_cast<int>(Contacts().size()), kRows);
}

TEST_F(ImportIntegrationTest, ProgressArrivesOnTheLiveStreamChunkByChunk) {
  // Enough rows that the chunks' commits are spread over seconds: the stream
  // shows the entry's state when it reads, so chunks that commit faster
  // than notifications applies their events (600 rows in chunks of 20 took
  // under a second on a quiet machine) reach it as one update.
  stack_.Stop("profiles");
  absl::Status s = stack_.Start("profiles", {{"RAPPORT_IMPORT_CHUNK_ROWS", "200"}});
  ASSERT_TRUE(s.ok()) << s;
  s = stack_.Start("notifications");
  ASSERT_TRUE(s.ok()) << s;
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(stack_.Addr("gateway").substr(stack_.Addr("gateway").rfind(':') + 1), &port));
  // Notifications just started: the gateway's channel to it may still be
  // waiting out its reconnect backoff (503 until it connects).
  SseClient live;
  ASSERT_TRUE(WaitFor(
      [&] {
        live.Close();
        return live.Connect(port, "/v1/notifications:stream", me_) && live.ReadHead(std::chrono::seconds(10)) &&
               live.head().find("HTTP/1.1 200") != std::string::npos;
      },
      std::chrono::seconds(30)))
      << live.head();

  constexpr int kRows = 6000;  // 30 chunks
  HttpResponse r = Upload("?fileName=Connections.csv", LinkedInRows(kRows));
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string id = Parse<ppb::Import>(r).id();

  // One inbox entry for the import, seen again on the stream as chunks commit:
  // never going back, ending with the summary.
  std::vector<npb::Notification> seen;
  SseClient::Event e;
  while (seen.empty() || !absl::StartsWith(seen.back().title(), "Import of Connections.csv done")) {
    ASSERT_TRUE(live.Next(&e, std::chrono::seconds(120))) << "no progress after " << seen.size() << " updates";
    npb::Notification n;
    google::protobuf::util::JsonParseOptions lenient;
    lenient.ignore_unknown_fields = true;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(e.data, &n, lenient).ok()) << e.data;
    ASSERT_EQ(n.kind(), "import") << e.data;
    ASSERT_EQ(n.import_id(), id) << e.data;
    if (!seen.empty()) {
      EXPECT_EQ(n.id(), seen.front().id()) << "one entry per import";
      EXPECT_GT(TimestampToMicros(n.update_time()), TimestampToMicros(seen.back().update_time())) << e.data;
    }
    seen.push_back(n);
  }
  EXPECT_EQ(seen.back().body(), absl::StrCat(kRows, " rows: ", kRows, " created, 0 merged, 0 skipped"));
  int running = 0;
  for (const npb::Notification& n : seen) {
    if (absl::StartsWith(n.title(), "Importing Connections.csv")) ++running;
  }
  EXPECT_GE(running, 1) << "only the end reached the stream, not the progress";

  // The inbox keeps the one entry, at its final figures.
  HttpResponse inbox = Call("GET", "/v1/notifications", me_);
  ASSERT_EQ(inbox.status, 200) << inbox.body;
  npb::ListNotificationsResponse list;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(inbox.body, &list).ok()) << inbox.body;
  ASSERT_EQ(list.notifications_size(), 1) << inbox.body;
  EXPECT_EQ(list.notifications(0).body(), seen.back().body());
}

}  // namespace
}  // namespace rapport
