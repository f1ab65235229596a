#include "gateway/json_writer.h"

#include <gtest/gtest.h>

#include <string>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace rapport::gateway {
namespace {

TEST(JsonWriterTest, PlacesCommasAndColonsInNestedDocuments) {
  std::string out;
  JsonWriter json(&out);
  json.BeginObject().Key("a").Int(-3).Key("b").BeginArray();
  json.String("x").Bool(true).BeginObject().EndObject().BeginArray().EndArray().Json(R"({"raw":1})");
  json.EndArray().Key("c").BeginObject().Key("d").Bool(false).EndObject().EndObject();
  EXPECT_EQ(out, R"({"a":-3,"b":["x",true,{},[],{"raw":1}],"c":{"d":false}})");
}

TEST(JsonWriterTest, AppendsToWhatIsThere) {
  std::string out = "prefix ";
  JsonWriter(&out).BeginArray().Int(1).Int(2).EndArray();
  EXPECT_EQ(out, "prefix [1,2]");
}

TEST(JsonWriterTest, EscapesStringsAsProtobufDoes) {
  struct Case {
    std::string in;
    std::string out;
  };
  const Case cases[] = {
      {"plain", R"("plain")"},
      {"q\"b\\", R"("q\"b\\")"},
      {"\b\f\n\r\t", R"("\b\f\n\r\t")"},
      {std::string("\x01\x1f\x7f", 3), R"("\u0001\u001f\u007f")"},
      {"<script>", R"("\u003cscript\u003e")"},
      {"caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\""},
      {"\xe2\x80\x8b", R"("\u200b")"},  // zero-width space
  };
  for (const Case& c : cases) {
    std::string strict, lenient;
    EXPECT_TRUE(AppendJsonStringStrict(&strict, c.in)) << c.in;
    AppendJsonString(&lenient, c.in);
    EXPECT_EQ(strict, c.out) << c.in;
    EXPECT_EQ(lenient, c.out) << c.in;
    // The same as protobuf's printer.
    google::protobuf::Value v;
    v.set_string_value(c.in);
    std::string reference;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(v, &reference).ok());
    EXPECT_EQ(strict, reference) << c.in;
  }
}

TEST(JsonWriterTest, InvalidUtf8IsRefusedStrictlyOrReplaced) {
  for (const std::string bad : {"a\xff"
                                "b",
                                "\xc3", "\xed\xa0\x80", "\xc0\xaf"}) {
    std::string strict;
    EXPECT_FALSE(AppendJsonStringStrict(&strict, bad));
    std::string lenient;
    AppendJsonString(&lenient, bad);
    // Every invalid byte is one U+FFFD, and the result is valid JSON.
    google::protobuf::Value parsed;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(lenient, &parsed).ok()) << lenient;
    EXPECT_NE(lenient.find("\xef\xbf\xbd"), std::string::npos) << lenient;
  }
  std::string out;
  AppendJsonString(&out,
                   "a\xff"
                   "b");
  EXPECT_EQ(out,
            "\"a\xef\xbf\xbd"
            "b\"");
}

}  // namespace
}  // namespace rapport::gateway
