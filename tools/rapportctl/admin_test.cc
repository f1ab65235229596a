#include "tools/rapportctl/admin.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace rapport::ctl {
namespace {

struct Sent {
  std::string method, path, body;
};

// A gateway that answers each call with the next canned answer.
struct FakeGateway {
  std::vector<std::string> answers;
  std::vector<Sent> sent;
  Caller caller() {
    return [this](const std::string& method, const std::string& path, const std::string& body, std::string* answer) {
      sent.push_back({method, path, body});
      if (answers.empty()) return false;
      *answer = answers.front();
      answers.erase(answers.begin());
      return true;
    };
  }
};

ParsedArgs Args(const std::string& command, std::vector<std::string> positional,
                std::map<std::string, std::string> flags = {}) {
  ParsedArgs a;
  a.command = command;
  a.positional = std::move(positional);
  a.flags = std::move(flags);
  return a;
}

TEST(RapportctlAdminTest, UsersDeactivatePatchesTheState) {
  FakeGateway gw{{R"({"id":"u1","state":"DEACTIVATED","email":"a@x.test","displayName":"Ann","timezone":"UTC"})"}, {}};
  std::ostringstream out;
  std::string usage;
  EXPECT_EQ(UsersCommand(Args("users", {"deactivate", "u1"}), gw.caller(), out, &usage), 0) << usage;
  ASSERT_EQ(gw.sent.size(), 1u);
  EXPECT_EQ(gw.sent[0].method, "PATCH");
  EXPECT_EQ(gw.sent[0].path, "/v1/users/u1");
  EXPECT_EQ(gw.sent[0].body, R"({"state":"DEACTIVATED"})");
  EXPECT_EQ(out.str(), "u1\tDEACTIVATED\ta@x.test\tAnn\tUTC\n");
}

TEST(RapportctlAdminTest, ListFollowsPagesWithAll) {
  FakeGateway gw{{R"({"users":[{"id":"u1","state":"ACTIVE"}],"nextPageToken":"t2"})",
                  R"({"users":[{"id":"u2","state":"ACTIVE","displayName":"tab\there"}]})"},
                 {}};
  std::ostringstream out;
  std::string usage;
  EXPECT_EQ(UsersCommand(Args("users", {"list"}, {{"all", "true"}, {"page-size", "1"}}), gw.caller(), out, &usage), 0);
  ASSERT_EQ(gw.sent.size(), 2u);
  EXPECT_EQ(gw.sent[0].path, "/v1/users?pageSize=1");
  EXPECT_EQ(gw.sent[1].path, "/v1/users?pageSize=1&pageToken=t2");
  EXPECT_EQ(out.str(), "u1\tACTIVE\t-\t-\t-\nu2\tACTIVE\t-\ttab here\t-\n");
}

TEST(RapportctlAdminTest, KeyLinesTellActiveExpiredAndRevoked) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  auto lines = KeyLines(
      R"({"apiKeys":[
        {"id":"k1","displayName":"a","scopes":["READ","WRITE"],"createTime":"2026-01-01T00:00:00Z"},
        {"id":"k2","displayName":"b","scopes":["READ"],"expireTime":"2020-01-01T00:00:00Z","rateLimitPerMinute":5},
        {"id":"k3","displayName":"c","scopes":["ADMIN"],"revokeTime":"2026-01-02T00:00:00Z","userId":"u1"}]})",
      now);
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_EQ(*lines,
            "k1\tactive\ta\tREAD,WRITE\t2026-01-01T00:00:00Z\t-\t-\tdefault\t-\n"
            "k2\texpired\tb\tREAD\t-\t-\t2020-01-01T00:00:00Z\t5/min\t-\n"
            "k3\trevoked\tc\tADMIN\t-\t-\t-\tdefault\tu1\n");
  EXPECT_FALSE(KeyLines("not json").ok());
}

TEST(RapportctlAdminTest, KeysExpireSendsTheTimeOrClearsIt) {
  FakeGateway gw{{R"({"id":"k1"})", R"({"id":"k1"})"}, {}};
  std::ostringstream out;
  std::string usage;
  ASSERT_EQ(KeysCommand(Args("keys", {"expire", "k1"}, {{"at", "2030-01-01T00:00:00Z"}}), gw.caller(), out, &usage), 0)
      << usage;
  EXPECT_EQ(gw.sent[0].path, "/v1/apiKeys/k1");
  EXPECT_EQ(gw.sent[0].body, R"({"expireTime":"2030-01-01T00:00:00Z"})");
  ASSERT_EQ(KeysCommand(Args("keys", {"expire", "k1"}, {{"never", "true"}}), gw.caller(), out, &usage), 0);
  EXPECT_EQ(gw.sent[1].path, "/v1/apiKeys/k1?updateMask=expireTime");
  EXPECT_EQ(KeysCommand(Args("keys", {"expire", "k1"}, {{"never", "true"}, {"at", "1h"}}), gw.caller(), out, &usage),
            2);
  EXPECT_EQ(KeysCommand(Args("keys", {"rotate", "k1"}), gw.caller(), out, &usage), 2);
}

TEST(RapportctlAdminTest, AuditEscapesFiltersAndPrintsLines) {
  FakeGateway gw{{R"({"entries":[{"time":"2026-12-05T01:02:03Z","actor":"key:k1","action":"apiKey.revoked",
                     "targetId":"k2","clientAddress":"203.0.113.7","detail":""}],"nextPageToken":"n"})"},
                 {}};
  std::ostringstream out;
  std::string usage;
  ASSERT_EQ(AuditCommand(Args("audit", {}, {{"action", "apiKey.*"}, {"actor", "k1"}}), gw.caller(), out, &usage), 0);
  EXPECT_EQ(gw.sent[0].path, "/v1/audit?actor=k1&action=apiKey.%2A");
  EXPECT_EQ(out.str(), "2026-12-05T01:02:03Z\tkey:k1\tapiKey.revoked\tk2\t203.0.113.7\t-\n");
  EXPECT_EQ(AuditCommand(Args("audit", {}, {{"since", "whenever"}}), gw.caller(), out, &usage), 2);
  EXPECT_NE(usage.find("--since"), std::string::npos);
}

TEST(RapportctlAdminTest, ParseWhen) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  EXPECT_EQ(*ParseWhen("24h", now, true), now - absl::Hours(24));
  EXPECT_EQ(*ParseWhen("7d", now, false), now + absl::Hours(168));
  EXPECT_EQ(*ParseWhen("2027-01-15T10:00:00Z", now, true),
            absl::FromCivil(absl::CivilSecond(2027, 1, 15, 10, 0, 0), absl::UTCTimeZone()));
  EXPECT_FALSE(ParseWhen("soon", now, true).ok());
}

}  // namespace
}  // namespace rapport::ctl
