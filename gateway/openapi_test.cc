#include "gateway/openapi.h"

#include <gtest/gtest.h>

#include <set>

#include "gateway/backends.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace rapport::gateway {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// Every "$ref" in v names an existing component schema.
void ExpectRefsResolve(const Value& v, const Struct& schemas, int* refs) {
  if (v.has_struct_value()) {
    for (const auto& [key, child] : v.struct_value().fields()) {
      if (key == "$ref" && child.string_value().rfind("#/components/schemas/", 0) == 0) {
        ++*refs;
        EXPECT_TRUE(schemas.fields().count(child.string_value().substr(21))) << child.string_value();
      }
      ExpectRefsResolve(child, schemas, refs);
    }
  } else if (v.has_list_value()) {
    for (const Value& child : v.list_value().values()) ExpectRefsResolve(child, schemas, refs);
  }
}

TEST(OpenApiTest, DescribesEveryRouteWithParametersBodiesAndSchemas) {
  Router router;
  ASSERT_TRUE(router.AddServices(BackendServiceNames()).ok());
  Value doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(OpenApiJson(router), &doc).ok()) << "not JSON";
  const auto& root = doc.struct_value().fields();
  EXPECT_EQ(root.at("openapi").string_value(), "3.0.3");
  const auto& paths = root.at("paths").struct_value().fields();
  size_t operations = 0;
  for (const auto& [path, item] : paths) operations += item.struct_value().fields().size();
  EXPECT_EQ(operations, router.routes().size());

  const auto& get_contact =
      paths.at("/v1/contacts/{contactId}").struct_value().fields().at("get").struct_value().fields();
  const auto& param = get_contact.at("parameters").list_value().values(0).struct_value().fields();
  EXPECT_EQ(param.at("name").string_value(), "contactId");
  EXPECT_EQ(param.at("in").string_value(), "path");
  EXPECT_FALSE(get_contact.count("requestBody"));

  const auto& list = paths.at("/v1/contacts").struct_value().fields().at("get").struct_value().fields();
  std::set<std::string> query;
  for (const Value& p : list.at("parameters").list_value().values())
    query.insert(p.struct_value().fields().at("name").string_value());
  EXPECT_EQ(query, (std::set<std::string>{"pageSize", "pageToken", "query", "tag", "tier", "groupId"}));

  const auto& create = paths.at("/v1/contacts").struct_value().fields().at("post").struct_value().fields();
  EXPECT_TRUE(create.count("requestBody"));
  EXPECT_TRUE(paths.count("/v1/introductions/{id}:respond"));

  const Struct& schemas = root.at("components").struct_value().fields().at("schemas").struct_value();
  const auto& contact = schemas.fields()
                            .at("rapport.profiles.v1.Contact")
                            .struct_value()
                            .fields()
                            .at("properties")
                            .struct_value()
                            .fields();
  EXPECT_EQ(contact.at("createTime").struct_value().fields().at("format").string_value(), "date-time");
  EXPECT_EQ(contact.at("tags").struct_value().fields().at("type").string_value(), "array");
  EXPECT_TRUE(contact.at("birthday").struct_value().fields().count("$ref"));
  int refs = 0;
  ExpectRefsResolve(doc, schemas, &refs);
  EXPECT_GT(refs, 30);
}

}  // namespace
}  // namespace rapport::gateway
