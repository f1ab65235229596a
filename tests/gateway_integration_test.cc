// End-to-end tests of the HTTP/JSON gateway: a real redis-server, the real
// profiles, interactions and gateway binaries, and HTTP through libcurl.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "gateway/auth.h"
#include "gateway/backends.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/api/v1/annotations.pb.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/crypto.h"
#include "services/common/http_client.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
namespace npb = ::rapport::notifications::v1;
using ::rapport::HttpCall;
using ::rapport::HttpResponse;
using ::rapport::testing::Stack;

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

google::protobuf::Struct Problem(const HttpResponse& r) {
  EXPECT_EQ(r.Header("content-type"), "application/problem+json") << r.body;
  google::protobuf::Struct s = Parse<google::protobuf::Struct>(r);
  EXPECT_EQ(static_cast<long>(s.fields().at("status").number_value()), r.status);
  EXPECT_EQ(s.fields().at("requestId").string_value(), r.Header("x-request-id"));
  return s;
}

class GatewayIntegrationTest : public ::testing::Test {
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

  // A new org through the platform admin key; returns its admin key secret.
  std::string NewOrg(const std::string& name, std::string* org_id = nullptr) {
    HttpResponse r = Call("POST", "/v1/orgs", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), kJson},
                          absl::StrCat(R"({"displayName":")", name, R"("})"));
    EXPECT_EQ(r.status, 200) << r.body;
    auto org = Parse<ppb::CreateOrgResponse>(r);
    if (org_id != nullptr) *org_id = org.org().id();
    return org.admin_key().secret();
  }

  // /metrics needs the platform admin key.
  static std::string AdminKey() { return absl::StrCat("X-Api-Key: ", testing::kTestAdminKey); }

  std::string NewUser(const std::string& admin_key, const std::string& email) {
    HttpResponse r = Call("POST", "/v1/users", {"X-Api-Key: " + admin_key, kJson},
                          absl::StrCat(R"({"displayName":"Ann","email":")", email, R"(","timezone":"Europe/Paris"})"));
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse<ppb::User>(r).id();
  }

  static std::string Jwt(const std::string& org, const std::string& user) {
    return gateway::SignJwtHs256(
        absl::StrCat(R"({"sub":")", user, R"(","org":")", org, R"(","iss":"rapport","aud":"rapport","exp":)",
                     absl::ToUnixSeconds(absl::Now()) + 300, "}"),
        testing::kTestJwtSecret);
  }

  // Restarts the gateway with rate limits out of the way, for tests making
  // many calls with one credential; extra_env adds variables.
  void RestartGatewayWithoutLimits(std::map<std::string, std::string> extra_env = {}) {
    stack_.Stop("gateway");
    extra_env["RAPPORT_RATE_LIMIT_PER_MINUTE"] = "1000000";
    extra_env["RAPPORT_RATE_LIMIT_BURST"] = "100000";
    absl::Status s = stack_.StartGateway(extra_env);
    ASSERT_TRUE(s.ok()) << s;
  }

  // JWT claims for user in org, expiring exp_in_seconds from now.
  static std::string Claims(const std::string& org, const std::string& user, int64_t exp_in_seconds,
                            const std::string& aud = "rapport", const std::string& iss = "rapport") {
    return absl::StrCat(R"({"sub":")", user, R"(","org":")", org, R"(","iss":")", iss, R"(","aud":")", aud,
                        R"(","exp":)", absl::ToUnixSeconds(absl::Now()) + exp_in_seconds, "}");
  }

  Stack stack_;
  std::string url_;
};

// A fresh 2048-bit RSA key pair and its public half as PEM.
struct RsaKey {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, EVP_PKEY_free};
  std::string public_pem;
};

RsaKey NewRsaKey() {
  RsaKey out;
  out.key.reset(EVP_RSA_gen(2048));
  if (out.key == nullptr) return out;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (PEM_write_bio_PUBKEY(bio.get(), out.key.get()) == 1) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    out.public_pem.assign(data, static_cast<size_t>(n));
  }
  return out;
}

std::string SignJwtRs256(const std::string& payload_json, EVP_PKEY* key,
                         const std::string& header_json = R"({"alg":"RS256","typ":"JWT"})") {
  const std::string input = absl::WebSafeBase64Escape(header_json) + "." + absl::WebSafeBase64Escape(payload_json);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &len, data, input.size()) != 1) {
    return "";
  }
  std::string signature(len, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(signature.data()), &len, data, input.size()) != 1) {
    return "";
  }
  signature.resize(len);
  return input + "." + absl::WebSafeBase64Escape(signature);
}

// Services on the gateway's host may listen on unix sockets (a unix: address):
// a contact is created and read back through the gateway with profiles and
// interactions on sockets in the data directory.
TEST(GatewayOverUnixSocketsTest, ServesContactsFromServicesOnUnixSockets) {
  Stack stack;
  stack.UseUnixSocket("profiles");
  stack.UseUnixSocket("interactions");
  ASSERT_TRUE(stack.redis().Start().ok());
  ASSERT_TRUE(stack.Start("profiles").ok());
  ASSERT_TRUE(stack.Start("interactions").ok());
  ASSERT_TRUE(std::filesystem::exists(stack.data_dir() + "/profiles.sock"));
  absl::Status s = stack.StartGateway();
  ASSERT_TRUE(s.ok()) << s;
  const std::string url = stack.GatewayUrl();

  HttpResponse org = HttpCall("POST", url + "/v1/orgs", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), kJson},
                              R"({"displayName":"Sockets"})");
  ASSERT_EQ(org.status, 200) << org.body;
  const std::string admin = Parse<ppb::CreateOrgResponse>(org).admin_key().secret();
  HttpResponse user = HttpCall("POST", url + "/v1/users", {"X-Api-Key: " + admin, kJson},
                               R"({"displayName":"Ann","email":"ann@sockets.test","timezone":"Europe/Paris"})");
  ASSERT_EQ(user.status, 200) << user.body;
  const std::vector<std::string> as_ann = {"X-Api-Key: " + admin, "X-Rapport-User: " + Parse<ppb::User>(user).id()};

  std::vector<std::string> post = as_ann;
  post.push_back(kJson);
  HttpResponse created = HttpCall("POST", url + "/v1/contacts", post, R"({"displayName":"Grace Hopper"})");
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string id = Parse<ppb::Contact>(created).id();
  HttpResponse read = HttpCall("GET", url + "/v1/contacts/" + id, as_ann);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(Parse<ppb::Contact>(read).display_name(), "Grace Hopper");
  HttpResponse ledger = HttpCall("GET", url + "/v1/contacts/" + id + "/ledger", as_ann);
  EXPECT_EQ(ledger.status, 200) << ledger.body;  // interactions, over its own socket
}

TEST_F(GatewayIntegrationTest, AdminActsAsUserThroughTheContactLifecycle) {
  const std::string admin = NewOrg("acme");
  const std::string user = NewUser(admin, "ann@acme.test");
  const std::vector<std::string> as_user = {"X-Api-Key: " + admin, "X-Rapport-User: " + user, kJson};

  HttpResponse created = Call("POST", "/v1/contacts", as_user,
                              R"({"displayName":"Bob","tier":"INNER","tags":["mentor"],"howWeMet":"school"})");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_FALSE(created.Header("x-request-id").empty());
  auto bob = Parse<ppb::Contact>(created);
  EXPECT_FALSE(bob.id().empty());
  EXPECT_EQ(bob.tier(), ppb::INNER);
  EXPECT_EQ(bob.effective_cadence_days(), 14);
  EXPECT_TRUE(bob.has_create_time());

  HttpResponse got = Call("GET", "/v1/contacts/" + bob.id(), as_user);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(Parse<ppb::Contact>(got).display_name(), "Bob");

  // PATCH changes only the fields in the body.
  HttpResponse patched = Call("PATCH", "/v1/contacts/" + bob.id(), as_user, R"({"company":"Initech"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  auto after = Parse<ppb::Contact>(patched);
  EXPECT_EQ(after.company(), "Initech");
  EXPECT_EQ(after.display_name(), "Bob");
  EXPECT_EQ(after.how_we_met(), "school");
  EXPECT_EQ(after.tags_size(), 1);

  ASSERT_EQ(Call("POST", "/v1/contacts", as_user, R"({"displayName":"Carol"})").status, 200);
  HttpResponse page1 = Call("GET", "/v1/contacts?pageSize=1", as_user);
  ASSERT_EQ(page1.status, 200) << page1.body;
  auto list1 = Parse<ppb::ListContactsResponse>(page1);
  ASSERT_EQ(list1.contacts_size(), 1);
  ASSERT_FALSE(list1.next_page_token().empty());
  HttpResponse page2 = Call("GET", "/v1/contacts?pageSize=1&pageToken=" + list1.next_page_token(), as_user);
  ASSERT_EQ(page2.status, 200) << page2.body;
  auto list2 = Parse<ppb::ListContactsResponse>(page2);
  ASSERT_EQ(list2.contacts_size(), 1);
  EXPECT_NE(list2.contacts(0).id(), list1.contacts(0).id());
  auto filtered = Parse<ppb::ListContactsResponse>(Call("GET", "/v1/contacts?tag=mentor&tier=INNER", as_user));
  ASSERT_EQ(filtered.contacts_size(), 1);
  EXPECT_EQ(filtered.contacts(0).id(), bob.id());

  HttpResponse deleted = Call("DELETE", "/v1/contacts/" + bob.id(), as_user);
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  HttpResponse gone = Call("GET", "/v1/contacts/" + bob.id(), as_user);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(Problem(gone).fields().at("code").string_value(), "NOT_FOUND");
}

TEST_F(GatewayIntegrationTest, UserTokenLogsInteractionsIdempotentlyAndReadsTheLedger) {
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string user = NewUser(admin, "ann@acme.test");
  const std::vector<std::string> as_user = {"Authorization: Bearer " + Jwt(org, user), kJson};

  HttpResponse me = Call("GET", "/v1/me", as_user);
  ASSERT_EQ(me.status, 200) << me.body;
  auto bob = Parse<ppb::Contact>(Call("POST", "/v1/contacts", as_user, R"({"displayName":"Bob","tier":"CLOSE"})"));
  ASSERT_FALSE(bob.id().empty());

  const std::string body =
      absl::StrCat(R"({"kind":"MEETING","direction":"GAVE","contactIds":[")", bob.id(), R"("],"summary":"coffee"})");
  std::vector<std::string> with_key = as_user;
  with_key.push_back("Idempotency-Key: log-1");
  HttpResponse first = Call("POST", "/v1/interactions", with_key, body);
  ASSERT_EQ(first.status, 200) << first.body;
  HttpResponse replay = Call("POST", "/v1/interactions", with_key, body);
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(Parse<ipb::Interaction>(replay).id(), Parse<ipb::Interaction>(first).id());
  HttpResponse other = Call("POST", "/v1/interactions", with_key,
                            absl::StrCat(R"({"kind":"CALL","direction":"GAVE","contactIds":[")", bob.id(), R"("]})"));
  EXPECT_EQ(other.status, 422) << other.body;
  Problem(other);

  HttpResponse ledger = Call("GET", "/v1/contacts/" + bob.id() + "/ledger", as_user);
  ASSERT_EQ(ledger.status, 200) << ledger.body;
  auto entry = Parse<ipb::LedgerEntry>(ledger);
  EXPECT_DOUBLE_EQ(entry.given(), 3.0);  // one MEETING, counted once
  EXPECT_EQ(entry.interaction_count(), 1);
  EXPECT_EQ(entry.cadence_days(), 30);

  auto listed = Parse<ipb::ListInteractionsResponse>(
      Call("GET", "/v1/interactions?kind=MEETING&contactId=" + bob.id() + "&after=2000-01-01T00:00:00Z", as_user));
  EXPECT_EQ(listed.interactions_size(), 1);

  // A token signed with another secret, or expired, is refused.
  std::vector<std::string> forged = {
      "Authorization: Bearer " +
      gateway::SignJwtHs256(R"({"sub":"u","org":"o","iss":"rapport","aud":"rapport","exp":9999999999})", "wrong")};
  EXPECT_EQ(Call("GET", "/v1/me", forged).status, 401);
}

TEST_F(GatewayIntegrationTest, ErrorsAreProblemsWithTheRightStatus) {
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string user = NewUser(admin, "ann@acme.test");
  const std::vector<std::string> as_user = {"X-Api-Key: " + admin, "X-Rapport-User: " + user, kJson};

  // 401 without credentials or with a bad key; the request id is echoed.
  HttpResponse none = Call("GET", "/v1/contacts", {"X-Request-Id: req-123"});
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.Header("x-request-id"), "req-123");
  EXPECT_EQ(Problem(none).fields().at("code").string_value(), "UNAUTHENTICATED");
  EXPECT_EQ(Call("GET", "/v1/contacts", {"X-Api-Key: rpk.nope"}).status, 401);

  // 403: a read-only key may not create; an org key may not create orgs.
  HttpResponse key = Call("POST", "/v1/apiKeys", {"X-Api-Key: " + admin, kJson},
                          R"({"displayName":"reader","scopes":["READ","ACT_AS_USER"]})");
  ASSERT_EQ(key.status, 200) << key.body;
  const std::string reader = Parse<ppb::ApiKeySecret>(key).secret();
  EXPECT_EQ(Call("GET", "/v1/contacts", {"X-Api-Key: " + reader, "X-Rapport-User: " + user}).status, 200);
  HttpResponse denied = Call("POST", "/v1/contacts", {"X-Api-Key: " + reader, "X-Rapport-User: " + user, kJson},
                             R"({"displayName":"Bob"})");
  EXPECT_EQ(denied.status, 403) << denied.body;
  Problem(denied);
  EXPECT_EQ(Call("POST", "/v1/orgs", {"X-Api-Key: " + admin, kJson}, R"({"displayName":"x"})").status, 403);

  // 404 for another org's contact.
  const std::string other_admin = NewOrg("globex");
  const std::string other_user = NewUser(other_admin, "zed@globex.test");
  auto theirs = Parse<ppb::Contact>(Call("POST", "/v1/contacts",
                                         {"X-Api-Key: " + other_admin, "X-Rapport-User: " + other_user, kJson},
                                         R"({"displayName":"Secret"})"));
  ASSERT_FALSE(theirs.id().empty());
  EXPECT_EQ(Call("GET", "/v1/contacts/" + theirs.id(), as_user).status, 404);
  EXPECT_EQ(Call("GET", "/v1/contacts/" + theirs.id() + "/ledger", as_user).status, 404);
  // A batch lookup leaves another org's contact out, and names a bad id.
  HttpResponse batch =
      Call("POST", "/v1/contacts:batchGet", as_user, absl::StrCat(R"({"contactIds":[")", theirs.id(), R"("]})"));
  ASSERT_EQ(batch.status, 200) << batch.body;
  EXPECT_EQ(Parse<ppb::BatchGetContactsResponse>(batch).contacts_size(), 0);
  HttpResponse bad_batch = Call("POST", "/v1/contacts:batchGet", as_user, R"({"contactIds":["ok","Not An Id"]})");
  ASSERT_EQ(bad_batch.status, 400) << bad_batch.body;
  EXPECT_EQ(Problem(bad_batch)
                .fields()
                .at("violations")
                .list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("field")
                .string_value(),
            "contactIds[1]");
  EXPECT_EQ(Call("POST", "/v1/contacts:batchGet", as_user, R"({"contactIds":[]})").status, 400);

  // 400 with violations from the service, and for an unknown field.
  HttpResponse bad = Call("POST", "/v1/contacts", as_user, R"({"displayName":"","emails":["not-an-email"]})");
  ASSERT_EQ(bad.status, 400) << bad.body;
  google::protobuf::Struct problem = Problem(bad);
  EXPECT_EQ(problem.fields().at("code").string_value(), "INVALID_ARGUMENT");
  const auto& violations = problem.fields().at("violations").list_value().values();
  ASSERT_GE(violations.size(), 2);
  EXPECT_FALSE(violations[0].struct_value().fields().at("field").string_value().empty());
  HttpResponse unknown = Call("POST", "/v1/contacts", as_user, R"({"displayName":"Bob","orgId":"x"})");
  ASSERT_EQ(unknown.status, 400) << unknown.body;
  EXPECT_EQ(Problem(unknown)
                .fields()
                .at("violations")
                .list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("field")
                .string_value(),
            "contact.orgId");
  EXPECT_EQ(Call("POST", "/v1/contacts", as_user, R"({"displayName":)").status, 400);
  EXPECT_EQ(Call("GET", "/v1/contacts?pageSize=lots", as_user).status, 400);

  // 413 for a 2 MiB body, 415 for text/plain, 404/405 for unknown routes.
  HttpResponse big =
      Call("POST", "/v1/contacts", as_user, absl::StrCat(R"({"displayName":")", std::string(2 << 20, 'a'), R"("})"));
  EXPECT_EQ(big.status, 413) << big.error;
  HttpResponse plain =
      Call("POST", "/v1/contacts", {"X-Api-Key: " + admin, "X-Rapport-User: " + user, "Content-Type: text/plain"},
           "displayName=Bob");
  EXPECT_EQ(plain.status, 415);
  Problem(plain);
  EXPECT_EQ(Call("GET", "/v1/nothing", as_user).status, 404);
  HttpResponse wrong_method = Call("PUT", "/v1/contacts/x", as_user, "{}");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.Header("allow"), "DELETE, GET, PATCH");
  // X-Rapport-User must name a user of the key's org.
  EXPECT_EQ(Call("GET", "/v1/contacts", {"X-Api-Key: " + admin, "X-Rapport-User: " + other_user}).status, 403);
  EXPECT_EQ(Call("GET", "/v1/contacts", {"X-Api-Key: " + admin, "X-Rapport-User: nobody"}).status, 403);
  // X-Rapport-User needs ACT_AS_USER: the platform key has no org and no such scope.
  EXPECT_EQ(
      Call("GET", "/v1/contacts", {"X-Api-Key: " + std::string(testing::kTestAdminKey), "X-Rapport-User: " + user})
          .status,
      403);
}

TEST_F(GatewayIntegrationTest, OperationsEndpoints) {
  HttpResponse openapi = Call("GET", "/openapi.json", {});
  ASSERT_EQ(openapi.status, 200);
  auto doc = Parse<google::protobuf::Struct>(openapi);
  const auto& paths = doc.fields().at("paths").struct_value().fields();
  ASSERT_TRUE(paths.count("/v1/contacts"));
  EXPECT_TRUE(paths.at("/v1/contacts").struct_value().fields().count("post"));
  EXPECT_TRUE(paths.at("/v1/contacts").struct_value().fields().at("post").struct_value().fields().count("requestBody"));
  ASSERT_TRUE(paths.count("/v1/contacts/{contactId}"));
  EXPECT_TRUE(paths.count("/v1/introductions/{id}:respond"));

  EXPECT_EQ(Call("GET", "/healthz", {}).status, 200);
  // Ready means every backend answers, recommendations included.
  EXPECT_EQ(Call("GET", "/readyz", {}).status, 503);
  ASSERT_TRUE(stack_.Start("recommendations").ok());
  EXPECT_TRUE(testing::WaitFor([&] { return Call("GET", "/readyz", {}).status == 200; }, std::chrono::seconds(5)));
  HttpResponse metrics = Call("GET", "/metrics", {AdminKey()});
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("rapport_gateway_requests_total{code=\"200\",route=\"/readyz\"} 1\n"), std::string::npos)
      << metrics.body;

  // A backend down: not ready, and its routes answer 503 without leaking why.
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string user = NewUser(admin, "ann@acme.test");
  stack_.Stop("interactions");
  // /readyz is checked at most once a second: not ready within that.
  EXPECT_TRUE(testing::WaitFor([&] { return Call("GET", "/readyz", {}).status == 503; }, std::chrono::seconds(5)));
  HttpResponse down = Call("GET", "/v1/interactions", {"Authorization: Bearer " + Jwt(org, user)});
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(Problem(down).fields().at("code").string_value(), "UNAVAILABLE");
  EXPECT_EQ(Call("GET", "/v1/contacts", {"Authorization: Bearer " + Jwt(org, user)}).status, 200);
  // ... and the failed backend calls are counted.
  metrics = Call("GET", "/metrics", {AdminKey()});
  EXPECT_NE(
      metrics.body.find("rapport_gateway_backend_errors_total{code=\"UNAVAILABLE\",service=\"rapport.interactions.v1."
                        "InteractionsService\"} 1\n"),
      std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("rapport_gateway_requests_total{code=\"503\",route=\"GET /v1/interactions\"} 1\n"),
            std::string::npos)
      << metrics.body;
}

TEST_F(GatewayIntegrationTest, HungBackendAnswers504AtTheDeadline) {
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string user = NewUser(admin, "ann@acme.test");
  const std::string auth = "Authorization: Bearer " + Jwt(org, user);
  stack_.Stop("gateway");
  ASSERT_TRUE(stack_.StartGateway({{"RAPPORT_BACKEND_DEADLINE_MS", "300"}}).ok());
  ASSERT_EQ(Call("GET", "/v1/interactions", {auth}).status, 200);

  // interactions hangs (stopped, its socket still open): the call ends at the deadline.
  stack_.Signal("interactions", SIGSTOP);
  const auto start = std::chrono::steady_clock::now();
  HttpResponse hung = Call("GET", "/v1/interactions", {auth});
  const auto took = std::chrono::steady_clock::now() - start;
  stack_.Signal("interactions", SIGCONT);
  EXPECT_EQ(hung.status, 504) << hung.body;
  EXPECT_EQ(Problem(hung).fields().at("code").string_value(), "DEADLINE_EXCEEDED");
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_NE(Call("GET", "/metrics", {AdminKey()})
                .body.find(
                    "rapport_gateway_backend_errors_total{code=\"DEADLINE_EXCEEDED\",service=\"rapport.interactions.v1."
                    "InteractionsService\"} 1\n"),
            std::string::npos);
  // Resumed, it answers again.
  EXPECT_TRUE(
      testing::WaitFor([&] { return Call("GET", "/v1/interactions", {auth}).status == 200; }, std::chrono::seconds(5)));
}

TEST_F(GatewayIntegrationTest, RateLimitsPerCredentialAndAnswersAllowedOrigins) {
  stack_.Stop("gateway");
  absl::Status s = stack_.StartGateway({{"RAPPORT_RATE_LIMIT_PER_MINUTE", "6"},
                                        {"RAPPORT_RATE_LIMIT_BURST", "3"},
                                        {"RAPPORT_CORS_ORIGINS", "https://app.example"}});
  ASSERT_TRUE(s.ok()) << s;
  const std::string admin = NewOrg("acme");
  const std::string user = NewUser(admin, "ann@acme.test");
  const std::vector<std::string> as_user = {"X-Api-Key: " + admin, "X-Rapport-User: " + user};
  // The admin key spent 1 of its 3 tokens creating the user.
  HttpResponse second = Call("GET", "/v1/contacts", as_user);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.Header("x-ratelimit-limit"), "6");
  EXPECT_EQ(Call("GET", "/v1/contacts", as_user).status, 200);
  HttpResponse limited = Call("GET", "/v1/contacts", as_user);
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(Problem(limited).fields().at("code").string_value(), "RESOURCE_EXHAUSTED");
  EXPECT_FALSE(limited.Header("retry-after").empty());
  EXPECT_EQ(limited.Header("x-ratelimit-remaining"), "0");
  // Another credential (the platform key) has its own bucket.
  EXPECT_EQ(Call("POST", "/v1/orgs", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), kJson},
                 R"({"displayName":"globex"})")
                .status,
            200);

  HttpResponse preflight =
      Call("OPTIONS", "/v1/contacts", {"Origin: https://app.example", "Access-Control-Request-Method: POST"});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.Header("access-control-allow-origin"), "https://app.example");
  EXPECT_NE(preflight.Header("access-control-allow-headers").find("X-Api-Key"), std::string::npos);
  HttpResponse cross = Call("GET", "/healthz", {"Origin: https://app.example"});
  EXPECT_EQ(cross.Header("access-control-allow-origin"), "https://app.example");
  HttpResponse foreign = Call("GET", "/healthz", {"Origin: https://evil.example"});
  EXPECT_EQ(foreign.Header("access-control-allow-origin"), "");
}

// An event stream opened on a raw socket: the connection, and the answer's
// head (status line and headers) once it arrived.
struct RawStream {
  int fd = -1;
  std::string head;
  ~RawStream() {
    if (fd >= 0) close(fd);
  }
};

std::unique_ptr<RawStream> OpenStreamWith(int port, const std::string& credential_headers);

std::unique_ptr<RawStream> OpenStream(int port, const std::string& token) {
  return OpenStreamWith(port, absl::StrCat("Authorization: Bearer ", token, "\r\n"));
}

// credential_headers: header lines, each ending in CRLF.
std::unique_ptr<RawStream> OpenStreamWith(int port, const std::string& credential_headers) {
  auto stream = std::make_unique<RawStream>();
  stream->fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(stream->fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) return stream;
  const std::string request =
      absl::StrCat("GET /v1/notifications:stream HTTP/1.1\r\nHost: gateway\r\n", credential_headers, "\r\n");
  if (send(stream->fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    return stream;
  }
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{stream->fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = recv(stream->fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  stream->head = got.substr(0, got.find("\r\n\r\n"));
  return stream;
}

// One credential holds at most its share of the connection cap as open event
// streams: past it, 429 with Retry-After, while another user's streams open;
// closing one makes room again.
TEST_F(GatewayIntegrationTest, EventStreamsPastACredentialsShareAre429) {
  stack_.Stop("gateway");
  // 20 connections, 10 %: 2 streams per credential. The test's address is a
  // trusted proxy, so its connections count against the cap only.
  ASSERT_TRUE(stack_
                  .StartGateway({{"RAPPORT_MAX_CONNECTIONS", "20"},
                                 {"RAPPORT_CLIENT_SHARE_PERCENT", "10"},
                                 {"RAPPORT_TRUSTED_PROXIES", "127.0.0.1"}})
                  .ok());
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(stack_.Addr("gateway").substr(stack_.Addr("gateway").rfind(':') + 1), &port));
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string ann = Jwt(org, NewUser(admin, "ann@acme.test"));
  const std::string bob = Jwt(org, NewUser(admin, "bob@acme.test"));

  std::vector<std::unique_ptr<RawStream>> open;
  for (int i = 0; i < 2; ++i) {
    open.push_back(OpenStream(port, ann));
    ASSERT_EQ(open.back()->head.rfind("HTTP/1.1 200", 0), 0u) << open.back()->head;
  }
  std::unique_ptr<RawStream> third = OpenStream(port, ann);
  EXPECT_EQ(third->head.rfind("HTTP/1.1 429", 0), 0u) << third->head;
  EXPECT_NE(third->head.find("Retry-After: 1"), std::string::npos) << third->head;
  EXPECT_NE(third->head.find("application/problem+json"), std::string::npos) << third->head;
  // Another user is not refused for ann's streams.
  std::unique_ptr<RawStream> other = OpenStream(port, bob);
  EXPECT_EQ(other->head.rfind("HTTP/1.1 200", 0), 0u) << other->head;
  // One of ann's closed: she gets a stream again once the gateway saw it go.
  open.pop_back();
  std::unique_ptr<RawStream> again;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        again = OpenStream(port, ann);
        return again->head.rfind("HTTP/1.1 200", 0) == 0;
      },
      std::chrono::seconds(10)))
      << again->head;
  HttpResponse metrics = Call("GET", "/metrics", {AdminKey()});
  EXPECT_NE(metrics.body.find("rapport_gateway_share_refusals_total{kind=\"stream\"} "), std::string::npos)
      << metrics.body;
}

// A revoked API key's open event streams end within 10 s, with a final
// `event: error` saying why; another credential's stream stays open. Before
// the gateway re-checked the credential of open streams, the stream went on
// (heartbeats) after the revocation and this test failed.
TEST_F(GatewayIntegrationTest, RevokedKeysEventStreamsCloseWithinTenSeconds) {
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(stack_.Addr("gateway").substr(stack_.Addr("gateway").rfind(':') + 1), &port));
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string user = NewUser(admin, "ann@acme.test");
  HttpResponse created = Call("POST", "/v1/apiKeys", {"X-Api-Key: " + admin, kJson},
                              R"({"displayName":"app","scopes":["READ","WRITE","ACT_AS_USER"]})");
  ASSERT_EQ(created.status, 200) << created.body;
  auto key = Parse<ppb::ApiKeySecret>(created);
  const std::string with_key = absl::StrCat("X-Api-Key: ", key.secret(), "\r\nX-Rapport-User: ", user, "\r\n");
  std::unique_ptr<RawStream> revoked_stream = OpenStreamWith(port, with_key);
  ASSERT_EQ(revoked_stream->head.rfind("HTTP/1.1 200", 0), 0u) << revoked_stream->head;
  std::unique_ptr<RawStream> other = OpenStream(port, Jwt(org, user));
  ASSERT_EQ(other->head.rfind("HTTP/1.1 200", 0), 0u) << other->head;

  ASSERT_EQ(Call("DELETE", "/v1/apiKeys/" + key.api_key().id(), {"X-Api-Key: " + admin}).status, 200);
  const auto revoked_at = std::chrono::steady_clock::now();
  // Read until the gateway closes the stream.
  std::string got;
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() - revoked_at < std::chrono::seconds(15)) {
    pollfd p{revoked_stream->fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = recv(revoked_stream->fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      closed = true;
    } else {
      got.append(buf, static_cast<size_t>(n));
    }
  }
  const auto took = std::chrono::steady_clock::now() - revoked_at;
  ASSERT_TRUE(closed) << got;
  EXPECT_LE(took, std::chrono::seconds(10));
  EXPECT_NE(got.find("event: error\n"), std::string::npos) << got;
  EXPECT_NE(got.find("UNAUTHENTICATED"), std::string::npos) << got;
  // The token's stream is still open: nothing to read but heartbeats.
  pollfd p{other->fd, POLLIN, 0};
  if (poll(&p, 1, 0) > 0) {
    char buf[4096];
    EXPECT_GT(recv(other->fd, buf, sizeof(buf), MSG_DONTWAIT), 0);
  }
}

// Guessing API keys from one address: after the burst of refused keys, new
// keys get 429 with Retry-After without reaching profiles, while a key
// verified before keeps working.
TEST_F(GatewayIntegrationTest, KeyGuessingFromOneAddressIs429) {
  stack_.Stop("gateway");
  absl::Status s = stack_.StartGateway({{"RAPPORT_FAILED_KEYS_PER_MINUTE", "6"}, {"RAPPORT_FAILED_KEYS_BURST", "3"}});
  ASSERT_TRUE(s.ok()) << s;
  const std::string admin = NewOrg("acme");
  ASSERT_EQ(Call("GET", "/v1/apiKeys", {"X-Api-Key: " + admin}).status, 200);
  for (int i = 0; i < 3; ++i) {
    HttpResponse refused = Call("GET", "/v1/contacts", {absl::StrCat("X-Api-Key: rpk_guess", i)});
    EXPECT_EQ(refused.status, 401) << refused.body;
  }
  HttpResponse limited = Call("GET", "/v1/contacts", {"X-Api-Key: rpk_guess3"});
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(Problem(limited).fields().at("code").string_value(), "RESOURCE_EXHAUSTED");
  int retry_after = 0;
  EXPECT_TRUE(absl::SimpleAtoi(limited.Header("retry-after"), &retry_after)) << limited.Header("retry-after");
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 10);
  // Three lookups reached profiles, the fourth did not.
  HttpResponse metrics = Call("GET", "/metrics", {AdminKey()});
  EXPECT_NE(metrics.body.find("rapport_gateway_backend_errors_total{code=\"UNAUTHENTICATED\",service=\"rapport."
                              "profiles.v1.ProfilesService\"} 3"),
            std::string::npos)
      << metrics.body;
  // The key verified before still works from the same address.
  EXPECT_EQ(Call("GET", "/v1/apiKeys", {"X-Api-Key: " + admin}).status, 200);
}

// Behind a trusted proxy (the test, on 127.0.0.1) the throttle counts the
// address X-Forwarded-For names: one client's guesses do not lock out another
// behind the same proxy, and a client cannot escape by writing the header.
TEST_F(GatewayIntegrationTest, BehindATrustedProxyKeyGuessingIsCountedPerForwardedClient) {
  stack_.Stop("gateway");
  absl::Status s = stack_.StartGateway({{"RAPPORT_FAILED_KEYS_PER_MINUTE", "6"},
                                        {"RAPPORT_FAILED_KEYS_BURST", "2"},
                                        {"RAPPORT_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"}});
  ASSERT_TRUE(s.ok()) << s;
  auto guess = [&](int i, const std::string& forwarded_for) {
    return Call("GET", "/v1/contacts", {absl::StrCat("X-Api-Key: rpk_guess", i), "X-Forwarded-For: " + forwarded_for})
        .status;
  };
  EXPECT_EQ(guess(0, "203.0.113.5"), 401);
  // What the client wrote itself, left of what the proxies appended, is ignored.
  EXPECT_EQ(guess(1, "198.51.100.77, 203.0.113.5, 10.0.0.2"), 401);
  EXPECT_EQ(guess(2, "198.51.100.78, 203.0.113.5"), 429);
  // Another client behind the same proxy still gets its lookups.
  EXPECT_EQ(guess(3, "203.0.113.6"), 401);
}

// Every way of presenting a bad credential is a 401 problem, never a 403 or 500.
TEST_F(GatewayIntegrationTest, EachAuthFailureIs401) {
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string user = NewUser(admin, "ann@acme.test");
  const std::string secret = testing::kTestJwtSecret;
  ASSERT_EQ(Call("GET", "/v1/me", {"Authorization: Bearer " + Jwt(org, user)}).status, 200);

  const std::string none_header = R"({"alg":"none","typ":"JWT"})";
  const std::string unsigned_none =
      absl::StrCat(absl::WebSafeBase64Escape(none_header), ".", absl::WebSafeBase64Escape(Claims(org, user, 300)), ".");
  const std::string no_exp =
      absl::StrCat(R"({"sub":")", user, R"(","org":")", org, R"(","iss":"rapport","aud":"rapport"})");
  const std::string future_nbf =
      absl::StrCat(R"({"sub":")", user, R"(","org":")", org, R"(","iss":"rapport","aud":"rapport","nbf":)",
                   absl::ToUnixSeconds(absl::Now()) + 600, R"(,"exp":)", absl::ToUnixSeconds(absl::Now()) + 900, "}");
  const std::string valid = Jwt(org, user);
  struct Case {
    const char* name;
    std::vector<std::string> headers;
  };
  const std::vector<Case> cases = {
      {"no credentials", {}},
      {"bad key", {"X-Api-Key: rpk_not-a-key"}},
      {"empty bearer", {"Authorization: Bearer "}},
      {"basic auth", {"Authorization: Basic dXNlcjpwYXNz"}},
      {"garbage token", {"Authorization: Bearer not.a.jwt"}},
      {"two parts", {"Authorization: Bearer " + valid.substr(0, valid.rfind('.'))}},
      {"tampered signature",
       {"Authorization: Bearer " + valid.substr(0, valid.size() - 2) + (valid.back() == 'A' ? "BB" : "AA")}},
      {"expired", {"Authorization: Bearer " + gateway::SignJwtHs256(Claims(org, user, -120), secret)}},
      {"no exp", {"Authorization: Bearer " + gateway::SignJwtHs256(no_exp, secret)}},
      {"lives longer than 24 h",
       {"Authorization: Bearer " + gateway::SignJwtHs256(Claims(org, user, 2 * 86400), secret)}},
      {"not yet valid", {"Authorization: Bearer " + gateway::SignJwtHs256(future_nbf, secret)}},
      {"wrong audience",
       {"Authorization: Bearer " + gateway::SignJwtHs256(Claims(org, user, 300, "someone-else"), secret)}},
      {"wrong issuer",
       {"Authorization: Bearer " + gateway::SignJwtHs256(Claims(org, user, 300, "rapport", "evil"), secret)}},
      {"alg none unsigned", {"Authorization: Bearer " + unsigned_none}},
      {"alg none signed",
       {"Authorization: Bearer " + gateway::SignJwtHs256(Claims(org, user, 300), secret, none_header)}},
      {"alg None signed",
       {"Authorization: Bearer " +
        gateway::SignJwtHs256(Claims(org, user, 300), secret, R"({"alg":"None","typ":"JWT"})")}},
      // HS/RS confusion: an RS256-headed token whose "signature" is an HMAC under the shared secret.
      {"RS256 header, HMAC signature",
       {"Authorization: Bearer " +
        gateway::SignJwtHs256(Claims(org, user, 300), secret, R"({"alg":"RS256","typ":"JWT"})")}},
      {"HS512 header",
       {"Authorization: Bearer " +
        gateway::SignJwtHs256(Claims(org, user, 300), secret, R"({"alg":"HS512","typ":"JWT"})")}},
      {"wrong secret", {"Authorization: Bearer " + gateway::SignJwtHs256(Claims(org, user, 300), "not-the-secret")}},
      {"no org claim",
       {"Authorization: Bearer " +
        gateway::SignJwtHs256(absl::StrCat(R"({"sub":")", user, R"(","iss":"rapport","aud":"rapport","exp":)",
                                           absl::ToUnixSeconds(absl::Now()) + 300, "}"),
                              secret)}},
      {"key and token together", {"X-Api-Key: " + admin, "Authorization: Bearer " + valid}},
  };
  for (const Case& c : cases) {
    HttpResponse r = Call("GET", "/v1/me", c.headers);
    EXPECT_EQ(r.status, 401) << c.name << ": " << r.body;
    if (r.status == 401) {
      EXPECT_EQ(Problem(r).fields().at("code").string_value(), "UNAUTHENTICATED") << c.name;
    }
  }
}

// DELETE /v1/apiKeys/{id}: the key works before, and is refused within the
// 5 s verdict cache (plus a margin for the request itself) after.
TEST_F(GatewayIntegrationTest, RevokedKeyIsRefusedWithinFiveSeconds) {
  const std::string admin = NewOrg("acme");
  const std::string user = NewUser(admin, "ann@acme.test");
  HttpResponse created = Call("POST", "/v1/apiKeys", {"X-Api-Key: " + admin, kJson},
                              R"({"displayName":"app","scopes":["READ","WRITE","ACT_AS_USER"]})");
  ASSERT_EQ(created.status, 200) << created.body;
  auto key = Parse<ppb::ApiKeySecret>(created);
  ASSERT_FALSE(key.secret().empty());
  const std::vector<std::string> with_key = {"X-Api-Key: " + key.secret(), "X-Rapport-User: " + user};
  ASSERT_EQ(Call("GET", "/v1/contacts", with_key).status, 200);  // now cached as valid

  HttpResponse revoked = Call("DELETE", "/v1/apiKeys/" + key.api_key().id(), {"X-Api-Key: " + admin});
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_TRUE(Parse<ppb::RevokeApiKeyResponse>(revoked).api_key().has_revoke_time());
  const absl::Time revoke_time = absl::Now();
  long status = 200;
  while (absl::Now() - revoke_time < absl::Seconds(7)) {
    status = Call("GET", "/v1/contacts", with_key).status;
    if (status != 200) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  const absl::Duration took = absl::Now() - revoke_time;
  EXPECT_EQ(status, 401);
  EXPECT_LE(took, absl::Seconds(5) + absl::Milliseconds(500));
  // Stays refused, and GET /v1/apiKeys shows the revocation.
  EXPECT_EQ(Call("GET", "/v1/contacts", with_key).status, 401);
  auto keys = Parse<ppb::ListApiKeysResponse>(Call("GET", "/v1/apiKeys", {"X-Api-Key: " + admin}));
  bool found = false;
  for (const auto& k : keys.api_keys()) {
    if (k.id() == key.api_key().id()) {
      found = true;
      EXPECT_TRUE(k.has_revoke_time());
    }
  }
  EXPECT_TRUE(found);
}

// With an RS256 public key configured, RS256 is pinned: a real RS256 token
// works; HS256 tokens (under the old secret, or under the public key's PEM as
// an HMAC secret, the classic confusion) are refused.
TEST_F(GatewayIntegrationTest, Rs256PinnedRefusesHs256AndConfusedTokens) {
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string user = NewUser(admin, "ann@acme.test");
  RsaKey rsa = NewRsaKey();
  ASSERT_NE(rsa.key, nullptr);
  ASSERT_FALSE(rsa.public_pem.empty());
  const std::string pem_file = stack_.data_dir() + "/jwt_public.pem";
  std::ofstream(pem_file) << rsa.public_pem;
  RestartGatewayWithoutLimits({{"RAPPORT_JWT_PUBLIC_KEY_FILE", pem_file}});

  HttpResponse ok =
      Call("GET", "/v1/me", {"Authorization: Bearer " + SignJwtRs256(Claims(org, user, 300), rsa.key.get())});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Parse<ppb::Profile>(ok).user_id(), user);

  RsaKey other = NewRsaKey();
  ASSERT_NE(other.key, nullptr);
  const std::map<std::string, std::string> refused = {
      {"HS256 under the shared secret", gateway::SignJwtHs256(Claims(org, user, 300), testing::kTestJwtSecret)},
      {"HS256 under the public key PEM", gateway::SignJwtHs256(Claims(org, user, 300), rsa.public_pem)},
      {"RS256 header, HMAC under the PEM",
       gateway::SignJwtHs256(Claims(org, user, 300), rsa.public_pem, R"({"alg":"RS256","typ":"JWT"})")},
      {"RS256 by another key", SignJwtRs256(Claims(org, user, 300), other.key.get())},
      {"RS256 expired", SignJwtRs256(Claims(org, user, -120), rsa.key.get())},
      {"RS256 wrong audience", SignJwtRs256(Claims(org, user, 300, "someone-else"), rsa.key.get())},
      {"RS256 key, alg none header", SignJwtRs256(Claims(org, user, 300), rsa.key.get(), R"({"alg":"none"})")},
  };
  for (const auto& [name, token] : refused) {
    HttpResponse r = Call("GET", "/v1/me", {"Authorization: Bearer " + token});
    EXPECT_EQ(r.status, 401) << name << ": " << r.body;
  }
}

// Each credential reaches only the routes of its scopes: 403 otherwise.
TEST_F(GatewayIntegrationTest, MissingScopeIs403) {
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string user = NewUser(admin, "ann@acme.test");
  auto key_with = [&](const std::string& scopes) {
    HttpResponse r = Call("POST", "/v1/apiKeys", {"X-Api-Key: " + admin, kJson},
                          absl::StrCat(R"({"displayName":"k","scopes":)", scopes, "}"));
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse<ppb::ApiKeySecret>(r).secret();
  };
  const std::string writer = key_with(R"(["WRITE","ACT_AS_USER"])");
  const std::string reader = key_with(R"(["READ","ACT_AS_USER"])");
  const std::string org_admin_only = key_with(R"(["ADMIN"])");
  const std::string token = "Authorization: Bearer " + Jwt(org, user);
  struct Case {
    const char* name;
    std::string method, path;
    std::vector<std::string> headers;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"write-only key reads", "GET", "/v1/contacts", {"X-Api-Key: " + writer, "X-Rapport-User: " + user}, ""},
      {"read-only key writes",
       "POST",
       "/v1/groups",
       {"X-Api-Key: " + reader, "X-Rapport-User: " + user, kJson},
       R"({"displayName":"g"})"},
      {"read-only key patches me",
       "PATCH",
       "/v1/me",
       {"X-Api-Key: " + reader, "X-Rapport-User: " + user, kJson},
       R"({"headline":"x"})"},
      {"read-only key logs",
       "POST",
       "/v1/interactions",
       {"X-Api-Key: " + reader, "X-Rapport-User: " + user, kJson},
       R"({"kind":"CALL","direction":"GAVE","contactIds":["c"]})"},
      {"user token lists users", "GET", "/v1/users", {token}, ""},
      {"user token creates keys", "POST", "/v1/apiKeys", {token, kJson}, R"({"displayName":"k","scopes":["READ"]})"},
      {"user token revokes keys", "DELETE", "/v1/apiKeys/k1", {token}, ""},
      {"user token creates orgs", "POST", "/v1/orgs", {token, kJson}, R"({"displayName":"x"})"},
      {"admin-only key reads contacts", "GET", "/v1/contacts", {"X-Api-Key: " + org_admin_only}, ""},
      {"admin-only key acts as user",
       "GET",
       "/v1/contacts",
       {"X-Api-Key: " + org_admin_only, "X-Rapport-User: " + user},
       ""},
      {"org admin creates orgs", "POST", "/v1/orgs", {"X-Api-Key: " + admin, kJson}, R"({"displayName":"x"})"},
      {"platform key lists users", "GET", "/v1/users", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey)}, ""},
      {"platform key reads contacts", "GET", "/v1/contacts", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey)}, ""},
      {"token with X-Rapport-User", "GET", "/v1/contacts", {token, "X-Rapport-User: " + user}, ""},
  };
  for (const Case& c : cases) {
    HttpResponse r = Call(c.method, c.path, c.headers, c.body);
    EXPECT_EQ(r.status, 403) << c.name << ": " << r.body;
    if (r.status == 403) {
      EXPECT_EQ(Problem(r).fields().at("code").string_value(), "PERMISSION_DENIED") << c.name;
    }
  }
  // The same keys within their scopes work.
  EXPECT_EQ(Call("GET", "/v1/users", {"X-Api-Key: " + org_admin_only}).status, 200);
  EXPECT_EQ(Call("GET", "/v1/contacts", {"X-Api-Key: " + reader, "X-Rapport-User: " + user}).status, 200);
  EXPECT_EQ(
      Call("POST", "/v1/groups", {"X-Api-Key: " + writer, "X-Rapport-User: " + user, kJson}, R"({"displayName":"g"})")
          .status,
      200);
}

// Org B cannot read, change or delete org A's contacts, groups, memberships,
// interactions, ledger or introductions: 404 like a missing id, and A's
// objects are unchanged afterwards.
TEST_F(GatewayIntegrationTest, AnotherOrgsObjectsAre404) {
  std::string org_a, org_b;
  const std::string admin_a = NewOrg("acme", &org_a);
  const std::string user_a = NewUser(admin_a, "ann@acme.test");
  const std::string admin_b = NewOrg("globex", &org_b);
  const std::string user_b = NewUser(admin_b, "zed@globex.test");
  const std::vector<std::string> a = {"Authorization: Bearer " + Jwt(org_a, user_a), kJson};
  // B both as a user token and as its org admin acting as its user.
  const std::vector<std::vector<std::string>> bs = {
      {"Authorization: Bearer " + Jwt(org_b, user_b), kJson},
      {"X-Api-Key: " + admin_b, "X-Rapport-User: " + user_b, kJson},
  };

  auto contact = Parse<ppb::Contact>(Call("POST", "/v1/contacts", a, R"({"displayName":"Bob","company":"Initech"})"));
  auto contact2 = Parse<ppb::Contact>(Call("POST", "/v1/contacts", a, R"({"displayName":"Carol"})"));
  auto group = Parse<ppb::Group>(Call("POST", "/v1/groups", a, R"({"displayName":"Alumni","kind":"ALUMNI"})"));
  ASSERT_EQ(Call("PUT", "/v1/groups/" + group.id() + "/members/" + contact.id(), a, R"({"role":"LEADER"})").status,
            200);
  auto interaction = Parse<ipb::Interaction>(Call(
      "POST", "/v1/interactions", a,
      absl::StrCat(R"({"kind":"CALL","direction":"GAVE","contactIds":[")", contact.id(), R"("],"summary":"hi"})")));
  auto intro = Parse<ipb::Introduction>(Call("POST", "/v1/introductions", a,
                                             absl::StrCat(R"({"mode":"CONNECT","contactAId":")", contact.id(),
                                                          R"(","contactBId":")", contact2.id(), R"("})")));
  ASSERT_FALSE(contact.id().empty());
  ASSERT_FALSE(group.id().empty());
  ASSERT_FALSE(interaction.id().empty());
  ASSERT_FALSE(intro.id().empty());

  struct Case {
    std::string method, path, body;
  };
  const std::vector<Case> cases = {
      {"GET", "/v1/contacts/" + contact.id(), ""},
      {"PATCH", "/v1/contacts/" + contact.id(), R"({"company":"Hacked"})"},
      {"DELETE", "/v1/contacts/" + contact.id(), ""},
      {"GET", "/v1/contacts/" + contact.id() + "/groups", ""},
      {"GET", "/v1/contacts/" + contact.id() + "/ledger", ""},
      {"GET", "/v1/groups/" + group.id(), ""},
      {"PATCH", "/v1/groups/" + group.id(), R"({"description":"Hacked"})"},
      {"DELETE", "/v1/groups/" + group.id(), ""},
      {"GET", "/v1/groups/" + group.id() + "/members", ""},
      {"PUT", "/v1/groups/" + group.id() + "/members/me", R"({"role":"MEMBER"})"},
      {"DELETE", "/v1/groups/" + group.id() + "/members/" + contact.id(), ""},
      {"GET", "/v1/interactions/" + interaction.id(), ""},
      {"PATCH", "/v1/interactions/" + interaction.id(), R"({"summary":"Hacked"})"},
      {"DELETE", "/v1/interactions/" + interaction.id(), ""},
      {"POST", "/v1/introductions/" + intro.id() + ":respond", R"({"party":"A","accept":true})"},
      {"POST", "/v1/introductions/" + intro.id() + ":make", "{}"},
      {"POST", "/v1/introductions/" + intro.id() + ":complete", R"({"outcome":"hired"})"},
  };
  for (const auto& b : bs) {
    for (const Case& c : cases) {
      HttpResponse r = Call(c.method, c.path, b, c.body);
      EXPECT_EQ(r.status, 404) << c.method << " " << c.path << ": " << r.body;
      if (r.status == 404) {
        EXPECT_EQ(Problem(r).fields().at("code").string_value(), "NOT_FOUND") << c.method << " " << c.path;
      }
    }
    // B's interaction naming A's contact is refused, and B's lists do not show A's objects.
    HttpResponse naming =
        Call("POST", "/v1/interactions", b,
             absl::StrCat(R"({"kind":"CALL","direction":"GAVE","contactIds":[")", contact.id(), R"("]})"));
    EXPECT_GE(naming.status, 400) << naming.body;
    EXPECT_LT(naming.status, 500) << naming.body;
    EXPECT_EQ(Parse<ppb::ListContactsResponse>(Call("GET", "/v1/contacts", b)).contacts_size(), 0);
    EXPECT_EQ(Parse<ppb::ListGroupsResponse>(Call("GET", "/v1/groups", b)).groups_size(), 0);
    EXPECT_EQ(Parse<ipb::ListInteractionsResponse>(Call("GET", "/v1/interactions", b)).interactions_size(), 0);
    EXPECT_EQ(Parse<ipb::ListIntroductionsResponse>(Call("GET", "/v1/introductions", b)).introductions_size(), 0);
  }
  // Org A's admin without a user, on A's user-owned objects: also no leak.
  EXPECT_EQ(Call("GET", "/v1/users/" + user_a, {"X-Api-Key: " + admin_b}).status, 404);

  // Untouched for A.
  auto still = Parse<ppb::Contact>(Call("GET", "/v1/contacts/" + contact.id(), a));
  EXPECT_EQ(still.company(), "Initech");
  EXPECT_EQ(Parse<ppb::Group>(Call("GET", "/v1/groups/" + group.id(), a)).display_name(), "Alumni");
  EXPECT_EQ(Parse<ppb::ListMembersResponse>(Call("GET", "/v1/groups/" + group.id() + "/members", a)).members_size(), 1);
  EXPECT_EQ(Parse<ipb::Interaction>(Call("GET", "/v1/interactions/" + interaction.id(), a)).summary(), "hi");
  auto intro_after = Parse<ipb::ListIntroductionsResponse>(Call("GET", "/v1/introductions", a));
  ASSERT_EQ(intro_after.introductions_size(), 1);
  EXPECT_EQ(intro_after.introductions(0).state(), ipb::REQUESTED);
  EXPECT_FALSE(intro_after.introductions(0).a_accepted());
}

// Every route of profiles and interactions answers 2xx through the gateway
// with the expected content.
TEST_F(GatewayIntegrationTest, EveryRouteWorksThroughTheGateway) {
  ASSERT_TRUE(stack_.Start("recommendations").ok());
  RestartGatewayWithoutLimits();
  std::set<std::string> seen;  // "METHOD template" of each route exercised
  auto call = [&](const std::string& route, const std::string& method, const std::string& path,
                  const std::vector<std::string>& headers, const std::string& body = "") {
    HttpResponse r = Call(method, path, headers, body);
    EXPECT_EQ(r.status, 200) << method << " " << path << ": " << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/json") << method << " " << path;
    seen.insert(route);
    return r;
  };
  const std::vector<std::string> platform = {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), kJson};

  // Platform and org administration.
  auto org =
      Parse<ppb::CreateOrgResponse>(call("POST /v1/orgs", "POST", "/v1/orgs", platform, R"({"displayName":"Acme"})"));
  EXPECT_EQ(org.org().display_name(), "Acme");
  ASSERT_FALSE(org.admin_key().secret().empty());
  const std::vector<std::string> admin = {"X-Api-Key: " + org.admin_key().secret(), kJson};
  auto user = Parse<ppb::User>(call("POST /v1/users", "POST", "/v1/users", admin,
                                    R"({"displayName":"Ann","email":"ann@acme.test","timezone":"Europe/Paris"})"));
  ASSERT_FALSE(user.id().empty());
  EXPECT_EQ(user.timezone(), "Europe/Paris");
  auto users = Parse<ppb::ListUsersResponse>(call("GET /v1/users", "GET", "/v1/users", admin));
  ASSERT_EQ(users.users_size(), 1);
  EXPECT_EQ(users.users(0).email(), "ann@acme.test");
  EXPECT_EQ(Parse<ppb::User>(call("GET /v1/users/{user_id}", "GET", "/v1/users/" + user.id(), admin)).display_name(),
            "Ann");
  auto key = Parse<ppb::ApiKeySecret>(call("POST /v1/apiKeys", "POST", "/v1/apiKeys", admin,
                                           R"({"displayName":"mobile","scopes":["READ","WRITE","ACT_AS_USER"]})"));
  EXPECT_EQ(key.api_key().scopes_size(), 3);
  auto keys = Parse<ppb::ListApiKeysResponse>(call("GET /v1/apiKeys", "GET", "/v1/apiKeys", admin));
  EXPECT_EQ(keys.api_keys_size(), 2);  // the org admin's and the new one
  for (const auto& k : keys.api_keys()) EXPECT_FALSE(k.has_revoke_time());
  EXPECT_NE(keys.DebugString().find("mobile"), std::string::npos);
  // The org's JWT signing keys: the one made with the org, then a rotation.
  ASSERT_FALSE(org.jwt_key().secret().empty());
  auto rotated =
      Parse<ppb::JwtKeySecret>(call("POST /v1/org/jwtKeys:rotate", "POST", "/v1/org/jwtKeys:rotate", admin, "{}"));
  EXPECT_NE(rotated.jwt_key().kid(), org.jwt_key().jwt_key().kid());
  auto jwt_keys = Parse<ppb::ListJwtKeysResponse>(call("GET /v1/org/jwtKeys", "GET", "/v1/org/jwtKeys", admin));
  EXPECT_EQ(jwt_keys.jwt_keys_size(), 2);

  // The user's own profile, through the new key acting as the user.
  const std::vector<std::string> me = {"X-Api-Key: " + key.secret(), "X-Rapport-User: " + user.id(), kJson};
  EXPECT_EQ(Parse<ppb::Profile>(call("GET /v1/me", "GET", "/v1/me", me)).user_id(), user.id());
  auto profile = Parse<ppb::Profile>(call("PATCH /v1/me", "PATCH", "/v1/me", me,
                                          R"({"headline":"Connector","skills":["go","c++"],"company":"Acme"})"));
  EXPECT_EQ(profile.headline(), "Connector");
  EXPECT_EQ(profile.skills_size(), 2);
  EXPECT_EQ(profile.display_name(), "Ann");  // untouched by the PATCH
  auto completeness =
      Parse<ppb::GetCompletenessResponse>(call("GET /v1/me/completeness", "GET", "/v1/me/completeness", me));
  EXPECT_GT(completeness.score(), 0);
  EXPECT_LT(completeness.score(), 100);
  EXPECT_GT(completeness.missing_size(), 0);

  // Contacts, with a birthday in three days.
  const absl::CivilDay soon = absl::ToCivilDay(absl::Now() + absl::Hours(72), absl::UTCTimeZone());
  auto bob = Parse<ppb::Contact>(call(
      "POST /v1/contacts", "POST", "/v1/contacts", me,
      absl::StrCat(R"({"displayName":"Bob","company":"Initech","tags":["mentor"],"tier":"CLOSE","birthday":{"month":)",
                   soon.month(), R"(,"day":)", soon.day(), "}}")));
  ASSERT_FALSE(bob.id().empty());
  EXPECT_EQ(bob.effective_cadence_days(), 30);
  auto carol = Parse<ppb::Contact>(call("POST /v1/contacts", "POST", "/v1/contacts", me, R"({"displayName":"Carol"})"));
  EXPECT_EQ(Parse<ppb::Contact>(call("GET /v1/contacts/{contact_id}", "GET", "/v1/contacts/" + bob.id(), me)).company(),
            "Initech");
  auto patched = Parse<ppb::Contact>(call("PATCH /v1/contacts/{contact_id}", "PATCH", "/v1/contacts/" + carol.id(), me,
                                          R"({"title":"CTO","cadenceDays":45})"));
  EXPECT_EQ(patched.title(), "CTO");
  EXPECT_EQ(patched.effective_cadence_days(), 45);
  auto listed = Parse<ppb::ListContactsResponse>(call("GET /v1/contacts", "GET", "/v1/contacts?query=initech", me));
  ASSERT_EQ(listed.contacts_size(), 1);
  EXPECT_EQ(listed.contacts(0).id(), bob.id());
  auto batch = Parse<ppb::BatchGetContactsResponse>(
      call("POST /v1/contacts:batchGet", "POST", "/v1/contacts:batchGet", me,
           absl::StrCat(R"({"contactIds":[")", carol.id(), R"(","no-such-contact",")", bob.id(), R"("]})")));
  ASSERT_EQ(batch.contacts_size(), 2);  // the unknown id is simply absent
  EXPECT_EQ(batch.contacts(0).id(), carol.id());
  EXPECT_EQ(batch.contacts(0).title(), "CTO");
  EXPECT_EQ(batch.contacts(1).id(), bob.id());
  auto birthdays =
      Parse<ppb::ListBirthdaysResponse>(call("GET /v1/birthdays", "GET", "/v1/birthdays?withinDays=30", me));
  ASSERT_EQ(birthdays.birthdays_size(), 1);
  EXPECT_EQ(birthdays.birthdays(0).contact().id(), bob.id());
  EXPECT_GE(birthdays.birthdays(0).days_until(), 2);
  EXPECT_LE(birthdays.birthdays(0).days_until(), 4);

  // Duplicates and merge: two records of one person, by email.
  auto dup_a = Parse<ppb::Contact>(
      call("POST /v1/contacts", "POST", "/v1/contacts", me, R"({"displayName":"Dee","emails":["dee@example.com"]})"));
  auto dup_b = Parse<ppb::Contact>(call("POST /v1/contacts", "POST", "/v1/contacts", me,
                                        R"({"displayName":"Dee R.","emails":["DEE@example.com"],"title":"VP"})"));
  auto dups = Parse<ppb::ListDuplicateContactsResponse>(
      call("GET /v1/contacts:duplicates", "GET", "/v1/contacts:duplicates", me));
  ASSERT_EQ(dups.sets_size(), 1);
  EXPECT_EQ(dups.sets(0).contacts_size(), 2);
  EXPECT_EQ(dups.sets(0).matches(0).reason(), "email");
  auto merged = Parse<ppb::MergeContactsResponse>(call("POST /v1/contacts/{contact_id}:merge", "POST",
                                                       absl::StrCat("/v1/contacts/", dup_a.id(), ":merge"), me,
                                                       absl::StrCat(R"({"otherIds":[")", dup_b.id(), R"("]})")));
  EXPECT_EQ(merged.contact().id(), dup_a.id());
  EXPECT_EQ(merged.contact().title(), "VP");
  EXPECT_EQ(Call("GET", "/v1/contacts/" + dup_b.id(), me).status, 404);

  // Groups and memberships, a contact's and the user's own ("me").
  auto group =
      Parse<ppb::Group>(call("POST /v1/groups", "POST", "/v1/groups", me,
                             R"({"displayName":"ACM","kind":"PROFESSIONAL_ASSOCIATION","url":"https://acm.org"})"));
  ASSERT_FALSE(group.id().empty());
  EXPECT_EQ(group.kind(), ppb::PROFESSIONAL_ASSOCIATION);
  auto throwaway =
      Parse<ppb::Group>(call("POST /v1/groups", "POST", "/v1/groups", me, R"({"displayName":"Old club"})"));
  EXPECT_EQ(Parse<ppb::Group>(call("GET /v1/groups/{group_id}", "GET", "/v1/groups/" + group.id(), me)).url(),
            "https://acm.org");
  auto group_patched = Parse<ppb::Group>(
      call("PATCH /v1/groups/{group_id}", "PATCH", "/v1/groups/" + group.id(), me, R"({"description":"computing"})"));
  EXPECT_EQ(group_patched.description(), "computing");
  EXPECT_EQ(group_patched.display_name(), "ACM");
  EXPECT_EQ(Parse<ppb::ListGroupsResponse>(call("GET /v1/groups", "GET", "/v1/groups", me)).groups_size(), 2);
  call("DELETE /v1/groups/{group_id}", "DELETE", "/v1/groups/" + throwaway.id(), me);
  EXPECT_EQ(Call("GET", "/v1/groups/" + throwaway.id(), me).status, 404);
  auto member =
      Parse<ppb::GroupMember>(call("PUT /v1/groups/{group_id}/members/{member_id}", "PUT",
                                   "/v1/groups/" + group.id() + "/members/" + bob.id(), me, R"({"role":"LEADER"})"));
  EXPECT_EQ(member.role(), ppb::LEADER);
  EXPECT_EQ(member.member_id(), bob.id());
  auto me_member =
      Parse<ppb::GroupMember>(call("PUT /v1/groups/{group_id}/members/{member_id}", "PUT",
                                   "/v1/groups/" + group.id() + "/members/me", me, R"({"role":"ORGANIZER"})"));
  EXPECT_EQ(me_member.member_id(), "me");
  EXPECT_EQ(me_member.role(), ppb::ORGANIZER);
  auto members = Parse<ppb::ListMembersResponse>(
      call("GET /v1/groups/{group_id}/members", "GET", "/v1/groups/" + group.id() + "/members", me));
  EXPECT_EQ(members.members_size(), 2);
  auto bobs_groups = Parse<ppb::ListContactGroupsResponse>(
      call("GET /v1/contacts/{contact_id}/groups", "GET", "/v1/contacts/" + bob.id() + "/groups", me));
  ASSERT_EQ(bobs_groups.groups_size(), 1);
  EXPECT_EQ(bobs_groups.groups(0).group().id(), group.id());
  EXPECT_EQ(bobs_groups.groups(0).role(), ppb::LEADER);
  auto in_group =
      Parse<ppb::ListContactsResponse>(call("GET /v1/contacts", "GET", "/v1/contacts?groupId=" + group.id(), me));
  ASSERT_EQ(in_group.contacts_size(), 1);
  EXPECT_EQ(in_group.contacts(0).id(), bob.id());
  call("DELETE /v1/groups/{group_id}/members/{member_id}", "DELETE", "/v1/groups/" + group.id() + "/members/me", me);
  call("DELETE /v1/groups/{group_id}/members/{member_id}", "DELETE",
       "/v1/groups/" + group.id() + "/members/" + bob.id(), me);
  EXPECT_EQ(Parse<ppb::ListMembersResponse>(Call("GET", "/v1/groups/" + group.id() + "/members", me)).members_size(),
            0);

  // Interactions, the ledger and introductions, through a user token.
  const std::vector<std::string> token = {"Authorization: Bearer " + Jwt(org.org().id(), user.id()), kJson};
  auto meeting =
      Parse<ipb::Interaction>(call("POST /v1/interactions", "POST", "/v1/interactions", token,
                                   absl::StrCat(R"({"kind":"MEETING","direction":"GAVE","contactIds":[")", bob.id(),
                                                R"("],"summary":"lunch","occurredAt":"2026-01-02T12:00:00Z"})")));
  ASSERT_FALSE(meeting.id().empty());
  EXPECT_EQ(meeting.kind(), ipb::MEETING);
  auto email = Parse<ipb::Interaction>(
      call("POST /v1/interactions", "POST", "/v1/interactions", token,
           absl::StrCat(R"({"kind":"EMAIL","direction":"RECEIVED","contactIds":[")", carol.id(), R"("]})")));
  EXPECT_EQ(Parse<ipb::Interaction>(
                call("GET /v1/interactions/{interaction_id}", "GET", "/v1/interactions/" + meeting.id(), token))
                .summary(),
            "lunch");
  auto meeting2 =
      Parse<ipb::Interaction>(call("PATCH /v1/interactions/{interaction_id}", "PATCH",
                                   "/v1/interactions/" + meeting.id(), token, R"({"notes":"talked jobs"})"));
  EXPECT_EQ(meeting2.notes(), "talked jobs");
  EXPECT_EQ(meeting2.summary(), "lunch");
  auto by_contact = Parse<ipb::ListInteractionsResponse>(call(
      "GET /v1/interactions", "GET",
      "/v1/interactions?contactId=" + bob.id() + "&kind=MEETING&after=2026-01-01T00:00:00Z&before=2026-01-03T00:00:00Z",
      token));
  ASSERT_EQ(by_contact.interactions_size(), 1);
  EXPECT_EQ(by_contact.interactions(0).id(), meeting.id());
  EXPECT_EQ(Parse<ipb::ListInteractionsResponse>(
                call("GET /v1/interactions", "GET", "/v1/interactions?before=2026-01-01T00:00:00Z", token))
                .interactions_size(),
            0);
  call("DELETE /v1/interactions/{interaction_id}", "DELETE", "/v1/interactions/" + email.id(), token);
  EXPECT_EQ(Call("GET", "/v1/interactions/" + email.id(), token).status, 404);
  // A planned one (next month) can be cancelled.
  auto planned = Parse<ipb::Interaction>(
      call("POST /v1/interactions", "POST", "/v1/interactions", token,
           absl::StrCat(R"({"kind":"CALL","direction":"MUTUAL","contactIds":[")", carol.id(), R"("],"occurredAt":")",
                        absl::FormatTime(absl::RFC3339_sec, absl::Now() + absl::Hours(24 * 30), absl::UTCTimeZone()),
                        R"("})")));
  EXPECT_EQ(planned.state(), ipb::PLANNED);
  EXPECT_EQ(Parse<ipb::Interaction>(call("POST /v1/interactions/{interaction_id}:cancel", "POST",
                                         "/v1/interactions/" + planned.id() + ":cancel", token, "{}"))
                .state(),
            ipb::CANCELLED);
  auto ledger = Parse<ipb::LedgerEntry>(
      call("GET /v1/contacts/{contact_id}/ledger", "GET", "/v1/contacts/" + bob.id() + "/ledger", token));
  EXPECT_EQ(ledger.contact_id(), bob.id());
  EXPECT_DOUBLE_EQ(ledger.given(), 3.0);
  EXPECT_EQ(ledger.interaction_count(), 1);
  auto by_strength =
      Parse<ipb::ListLedgerResponse>(call("GET /v1/ledger", "GET", "/v1/ledger?orderBy=strength", token));
  ASSERT_GE(by_strength.entries_size(), 1);
  EXPECT_EQ(by_strength.entries(0).contact_id(), bob.id());

  auto intro =
      Parse<ipb::Introduction>(call("POST /v1/introductions", "POST", "/v1/introductions", token,
                                    absl::StrCat(R"({"mode":"CONNECT","contactAId":")", bob.id(), R"(","contactBId":")",
                                                 carol.id(), R"(","reason":"both hire"})")));
  ASSERT_FALSE(intro.id().empty());
  EXPECT_EQ(intro.state(), ipb::REQUESTED);
  auto half = Parse<ipb::Introduction>(call("POST /v1/introductions/{id}:respond", "POST",
                                            "/v1/introductions/" + intro.id() + ":respond", token,
                                            R"({"party":"A","accept":true})"));
  EXPECT_TRUE(half.a_accepted());
  EXPECT_EQ(half.state(), ipb::REQUESTED);
  auto both = Parse<ipb::Introduction>(call("POST /v1/introductions/{id}:respond", "POST",
                                            "/v1/introductions/" + intro.id() + ":respond", token,
                                            R"({"party":"B","accept":true})"));
  EXPECT_EQ(both.state(), ipb::ACCEPTED);
  auto made = Parse<ipb::Introduction>(
      call("POST /v1/introductions/{id}:make", "POST", "/v1/introductions/" + intro.id() + ":make", token, "{}"));
  EXPECT_EQ(made.state(), ipb::MADE);
  EXPECT_FALSE(made.interaction_id().empty());
  auto done = Parse<ipb::Introduction>(call("POST /v1/introductions/{id}:complete", "POST",
                                            "/v1/introductions/" + intro.id() + ":complete", token,
                                            R"({"outcome":"hired","note":"great fit"})"));
  EXPECT_EQ(done.state(), ipb::COMPLETED);
  EXPECT_EQ(done.outcome(), "hired");
  auto intros = Parse<ipb::ListIntroductionsResponse>(
      call("GET /v1/introductions", "GET", "/v1/introductions?state=COMPLETED", token));
  ASSERT_EQ(intros.introductions_size(), 1);
  EXPECT_EQ(intros.introductions(0).id(), intro.id());
  // Warm-path asks through a teammate, answered by the teammate.
  auto teo = Parse<ppb::User>(
      call("POST /v1/users", "POST", "/v1/users", admin, R"({"displayName":"Teo","email":"teo@acme.test"})"));
  const std::vector<std::string> as_teo = {"X-Api-Key: " + org.admin_key().secret(), "X-Rapport-User: " + teo.id(),
                                           kJson};
  const std::string ask_body = absl::StrCat(R"({"targetContactId":")", carol.id(), R"(","via":")", teo.id(), R"("})");
  auto ask = Parse<ipb::Introduction>(call("POST /v1/paths:ask", "POST", "/v1/paths:ask", token, ask_body));
  EXPECT_EQ(ask.via_user_id(), teo.id());
  EXPECT_EQ(Parse<ipb::Introduction>(call("POST /v1/introductions/{id}:accept", "POST",
                                          "/v1/introductions/" + ask.id() + ":accept", as_teo, "{}"))
                .state(),
            ipb::ACCEPTED);
  auto ask2 = Parse<ipb::Introduction>(call("POST /v1/paths:ask", "POST", "/v1/paths:ask", token, ask_body));
  EXPECT_EQ(Parse<ipb::Introduction>(call("POST /v1/introductions/{id}:decline", "POST",
                                          "/v1/introductions/" + ask2.id() + ":decline", as_teo, "{}"))
                .state(),
            ipb::DECLINED);
  // Making it logged an INTRODUCTION given to both sides.
  EXPECT_EQ(Parse<ipb::ListInteractionsResponse>(Call("GET", "/v1/interactions?kind=INTRODUCTION", token))
                .interactions_size(),
            1);

  // Recommendations, from the read model the writes above fed through events.
  ASSERT_TRUE(
      testing::WaitFor([&] { return Call("GET", "/v1/paths?targetContactId=" + carol.id(), token).status == 200; },
                       std::chrono::seconds(2)));
  auto paths = Parse<google::protobuf::Struct>(
      call("GET /v1/paths", "GET", "/v1/paths?targetContactId=" + carol.id() + "&maxHops=3", token));
  EXPECT_EQ(paths.fields().at("paths").list_value().values_size(), 1);  // Ann knows Carol herself
  for (const char* route : {"reachOuts", "giveBacks", "followUps", "introductions", "groups"}) {
    call(absl::StrCat("GET /v1/recommendations/", route), "GET", absl::StrCat("/v1/recommendations/", route), token);
  }
  call("GET /v1/network/health", "GET", "/v1/network/health", token);
  call("GET /v1/network/health/history", "GET", "/v1/network/health/history?weeks=4", token);
  // Acting on recommendations (tests/recommendation_actions_integration_test.cc has the rules).
  {
    // Olga, last called four months ago, is due for a reach-out.
    HttpResponse olga = Call("POST", "/v1/contacts", token, R"({"displayName":"Olga Old"})");
    ASSERT_EQ(olga.status, 200) << olga.body;
    const std::string olga_id = Parse<ppb::Contact>(olga).id();
    const std::string long_ago =
        absl::FormatTime(absl::RFC3339_sec, absl::Now() - absl::Hours(24 * 120), absl::UTCTimeZone());
    ASSERT_EQ(Call("POST", "/v1/interactions", token,
                   absl::StrCat(R"({"kind":"CALL","direction":"MUTUAL","contactIds":[")", olga_id,
                                R"("],"occurredAt":")", long_ago, R"(","summary":"catch-up"})"))
                  .status,
              200);
    // The read model follows through events: wait for her to be listed.
    ASSERT_TRUE(testing::WaitFor(
        [&] { return absl::StrContains(Call("GET", "/v1/recommendations/reachOuts", token).body, olga_id); },
        std::chrono::seconds(10)));
    // Snoozed, then dismissed for good.
    const std::string until = absl::FormatTime(absl::RFC3339_sec, absl::Now() + absl::Hours(24), absl::UTCTimeZone());
    const std::string item = "/v1/recommendations/reachOuts/" + olga_id;
    call("POST /v1/recommendations/{kind}/{contact_id}:snooze", "POST", item + ":snooze", token,
         absl::StrCat(R"({"until":")", until, R"("})"));
    call("POST /v1/recommendations/{kind}/{contact_id}:dismiss", "POST", item + ":dismiss", token, "{}");
    EXPECT_FALSE(absl::StrContains(Call("GET", "/v1/recommendations/reachOuts", token).body, olga_id));
  }

  // Exports (tests/export_integration_test.cc covers them in depth): the
  // contact file, and an account export job with its download.
  {
    HttpResponse file = Call("GET", "/v1/contacts:export?format=csv", me);
    EXPECT_EQ(file.status, 200) << file.body;
    EXPECT_EQ(file.Header("content-type"), "text/csv; charset=utf-8; header=present");
    EXPECT_NE(file.body.find(carol.id()), std::string::npos);
    seen.insert("GET /v1/contacts:export");
    auto job = Parse<ppb::AccountExport>(call("POST /v1/me:export", "POST", "/v1/me:export", me, "{}"));
    ASSERT_FALSE(job.id().empty());
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          return Parse<ppb::AccountExport>(call("GET /v1/exports/{export_id}", "GET", "/v1/exports/" + job.id(), me))
                     .state() == ppb::AccountExport::SUCCEEDED;
        },
        std::chrono::seconds(20)));
    HttpResponse account = Call("GET", "/v1/exports/" + job.id() + ":download", me);
    EXPECT_EQ(account.status, 200) << account.body;
    EXPECT_EQ(account.Header("content-type"), "application/x-ndjson");
    EXPECT_NE(account.body.find(carol.id()), std::string::npos);
    seen.insert("GET /v1/exports/{export_id}:download");
  }

  // Finally the contact and key deletions.
  call("DELETE /v1/contacts/{contact_id}", "DELETE", "/v1/contacts/" + carol.id(), me);
  EXPECT_EQ(Call("GET", "/v1/contacts/" + carol.id(), me).status, 404);
  // Org administration (tests/admin_integration_test.cc has the whole story).
  auto limited = Parse<ppb::ApiKey>(call("PATCH /v1/apiKeys/{key_id}", "PATCH", "/v1/apiKeys/" + key.api_key().id(),
                                         admin, R"({"rateLimitPerMinute":1000})"));
  EXPECT_EQ(limited.rate_limit_per_minute(), 1000);
  auto renamed = Parse<ppb::User>(
      call("PATCH /v1/users/{user_id}", "PATCH", "/v1/users/" + user.id(), admin, R"({"displayName":"Anne"})"));
  EXPECT_EQ(renamed.display_name(), "Anne");
  EXPECT_EQ(renamed.state(), ppb::ACTIVE);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return Parse<ppb::ListAuditEntriesResponse>(
                   call("GET /v1/audit", "GET", "/v1/audit?action=user.updated", admin))
                   .entries_size() == 1;
      },
      std::chrono::seconds(10)));
  auto revoked = Parse<ppb::RevokeApiKeyResponse>(
      call("DELETE /v1/apiKeys/{key_id}", "DELETE", "/v1/apiKeys/" + key.api_key().id(), admin));
  EXPECT_TRUE(revoked.api_key().has_revoke_time());
  // Erasure of a user and of an org (tests/export_integration_test.cc checks every service forgets them).
  auto doomed = Parse<ppb::User>(call("POST /v1/users", "POST", "/v1/users", admin,
                                      R"({"displayName":"Dee","email":"dee@acme.test","timezone":"UTC"})"));
  call("DELETE /v1/users/{user_id}", "DELETE", "/v1/users/" + doomed.id(), admin);
  EXPECT_EQ(Call("GET", "/v1/users/" + doomed.id(), admin).status, 404);
  auto doomed_org =
      Parse<ppb::CreateOrgResponse>(call("POST /v1/orgs", "POST", "/v1/orgs", platform, R"({"displayName":"Gone"})"));
  call("DELETE /v1/orgs/{org_id}", "DELETE", "/v1/orgs/" + doomed_org.org().id(), platform);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return Parse<ppb::ListAuditEntriesResponse>(
                   call("GET /v1/platform/audit", "GET", "/v1/platform/audit?action=org.erased", platform))
                   .entries_size() >= 1;
      },
      std::chrono::seconds(10)));

  // Imports: the file is the raw body (not JSON); the job runs to its end.
  {
    HttpResponse r = Call("POST", "/v1/imports?format=csv&tag=imported", {me[0], me[1], "Content-Type: text/csv"},
                          "Name,Email\r\nImported Person,imported@acme.test\r\n");
    EXPECT_EQ(r.status, 200) << r.body;
    seen.insert("POST /v1/imports");
    auto import = Parse<ppb::Import>(r);
    EXPECT_EQ(import.rows_total(), 1);
    ppb::Import done;
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          done = Parse<ppb::Import>(call("GET /v1/imports/{import_id}", "GET", "/v1/imports/" + import.id(), me));
          return done.state() == ppb::IMPORT_SUCCEEDED;
        },
        std::chrono::seconds(30)));
    EXPECT_EQ(done.created(), 1);
    auto imports = Parse<ppb::ListImportsResponse>(call("GET /v1/imports", "GET", "/v1/imports", me));
    EXPECT_EQ(imports.imports_size(), 1);
  }

  // Every annotated route of the linked services was exercised above, except
  // notifications' own, which NotificationsIntegrationTest
  // .EveryNotificationsRouteWorksThroughTheGateway exercises with the
  // service's timers and events.
  int annotated = 0;
  for (const std::string& service : gateway::BackendServiceNames()) {
    if (service == "rapport.notifications.v1.NotificationsService") continue;
    const auto* sd = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
    ASSERT_NE(sd, nullptr) << service;
    for (int i = 0; i < sd->method_count(); ++i) {
      if (!sd->method(i)->options().HasExtension(api::v1::http)) continue;
      const auto& rule = sd->method(i)->options().GetExtension(api::v1::http);
      ++annotated;
      EXPECT_TRUE(seen.count(rule.method() + " " + rule.path()))
          << "not exercised: " << rule.method() << " " << rule.path();
    }
  }
  EXPECT_EQ(static_cast<int>(seen.size()), annotated);
}

// Quotas through the gateway, with the services restarted on small limits:
// a create over one is 429 RESOURCE_EXHAUSTED naming it (contacts per user,
// API keys per org, steps per workflow, webhooks per user); an event type
// that would inject a webhook header is 400 naming the field; and
// GET /v1/org/usage shows the org admin each quota with its use.
TEST_F(GatewayIntegrationTest, QuotasAre429AndOrgUsageShowsThem) {
  ASSERT_TRUE(
      stack_.Start("profiles", {{"RAPPORT_QUOTA_CONTACTS_PER_USER", "2"}, {"RAPPORT_QUOTA_API_KEYS_PER_ORG", "2"}})
          .ok());
  ASSERT_TRUE(stack_
                  .Start("notifications", {{"RAPPORT_QUOTA_WEBHOOKS_PER_USER", "1"},
                                           {"RAPPORT_QUOTA_STEPS_PER_WORKFLOW", "2"},
                                           {"RAPPORT_WEBHOOK_ALLOW_PRIVATE", "1"}})
                  .ok());
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string ann = NewUser(admin, "ann@acme.test");
  const std::string bea = NewUser(admin, "bea@acme.test");
  const std::vector<std::string> as_ann = {"X-Api-Key: " + admin, "X-Rapport-User: " + ann, kJson};
  const std::vector<std::string> as_bea = {"X-Api-Key: " + admin, "X-Rapport-User: " + bea, kJson};
  auto expect_429 = [&](const HttpResponse& r, const std::string& quota) {
    EXPECT_EQ(r.status, 429) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json");
    google::protobuf::Struct p = Problem(r);
    EXPECT_EQ(p.fields().at("code").string_value(), "RESOURCE_EXHAUSTED");
    EXPECT_NE(p.fields().at("detail").string_value().find("quota " + quota + ":"), std::string::npos) << r.body;
  };

  // Contacts per user: ann's third is refused; bea has her own two.
  EXPECT_EQ(Call("POST", "/v1/contacts", as_ann, R"({"displayName":"A1"})").status, 200);
  EXPECT_EQ(Call("POST", "/v1/contacts", as_ann, R"({"displayName":"A2"})").status, 200);
  expect_429(Call("POST", "/v1/contacts", as_ann, R"({"displayName":"A3"})"), "contactsPerUser");
  EXPECT_EQ(Call("POST", "/v1/contacts", as_bea, R"({"displayName":"B1"})").status, 200);

  // API keys per org: the admin key and one more.
  const std::vector<std::string> as_admin = {"X-Api-Key: " + admin, kJson};
  EXPECT_EQ(Call("POST", "/v1/apiKeys", as_admin, R"({"displayName":"app","scopes":["READ"]})").status, 200);
  expect_429(Call("POST", "/v1/apiKeys", as_admin, R"({"displayName":"app2","scopes":["READ"]})"), "apiKeysPerOrg");

  // Steps per workflow, webhooks per user.
  EXPECT_EQ(Call("POST", "/v1/workflows", as_ann,
                 R"({"displayName":"w","trigger":{"kind":"MANUAL"},"steps":[{"kind":"WEBHOOK"},{"kind":"WEBHOOK"}]})")
                .status,
            200);
  expect_429(Call("POST", "/v1/workflows", as_ann,
                  R"({"displayName":"w","trigger":{"kind":"MANUAL"},)"
                  R"("steps":[{"kind":"WEBHOOK"},{"kind":"WEBHOOK"},{"kind":"WEBHOOK"}]})"),
             "stepsPerWorkflow");
  EXPECT_EQ(Call("POST", "/v1/webhooks", as_ann, R"({"url":"http://127.0.0.1:9/hook"})").status, 200);
  expect_429(Call("POST", "/v1/webhooks", as_ann, R"({"url":"http://127.0.0.1:9/other"})"), "webhooksPerUser");

  // The reproduced header injection is refused at create, naming the field.
  HttpResponse injected = Call("POST", "/v1/workflows", as_bea,
                               R"({"displayName":"w","trigger":{"kind":"MANUAL"},)"
                               R"("steps":[{"kind":"WEBHOOK","eventType":"x\r\nX-Injected: yes"}]})");
  EXPECT_EQ(injected.status, 400) << injected.body;
  EXPECT_NE(injected.body.find(R"("field":"workflow.steps[0].eventType")"), std::string::npos) << injected.body;
  HttpResponse filter = Call("POST", "/v1/webhooks", as_bea,
                             R"({"url":"http://127.0.0.1:9/hook","eventTypes":["deal.won","x\nX-Injected: yes"]})");
  EXPECT_EQ(filter.status, 400) << filter.body;
  EXPECT_NE(filter.body.find(R"("field":"eventTypes[1]")"), std::string::npos) << filter.body;

  // Live streams per user: bea holds two open (counted by the notifications
  // replica serving them).
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(stack_.Addr("gateway").substr(stack_.Addr("gateway").rfind(':') + 1), &port));
  std::vector<std::unique_ptr<RawStream>> streams;
  for (int i = 0; i < 2; ++i) {
    streams.push_back(OpenStream(port, Jwt(org, bea)));
    ASSERT_NE(streams.back()->head.find(" 200 "), std::string::npos) << streams.back()->head;
  }

  // The org admin sees every quota, its limit and the org's use.
  HttpResponse usage = Call("GET", "/v1/org/usage", {"X-Api-Key: " + admin});
  ASSERT_EQ(usage.status, 200) << usage.body;
  auto quotas = Parse<npb::OrgUsage>(usage);
  std::map<std::string, ppb::QuotaUsage> by_name;
  for (const auto& q : quotas.quotas()) by_name[q.quota()] = q;
  ASSERT_EQ(by_name.size(), 8u) << usage.body;
  EXPECT_EQ(by_name["contactsPerUser"].limit(), 2);
  EXPECT_EQ(by_name["contactsPerUser"].used(), 2);
  EXPECT_EQ(by_name["contactsPerUser"].subject_id(), ann);
  EXPECT_EQ(by_name["apiKeysPerOrg"].per(), "org");
  EXPECT_EQ(by_name["apiKeysPerOrg"].used(), 2);
  EXPECT_EQ(by_name["apiKeysPerOrg"].limit(), 2);
  EXPECT_EQ(by_name["workflowsPerUser"].used(), 7);  // the six built-ins and "w"
  EXPECT_EQ(by_name["workflowsPerUser"].limit(), 100);
  EXPECT_EQ(by_name["stepsPerWorkflow"].used(), 3);  // follow_up, a built-in: built-ins are not held to it
  EXPECT_EQ(by_name["stepsPerWorkflow"].limit(), 2);
  EXPECT_EQ(by_name["webhooksPerUser"].used(), 1);
  EXPECT_EQ(by_name["webhooksPerUser"].limit(), 1);
  EXPECT_EQ(by_name["remindersPerContact"].used(), 0);
  EXPECT_EQ(by_name["remindersPerContact"].limit(), 100);
  EXPECT_EQ(by_name["remindersWithoutContact"].limit(), 1000);
  EXPECT_EQ(by_name["liveStreamsPerUser"].per(), "user");
  EXPECT_EQ(by_name["liveStreamsPerUser"].used(), 2);
  EXPECT_EQ(by_name["liveStreamsPerUser"].subject_id(), bea);
  EXPECT_EQ(by_name["liveStreamsPerUser"].limit(), 5);
  // Another org's admin sees its own (empty) use; a user may not look.
  HttpResponse other = Call("GET", "/v1/org/usage", {"X-Api-Key: " + NewOrg("globex")});
  ASSERT_EQ(other.status, 200) << other.body;
  const npb::OrgUsage other_usage = Parse<npb::OrgUsage>(other);
  EXPECT_EQ(other_usage.quotas_size(), 8);
  for (const auto& q : other_usage.quotas()) {
    EXPECT_EQ(q.used(), q.quota() == "apiKeysPerOrg" ? 1 : 0) << q.quota();
  }
  EXPECT_EQ(Call("GET", "/v1/org/usage", {"Authorization: Bearer " + Jwt(org, ann)}).status, 403);
}

// Malformed bodies, queries, paths and headers are the client's fault: each
// answers a 4xx problem, never a 5xx, and the gateway keeps serving.
TEST_F(GatewayIntegrationTest, BadInputsAre4xxNever5xx) {
  RestartGatewayWithoutLimits();
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string user = NewUser(admin, "ann@acme.test");
  const std::vector<std::string> as_user = {"Authorization: Bearer " + Jwt(org, user), kJson};
  auto bob = Parse<ppb::Contact>(Call("POST", "/v1/contacts", as_user, R"({"displayName":"Bob"})"));
  auto group = Parse<ppb::Group>(Call("POST", "/v1/groups", as_user, R"({"displayName":"G"})"));
  auto intro = Parse<ipb::Introduction>(
      Call("POST", "/v1/introductions", as_user,
           absl::StrCat(R"({"mode":"CONNECT","contactAId":")", bob.id(), R"(","contactBId":")",
                        Parse<ppb::Contact>(Call("POST", "/v1/contacts", as_user, R"({"displayName":"Carol"})")).id(),
                        R"("})")));
  ASSERT_FALSE(bob.id().empty());
  ASSERT_FALSE(group.id().empty());
  ASSERT_FALSE(intro.id().empty());
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += R"({"a":)";
  deep += "1";
  for (int i = 0; i < 40; ++i) deep += "}";
  std::string deep_array = std::string(40, '[') + std::string(40, ']');

  struct Case {
    std::string method, path, body;
    std::vector<std::string> headers;  // empty: as_user
    int want = 400;                    // 0: any 4xx
  };
  const std::string c = "/v1/contacts/" + bob.id();
  const std::vector<Case> cases = {
      // Bodies.
      {"POST", "/v1/contacts", "{", {}},
      {"POST", "/v1/contacts", "[]", {}},
      {"POST", "/v1/contacts", R"("Bob")", {}},
      {"POST", "/v1/contacts", "null", {}},
      {"POST", "/v1/contacts", "12", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob"} {"x":1})", {}},
      {"POST", "/v1/contacts", R"({"displayName":1})", {}},
      {"POST", "/v1/contacts", R"({"displayName":["Bob"]})", {}},
      {"POST", "/v1/contacts", R"({"displayName":{"x":"y"}})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","tier":"BEST"})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","tier":99})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","cadenceDays":"often"})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","cadenceDays":1.5})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","cadenceDays":99999999999})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","cadenceDays":-3})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","tags":[1,2]})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","birthday":{"month":13,"day":1}})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","birthday":{"month":2,"day":30}})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","birthday":"1990-01-01"})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","createTime":"2020-01-01T00:00:00Z"})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","id":"x"})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","unknownField":true})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","emails":["nope"]})", {}},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","metThroughContactId":"no-such-contact"})", {}, 0},
      {"POST", "/v1/contacts", R"({"displayName":""})", {}},
      {"POST", "/v1/contacts", "{}", {}},
      {"POST", "/v1/contacts", absl::StrCat(R"({"displayName":")", std::string(100000, 'x'), R"("})"), {}},
      {"POST", "/v1/contacts", "{\"displayName\":\"Bob\xff\xfe\"}", {}},
      {"POST", "/v1/contacts", "{\"displayName\":\"\xc3\x28\"}", {}},
      {"POST", "/v1/contacts", R"({"displayName":"\ud800"})", {}},
      {"POST", "/v1/contacts", deep, {}},
      {"POST", "/v1/contacts", deep_array, {}},
      {"PATCH", c, R"({"displayName":""})", {}},
      {"PATCH", c, R"({"tier":"SOMETIMES"})", {}},
      {"PATCH", c, R"({"id":"other"})", {}},
      {"PATCH", c + "?updateMask=noSuchField", R"({"company":"x"})", {}},
      {"PATCH", "/v1/me", R"({"userId":"someone"})", {}},
      {"PATCH", "/v1/me", R"({"timezone":"Mars/Olympus"})", {}},
      {"PATCH", "/v1/me", R"({"photoUrl":12})", {}},
      {"POST", "/v1/groups", R"({"displayName":"G","kind":"CULT"})", {}},
      {"POST", "/v1/groups", R"({"kind":"HOBBY"})", {}},
      {"PUT", "/v1/groups/" + group.id() + "/members/" + bob.id(), R"({"role":"BOSS"})", {}},
      {"PUT", "/v1/groups/" + group.id() + "/members/no-such-contact", R"({"role":"MEMBER"})", {}, 0},
      {"POST", "/v1/interactions", R"({"direction":"GAVE","contactIds":[")" + bob.id() + R"("]})", {}},
      {"POST", "/v1/interactions", R"({"kind":"MEETING","contactIds":[")" + bob.id() + R"("]})", {}},
      {"POST", "/v1/interactions", R"({"kind":"MEETING","direction":"GAVE","contactIds":[]})", {}},
      {"POST", "/v1/interactions", R"({"kind":"NAP","direction":"GAVE","contactIds":[")" + bob.id() + R"("]})", {}},
      {"POST",
       "/v1/interactions",
       R"({"kind":"MEETING","direction":"GAVE","contactIds":[")" + bob.id() + R"("],"occurredAt":"yesterday"})",
       {}},
      {"POST",
       "/v1/interactions",
       R"({"kind":"MEETING","direction":"GAVE","contactIds":[")" + bob.id() + R"("],"occurredAt":12345})",
       {}},
      {"POST", "/v1/interactions", R"({"kind":"MEETING","direction":"GAVE","contactIds":["no-such-contact"]})", {}, 0},
      {"POST",
       "/v1/introductions",
       R"({"mode":"CONNECT","contactAId":")" + bob.id() + R"(","contactBId":")" + bob.id() + R"("})",
       {}},
      {"POST", "/v1/introductions", R"({"mode":"MAGIC"})", {}},
      {"POST", "/v1/introductions", R"({"contactAId":"a","contactBId":"b"})", {}},
      {"POST", "/v1/introductions/" + intro.id() + ":respond", R"({"party":"C","accept":true})", {}},
      {"POST", "/v1/introductions/" + intro.id() + ":make", "{}", {}},                      // not yet accepted
      {"POST", "/v1/introductions/" + intro.id() + ":complete", R"({"outcome":"x"})", {}},  // not made
      {"POST", "/v1/introductions/" + intro.id() + ":explode", "{}", {}, 0},
      {"POST", "/v1/apiKeys", R"({"displayName":"k","scopes":["PLATFORM"]})", {"X-Api-Key: " + admin, kJson}},
      {"POST", "/v1/apiKeys", R"({"displayName":"k","scopes":["ROOT"]})", {"X-Api-Key: " + admin, kJson}},
      {"POST", "/v1/apiKeys", R"({"displayName":"k"})", {"X-Api-Key: " + admin, kJson}},
      {"POST", "/v1/users", R"({"displayName":"Z","email":"not-an-email"})", {"X-Api-Key: " + admin, kJson}},
      {"POST",
       "/v1/users",
       R"({"displayName":"Z","email":"z@acme.test","timezone":"Nowhere/City"})",
       {"X-Api-Key: " + admin, kJson}},
      {"POST", "/v1/users", R"({"displayName":"Ann","email":"ann@acme.test"})", {"X-Api-Key: " + admin, kJson}, 0},
      {"POST", "/v1/orgs", R"({"displayName":""})", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), kJson}},
      // Queries.
      {"GET", "/v1/contacts?pageSize=-1", "", {}},
      {"GET", "/v1/contacts?pageSize=lots", "", {}},
      {"GET", "/v1/contacts?pageSize=1.5", "", {}},
      {"GET", "/v1/contacts?pageSize=99999999999999999999", "", {}},
      {"GET", "/v1/contacts?pageToken=garbage", "", {}},
      {"GET", "/v1/contacts?tier=BEST", "", {}},
      {"GET", "/v1/contacts?noSuchParam=1", "", {}},
      {"GET", "/v1/contacts?query=%zz", "", {}},
      {"GET", "/v1/contacts?query=%", "", {}},
      {"GET", "/v1/interactions?kind=NAP", "", {}},
      {"GET", "/v1/interactions?after=yesterday", "", {}},
      {"GET", "/v1/interactions?before=2026-13-45T00:00:00Z", "", {}},
      {"GET", "/v1/interactions?pageSize=-5", "", {}},
      {"GET", "/v1/ledger?orderBy=luck", "", {}},
      {"GET", "/v1/birthdays?withinDays=soon", "", {}},
      {"GET", "/v1/birthdays?withinDays=-1", "", {}},
      {"GET", "/v1/birthdays?withinDays=10000", "", {}},
      {"GET", "/v1/introductions?state=PENDING", "", {}},
      {"GET", "/v1/users?pageSize=-1", "", {"X-Api-Key: " + admin}},
      // Paths.
      {"GET", "/v1/contacts/%zz", "", {}, 0},
      {"GET", "/v1/contacts/" + std::string(300, 'x'), "", {}, 0},
      {"GET", "/v1/contacts/a%2Fb", "", {}, 0},
      {"GET", "/v1/contacts/no-such-contact", "", {}, 0},
      {"GET", "/v1/contacts/" + bob.id() + "/nothing", "", {}, 404},
      {"GET", "/v2/contacts", "", {}, 404},
      {"DELETE", "/v1/contacts", "", {}, 405},
      {"POST", "/v1/me", "{}", {}, 405},
      // Headers.
      {"POST", "/v1/contacts", R"({"displayName":"Bob"})", {"Authorization: Bearer " + Jwt(org, user)}, 415},
      {"POST",
       "/v1/contacts",
       R"({"displayName":"Bob"})",
       {"Authorization: Bearer " + Jwt(org, user), "Content-Type: application/xml"},
       415},
      {"POST",
       "/v1/contacts",
       R"({"displayName":"Bob"})",
       {"Authorization: Bearer " + Jwt(org, user), "Content-Type: application/x-www-form-urlencoded"},
       415},
      {"POST",
       "/v1/contacts",
       R"({"displayName":"Bob"})",
       {"Authorization: Bearer " + Jwt(org, user), kJson, "Idempotency-Key: " + std::string(300, 'k')}},
      {"POST",
       "/v1/contacts",
       R"({"displayName":"Bob"})",
       {"Authorization: Bearer " + Jwt(org, user), kJson, "Idempotency-Key: tab\there"}},
      {"GET", "/v1/contacts", "", {"X-Api-Key: " + admin, "X-Rapport-User: not a user id!"}, 0},
      {"GET",
       "/v1/contacts",
       "",
       {"Authorization: Bearer " + Jwt(org, user), "X-Big: " + std::string(20000, 'h')},
       431},
      {"POST", "/v1/contacts", absl::StrCat(R"({"displayName":")", std::string(1 << 20, 'a'), R"("})"), {}, 413},
  };
  for (const Case& k : cases) {
    HttpResponse r = Call(k.method, k.path, k.headers.empty() ? as_user : k.headers, k.body);
    const std::string what = absl::StrCat(k.method, " ", k.path.substr(0, 80), " ", k.body.substr(0, 80));
    if (k.want != 0) {
      EXPECT_EQ(r.status, k.want) << what << ": " << r.body;
    } else {
      EXPECT_GE(r.status, 400) << what << ": " << r.body;
      EXPECT_LT(r.status, 500) << what << ": " << r.body;
    }
    if (r.status >= 400) {
      EXPECT_EQ(r.Header("content-type"), "application/problem+json") << what;
      EXPECT_NE(r.body.find("\"code\""), std::string::npos) << what << ": " << r.body;
    }
  }
  // Still serving, and nothing bad was created.
  auto contacts = Parse<ppb::ListContactsResponse>(Call("GET", "/v1/contacts", as_user));
  EXPECT_EQ(contacts.contacts_size(), 2);  // Bob and Carol
}

// Protobuf 3.21's JSON parser is lenient where API.md wants 400: trailing
// commas, single quotes, "yes"/"no" for booleans, a lone value for a repeated
// field. The gateway's own scan (gateway/transcoder.cc ScanJson) does not catch
// them yet. Disabled until it does; see the gateway issue's note.
TEST_F(GatewayIntegrationTest, LenientJsonIsRefused) {
  std::string org;
  const std::string admin = NewOrg("acme", &org);
  const std::string user = NewUser(admin, "ann@acme.test");
  const std::vector<std::string> as_user = {"Authorization: Bearer " + Jwt(org, user), kJson};
  auto bob = Parse<ppb::Contact>(
      Call("POST", "/v1/contacts", as_user, R"({"displayName":"Bob","company":"Initech","tags":["mentor"]})"));
  ASSERT_FALSE(bob.id().empty());
  auto intro = Parse<ipb::Introduction>(
      Call("POST", "/v1/introductions", as_user,
           absl::StrCat(R"({"mode":"CONNECT","contactAId":")", bob.id(), R"(","contactBId":")",
                        Parse<ppb::Contact>(Call("POST", "/v1/contacts", as_user, R"({"displayName":"Carol"})")).id(),
                        R"("})")));
  ASSERT_FALSE(intro.id().empty());
  struct Case {
    std::string method, path, body;
  };
  const std::vector<Case> cases = {
      {"POST", "/v1/contacts", R"({"displayName":"Bob",})"},
      {"POST", "/v1/contacts", R"({'displayName':'Bob'})"},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","tags":"mentor"})"},
      {"POST", "/v1/interactions", R"({"kind":"MEETING","direction":"GAVE","contactIds":")" + bob.id() + R"("})"},
      {"POST", "/v1/introductions/" + intro.id() + ":respond", R"({"party":"A","accept":"yes"})"},
      // Single quotes also hide the keys from the update-mask derivation.
      {"PATCH", "/v1/contacts/" + bob.id(), R"({'title':'CTO'})"},
  };
  for (const Case& k : cases) {
    HttpResponse r = Call(k.method, k.path, as_user, k.body);
    EXPECT_EQ(r.status, 400) << k.method << " " << k.path << " " << k.body << ": " << r.body;
  }
  auto after = Parse<ppb::Contact>(Call("GET", "/v1/contacts/" + bob.id(), as_user));
  EXPECT_EQ(after.company(), "Initech");
  EXPECT_EQ(after.tags_size(), 1);
  EXPECT_EQ(Parse<ppb::ListContactsResponse>(Call("GET", "/v1/contacts", as_user)).contacts_size(), 2);
}

// Many connections starting at once with one credential: the limiter's
// lease from Redis is refilled once for all of them (gateway/rate_limit.cc),
// and the key is looked up once for all of them (gateway/auth.cc), so none is
// refused while the credential's burst holds.
TEST_F(GatewayIntegrationTest, ConcurrentRequestsWithinTheBurstAreNotLimited) {
  stack_.Stop("gateway");
  // A throttle of key lookups far below the concurrency: a new key's first
  // requests share one lookup rather than each taking a token.
  absl::Status s = stack_.StartGateway({{"RAPPORT_RATE_LIMIT_PER_MINUTE", "60"},
                                        {"RAPPORT_RATE_LIMIT_BURST", "100"},
                                        {"RAPPORT_FAILED_KEYS_BURST", "3"}});
  ASSERT_TRUE(s.ok()) << s;
  const std::string admin = NewOrg("acme");
  const std::string user = NewUser(admin, "ann@acme.test");
  HttpResponse created = Call("POST", "/v1/apiKeys", {"X-Api-Key: " + admin, kJson},
                              R"({"displayName":"app","scopes":["READ","ACT_AS_USER"]})");
  ASSERT_EQ(created.status, 200) << created.body;
  // A key not yet verified, used at once by every connection.
  const std::vector<std::string> as_user = {"X-Api-Key: " + Parse<ppb::ApiKeySecret>(created).secret(),
                                            "X-Rapport-User: " + user};
  constexpr int kConcurrent = 64;  // well within the key's 100 tokens
  std::vector<long> statuses(kConcurrent);
  std::vector<std::thread> threads;
  std::atomic<int> ready = 0;
  for (int i = 0; i < kConcurrent; ++i) {
    threads.emplace_back([&, i] {
      // All at once: every thread sends when all are started.
      ++ready;
      while (ready.load() < kConcurrent) std::this_thread::yield();
      statuses[i] = Call("GET", "/v1/contacts", as_user).status;
    });
  }
  for (std::thread& t : threads) t.join();
  int ok = 0, limited = 0;
  for (long status : statuses) {
    ok += status == 200;
    limited += status == 429;
  }
  EXPECT_EQ(ok, kConcurrent) << limited << " answered 429";
}

// /openapi.json is one valid JSON document with an operation for every route
// annotated on the linked services' descriptors, each with its scope.
TEST_F(GatewayIntegrationTest, OpenApiListsEveryAnnotatedRoute) {
  HttpResponse r = Call("GET", "/openapi.json", {});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "application/json");
  auto doc = Parse<google::protobuf::Struct>(r);
  EXPECT_EQ(doc.fields().at("openapi").string_value().substr(0, 2), "3.");
  const auto& paths = doc.fields().at("paths").struct_value().fields();
  int annotated = 0;
  for (const std::string& service : gateway::BackendServiceNames()) {
    const auto* sd = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
    ASSERT_NE(sd, nullptr) << service;
    for (int i = 0; i < sd->method_count(); ++i) {
      const auto* m = sd->method(i);
      if (!m->options().HasExtension(api::v1::http)) continue;
      ++annotated;
      const auto& rule = m->options().GetExtension(api::v1::http);
      // The OpenAPI path names variables by their JSON names.
      std::string path;
      for (size_t p = 0; p < rule.path().size();) {
        if (rule.path()[p] == '{') {
          const size_t end = rule.path().find('}', p);
          const auto* field = m->input_type()->FindFieldByName(rule.path().substr(p + 1, end - p - 1));
          ASSERT_NE(field, nullptr) << rule.path();
          absl::StrAppend(&path, "{", field->json_name(), "}");
          p = end + 1;
        } else {
          path.push_back(rule.path()[p++]);
        }
      }
      const std::string method = absl::AsciiStrToLower(rule.method());
      auto it = paths.find(path);
      ASSERT_NE(it, paths.end()) << "missing path " << path;
      auto op = it->second.struct_value().fields().find(method);
      ASSERT_NE(op, it->second.struct_value().fields().end()) << "missing " << method << " " << path;
      const auto& fields = op->second.struct_value().fields();
      EXPECT_EQ(fields.at("operationId").string_value(), m->name());
      EXPECT_EQ(fields.at("x-rapport-scope").string_value(), api::v1::Scope_Name(rule.scope())) << path;
      EXPECT_EQ(fields.count("requestBody") > 0, !rule.body().empty()) << method << " " << path;
    }
  }
  // The routes the API lists for the landed services, and nothing else.
  EXPECT_EQ(annotated, 95);  // profiles and interactions: 59; recommendations: 10; notifications: 26
  int operations = 0;
  for (const auto& [path, item] : paths) operations += item.struct_value().fields_size();
  EXPECT_EQ(operations, annotated);
  for (const char* path : {"/v1/orgs",
                           "/v1/users",
                           "/v1/users/{userId}",
                           "/v1/apiKeys",
                           "/v1/apiKeys/{keyId}",
                           "/v1/me",
                           "/v1/me/completeness",
                           "/v1/contacts",
                           "/v1/contacts/{contactId}",
                           "/v1/contacts:batchGet",
                           "/v1/contacts:duplicates",
                           "/v1/contacts/{contactId}:merge",
                           "/v1/birthdays",
                           "/v1/groups",
                           "/v1/groups/{groupId}",
                           "/v1/groups/{groupId}/members",
                           "/v1/groups/{groupId}/members/{memberId}",
                           "/v1/contacts/{contactId}/groups",
                           "/v1/interactions",
                           "/v1/interactions/{interactionId}",
                           "/v1/contacts/{contactId}/ledger",
                           "/v1/ledger",
                           "/v1/introductions",
                           "/v1/introductions/{id}:respond",
                           "/v1/introductions/{id}:make",
                           "/v1/introductions/{id}:complete",
                           "/v1/recommendations/reachOuts",
                           "/v1/recommendations/giveBacks",
                           "/v1/recommendations/followUps",
                           "/v1/recommendations/introductions",
                           "/v1/recommendations/groups",
                           "/v1/paths",
                           "/v1/network/health",
                           "/v1/network/health/history",
                           "/v1/org/usage",
                           "/v1/org/jwtKeys",
                           "/v1/org/jwtKeys:rotate",
                           "/v1/imports",
                           "/v1/imports/{importId}",
                           "/v1/audit",
                           "/v1/platform/audit",
                           "/v1/orgs/{orgId}",
                           "/v1/contacts:export",
                           "/v1/me:export",
                           "/v1/exports/{exportId}",
                           "/v1/exports/{exportId}:download",
                           "/v1/reminders/{reminderId}",
                           "/v1/sync"}) {
    EXPECT_TRUE(paths.count(path)) << path;
  }
  // Downloads name their content types and a binary body.
  const auto& download = paths.at("/v1/contacts:export").struct_value().fields().at("get").struct_value();
  const auto& content = download.fields()
                            .at("responses")
                            .struct_value()
                            .fields()
                            .at("200")
                            .struct_value()
                            .fields()
                            .at("content")
                            .struct_value()
                            .fields();
  EXPECT_EQ(content.size(), 2u);
  ASSERT_TRUE(content.count("text/vcard"));
  EXPECT_EQ(
      content.at("text/vcard").struct_value().fields().at("schema").struct_value().fields().at("format").string_value(),
      "binary");
  EXPECT_TRUE(content.count("text/csv"));
}

}  // namespace
}  // namespace rapport
