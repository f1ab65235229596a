// The fast printer against protobuf's own MessageToJsonString: every case
// compares the two outputs byte for byte, over a dynamic proto3 type with a
// field of every kind, random values, escaping, Timestamps and the messages
// the gateway really prints; types the printer does not do must be declined.
#include "gateway/json_printer.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>

#include "gateway/transcoder.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/empty.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"

namespace rapport::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr char kTestFile[] = R"pb(
  name: "json_printer_test.proto"
  package: "jpt"
  syntax: "proto3"
  dependency: "google/protobuf/timestamp.proto"
  dependency: "google/protobuf/duration.proto"
  dependency: "google/protobuf/empty.proto"
  dependency: "google/protobuf/struct.proto"
  enum_type {
    name: "Color"
    value { name: "COLOR_UNSPECIFIED" number: 0 }
    value { name: "RED" number: 1 }
    value { name: "GREEN" number: 2 }
  }
  message_type {
    name: "Inner"
    field { name: "s" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "s" }
    field { name: "i" number: 2 type: TYPE_INT32 label: LABEL_OPTIONAL json_name: "i" }
  }
  message_type {
    name: "All"
    field { name: "i32" number: 1 type: TYPE_INT32 label: LABEL_OPTIONAL json_name: "i32" }
    field { name: "i64" number: 2 type: TYPE_INT64 label: LABEL_OPTIONAL json_name: "i64" }
    field { name: "u32" number: 3 type: TYPE_UINT32 label: LABEL_OPTIONAL json_name: "u32" }
    field { name: "u64" number: 4 type: TYPE_UINT64 label: LABEL_OPTIONAL json_name: "u64" }
    field { name: "s32" number: 5 type: TYPE_SINT32 label: LABEL_OPTIONAL json_name: "s32" }
    field { name: "s64" number: 6 type: TYPE_SINT64 label: LABEL_OPTIONAL json_name: "s64" }
    field { name: "f32" number: 7 type: TYPE_FIXED32 label: LABEL_OPTIONAL json_name: "f32" }
    field { name: "f64" number: 8 type: TYPE_FIXED64 label: LABEL_OPTIONAL json_name: "f64" }
    field { name: "sf32" number: 9 type: TYPE_SFIXED32 label: LABEL_OPTIONAL json_name: "sf32" }
    field { name: "sf64" number: 10 type: TYPE_SFIXED64 label: LABEL_OPTIONAL json_name: "sf64" }
    field { name: "fl" number: 11 type: TYPE_FLOAT label: LABEL_OPTIONAL json_name: "fl" }
    field { name: "db" number: 12 type: TYPE_DOUBLE label: LABEL_OPTIONAL json_name: "db" }
    field { name: "b" number: 13 type: TYPE_BOOL label: LABEL_OPTIONAL json_name: "b" }
    field { name: "str" number: 14 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "str" }
    field { name: "by" number: 15 type: TYPE_BYTES label: LABEL_OPTIONAL json_name: "by" }
    field { name: "color" number: 16 type: TYPE_ENUM type_name: ".jpt.Color" label: LABEL_OPTIONAL json_name: "color" }
    field {
      name: "inner"
      number: 17
      type: TYPE_MESSAGE
      type_name: ".jpt.Inner"
      label: LABEL_OPTIONAL
      json_name: "inner"
    }
    field { name: "ri" number: 18 type: TYPE_INT32 label: LABEL_REPEATED json_name: "ri" }
    field { name: "rs" number: 19 type: TYPE_STRING label: LABEL_REPEATED json_name: "rs" }
    field {
      name: "rinner"
      number: 20
      type: TYPE_MESSAGE
      type_name: ".jpt.Inner"
      label: LABEL_REPEATED
      json_name: "rinner"
    }
    field {
      name: "rcolor"
      number: 21
      type: TYPE_ENUM
      type_name: ".jpt.Color"
      label: LABEL_REPEATED
      json_name: "rcolor"
    }
    field {
      name: "opt"
      number: 22
      type: TYPE_INT32
      label: LABEL_OPTIONAL
      json_name: "opt"
      oneof_index: 1
      proto3_optional: true
    }
    field { name: "one_s" number: 23 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "oneS" oneof_index: 0 }
    field { name: "one_i" number: 24 type: TYPE_INT32 label: LABEL_OPTIONAL json_name: "oneI" oneof_index: 0 }
    field {
      name: "ts"
      number: 25
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Timestamp"
      label: LABEL_OPTIONAL
      json_name: "ts"
    }
    field {
      name: "rts"
      number: 26
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Timestamp"
      label: LABEL_REPEATED
      json_name: "rts"
    }
    field {
      name: "empty"
      number: 27
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Empty"
      label: LABEL_OPTIONAL
      json_name: "empty"
    }
    field { name: "snake_case_name" number: 28 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "snakeCaseName" }
    field { name: "renamed" number: 29 type: TYPE_INT32 label: LABEL_OPTIONAL json_name: "customName" }
    field { name: "rd" number: 30 type: TYPE_DOUBLE label: LABEL_REPEATED json_name: "rd" }
    field { name: "child" number: 31 type: TYPE_MESSAGE type_name: ".jpt.All" label: LABEL_OPTIONAL json_name: "child" }
    field { name: "rby" number: 32 type: TYPE_BYTES label: LABEL_REPEATED json_name: "rby" }
    field { name: "rfl" number: 33 type: TYPE_FLOAT label: LABEL_REPEATED json_name: "rfl" }
    field { name: "ri64" number: 34 type: TYPE_INT64 label: LABEL_REPEATED json_name: "ri64" }
    field { name: "rb" number: 35 type: TYPE_BOOL label: LABEL_REPEATED json_name: "rb" }
    oneof_decl { name: "choice" }
    oneof_decl { name: "_opt" }
  }
  message_type {
    name: "WithMap"
    field {
      name: "m"
      number: 1
      type: TYPE_MESSAGE
      type_name: ".jpt.WithMap.MEntry"
      label: LABEL_REPEATED
      json_name: "m"
    }
    nested_type {
      name: "MEntry"
      field { name: "key" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "key" }
      field { name: "value" number: 2 type: TYPE_INT32 label: LABEL_OPTIONAL json_name: "value" }
      options { map_entry: true }
    }
  }
  message_type {
    name: "WithDuration"
    field {
      name: "d"
      number: 1
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Duration"
      label: LABEL_OPTIONAL
      json_name: "d"
    }
  }
  message_type {
    name: "WithStruct"
    field {
      name: "s"
      number: 1
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Struct"
      label: LABEL_OPTIONAL
      json_name: "s"
    }
  }
  message_type {
    name: "Wrapper"
    field { name: "all" number: 1 type: TYPE_MESSAGE type_name: ".jpt.All" label: LABEL_OPTIONAL json_name: "all" }
    field {
      name: "with_map"
      number: 2
      type: TYPE_MESSAGE
      type_name: ".jpt.WithMap"
      label: LABEL_OPTIONAL
      json_name: "withMap"
    }
  }
)pb";

class JsonPrinterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Make sure the well-known types are in the generated pool (the underlay).
    google::protobuf::Timestamp().GetDescriptor();
    google::protobuf::Duration().GetDescriptor();
    google::protobuf::Empty().GetDescriptor();
    google::protobuf::Struct().GetDescriptor();
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(kTestFile, &file));
    ASSERT_NE(pool_.BuildFile(file), nullptr);
    factory_.SetDelegateToGeneratedFactory(true);
  }

  std::unique_ptr<Message> New(const std::string& name) {
    const Descriptor* d = pool_.FindMessageTypeByName("jpt." + name);
    EXPECT_NE(d, nullptr) << name;
    return std::unique_ptr<Message>(factory_.GetPrototype(d)->New());
  }

  std::unique_ptr<Message> Parse(const std::string& name, const std::string& text) {
    auto m = New(name);
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, m.get())) << text;
    return m;
  }

  google::protobuf::DescriptorPool pool_{google::protobuf::DescriptorPool::generated_pool()};
  google::protobuf::DynamicMessageFactory factory_{&pool_};
};

// protobuf's printer with the options ToJson uses.
std::string Reference(const Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = false;
  options.preserve_proto_field_names = false;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(m, &out, options);
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

void ExpectSame(const Message& m) {
  std::string fast;
  ASSERT_TRUE(PrintJsonFast(m, &fast)) << m.DebugString();
  EXPECT_EQ(fast, Reference(m)) << m.DebugString();
  absl::StatusOr<std::string> json = ToJson(m);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, fast);
}

TEST_F(JsonPrinterTest, EmptyMessage) {
  auto m = New("All");
  ExpectSame(*m);
  std::string out;
  ASSERT_TRUE(PrintJsonFast(*m, &out));
  EXPECT_EQ(out, "{}");
}

TEST_F(JsonPrinterTest, EveryFieldKind) {
  auto m = Parse("All", R"pb(
    i32: -42
    i64: -9007199254740993
    u32: 4294967295
    u64: 18446744073709551615
    s32: -7
    s64: -8
    f32: 9
    f64: 10
    sf32: -11
    sf64: -12
    fl: 0.1
    db: 0.1
    b: true
    str: "hello"
    by: "\000\001\377bytes"
    color: GREEN
    inner { s: "x" i: 3 }
    ri: [ 1, -2, 3 ]
    rs: [ "a", "", "c" ]
    rinner { s: "first" }
    rinner {}
    rinner { i: 9 }
    rcolor: [ RED, GREEN, COLOR_UNSPECIFIED ]
    opt: 0
    one_i: 0
    ts { seconds: 1700000000 nanos: 123000000 }
    rts { seconds: 0 }
    rts { seconds: -1 nanos: 1 }
    empty {}
    snake_case_name: "s"
    renamed: 5
    rd: [ 1.5, -0.0, 1e300 ]
    child {
      i32: 1
      child { str: "deep" }
    }
    rby: [ "", "a", "ab", "abc" ]
    rfl: [ 3.4028235e38, 1e-45, 16777217 ]
    ri64: [ 0, -1 ]
    rb: [ true, false ]
  )pb");
  ExpectSame(*m);
}

TEST_F(JsonPrinterTest, UnknownEnumValuesPrintAsNumbers) {
  auto m = New("All");
  const Descriptor* d = m->GetDescriptor();
  m->GetReflection()->SetEnumValue(m.get(), d->FindFieldByName("color"), 77);
  m->GetReflection()->AddEnumValue(m.get(), d->FindFieldByName("rcolor"), 1);
  m->GetReflection()->AddEnumValue(m.get(), d->FindFieldByName("rcolor"), -3);
  ExpectSame(*m);
}

TEST_F(JsonPrinterTest, Doubles) {
  const double values[] = {0.1,
                           1.0 / 3,
                           2.0 / 3,
                           1e21,
                           1e22,
                           1e-7,
                           5,
                           -0.0,
                           123456789.123,
                           0.30000000000000004,
                           DBL_MAX,
                           DBL_MIN,
                           4.9e-324,
                           -1e-300,
                           1e-40,
                           1e-45,
                           1.17549435e-38,
                           3.4028235e38,
                           9007199254740993.0,
                           100,
                           1e15,
                           1e16,
                           1e17,
                           std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity()};
  for (double v : values) {
    auto m = New("All");
    const Descriptor* d = m->GetDescriptor();
    m->GetReflection()->SetDouble(m.get(), d->FindFieldByName("db"), v);
    m->GetReflection()->SetFloat(m.get(), d->FindFieldByName("fl"), static_cast<float>(v));
    m->GetReflection()->AddDouble(m.get(), d->FindFieldByName("rd"), v);
    ExpectSame(*m);
  }
}

TEST_F(JsonPrinterTest, RandomScalars) {
  std::mt19937_64 rng(20261128);
  for (int round = 0; round < 3000; ++round) {
    auto m = New("All");
    const Descriptor* d = m->GetDescriptor();
    const auto* r = m->GetReflection();
    const uint64_t bits = rng();
    double dv;
    float fv;
    uint64_t dbits = rng();
    uint32_t fbits = static_cast<uint32_t>(rng());
    std::memcpy(&dv, &dbits, sizeof(dv));
    std::memcpy(&fv, &fbits, sizeof(fv));
    // Half raw bit patterns (any exponent), half "ordinary" decimals.
    if (round % 2 == 0) {
      dv = static_cast<double>(static_cast<int64_t>(rng() % 2000001) - 1000000) / std::pow(10.0, rng() % 12);
      fv = static_cast<float>(dv);
    }
    r->SetDouble(m.get(), d->FindFieldByName("db"), dv);
    r->SetFloat(m.get(), d->FindFieldByName("fl"), fv);
    r->SetInt64(m.get(), d->FindFieldByName("i64"), static_cast<int64_t>(bits));
    r->SetUInt64(m.get(), d->FindFieldByName("u64"), rng());
    r->SetInt32(m.get(), d->FindFieldByName("i32"), static_cast<int32_t>(rng()));
    r->SetUInt32(m.get(), d->FindFieldByName("u32"), static_cast<uint32_t>(rng()));
    r->SetInt32(m.get(), d->FindFieldByName("s32"), static_cast<int32_t>(rng()));
    r->SetInt64(m.get(), d->FindFieldByName("sf64"), static_cast<int64_t>(rng()));
    std::string bytes(rng() % 7, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    r->SetString(m.get(), d->FindFieldByName("by"), bytes);
    ExpectSame(*m);
  }
}

TEST_F(JsonPrinterTest, StringEscaping) {
  std::string all_ascii;
  for (int c = 0; c < 0x80; ++c) all_ascii.push_back(static_cast<char>(c));
  const std::string cases[] = {
      all_ascii, "plain text with spaces", "quote \" backslash \\ slash / <script>&amp;'",
      "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80",                     // é, 中文, 😀
      "\xc2\x80\xc2\x9f\xc2\xa0\xc2\xad",                                          // U+0080 U+009F U+00A0 U+00AD
      "\xd8\x80\xd8\x83\xd8\x84\xdb\x9d\xdc\x8f",                                  // U+0600 U+0603 U+0604 U+06DD U+070F
      "\xe1\x9e\xb4\xe1\x9e\xb5\xe1\x9e\xb6",                                      // U+17B4 U+17B5 U+17B6
      "\xe2\x80\x8a\xe2\x80\x8b\xe2\x80\x8f\xe2\x80\x90",                          // U+200A U+200B U+200F U+2010
      "\xe2\x80\xa8\xe2\x80\xae\xe2\x80\xaf",                                      // U+2028 U+202E U+202F
      "\xe2\x81\xa0\xe2\x81\xa4\xe2\x81\xa5\xe2\x81\xaa\xe2\x81\xaf\xe2\x81\xb0",  // U+2060 U+2064 U+2065 U+206A U+206F
                                                                                   // U+2070
      "\xef\xbb\xbf\xef\xbf\xb9\xef\xbf\xbb\xef\xbf\xbc",                          // U+FEFF U+FFF9 U+FFFB U+FFFC
      "\xf3\xa0\x80\x81\xf3\xa0\x80\xa0\xf3\xa0\x81\xbf\xf3\xa0\x82\x80",          // U+E0001 U+E0020 U+E007F U+E0080
      "\xf0\x9d\x85\xb3\xf0\x9d\x85\xba\xf0\x9d\x85\xbb",                          // U+1D173 U+1D17A U+1D17B
      "\xf4\x8f\xbf\xbf",                                                          // U+10FFFF
  };
  for (const std::string& s : cases) {
    auto m = New("All");
    const Descriptor* d = m->GetDescriptor();
    m->GetReflection()->SetString(m.get(), d->FindFieldByName("str"), s);
    m->GetReflection()->AddString(m.get(), d->FindFieldByName("rs"), s);
    ExpectSame(*m);
  }
}

TEST_F(JsonPrinterTest, Timestamps) {
  const std::pair<int64_t, int32_t> values[] = {{0, 0},
                                                {1, 1},
                                                {1, 1000},
                                                {1, 1000000},
                                                {1, 10},
                                                {1, 999999999},
                                                {-1, 0},
                                                {-1, 999999999},
                                                {-86400, 0},
                                                {-86401, 5000},
                                                {951782400, 0},
                                                {951868800, 0},
                                                {4107542400, 0},
                                                {1700000000, 120000000},
                                                {-62135596800, 0},
                                                {253402300799, 999999999},
                                                {-2208988800, 0},
                                                {13569465600, 0}};
  for (const auto& [seconds, nanos] : values) {
    auto m = New("All");
    google::protobuf::Timestamp ts;
    ts.set_seconds(seconds);
    ts.set_nanos(nanos);
    m->GetReflection()->MutableMessage(m.get(), m->GetDescriptor()->FindFieldByName("ts"))->CopyFrom(ts);
    ExpectSame(*m);
  }
}

TEST_F(JsonPrinterTest, DeclinesWhatItDoesNotPrint) {
  std::string out;
  // Out of range Timestamps: protobuf refuses them; the fast printer declines.
  for (const auto& [seconds, nanos] :
       {std::pair<int64_t, int32_t>{-62135596801, 0}, {253402300800, 0}, {0, -1}, {0, 1000000000}}) {
    auto m = New("All");
    google::protobuf::Timestamp ts;
    ts.set_seconds(seconds);
    ts.set_nanos(nanos);
    m->GetReflection()->MutableMessage(m.get(), m->GetDescriptor()->FindFieldByName("ts"))->CopyFrom(ts);
    EXPECT_FALSE(PrintJsonFast(*m, &out)) << seconds << " " << nanos;
  }
  // Maps, Duration, Struct, and a message reaching one of them: protobuf prints them.
  auto with_map = Parse("WithMap", R"pb(m { key: "b" value: 2 }
                                        m { key: "a" value: 1 })pb");
  auto with_duration = Parse("WithDuration", R"pb(d { seconds: 3 nanos: 500000000 })pb");
  auto with_struct = Parse("WithStruct", R"pb(s {
                                                fields {
                                                  key: "k"
                                                  value { number_value: 1 }
                                                }
                                              })pb");
  auto wrapper = Parse("Wrapper", R"pb(all { i32: 1 }
                                       with_map { m { key: "a" value: 1 } })pb");
  for (const Message* m : {with_map.get(), with_duration.get(), with_struct.get(), wrapper.get()}) {
    EXPECT_FALSE(PrintJsonFast(*m, &out)) << m->DebugString();
    // ToJson falls back to protobuf, so the answer is the same.
    absl::StatusOr<std::string> json = ToJson(*m);
    ASSERT_TRUE(json.ok());
    EXPECT_EQ(*json, Reference(*m));
  }
  // A Timestamp alone prints as a bare string in protobuf: declined too.
  google::protobuf::Timestamp ts;
  EXPECT_FALSE(PrintJsonFast(ts, &out));
  // A message whose map-holding field is unset prints fast.
  auto unset = Parse("Wrapper", R"pb(all { i32: 1 })pb");
  ExpectSame(*unset);
}

TEST_F(JsonPrinterTest, RapportResponses) {
  profiles::v1::Contact contact;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"pb(
                                                              id: "01m8fwsa3wc9wmhnmf141nsjey"
                                                              display_name: "Grace Hopper"
                                                              given_name: "Grace"
                                                              family_name: "Hopper"
                                                              headline: "Compilers and COBOL"
                                                              company: "US Navy"
                                                              emails: [ "grace@navy.test", "hopper@example.test" ]
                                                              phones: "+1 555 0100"
                                                              links: "https://example.test/grace"
                                                              location: "Arlington, VA"
                                                              birthday { month: 12 day: 9 year: 1906 }
                                                              tags: [ "mentor", "compilers" ]
                                                              tier: CLOSE
                                                              notes: "Talked about nanoseconds \"and\" the first bug <3"
                                                              create_time { seconds: 1764288000 nanos: 123456000 }
                                                              update_time { seconds: 1764288001 }
                                                            )pb",
                                                            &contact));
  ExpectSame(contact);
  profiles::v1::ListContactsResponse list;
  for (int i = 0; i < 5; ++i) *list.add_contacts() = contact;
  list.set_next_page_token("tok");
  ExpectSame(list);
  ExpectSame(profiles::v1::DeleteContactResponse());
  ExpectSame(google::protobuf::Empty());
}

}  // namespace
}  // namespace rapport::gateway
