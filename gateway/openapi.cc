#include "gateway/openapi.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"

namespace rapport::gateway {
namespace {

using google::protobuf::FieldDescriptor;

std::string Quote(const std::string& s) {
  std::string out;
  log::AppendJsonString(&out, s);
  return out;
}

const FieldDescriptor* VarField(const Route& route, const std::string& var) {
  return route.method->input_type()->FindFieldByName(var);
}

std::string JsonName(const Route& route, const std::string& var) {
  const FieldDescriptor* f = VarField(route, var);
  return f != nullptr ? f->json_name() : var;
}

// A message's schema: a well-known type inline, else a $ref into components.
std::string MessageSchema(const google::protobuf::Descriptor* d) {
  const std::string& name = d->full_name();
  if (name == "google.protobuf.Timestamp") return R"({"type":"string","format":"date-time"})";
  if (name == "google.protobuf.FieldMask") return R"({"type":"string","description":"comma-separated field paths"})";
  return absl::StrCat(R"({"$ref":"#/components/schemas/)", name, R"("})");
}

std::string Schema(const FieldDescriptor* f) {
  std::string type;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_UINT32: type = R"({"type":"integer","format":"int32"})"; break;
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT64: type = R"({"type":"string","format":"int64"})"; break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: type = R"({"type":"number"})"; break;
    case FieldDescriptor::CPPTYPE_BOOL: type = R"({"type":"boolean"})"; break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      type = R"({"type":"string","enum":[)";
      for (int i = 0; i < f->enum_type()->value_count(); ++i) {
        if (i > 0) type += ",";
        type += Quote(f->enum_type()->value(i)->name());
      }
      type += "]}";
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      type = MessageSchema(f->message_type());
      break;
    default: type = R"({"type":"string"})";
  }
  return f->is_repeated() ? absl::StrCat(R"({"type":"array","items":)", type, "}") : type;
}

bool QueryCapable(const FieldDescriptor* f) {
  if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return true;
  const std::string& t = f->message_type()->full_name();
  return t == "google.protobuf.Timestamp" || t == "google.protobuf.FieldMask";
}

std::string Operation(const Route& route) {
  std::string out = absl::StrCat("{\"operationId\":", Quote(route.method->name()), ",\"tags\":",
                                 "[", Quote(route.method->service()->name()), "]",
                                 ",\"x-rapport-scope\":", Quote(api::v1::Scope_Name(route.rule.scope())),
                                 ",\"parameters\":[");
  bool first = true;
  auto param = [&](const std::string& name, const char* in, bool required, const std::string& schema) {
    if (!first) out += ",";
    first = false;
    absl::StrAppend(&out, "{\"name\":", Quote(name), ",\"in\":\"", in, "\",\"required\":",
                    required ? "true" : "false", ",\"schema\":", schema, "}");
  };
  for (const std::string& var : route.vars) {
    const FieldDescriptor* f = VarField(route, var);
    param(JsonName(route, var), "path", true, f != nullptr ? Schema(f) : R"({"type":"string"})");
  }
  const std::string& body = route.rule.body();
  if (body != "*") {
    const auto* input = route.method->input_type();
    for (int i = 0; i < input->field_count(); ++i) {
      const FieldDescriptor* f = input->field(i);
      if (f->name() == body || !QueryCapable(f)) continue;
      if (std::find(route.vars.begin(), route.vars.end(), f->name()) != route.vars.end()) continue;
      param(f->json_name(), "query", false, Schema(f));
    }
  }
  if (route.rule.idempotent_create()) param("Idempotency-Key", "header", false, R"({"type":"string","maxLength":255})");
  out += "]";
  if (!body.empty()) {
    const std::string type = body == "*" ? route.method->input_type()->full_name()
                                         : route.method->input_type()->FindFieldByName(body)->message_type()->full_name();
    absl::StrAppend(&out, R"(,"requestBody":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/components/schemas/)",
                    type, R"("}}}})");
  }
  // A server-streaming route answers Server-Sent Events, one message per event (gateway/sse.h).
  const bool stream = route.method->server_streaming();
  absl::StrAppend(&out, R"(,"responses":{"200":{"description":")", stream ? "event stream" : "OK",
                  R"(","content":{")", stream ? "text/event-stream" : "application/json", R"(":{"schema":)",
                  MessageSchema(route.method->output_type()), R"(}}},"default":{"$ref":"#/components/responses/Problem"}})",
                  ",\"security\":[{\"apiKey\":[]},{\"bearer\":[]}]}");
  return out;
}

void Collect(const google::protobuf::Descriptor* d, std::map<std::string, const google::protobuf::Descriptor*>* out) {
  const std::string& name = d->full_name();
  if (name == "google.protobuf.Timestamp" || name == "google.protobuf.FieldMask" || out->count(name)) return;
  (*out)[name] = d;
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->message_type() != nullptr) Collect(d->field(i)->message_type(), out);
  }
}

std::string ObjectSchema(const google::protobuf::Descriptor* d) {
  std::string out = R"({"type":"object","additionalProperties":false,"properties":{)";
  for (int i = 0; i < d->field_count(); ++i) {
    if (i > 0) out += ",";
    absl::StrAppend(&out, Quote(d->field(i)->json_name()), ":", Schema(d->field(i)));
  }
  return out + "}}";
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
  std::string schemas = R"("schemas":{)";
  bool first_schema = true;
  for (const auto& [name, d] : messages) {
    if (!first_schema) schemas += ",";
    first_schema = false;
    absl::StrAppend(&schemas, Quote(name), ":", ObjectSchema(d));
  }
  schemas += "},";
  std::string out =
      R"({"openapi":"3.0.3","info":{"title":"Rapport API","version":"v1"},)"
      R"("components":)" "{" + schemas + R"("securitySchemes":{"apiKey":{"type":"apiKey","in":"header","name":"X-Api-Key"},)"
      R"("bearer":{"type":"http","scheme":"bearer","bearerFormat":"JWT"}},)"
      R"("responses":{"Problem":{"description":"error","content":{"application/problem+json":{"schema":{"type":"object",)"
      R"("properties":{"type":{"type":"string"},"title":{"type":"string"},"status":{"type":"integer"},)"
      R"("detail":{"type":"string"},"code":{"type":"string"},"requestId":{"type":"string"},)"
      R"("violations":{"type":"array","items":{"type":"object","properties":{"field":{"type":"string"},"description":{"type":"string"}}}}}}}}}}},)"
      R"("paths":{)";
  bool first_path = true;
  for (const auto& [path, methods] : paths) {
    if (!first_path) out += ",";
    first_path = false;
    out += Quote(path) + ":{";
    bool first_method = true;
    for (const auto& [method, route] : methods) {
      if (!first_method) out += ",";
      first_method = false;
      out += Quote(method) + ":" + Operation(*route);
    }
    out += "}";
  }
  out += "}}";
  return out;
}

}  // namespace rapport::gateway
