// End-to-end tests of rapportctl: the real binary (fork/exec, exit status and
// output captured) against a real redis-server, profiles, interactions and
// gateway.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/testing/harness.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

using ::rapport::testing::Stack;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::vector<std::string> Lines() const { return absl::StrSplit(out, '\n', absl::SkipEmpty()); }
};

std::string ReadAll(int fd) {
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  return text;
}

// Runs bin/rapportctl with args and exactly env (nothing inherited, so the
// developer's RAPPORT_* variables cannot leak in); stderr through a temp file.
Result RunCtl(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}) {
  Result r;
  const std::string path = testing::BinDir() + "/rapportctl";
  char err_path[] = "/tmp/rapportctl_err_XXXXXX";
  int err_fd = mkstemp(err_path);
  int out_pipe[2];
  if (err_fd < 0 || pipe(out_pipe) != 0) return r;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_fd, 2);
    close(out_pipe[0]);
    close(out_pipe[1]);
    int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, 0);
    std::vector<std::string> strings = {path};
    strings.insert(strings.end(), args.begin(), args.end());
    std::vector<std::string> env_strings = {"PATH=/usr/bin:/bin"};
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> argv, envp;
    for (std::string& s : strings) argv.push_back(s.data());
    for (std::string& s : env_strings) envp.push_back(s.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);
    execve(path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(out_pipe[1]);
  r.out = ReadAll(out_pipe[0]);
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  lseek(err_fd, 0, SEEK_SET);
  r.err = ReadAll(err_fd);
  close(err_fd);
  unlink(err_path);
  return r;
}

google::protobuf::Struct Json(const std::string& text) {
  google::protobuf::Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &s).ok()) << text;
  return s;
}

std::string Str(const google::protobuf::Struct& s, const std::string& field) {
  auto it = s.fields().find(field);
  return it == s.fields().end() ? "" : it->second.string_value();
}

class RapportctlIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    ASSERT_TRUE(stack_.Start("profiles").ok());
    ASSERT_TRUE(stack_.Start("interactions").ok());
    ASSERT_TRUE(stack_.Start("recommendations").ok());
    ASSERT_TRUE(stack_.Start("notifications").ok());
    absl::Status s = stack_.StartGateway();
    ASSERT_TRUE(s.ok()) << s;
    env_ = {{"RAPPORT_URL", stack_.GatewayUrl()}};
  }

  Result Ctl(const std::vector<std::string>& args, std::map<std::string, std::string> extra = {}) {
    extra.insert(env_.begin(), env_.end());
    return RunCtl(args, extra);
  }

  Stack stack_;
  std::map<std::string, std::string> env_;
};

TEST_F(RapportctlIntegrationTest, BootstrapsAnOrgAndCallsAsTheUser) {
  // create-org with the platform admin key from RAPPORT_ADMIN_KEY (the fallback).
  Result org = Ctl({"create-org", "Acme"}, {{"RAPPORT_ADMIN_KEY", testing::kTestAdminKey}});
  ASSERT_EQ(org.exit_code, 0) << org.err;
  ASSERT_EQ(org.Lines().size(), 2u) << org.out;
  const std::string org_id = org.Lines()[0];
  const std::string admin_key = org.Lines()[1];
  EXPECT_FALSE(org_id.empty());
  EXPECT_FALSE(admin_key.empty());

  // create-user with the org admin key from RAPPORT_API_KEY.
  Result user = Ctl({"create-user", "--name", "Ann \"the\" Admin", "--email", "ann@acme.test", "--timezone", "UTC"},
                    {{"RAPPORT_API_KEY", admin_key}});
  ASSERT_EQ(user.exit_code, 0) << user.err;
  ASSERT_EQ(user.Lines().size(), 1u) << user.out;
  const std::string user_id = user.Lines()[0];

  // create-key with --api-key.
  Result key = Ctl({"create-key", "--api-key", admin_key, "--name", "app", "--scopes", "read,WRITE,ACT_AS_USER"});
  ASSERT_EQ(key.exit_code, 0) << key.err;
  ASSERT_EQ(key.Lines().size(), 1u) << key.out;
  const std::string app_key = key.Lines()[0];

  // mint-jwt offline with the gateway's secret; get /v1/me with it.
  Result jwt = Ctl({"mint-jwt", "--user", user_id, "--org", org_id, "--ttl", "10m"},
                   {{"RAPPORT_JWT_SECRET", testing::kTestJwtSecret}});
  ASSERT_EQ(jwt.exit_code, 0) << jwt.err;
  ASSERT_EQ(jwt.Lines().size(), 1u);
  const std::string token = jwt.Lines()[0];

  Result me = Ctl({"get", "/v1/me", "--token", token});
  ASSERT_EQ(me.exit_code, 0) << me.err;
  EXPECT_EQ(Str(Json(me.out), "userId"), user_id) << me.out;
  EXPECT_EQ(Str(Json(me.out), "displayName"), "Ann \"the\" Admin") << me.out;
  Result me_env = Ctl({"get", "/v1/me", "--raw"}, {{"RAPPORT_TOKEN", token}});
  ASSERT_EQ(me_env.exit_code, 0) << me_env.err;
  EXPECT_EQ(me_env.out.find("\n  "), std::string::npos) << "--raw is not re-indented: " << me_env.out;

  // The ACT_AS_USER key: create a contact, read it back, miss one.
  Result created = Ctl({"post", "/v1/contacts", "--api-key", app_key, "--as-user", user_id, "--data",
                        R"({"displayName":"Bob","tier":"INNER"})", "--idempotency-key", "k1"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string contact_id = Str(Json(created.out), "id");
  ASSERT_FALSE(contact_id.empty()) << created.out;
  Result got = Ctl({"get", "/v1/contacts/" + contact_id, "--token", token});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(Str(Json(got.out), "displayName"), "Bob");

  // --data @file with PATCH.
  const std::string file = stack_.data_dir() + "/patch.json";
  std::ofstream(file) << R"({"company":"Initech"})";
  Result patched = Ctl({"patch", "/v1/contacts/" + contact_id, "--token", token, "--data", "@" + file});
  ASSERT_EQ(patched.exit_code, 0) << patched.err;
  EXPECT_EQ(Str(Json(patched.out), "company"), "Initech");

  Result missing = Ctl({"get", "/v1/contacts/nope", "--token", token});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(missing.out.empty()) << missing.out;
  EXPECT_NE(missing.err.find("404"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("NOT_FOUND"), std::string::npos) << missing.err;

  Result deleted = Ctl({"delete", "/v1/contacts/" + contact_id, "--token", token});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_NE(Ctl({"get", "/v1/contacts/" + contact_id, "--token", token}).exit_code, 0);

  // --json gives the whole answer.
  Result org_json = Ctl({"create-org", "Beta", "--json", "--api-key", testing::kTestAdminKey});
  ASSERT_EQ(org_json.exit_code, 0) << org_json.err;
  google::protobuf::Struct answer = Json(org_json.out);
  EXPECT_FALSE(answer.fields().at("org").struct_value().fields().at("id").string_value().empty());
  EXPECT_FALSE(answer.fields().at("adminKey").struct_value().fields().at("secret").string_value().empty());
}

TEST_F(RapportctlIntegrationTest, ImportsAFileFollowsTheJobAndPrintsTheSummary) {
  Result org = Ctl({"create-org", "Acme", "--api-key", testing::kTestAdminKey});
  ASSERT_EQ(org.exit_code, 0) << org.err;
  const std::string admin_key = org.Lines()[1];
  Result user = Ctl({"create-user", "--api-key", admin_key, "--name", "Ann", "--email", "ann@acme.test"});
  ASSERT_EQ(user.exit_code, 0) << user.err;
  const std::map<std::string, std::string> as_ann = {{"RAPPORT_API_KEY", admin_key}};
  const std::string user_id = user.Lines()[0];
  const std::string file = stack_.data_dir() + "/people.csv";
  std::ofstream(file) << "Name,Email,Company\r\nAda Lovelace,ada@example.com,\"Engines, Ltd\"\r\nToo,few\r\n"
                         "Alan Turing,alan@example.com,Bletchley\r\n";
  // Not a terminal here: plain progress lines, then the summary and the skip.
  Result imported = Ctl({"import", file, "--as-user", user_id, "--tag", "cli"}, as_ann);
  ASSERT_EQ(imported.exit_code, 0) << imported.err << imported.out;
  EXPECT_NE(imported.out.find("): 3 rows, 2 created, 0 merged, 1 skipped"), std::string::npos) << imported.out;
  EXPECT_NE(imported.out.find("skipped row 2: has 2 columns, the header has 3"), std::string::npos) << imported.out;
  EXPECT_NE(imported.out.find("3/3 rows: 2 created, 0 merged, 1 skipped"), std::string::npos) << imported.out;
  Result tagged = Ctl({"get", "/v1/contacts?tag=cli", "--as-user", user_id}, as_ann);
  ASSERT_EQ(tagged.exit_code, 0) << tagged.err;
  EXPECT_EQ(Json(tagged.out).fields().at("contacts").list_value().values_size(), 2) << tagged.out;
  // Again: everything merges, nothing is created.
  Result again = Ctl({"import", file, "--as-user", user_id, "--format", "csv"}, as_ann);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("3 rows, 0 created, 2 merged, 1 skipped"), std::string::npos) << again.out;
  // A refused file: exit 1 and the problem on stderr.
  const std::string empty = stack_.data_dir() + "/empty.csv";
  std::ofstream(empty).flush();
  Result refused = Ctl({"import", empty, "--as-user", user_id}, as_ann);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("file: is empty"), std::string::npos) << refused.err;
  Result missing = Ctl({"import", stack_.data_dir() + "/nope.csv"}, as_ann);
  EXPECT_EQ(missing.exit_code, 2);
}

TEST_F(RapportctlIntegrationTest, FailedCallsExitNonZero) {
  // No credentials, a bad key, and a user token where a platform key is needed.
  EXPECT_EQ(Ctl({"get", "/v1/me"}).exit_code, 1);
  Result bad = Ctl({"create-org", "X", "--api-key", "rpa_wrong"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("401"), std::string::npos) << bad.err;
  EXPECT_TRUE(bad.out.empty());
  // A gateway that is not there.
  Result down = RunCtl({"get", "/healthz", "--url", "http://127.0.0.1:" + std::to_string(testing::FreePort())});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_FALSE(down.err.empty());
  // And one that is: /healthz needs no credentials.
  EXPECT_EQ(Ctl({"get", "/healthz"}).exit_code, 0);
  // Text answers are printed as received, not squeezed as JSON.
  Result metrics = Ctl({"get", "/metrics", "--api-key", testing::kTestAdminKey});
  EXPECT_EQ(metrics.exit_code, 0) << metrics.err;
  EXPECT_GT(metrics.Lines().size(), 1u) << metrics.out;
}

// users, keys and audit for an org admin: plain lines, then the effects.
TEST_F(RapportctlIntegrationTest, AdministersUsersKeysAndReadsTheAuditLog) {
  Result org = Ctl({"create-org", "Acme"}, {{"RAPPORT_ADMIN_KEY", testing::kTestAdminKey}});
  ASSERT_EQ(org.exit_code, 0) << org.err;
  const std::map<std::string, std::string> admin = {{"RAPPORT_API_KEY", org.Lines()[1]}};
  Result user = Ctl({"create-user", "--name", "Ann", "--email", "ann@acme.test"}, admin);
  ASSERT_EQ(user.exit_code, 0) << user.err;
  const std::string ann = user.Lines()[0];

  Result list = Ctl({"users", "list"}, admin);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  ASSERT_EQ(list.Lines().size(), 1u) << list.out;
  EXPECT_EQ(list.Lines()[0], ann + "\tACTIVE\tann@acme.test\tAnn\tUTC");
  Result off = Ctl({"users", "deactivate", ann}, admin);
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_NE(off.out.find("\tDEACTIVATED\t"), std::string::npos) << off.out;
  Result renamed = Ctl({"users", "update", ann, "--name", "Anne", "--timezone", "Europe/Paris"}, admin);
  ASSERT_EQ(renamed.exit_code, 0) << renamed.err;
  EXPECT_NE(renamed.out.find("\tAnne\tEurope/Paris"), std::string::npos) << renamed.out;
  ASSERT_EQ(Ctl({"users", "reactivate", ann}, admin).exit_code, 0);
  EXPECT_EQ(Ctl({"users", "deactivate", "01nobody"}, admin).exit_code, 1);

  Result key = Ctl({"create-key", "--name", "app", "--scopes", "READ"}, admin);
  ASSERT_EQ(key.exit_code, 0) << key.err;
  Result keys = Ctl({"keys", "list"}, admin);
  ASSERT_EQ(keys.exit_code, 0) << keys.err;
  ASSERT_EQ(keys.Lines().size(), 2u) << keys.out;  // the org admin's and the app's
  EXPECT_EQ(keys.out.find(key.Lines()[0]), std::string::npos) << "a secret was printed";
  std::string app_id;
  for (const std::string& line : keys.Lines()) {
    std::vector<std::string> cells = absl::StrSplit(line, '\t');
    ASSERT_EQ(cells.size(), 9u) << line;
    if (cells[2] == "app") app_id = cells[0];
    EXPECT_EQ(cells[1], "active") << line;
  }
  ASSERT_FALSE(app_id.empty()) << keys.out;
  Result expired = Ctl({"keys", "expire", app_id}, admin);
  ASSERT_EQ(expired.exit_code, 0) << expired.err;
  EXPECT_NE(expired.out.find("\texpired\t"), std::string::npos) << expired.out;
  Result later = Ctl({"keys", "expire", app_id, "--at", "7d"}, admin);
  ASSERT_EQ(later.exit_code, 0) << later.err;
  EXPECT_NE(later.out.find("\tactive\t"), std::string::npos) << later.out;
  Result revoked = Ctl({"keys", "revoke", app_id}, admin);
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_NE(revoked.out.find("\trevoked\t"), std::string::npos) << revoked.out;

  // The audit log, filtered, as lines: time, actor, action, target, client, detail.
  Result audit;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        audit = Ctl({"audit", "--since", "1h", "--action", "user.*"}, admin);
        return audit.exit_code == 0 && audit.Lines().size() == 4;
      },
      std::chrono::seconds(15)))
      << audit.out << audit.err;
  std::vector<std::string> newest = absl::StrSplit(audit.Lines()[0], '\t');
  ASSERT_EQ(newest.size(), 6u) << audit.Lines()[0];
  EXPECT_EQ(newest[2], "user.reactivated");
  EXPECT_EQ(newest[3], ann);
  EXPECT_EQ(newest[1].rfind("key:", 0), 0u) << newest[1];
  EXPECT_FALSE(newest[4].empty());
  // Entries land through the audit stream, each on its own: the revocation
  // may come after the user entries waited for above.
  Result keys_audit;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        keys_audit = Ctl({"audit", "--action", "apiKey.*", "--json"}, admin);
        return keys_audit.exit_code == 0 && keys_audit.out.find("apiKey.revoked") != std::string::npos;
      },
      std::chrono::seconds(15)))
      << keys_audit.out << keys_audit.err;
  // Not an org admin: the call fails (exit 1, the problem on stderr).
  Result denied = Ctl({"audit"}, {{"RAPPORT_API_KEY", key.Lines()[0]}});
  EXPECT_EQ(denied.exit_code, 1);
}

// export contacts streams the file to -o FILE (or stdout); export account
// starts the job, waits, and downloads its JSON lines.
TEST_F(RapportctlIntegrationTest, ExportsContactsAndTheAccount) {
  Result org = Ctl({"create-org", "Acme"}, {{"RAPPORT_ADMIN_KEY", testing::kTestAdminKey}});
  ASSERT_EQ(org.exit_code, 0) << org.err;
  const std::string org_id = org.Lines()[0];
  Result user =
      Ctl({"create-user", "--name", "Ann", "--email", "ann@acme.test"}, {{"RAPPORT_API_KEY", org.Lines()[1]}});
  ASSERT_EQ(user.exit_code, 0) << user.err;
  Result jwt =
      Ctl({"mint-jwt", "--user", user.Lines()[0], "--org", org_id}, {{"RAPPORT_JWT_SECRET", testing::kTestJwtSecret}});
  ASSERT_EQ(jwt.exit_code, 0) << jwt.err;
  const std::map<std::string, std::string> as_ann = {{"RAPPORT_TOKEN", jwt.Lines()[0]}};
  ASSERT_EQ(Ctl({"post", "/v1/contacts", "--data", R"({"displayName":"Bob, Jr.","emails":["bob@x.test"]})"}, as_ann)
                .exit_code,
            0);

  const std::string vcf = stack_.data_dir() + "/contacts.vcf";
  Result contacts = Ctl({"export", "contacts", "-o", vcf}, as_ann);
  ASSERT_EQ(contacts.exit_code, 0) << contacts.err;
  std::ifstream in(vcf);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("FN:Bob\\, Jr.\r\n"), std::string::npos) << text.str();
  EXPECT_FALSE(std::filesystem::exists(vcf + ".part"));
  Result csv = Ctl({"export", "contacts", "--format", "csv"}, as_ann);
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out.rfind("id,displayName,", 0), 0u) << csv.out;
  EXPECT_NE(csv.out.find("\"Bob, Jr.\""), std::string::npos) << csv.out;

  Result account = Ctl({"export", "account"}, as_ann);
  ASSERT_EQ(account.exit_code, 0) << account.err;
  EXPECT_NE(account.err.find("SUCCEEDED"), std::string::npos) << account.err;
  EXPECT_EQ(account.out.rfind("{\"type\":\"export\"", 0), 0u) << account.out;
  EXPECT_NE(account.out.find("bob@x.test"), std::string::npos) << account.out;

  // Refused: exit 1 with the problem, no file left behind.
  const std::string denied = stack_.data_dir() + "/denied.vcf";
  Result refused = Ctl({"export", "contacts", "-o", denied, "--token", "not-a-jwt"});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("401"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(denied));
  EXPECT_FALSE(std::filesystem::exists(denied + ".part"));
}

TEST(RapportctlUsageTest, HelpOnEveryCommandExitsZero) {
  for (const std::string command : {"create-org", "create-user", "create-key", "mint-jwt", "users", "keys", "audit",
                                    "export", "get", "post", "patch", "put", "delete"}) {
    Result r = RunCtl({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
    EXPECT_EQ(r.out.rfind("usage: rapportctl " + command, 0), 0u) << r.out;
    EXPECT_EQ(RunCtl({"help", command}).exit_code, 0) << command;
  }
  Result top = RunCtl({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("mint-jwt"), std::string::npos);
}

TEST(RapportctlUsageTest, BadCommandLinesExitTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {},                                         // no command
      {"frobnicate"},                             // unknown command
      {"create-org"},                             // missing NAME
      {"create-org", "a", "b"},                   // extra argument
      {"create-user", "--name", "Ann"},           // missing --email
      {"create-key", "--name", "k"},              // missing --scopes
      {"mint-jwt", "--user", "u", "--org", "o"},  // no secret
      {"mint-jwt", "--user", "u", "--org", "o", "--secret", "s", "--ttl", "soon"},
      {"get"},                                              // missing PATH
      {"get", "v1/me"},                                     // PATH without /
      {"get", "/v1/me", "--bogus"},                         // unknown flag
      {"get", "/v1/me", "--data"},                          // flag without its value
      {"get", "/v1/me", "--token", "t", "--api-key", "k"},  // two credentials
      {"users"},                                            // no subcommand
      {"users", "deactivate"},                              // no USER_ID
      {"users", "update", "u1"},                            // nothing to update
      {"keys", "expire", "k1", "--at", "someday"},          // not a time
      {"audit", "--since", "last week"},                    // not a time
      {"export"},                                           // nothing named
      {"export", "photos"},                                 // neither contacts nor account
      {"export", "contacts", "--format", "xlsx"},           // unknown format
  };
  for (const auto& args : bad) {
    Result r = RunCtl(args);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(args, " ") << "\n" << r.out << r.err;
    EXPECT_FALSE(r.err.empty()) << absl::StrJoin(args, " ");
  }
}

}  // namespace
}  // namespace rapport
