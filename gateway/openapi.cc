#include "gateway/openapi.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gateway/json_writer.h"

namespace rapport::gateway {
namespace {

using google::protobuf::FieldDescriptor;

const FieldDescriptor* VarField(const Route& route, const std::string& var) {
  return route.method->input_type()->FindFieldByName(var);
}

std::string JsonName(const Route& route, const std::string& var) {
  const FieldDescriptor* f = VarField(route, var);
  return f != nullptr ? f->json_name() : var;
}

// {"type":type} or {"type":type,"format":format}.
void TypeSchema(JsonWriter& json, const char* type, const char* format = nullptr) {
  json.BeginObject().Key("type").String(type);
  if (format != nullptr) json.Key("format").String(format);
  json.EndObject();
}

void Ref(JsonWriter& json, const char* prefix, const std::string& name) {
  json.BeginObject().Key("$ref").String(absl::StrCat(prefix, name)).EndObject();
}

// A message's schema: a well-known type inline, else a $ref into components.
void MessageSchema(JsonWriter& json, const google::protobuf::Descriptor* d) {
  const std::string& name = d->full_name();
  if (name == "google.protobuf.Timestamp") return TypeSchema(json, "string", "date-time");
  if (name == "google.protobuf.FieldMask") {
    json.BeginObject()
        .Key("type")
        .String("string")
        .Key("description")
        .String("comma-separated field paths")
        .EndObject();
    return;
  }
  Ref(json, "#/components/schemas/", name);
}

void Schema(JsonWriter& json, const FieldDescriptor* f) {
  if (f->is_repeated()) json.BeginObject().Key("type").String("array").Key("items");
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_UINT32:
      TypeSchema(json, "integer", "int32");
      break;
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT64:
      TypeSchema(json, "string", "int64");
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      TypeSchema(json, "number");
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      TypeSchema(json, "boolean");
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      json.BeginObject().Key("type").String("string").Key("enum").BeginArray();
      for (int i = 0; i < f->enum_type()->value_count(); ++i) json.String(f->enum_type()->value(i)->name());
      json.EndArray().EndObject();
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      MessageSchema(json, f->message_type());
      break;
    default:
      TypeSchema(json, "string");
  }
  if (f->is_repeated()) json.EndObject();
}

bool QueryCapable(const FieldDescriptor* f) {
  if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return true;
  const std::string& t = f->message_type()->full_name();
  return t == "google.protobuf.Timestamp" || t == "google.protobuf.FieldMask";
}

// One parameter; schema writes its schema.
template <typename WriteSchema>
void Parameter(JsonWriter& json, const std::string& name, const char* in, bool required, WriteSchema schema) {
  json.BeginObject().Key("name").String(name).Key("in").String(in).Key("required").Bool(required).Key("schema");
  schema();
  json.EndObject();
}

void Operation(JsonWriter& json, const Route& route) {
  json.BeginObject()
      .Key("operationId")
      .String(route.method->name())
      .Key("tags")
      .BeginArray()
      .String(route.method->service()->name())
      .EndArray()
      .Key("x-rapport-scope")
      .String(api::v1::Scope_Name(route.rule.scope()))
      .Key("parameters")
      .BeginArray();
  for (const std::string& var : route.vars) {
    const FieldDescriptor* f = VarField(route, var);
    Parameter(json, JsonName(route, var), "path", true, [&] {
      if (f != nullptr) {
        Schema(json, f);
      } else {
        TypeSchema(json, "string");
      }
    });
  }
  const std::string& body = route.rule.body();
  if (body != "*") {
    const auto* input = route.method->input_type();
    for (int i = 0; i < input->field_count(); ++i) {
      const FieldDescriptor* f = input->field(i);
      if (f->name() == body || !QueryCapable(f)) continue;
      if (std::find(route.vars.begin(), route.vars.end(), f->name()) != route.vars.end()) continue;
      Parameter(json, f->json_name(), "query", false, [&] { Schema(json, f); });
    }
  }
  if (route.rule.idempotent_create()) {
    Parameter(json, "Idempotency-Key", "header", false,
              [&] { json.BeginObject().Key("type").String("string").Key("maxLength").Int(255).EndObject(); });
  }
  json.EndArray();
  if (!body.empty()) {
    const std::string type = body == "*"
                                 ? route.method->input_type()->full_name()
                                 : route.method->input_type()->FindFieldByName(body)->message_type()->full_name();
    json.Key("requestBody").BeginObject().Key("required").Bool(true).Key("content").BeginObject();
    if (route.raw_body) {
      // An upload (rapport.api.v1.HttpBody): the file itself, of any of these types.
      for (const char* media : {"text/csv", "text/vcard", "text/x-vcard", "text/plain", "application/octet-stream"}) {
        json.Key(media).BeginObject().Key("schema").BeginObject();
        json.Key("type").String("string").Key("format").String("binary");
        json.EndObject().EndObject();
      }
    } else {
      json.Key("application/json").BeginObject().Key("schema");
      Ref(json, "#/components/schemas/", type);
      json.EndObject();
    }
    json.EndObject().EndObject();
  }
  // A server-streaming route answers Server-Sent Events, one message per event (gateway/sse.h);
  // one returning HttpBody answers a file in the content types its rule names.
  const bool stream = route.method->server_streaming();
  const bool download = route.method->output_type()->full_name() == api::v1::HttpBody::descriptor()->full_name();
  json.Key("responses").BeginObject();
  json.Key("200").BeginObject();
  json.Key("description").String(download ? "the file" : stream ? "event stream" : "OK").Key("content").BeginObject();
  if (download) {
    std::vector<std::string> types(route.rule.produces().begin(), route.rule.produces().end());
    if (types.empty()) types.push_back("*/*");
    for (const std::string& type : types) {
      json.Key(type).BeginObject().Key("schema").BeginObject();
      json.Key("type").String("string").Key("format").String("binary");
      json.EndObject().EndObject();
    }
    json.EndObject().EndObject();
  } else {
    json.Key(stream ? "text/event-stream" : "application/json").BeginObject().Key("schema");
    MessageSchema(json, route.method->output_type());
    json.EndObject().EndObject().EndObject();
  }
  json.Key("default");
  Ref(json, "#/components/responses/", "Problem");
  json.EndObject();
  json.Key("security").BeginArray();
  json.BeginObject().Key("apiKey").BeginArray().EndArray().EndObject();
  json.BeginObject().Key("bearer").BeginArray().EndArray().EndObject();
  json.EndArray();
  json.EndObject();
}

void Collect(const google::protobuf::Descriptor* d, std::map<std::string, const google::protobuf::Descriptor*>* out) {
  const std::string& name = d->full_name();
  if (name == "google.protobuf.Timestamp" || name == "google.protobuf.FieldMask" || out->count(name)) return;
  (*out)[name] = d;
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->message_type() != nullptr) Collect(d->field(i)->message_type(), out);
  }
}

void ObjectSchema(JsonWriter& json, const google::protobuf::Descriptor* d) {
  json.BeginObject().Key("type").String("object").Key("additionalProperties").Bool(false).Key("properties");
  json.BeginObject();
  for (int i = 0; i < d->field_count(); ++i) {
    json.Key(d->field(i)->json_name());
    Schema(json, d->field(i));
  }
  json.EndObject().EndObject();
}

// The components every document has: security schemes and the problem+json answer.
void SecuritySchemesAndProblem(JsonWriter& json) {
  json.Key("securitySchemes").BeginObject();
  json.Key("apiKey")
      .BeginObject()
      .Key("type")
      .String("apiKey")
      .Key("in")
      .String("header")
      .Key("name")
      .String("X-Api-Key")
      .EndObject();
  json.Key("bearer")
      .BeginObject()
      .Key("type")
      .String("http")
      .Key("scheme")
      .String("bearer")
      .Key("bearerFormat")
      .String("JWT")
      .EndObject();
  json.EndObject();
  json.Key("responses").BeginObject().Key("Problem").BeginObject().Key("description").String("error");
  json.Key("content").BeginObject().Key("application/problem+json").BeginObject().Key("schema").BeginObject();
  json.Key("type").String("object").Key("properties").BeginObject();
  for (const char* name : {"type", "title"}) {
    json.Key(name);
    TypeSchema(json, "string");
  }
  json.Key("status");
  TypeSchema(json, "integer");
  for (const char* name : {"detail", "code", "requestId"}) {
    json.Key(name);
    TypeSchema(json, "string");
  }
  json.Key("violations").BeginObject().Key("type").String("array").Key("items").BeginObject();
  json.Key("type").String("object").Key("properties").BeginObject();
  json.Key("field");
  TypeSchema(json, "string");
  json.Key("description");
  TypeSchema(json, "string");
  json.EndObject().EndObject().EndObject();                          // properties, items, violations
  json.EndObject().EndObject().EndObject().EndObject().EndObject();  // properties, schema, media type, content, Problem
  json.EndObject();                                                  // responses
}

}  // namespace

std::string OpenApiPath(const Route& route) {
  std::string out;
  for (const std::string& segment : route.segments) {
    out += "/";
    if (segment.size() > 2 && segment.front() == '{') {
      absl::StrAppend(&out, "{", JsonName(route, segment.substr(1, segment.size() - 2)), "}");
    } else {
      out += segment;
    }
  }
  if (!route.verb.empty()) out += ":" + route.verb;
  return out;
}

std::string OpenApiJson(const Router& router) {
  std::map<std::string, std::map<std::string, const Route*>> paths;  // sorted, stable output
  for (const Route& route : router.routes()) {
    paths[OpenApiPath(route)][absl::AsciiStrToLower(route.http_method)] = &route;
  }
  std::map<std::string, const google::protobuf::Descriptor*> messages;
  for (const Route& route : router.routes()) {
    Collect(route.method->input_type(), &messages);
    Collect(route.method->output_type(), &messages);
  }
  std::string out;
  JsonWriter json(&out);
  json.BeginObject().Key("openapi").String("3.0.3");
  json.Key("info").BeginObject().Key("title").String("Rapport API").Key("version").String("v1").EndObject();
  json.Key("components").BeginObject().Key("schemas").BeginObject();
  for (const auto& [name, d] : messages) {
    json.Key(name);
    ObjectSchema(json, d);
  }
  json.EndObject();
  SecuritySchemesAndProblem(json);
  json.EndObject();
  json.Key("paths").BeginObject();
  for (const auto& [path, methods] : paths) {
    json.Key(path).BeginObject();
    for (const auto& [method, route] : methods) {
      json.Key(method);
      Operation(json, *route);
    }
    json.EndObject();
  }
  json.EndObject().EndObject();
  return out;
}

}  // namespace rapport::gateway
