// The fast body parser against protobuf's JsonStringToMessage: whenever the
// fast path accepts a body, protobuf must accept it too and build the same
// message; the bodies clients normally send must take the fast path.
#include "gateway/json_parser.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "gateway/transcoder.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"

namespace rapport::gateway {
namespace {

using google::protobuf::Message;

constexpr char kTestFile[] = R"pb(
  name: "json_parser_test.proto"
  package: "jpp"
  syntax: "proto3"
  dependency: "google/protobuf/timestamp.proto"
  enum_type {
    name: "Color"
    value { name: "COLOR_UNSPECIFIED" number: 0 }
    value { name: "RED" number: 1 }
  }
  message_type {
    name: "Inner"
    field { name: "s" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "s" }
  }
  message_type {
    name: "All"
    field { name: "i32" number: 1 type: TYPE_INT32 label: LABEL_OPTIONAL json_name: "i32" }
    field { name: "i64" number: 2 type: TYPE_INT64 label: LABEL_OPTIONAL json_name: "i64" }
    field { name: "u32" number: 3 type: TYPE_UINT32 label: LABEL_OPTIONAL json_name: "u32" }
    field { name: "u64" number: 4 type: TYPE_UINT64 label: LABEL_OPTIONAL json_name: "u64" }
    field { name: "s32" number: 5 type: TYPE_SINT32 label: LABEL_OPTIONAL json_name: "s32" }
    field { name: "db" number: 6 type: TYPE_DOUBLE label: LABEL_OPTIONAL json_name: "db" }
    field { name: "b" number: 7 type: TYPE_BOOL label: LABEL_OPTIONAL json_name: "b" }
    field { name: "str_field" number: 8 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "strField" }
    field { name: "color" number: 9 type: TYPE_ENUM type_name: ".jpp.Color" label: LABEL_OPTIONAL json_name: "color" }
    field {
      name: "inner"
      number: 10
      type: TYPE_MESSAGE
      type_name: ".jpp.Inner"
      label: LABEL_OPTIONAL
      json_name: "inner"
    }
    field { name: "rs" number: 11 type: TYPE_STRING label: LABEL_REPEATED json_name: "rs" }
    field {
      name: "rinner"
      number: 12
      type: TYPE_MESSAGE
      type_name: ".jpp.Inner"
      label: LABEL_REPEATED
      json_name: "rinner"
    }
    field {
      name: "opt"
      number: 13
      type: TYPE_INT32
      label: LABEL_OPTIONAL
      json_name: "opt"
      oneof_index: 1
      proto3_optional: true
    }
    field { name: "one_s" number: 14 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "oneS" oneof_index: 0 }
    field { name: "one_i" number: 15 type: TYPE_INT32 label: LABEL_OPTIONAL json_name: "oneI" oneof_index: 0 }
    field {
      name: "ts"
      number: 16
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Timestamp"
      label: LABEL_OPTIONAL
      json_name: "ts"
    }
    field { name: "rd" number: 17 type: TYPE_DOUBLE label: LABEL_REPEATED json_name: "rd" }
    field { name: "fl" number: 18 type: TYPE_FLOAT label: LABEL_OPTIONAL json_name: "fl" }
    field { name: "by" number: 19 type: TYPE_BYTES label: LABEL_OPTIONAL json_name: "by" }
    oneof_decl { name: "choice" }
    oneof_decl { name: "_opt" }
  }
)pb";

class JsonParserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    google::protobuf::Timestamp().GetDescriptor();
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(kTestFile, &file));
    ASSERT_NE(pool_.BuildFile(file), nullptr);
    factory_.SetDelegateToGeneratedFactory(true);
    all_ = factory_.GetPrototype(pool_.FindMessageTypeByName("jpp.All"));
  }

  // Parses json both ways; returns whether the fast path took it, after
  // checking it agrees with protobuf.
  bool Compare(const Message& prototype, const std::string& json) {
    std::unique_ptr<Message> fast(prototype.New()), reference(prototype.New());
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    const bool reference_ok = google::protobuf::util::JsonStringToMessage(json, reference.get(), options).ok();
    if (!ParseJsonFast(json, fast.get())) return false;
    EXPECT_TRUE(reference_ok) << "fast path accepted what protobuf refuses: " << json;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*fast, *reference))
        << json << "\nfast: " << fast->DebugString() << "\nprotobuf: " << reference->DebugString();
    return true;
  }

  google::protobuf::DescriptorPool pool_{google::protobuf::DescriptorPool::generated_pool()};
  google::protobuf::DynamicMessageFactory factory_{&pool_};
  const Message* all_ = nullptr;
};

TEST_F(JsonParserTest, CommonBodiesTakeTheFastPathAndMatch) {
  const char* accepted[] = {
      "{}",
      " { } ",
      R"({"i32":-2147483648,"i64":-9223372036854775808,"u32":4294967295,"u64":18446744073709551615,"s32":7})",
      R"({"db":0.1,"rd":[1,-0,1e300,2.5E-3,123456789012345678901234567890],"b":true})",
      R"({"b":false,"strField":"x","str_field2":1})",
      R"({"strField":"tab\t nl\n quote\" bs\\ slash\/ u\u00e9 \u4e2d surrogate \ud83d\ude00 nul\u0000"})",
      R"({"str_field":"by proto name"})",
      R"({"color":"RED","inner":{"s":"in"},"rs":["a","","c"],"rinner":[{},{"s":"x"}]})",
      R"({"opt":0,"oneS":""})",
      R"({"oneI":5,"rs":[]})",
      R"({"ts":"2026-11-28T01:02:03Z"})",
      R"({"ts":"2024-02-29T23:59:59.123Z"})",
      R"({"ts":"0001-01-01T00:00:00.000001Z"})",
      R"({"ts":"9999-12-31T23:59:59.999999999Z"})",
      R"({"ts":"1969-07-20T20:17:40.000000000Z"})",
      "{\n  \"i32\" : 1 ,\n  \"rs\" : [ \"a\" , \"b\" ]\n}",
  };
  for (const char* json : accepted) {
    if (std::string(json).find("str_field2") != std::string::npos) {
      EXPECT_FALSE(Compare(*all_, json)) << json;  // unknown key: protobuf's error
      continue;
    }
    EXPECT_TRUE(Compare(*all_, json)) << json;
  }
}

TEST_F(JsonParserTest, DeclinesWhatProtobufMustDecide) {
  const char* declined[] = {
      R"({"i32":2147483648})",
      R"({"i32":1.0})",
      R"({"i32":"5"})",
      R"({"i32":1e2})",
      R"({"u32":-1})",
      R"({"u64":18446744073709551616})",
      R"({"i32":-0})",
      R"({"db":"NaN"})",
      R"({"db":1e400})",
      R"({"fl":1.5})",
      R"({"by":"AAE="})",
      R"({"color":1})",
      R"({"color":"BLUE"})",
      R"({"color":"red"})",
      R"({"i32":null})",
      R"({"i32":1,"i32":2})",
      R"({"oneS":"a","oneI":1})",
      R"({"strField":"\ud800"})",
      R"({"strField":"\udc00x"})",
      R"({"ts":"2026-02-29T00:00:00Z"})",
      R"({"ts":"2026-11-28T01:02:03+01:00"})",
      R"({"ts":"2026-11-28T01:02:03.1Z"})",
      R"({"ts":"2026-11-28 01:02:03Z"})",
      R"({"ts":"2026-13-01T00:00:00Z"})",
      R"({"ts":"2026-11-28T24:00:00Z"})",
      R"({"ts":"2026-11-28T01:02:60Z"})",
      R"({"ts":"0000-01-01T00:00:00Z"})",
      R"({"unknown":1})",
      R"({"rs":"notalist"})",
      R"({"inner":"x"})",
      R"([1])",
      R"({"i32":1} trailing)",
      R"({"i32":1,})",
      R"({"b":"true"})",
      "",
  };
  for (const char* json : declined) EXPECT_FALSE(Compare(*all_, json)) << json;
}

TEST_F(JsonParserTest, RapportRequestBodies) {
  EXPECT_TRUE(Compare(profiles::v1::Contact(), R"({
      "displayName":"Grace Hopper","givenName":"Grace","familyName":"Hopper","headline":"Compilers and COBOL",
      "company":"US Navy","title":"Rear Admiral","emails":["grace@navy.test","hopper@example.test"],
      "phones":["+1 555 0100"],"links":["https://example.test/grace"],"location":"Arlington, VA",
      "birthday":{"month":12,"day":9,"year":1906},"tags":["mentor","compilers","navy"],
      "seeking":["speakers"],"offering":["introductions to the Navy"],"tier":"CLOSE",
      "howWeMet":"a conference on programming languages",
      "notes":"Talked about nanoseconds and the first bug; follow up about the talk in spring."})"));
  EXPECT_TRUE(Compare(interactions::v1::Interaction(),
                      R"({"kind":"MESSAGE","direction":"GAVE","contactIds":["01m8fwsa3wc9wmhnmf141nsjey"],)"
                      R"("summary":"checking in","occurredAt":"2026-11-27T10:00:00Z"})"));
}

// Through BuildRequest's caller-facing function: a declined body still parses
// (by protobuf) and a bad one still gets protobuf's error.
TEST_F(JsonParserTest, RandomMutationsNeverDisagree) {
  const std::string base =
      R"({"i32":12,"db":1.25,"strField":"abc","color":"RED","rs":["x"],"ts":"2026-01-02T03:04:05.678Z"})";
  const std::string alphabet = "{}[]\":,0123456789.-eE tfnul\\aZT";
  uint64_t state = 88172645463325252ull;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int fast = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string json = base;
    const int edits = 1 + static_cast<int>(next() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t at = next() % json.size();
      const char c = alphabet[next() % alphabet.size()];
      switch (next() % 3) {
        case 0:
          json[at] = c;
          break;
        case 1:
          json.insert(json.begin() + static_cast<long>(at), c);
          break;
        default:
          json.erase(at, 1);
          break;
      }
    }
    fast += Compare(*all_, json) ? 1 : 0;
  }
  EXPECT_GT(fast, 0);  // some mutations stay valid and take the fast path
}

// ParseJsonValue against protobuf's parser into a google.protobuf.Value: the
// same value for every valid document.
TEST(ParseJsonValueTest, ReadsWhatProtobufReads) {
  for (const std::string json : {
           R"({"sub":"u1","org":"o1","exp":1800000100,"aud":["a","b"],"n":null,"t":true,"f":false})",
           R"( [1, -2.5e3, "x\u00e9\ud83d\ude00", {"nested": {"deeper": []}}] )",
           R"("just a string")",
           "0",
           R"({})",
       }) {
    absl::StatusOr<google::protobuf::Value> ours = ParseJsonValue(json);
    ASSERT_TRUE(ours.ok()) << json << ": " << ours.status();
    google::protobuf::Value reference;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &reference).ok()) << json;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*ours, reference)) << json;
  }
}

// Stricter than protobuf where protobuf is lenient; a key given twice is
// refused by both.
TEST(ParseJsonValueTest, RefusesWhatIsNotStrictJson) {
  struct Case {
    std::string json;
    std::string error;
  };
  const std::vector<Case> cases = {
      {R"({'a':1})", "invalid JSON: expected a double-quoted string at offset 1"},
      {R"({"a":1,})", "invalid JSON: expected a double-quoted string at offset 7"},
      {R"([1,])", "invalid JSON: expected a value at offset 3"},
      {R"({"a":1,"a":2})", "invalid JSON: a key given twice at offset 10"},
      {R"({"a":1} x)", "invalid JSON: unexpected data after the value at offset 8"},
      {R"({"a" 1})", "invalid JSON: expected ':' after an object key at offset 5"},
      {R"({"a":1e999})", "invalid JSON: number out of range at offset 10"},
      {R"({"a":01})", "invalid JSON: leading zero in a number at offset 6"},
      {"", "invalid JSON: unexpected end of input at offset 0"},
      {"  ", "invalid JSON: unexpected end of input at offset 2"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<google::protobuf::Value> v = ParseJsonValue(c.json);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_EQ(v.status().message(), c.error) << c.json;
  }
}

TEST(ParseJsonValueTest, LimitsNesting) {
  const std::string deep = std::string(3, '[') + std::string(3, ']');
  EXPECT_TRUE(ParseJsonValue(deep, 3).ok());
  absl::StatusOr<google::protobuf::Value> v = ParseJsonValue(deep, 2);
  EXPECT_EQ(v.status().message(), "invalid JSON: JSON nests deeper than 2 levels at offset 2");
  EXPECT_FALSE(ParseJsonValue(std::string(1000, '[') + std::string(1000, ']')).ok());
}

}  // namespace
}  // namespace rapport::gateway
