#include "gateway/transcoder.h"

#include <gtest/gtest.h>

#include "gateway/backends.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "google/protobuf/empty.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"

namespace rapport::gateway {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;

class TranscoderTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(router_.AddServices(BackendServiceNames()).ok()); }

  template <typename T>
  absl::StatusOr<T> Build(const std::string& method, const std::string& target, const std::string& body) {
    std::string path = target, query;
    if (size_t q = target.find('?'); q != std::string::npos) {
      path = target.substr(0, q);
      query = target.substr(q + 1);
    }
    RouteMatch m = router_.Match(method, path);
    EXPECT_EQ(m.kind, RouteMatch::Kind::kMatched) << target;
    if (m.route == nullptr) return absl::NotFoundError(target);
    HttpInput in;
    in.body = body;
    in.path_vars = m.vars;
    absl::StatusOr<QueryParams> params = ParseQuery(query);
    if (!params.ok()) return params.status();
    in.query = *params;
    absl::StatusOr<std::unique_ptr<google::protobuf::Message>> req = BuildRequest(*m.route, in);
    if (!req.ok()) return req.status();
    T out;
    if (out.GetDescriptor() == (*req)->GetDescriptor()) out.CopyFrom(**req);
    return out;
  }

  Router router_;
};

TEST_F(TranscoderTest, BodyFieldAndPathVariables) {
  auto req = Build<ppb::UpdateContactRequest>(
      "PATCH", "/v1/contacts/c1", R"({"displayName":"Ann","tier":"INNER","tags":["a","b"],"birthday":{"month":2,"day":29}})");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->contact_id(), "c1");
  EXPECT_EQ(req->contact().display_name(), "Ann");
  EXPECT_EQ(req->contact().tier(), ppb::INNER);
  EXPECT_EQ(req->contact().tags_size(), 2);
  EXPECT_EQ(req->contact().birthday().day(), 29);
  // The update mask comes from the body's keys, as proto field names.
  EXPECT_EQ(std::vector<std::string>(req->update_mask().paths().begin(), req->update_mask().paths().end()),
            (std::vector<std::string>{"display_name", "tier", "tags", "birthday"}));
}

TEST_F(TranscoderTest, ExplicitUpdateMaskWins) {
  auto req = Build<ppb::UpdateContactRequest>("PATCH", "/v1/contacts/c1?updateMask=displayName,howWeMet",
                                              R"({"displayName":"Ann","tier":"INNER"})");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(std::vector<std::string>(req->update_mask().paths().begin(), req->update_mask().paths().end()),
            (std::vector<std::string>{"display_name", "how_we_met"}));
}

TEST_F(TranscoderTest, WholeBodyWithVerbRoute) {
  auto req = Build<ipb::RespondIntroductionRequest>("POST", "/v1/introductions/i9:respond",
                                                    R"({"party":"B","accept":true})");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->id(), "i9");
  EXPECT_EQ(req->party(), ipb::B);
  EXPECT_TRUE(req->accept());
  // An empty body is an empty message.
  auto make = Build<ipb::MakeIntroductionRequest>("POST", "/v1/introductions/i9:make", "");
  ASSERT_TRUE(make.ok());
  EXPECT_EQ(make->id(), "i9");
}

TEST_F(TranscoderTest, QueryParametersOfEveryKind) {
  auto req = Build<ipb::ListInteractionsRequest>(
      "GET", "/v1/interactions?pageSize=20&pageToken=abc%3D&contactId=c1&kind=MEETING&after=2026-01-02T03:04:05Z", "");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->page_size(), 20);
  EXPECT_EQ(req->page_token(), "abc=");
  EXPECT_EQ(req->contact_id(), "c1");
  EXPECT_EQ(req->kind(), ipb::MEETING);
  EXPECT_EQ(req->after().seconds(), 1767323045);
  auto snake = Build<ppb::ListContactsRequest>("GET", "/v1/contacts?page_size=3&query=a+b&tier=CLOSE", "");
  ASSERT_TRUE(snake.ok()) << snake.status();
  EXPECT_EQ(snake->page_size(), 3);
  EXPECT_EQ(snake->query(), "a b");
  EXPECT_EQ(snake->tier(), ppb::CLOSE);
}

TEST_F(TranscoderTest, RepeatedAndNestedQueryParameters) {
  ppb::Contact c;
  ASSERT_TRUE(SetFieldFromString(&c, "tags", "a").ok());
  ASSERT_TRUE(SetFieldFromString(&c, "tags", "b").ok());
  ASSERT_TRUE(SetFieldFromString(&c, "birthday.month", "7").ok());
  EXPECT_EQ(c.tags_size(), 2);
  EXPECT_EQ(c.birthday().month(), 7);
}

struct BadCase {
  std::string method, target, body, expect;  // expect: substring of the message
};

TEST_F(TranscoderTest, RejectsBadInputWithViolations) {
  std::string deep(40, '[');
  deep = R"({"displayName":"x","tags":)" + deep;
  const std::vector<BadCase> cases = {
      {"POST", "/v1/contacts", R"({"displayName":"x","orgId":"o"})", "contact.orgId: unknown field"},
      {"POST", "/v1/contacts", R"({"displayName":"x","id":"c"})", ""},  // output fields: the service refuses
      {"POST", "/v1/contacts", R"({"displayName":12})", "contact: invalid JSON"},
      {"POST", "/v1/contacts", R"({"tier":"BEST"})", "contact: invalid JSON"},
      {"POST", "/v1/contacts", R"({"displayName":"x")", "contact: invalid JSON"},
      {"POST", "/v1/contacts", deep, "deeper than 32"},
      {"POST", "/v1/contacts", "{\"displayName\":\"\xff\xfe\"}", "body: must be valid UTF-8"},
      {"GET", "/v1/contacts?pageSize=ten", "", "pageSize: must be an integer"},
      {"GET", "/v1/contacts?tier=BEST", "", "tier: must be one of INNER"},
      {"GET", "/v1/contacts?nope=1", "", "nope: unknown parameter"},
      {"GET", "/v1/interactions?after=yesterday", "", "after: must be an RFC 3339 time"},
      {"GET", "/v1/contacts/c1?contactId=c2", "", "contactId: is set by the path"},
      {"GET", "/v1/contacts/c1", "{}", "body: this route takes no body"},
  };
  for (const BadCase& c : cases) {
    auto req = Build<google::protobuf::Empty>(c.method, c.target, c.body);
    if (c.expect.empty()) continue;
    ASSERT_FALSE(req.ok()) << c.target << " " << c.body;
    EXPECT_EQ(req.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(req.status().message().find(c.expect), std::string::npos) << req.status().message();
  }
}

TEST(ScanJsonTest, DepthAndTopLevelKeys) {
  std::vector<std::string> keys;
  ASSERT_TRUE(ScanJson(R"({"a":{"x":1,"y":[1,{"z":2}]},"b":"s,\"c\":1","d":[]})", 32, &keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "d"}));
  EXPECT_TRUE(ScanJson(std::string(32, '[') + std::string(32, ']'), 32, nullptr).ok());
  EXPECT_FALSE(ScanJson(std::string(33, '[') + std::string(33, ']'), 32, nullptr).ok());
}

TEST(ToJsonTest, PrintsLowerCamelCase) {
  ppb::Contact c;
  c.set_display_name("Ann");
  c.set_how_we_met("school");
  c.mutable_create_time()->set_seconds(1767323045);
  auto json = ToJson(c);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, R"({"displayName":"Ann","howWeMet":"school","createTime":"2026-01-02T03:04:05Z"})");
  EXPECT_EQ(CamelToSnake("metThroughContactId"), "met_through_contact_id");
}

}  // namespace
}  // namespace rapport::gateway
