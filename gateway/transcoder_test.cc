#include "gateway/transcoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/backends.h"
#include "google/protobuf/empty.pb.h"
#include "google/protobuf/struct.pb.h"
#include "rapport/interactions/v1/interactions.pb.h"
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

TEST_F(TranscoderTest, HttpBodyFieldTakesTheRawBodyAndItsContentType) {
  RouteMatch m = router_.Match("POST", "/v1/imports");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kMatched);
  EXPECT_TRUE(m.route->raw_body);
  EXPECT_FALSE(router_.Match("POST", "/v1/contacts").route->raw_body);
  HttpInput in;
  in.body = std::string("Name\r\n\xff\xfe not UTF-8, not JSON") + std::string(1, '\0');
  in.content_type = "text/csv; charset=utf-8";
  absl::StatusOr<QueryParams> params = ParseQuery("format=csv&map=Name%3DdisplayName&tag=x");
  ASSERT_TRUE(params.ok());
  in.query = *params;
  auto built = BuildRequest(*m.route, in);
  ASSERT_TRUE(built.ok()) << built.status();
  ppb::CreateImportRequest req;
  req.CopyFrom(**built);
  EXPECT_EQ(req.file().data(), in.body);
  EXPECT_EQ(req.file().content_type(), "text/csv; charset=utf-8");
  EXPECT_EQ(req.format(), "csv");
  EXPECT_EQ(req.map(), "Name=displayName");
  EXPECT_EQ(req.tag(), "x");
  // An empty upload is an empty file (the service says what is wrong with it).
  in.body.clear();
  built = BuildRequest(*m.route, in);
  ASSERT_TRUE(built.ok()) << built.status();
}

TEST_F(TranscoderTest, BodyFieldAndPathVariables) {
  auto req = Build<ppb::UpdateContactRequest>(
      "PATCH", "/v1/contacts/c1",
      R"({"displayName":"Ann","tier":"INNER","tags":["a","b"],"birthday":{"month":2,"day":29}})");
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
  auto req =
      Build<ipb::RespondIntroductionRequest>("POST", "/v1/introductions/i9:respond", R"({"party":"B","accept":true})");
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
      {"POST", "/v1/contacts", R"({"displayName":12})", "contact.displayName: must be a string"},
      {"POST", "/v1/contacts", R"({"tier":"BEST"})", "contact.tier: must be one of INNER, CLOSE"},
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

// protobuf's JSON parser is lenient; these bodies must still be refused, each
// violation naming the field by its JSON path.
TEST_F(TranscoderTest, RefusesLenientJson) {
  const std::vector<BadCase> cases = {
      // Syntax.
      {"POST", "/v1/contacts", R"({"displayName":"Bob",})", "contact: invalid JSON: trailing comma"},
      {"POST", "/v1/contacts", R"({"tags":["a",]})", "contact: invalid JSON: trailing comma"},
      {"POST", "/v1/contacts", R"({'displayName':'Bob'})", "contact: invalid JSON: expected a double-quoted string"},
      {"POST", "/v1/contacts", R"({"displayName":'Bob'})", "contact: invalid JSON: strings must be in double quotes"},
      {"PATCH", "/v1/contacts/c1", R"({'title':'CTO'})", "contact: invalid JSON"},
      {"POST", "/v1/contacts", R"({displayName:"Bob"})", "contact: invalid JSON"},
      {"POST", "/v1/contacts", R"({"displayName":"Bob" /* hi */})", "contact: invalid JSON"},
      {"POST", "/v1/contacts", "// hi\n{\"displayName\":\"Bob\"}", "contact: invalid JSON: comments are not allowed"},
      {"POST", "/v1/contacts", R"({"cadenceDays":01})", "contact: invalid JSON: leading zero"},
      {"POST", "/v1/contacts", R"({"cadenceDays":+1})", "contact: invalid JSON"},
      {"POST", "/v1/contacts", R"({"cadenceDays":1.})", "contact: invalid JSON: invalid number"},
      {"POST", "/v1/contacts", R"({"cadenceDays":.5})", "contact: invalid JSON"},
      {"POST", "/v1/contacts", R"({"cadenceDays":1e})", "contact: invalid JSON: invalid number"},
      {"POST", "/v1/contacts", R"({"cadenceDays":0x10})", "contact: invalid JSON"},
      {"POST", "/v1/contacts", R"({"cadenceDays":NaN})", "contact: invalid JSON"},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","tags":[True]})", "contact: invalid JSON"},
      {"POST", "/v1/contacts", R"({"displayName":nul})", "contact: invalid JSON: invalid literal"},
      {"POST", "/v1/contacts", R"({"displayName":"Bob"} {})", "contact: invalid JSON: unexpected data after"},
      {"POST", "/v1/contacts", R"({"displayName":"Bob"}})", "contact: invalid JSON: unexpected data after"},
      {"POST", "/v1/contacts", R"({"displayName":"Bob",,"title":"x"})", "contact: invalid JSON"},
      {"POST", "/v1/contacts", R"({"displayName" "Bob"})", "contact: invalid JSON: expected ':'"},
      {"POST", "/v1/contacts", R"({"displayName":"a\qb"})", "contact: invalid JSON: invalid escape"},
      {"POST", "/v1/contacts", R"({"displayName":"\ud800"})", "contact: invalid JSON: unpaired surrogate"},
      {"POST", "/v1/contacts", "{\"displayName\":\"a\tb\"}", "contact: invalid JSON: unescaped control character"},
      {"POST", "/v1/contacts", R"(["displayName"])", "contact: invalid JSON: expected a JSON object"},
      {"POST", "/v1/contacts", "   ", "contact: invalid JSON"},
      {"POST", "/v1/introductions/i9:respond", R"({"party":"A","accept":"yes",})",
       "body: invalid JSON: trailing comma"},
      // Types.
      {"POST", "/v1/introductions/i9:respond", R"({"party":"A","accept":"yes"})", "accept: must be true or false"},
      {"POST", "/v1/introductions/i9:respond", R"({"party":"A","accept":"no"})", "accept: must be true or false"},
      {"POST", "/v1/introductions/i9:respond", R"({"party":"A","accept":1})", "accept: must be true or false"},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","tags":"mentor"})", "contact.tags: must be an array"},
      {"POST", "/v1/interactions", R"({"kind":"MEETING","direction":"GAVE","contactIds":"c1"})",
       "interaction.contactIds: must be an array"},
      {"POST", "/v1/contacts", R"({"tags":["a",2]})", "contact.tags[1]: must be a string"},
      {"POST", "/v1/contacts", R"({"tags":["a",null]})", "contact.tags[1]: must not be null"},
      {"POST", "/v1/contacts", R"({"displayName":true})", "contact.displayName: must be a string"},
      {"POST", "/v1/contacts", R"({"displayName":["Bob"]})", "contact.displayName: must be a string"},
      {"POST", "/v1/contacts", R"({"birthday":"02-29"})", "contact.birthday: must be an object"},
      {"POST", "/v1/contacts", R"({"birthday":[2,29]})", "contact.birthday: must be an object"},
      {"POST", "/v1/contacts", R"({"birthday":{"month":true}})", "contact.birthday.month: must be a number"},
      {"POST", "/v1/contacts", R"({"birthday":{"month":2,"hour":1}})", "contact.birthday.hour: unknown field"},
      {"POST", "/v1/contacts", R"({"tier":true})", "contact.tier: must be a value name or number"},
      {"POST", "/v1/contacts", R"({"displayName":"a","display_name":"b"})",
       "contact.display_name: is set more than once"},
      {"POST", "/v1/interactions", R"({"kind":"MEETING","occurredAt":"yesterday"})",
       "interaction.occurredAt: must be an RFC 3339 time"},
      {"POST", "/v1/interactions", R"({"kind":"MEETING","occurredAt":1767323045})",
       "interaction.occurredAt: must be an RFC 3339 time"},
      {"POST", "/v1/interactions", R"({"kind":"MEETING","occurredAt":{"seconds":1}})",
       "interaction.occurredAt: must be an RFC 3339 time"},
      {"PATCH", "/v1/contacts/c1?updateMask=tags", R"({"tags":"a"})", "contact.tags: must be an array"},
      // Every violation, in order.
      {"POST", "/v1/contacts", R"({"tags":"a","orgId":"o","cadenceDays":false})",
       "contact.tags: must be an array; contact.orgId: unknown field; contact.cadenceDays: must be a number"},
      // A whole-body key naming a path variable is not silently overridden.
      {"PUT", "/v1/groups/g1/members/m1", R"({"groupId":"other"})", "groupId: is set by the path"},
      {"PUT", "/v1/groups/g1/members/m1", R"({"member_id":"m2","role":"LEADER"})", "member_id: is set by the path"},
      {"POST", "/v1/introductions/i9:respond", R"({"id":"i8","party":"A","accept":true})", "id: is set by the path"},
  };
  for (const BadCase& c : cases) {
    auto req = Build<google::protobuf::Empty>(c.method, c.target, c.body);
    ASSERT_FALSE(req.ok()) << c.method << " " << c.target << " " << c.body;
    EXPECT_EQ(req.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_NE(req.status().message().find(c.expect), std::string::npos)
        << c.body << " -> " << req.status().message() << " (expected " << c.expect << ")";
  }
}

// Strict, but still proto3 JSON: what a correct client sends passes.
TEST_F(TranscoderTest, AcceptsValidProto3Json) {
  struct GoodCase {
    std::string method, target, body;
  };
  const std::vector<GoodCase> cases = {
      {"POST", "/v1/contacts", R"({"displayName":"Bob"})"},
      {"POST", "/v1/contacts", " \t\r\n{ \"displayName\" : \"Bob\" , \"tags\" : [ \"a\" , \"b\" ] }\n"},
      {"POST", "/v1/contacts", R"({})"},
      {"POST", "/v1/contacts", R"({"displayName":"B\u00f6b \"q\" \\ \/ \b\f\n\r\t \ud83d\ude00"})"},
      {"POST", "/v1/contacts",
       "{\"displayName\":\"B\xc3\xb6"
       "b\"}"},
      {"POST", "/v1/contacts", R"({"display_name":"Bob","how_we_met":"school"})"},
      {"POST", "/v1/contacts", R"({"birthday":{"month":2,"day":29,"year":1990},"tags":[],"emails":["a@b.c"]})"},
      {"POST", "/v1/contacts", R"({"cadenceDays":"30"})"},
      {"POST", "/v1/contacts", R"({"cadenceDays":-0})"},
      {"POST", "/v1/contacts", R"({"cadenceDays":3E1})"},
      {"POST", "/v1/contacts", R"({"cadenceDays":30.0})"},
      {"POST", "/v1/contacts", R"({"tier":"INNER","visibility":2})"},
      {"POST", "/v1/contacts", R"({"displayName":"Bob","tags":null,"birthday":null,"tier":null,"cadenceDays":null})"},
      {"POST", "/v1/interactions",
       R"({"kind":"MEETING","direction":"GAVE","contactIds":["c1","c2"],"occurredAt":"2026-01-02T03:04:05Z",)"
       R"("followUpAt":"2026-01-09T03:04:05.250+01:00"})"},
      {"POST", "/v1/interactions", R"({"kind":"MEETING","occurredAt":null})"},
      {"POST", "/v1/introductions/i9:respond", R"({"party":"A","accept":false})"},
      {"POST", "/v1/introductions/i9:respond", R"({"party":"B","accept":null})"},
      {"PUT", "/v1/groups/g1/members/m1", R"({"role":"LEADER"})"},
      {"PATCH", "/v1/contacts/c1", R"({"title":"CTO"})"},
  };
  for (const GoodCase& c : cases) {
    auto req = Build<google::protobuf::Empty>(c.method, c.target, c.body);
    EXPECT_TRUE(req.ok()) << c.method << " " << c.target << " " << c.body << ": " << req.status();
  }
  auto contact = Build<ppb::CreateContactRequest>(
      "POST", "/v1/contacts", R"({"displayName":"B\u00f6b \ud83d\ude00","tier":"CLOSE","tags":["x","y"]})");
  ASSERT_TRUE(contact.ok()) << contact.status();
  EXPECT_EQ(contact->contact().display_name(),
            "B\xc3\xb6"
            "b \xf0\x9f\x98\x80");
  EXPECT_EQ(contact->contact().tier(), ppb::CLOSE);
  EXPECT_EQ(contact->contact().tags_size(), 2);
  auto interaction = Build<ipb::CreateInteractionRequest>(
      "POST", "/v1/interactions", R"({"kind":"MEETING","contactIds":["c1"],"occurredAt":"2026-01-02T03:04:05Z"})");
  ASSERT_TRUE(interaction.ok()) << interaction.status();
  EXPECT_EQ(interaction->interaction().occurred_at().seconds(), 1767323045);
  EXPECT_EQ(interaction->interaction().kind(), ipb::MEETING);
  auto member = Build<ppb::PutMemberRequest>("PUT", "/v1/groups/g1/members/m1", R"({"role":"LEADER"})");
  ASSERT_TRUE(member.ok()) << member.status();
  EXPECT_EQ(member->group_id(), "g1");
  EXPECT_EQ(member->member_id(), "m1");
  EXPECT_EQ(member->role(), ppb::LEADER);
  // Escaped keys are unescaped, so the update mask still sees them.
  auto patch = Build<ppb::UpdateContactRequest>("PATCH", "/v1/contacts/c1", R"({"t\u0069tle":"CTO"})");
  ASSERT_TRUE(patch.ok()) << patch.status();
  EXPECT_EQ(patch->contact().title(), "CTO");
  EXPECT_EQ(std::vector<std::string>(patch->update_mask().paths().begin(), patch->update_mask().paths().end()),
            std::vector<std::string>{"title"});
}

// Repeated messages, maps-free nesting and well-known types, checked directly
// against a descriptor.
TEST(ScanJsonTest, ChecksTypesAgainstTheDescriptor) {
  const auto* list = ppb::ListContactsResponse::descriptor();
  std::vector<std::string> keys;
  EXPECT_TRUE(ScanJson(R"({"contacts":[{"displayName":"a","tags":["x"],"createTime":"2026-01-02T03:04:05Z"},)"
                       R"({"birthday":{"month":1}}],"nextPageToken":"t"})",
                       32, &keys, list)
                  .ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"contacts", "nextPageToken"}));
  absl::Status s =
      ScanJson(R"({"contacts":[{"tags":"x"},{"birthday":{"month":"x","day":[]}},"c"]})", 32, nullptr, list);
  EXPECT_EQ(s.message(),
            "contacts[0].tags: must be an array; contacts[1].birthday.day: must be a number; "
            "contacts[2]: must be an object");
  s = ScanJson(R"({"contacts":{"displayName":"a"}})", 32, nullptr, list, "page");
  EXPECT_EQ(s.message(), "page.contacts: must be an array");
  s = ScanJson(R"({"contacts":[{"displayName":"a",}]})", 32, nullptr, list, "page");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("page: invalid JSON: trailing comma"), std::string::npos) << s.message();
  // Struct and Value take any JSON.
  const auto* value = google::protobuf::ListValue::descriptor();
  EXPECT_TRUE(ScanJson(R"({"values":[null,1,"s",true,{"a":[{}]},[]]})", 32, nullptr, value).ok());
  // Depth counts the objects and arrays of typed walks too.
  std::string deep = R"({"contacts":[{"birthday":{"month":)" + std::string(40, '[');
  s = ScanJson(deep, 32, nullptr, list);
  EXPECT_EQ(s.message(), "body: JSON nests deeper than 32 levels");
}

TEST(ScanJsonTest, StrictSyntaxWithoutAType) {
  for (const char* good : {"0", "-1.5e+10", "\"s\"", "true", "false", "null", "[]", "{}", " [1, {\"a\": null}] "}) {
    EXPECT_TRUE(ScanJson(good, 32, nullptr).ok()) << good;
  }
  for (const char* bad : {"",     "[1,]", "{\"a\":1,}", "'s'",   "tru",    "TRUE",      "NaN",       "Infinity",
                          "-",    "01",   "1.",         ".1",    "1e",     "[1 2]",     "{\"a\" 1}", "{1:2}",
                          "[1]]", "[",    "\"abc",      "/**/1", "1 // c", "\"\\x41\"", "\"\\u12\"", "[,1]"}) {
    absl::Status s = ScanJson(bad, 32, nullptr);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("body: invalid JSON"), std::string::npos) << bad << ": " << s.message();
  }
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
