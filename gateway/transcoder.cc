#include "gateway/transcoder.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/validate.h"

namespace rapport::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

absl::Status Violation(const std::string& field, const std::string& description) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", description));
}

const FieldDescriptor* FindField(const Descriptor* type, const std::string& name) {
  const FieldDescriptor* f = type->FindFieldByName(name);
  if (f == nullptr) f = type->FindFieldByCamelcaseName(name);
  if (f == nullptr) {
    for (int i = 0; i < type->field_count(); ++i) {
      if (type->field(i)->json_name() == name) return type->field(i);
    }
  }
  return f;
}

std::string JsonPath(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : absl::StrCat(prefix, ".", name);
}

// Parses json into message; unknown top-level keys are reported by name.
absl::Status ParseJsonInto(const std::string& json, const std::vector<std::string>& keys,
                           const std::string& prefix, Message* message) {
  std::vector<std::string> unknown;
  for (const std::string& key : keys) {
    if (FindField(message->GetDescriptor(), key) == nullptr) unknown.push_back(key);
  }
  if (!unknown.empty()) {
    std::vector<std::string> parts;
    for (const std::string& key : unknown) parts.push_back(absl::StrCat(JsonPath(prefix, key), ": unknown field"));
    return absl::InvalidArgumentError(absl::StrJoin(parts, "; "));
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!status.ok()) {
    auto msg = status.message();
    return Violation(prefix.empty() ? "body" : prefix,
                     absl::StrCat("invalid JSON: ", std::string(msg.data(), msg.size())));
  }
  return absl::OkStatus();
}

absl::Status SetScalar(Message* message, const FieldDescriptor* field, const std::string& name,
                       const std::string& value) {
  const Reflection* r = message->GetReflection();
  const bool rep = field->is_repeated();
  auto bad = [&](const std::string& what) { return Violation(name, what); };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      if (Utf8Length(value) == std::string::npos) return bad("must be valid UTF-8");
      rep ? r->AddString(message, field, value) : r->SetString(message, field, value);
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("must be an integer");
      rep ? r->AddInt32(message, field, v) : r->SetInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("must be an integer");
      rep ? r->AddInt64(message, field, v) : r->SetInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("must be a non-negative integer");
      rep ? r->AddUInt32(message, field, v) : r->SetUInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("must be a non-negative integer");
      rep ? r->AddUInt64(message, field, v) : r->SetUInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v;
      if (!absl::SimpleAtod(value, &v)) return bad("must be a number");
      rep ? r->AddDouble(message, field, v) : r->SetDouble(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      float v;
      if (!absl::SimpleAtof(value, &v)) return bad("must be a number");
      rep ? r->AddFloat(message, field, v) : r->SetFloat(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (value == "true" || value == "1") {
        v = true;
      } else if (value == "false" || value == "0") {
        v = false;
      } else {
        return bad("must be true or false");
      }
      rep ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* v = field->enum_type()->FindValueByName(value);
      if (v == nullptr) {
        std::vector<std::string> names;
        for (int i = 1; i < field->enum_type()->value_count(); ++i) names.push_back(field->enum_type()->value(i)->name());
        return bad(absl::StrCat("must be one of ", absl::StrJoin(names, ", ")));
      }
      rep ? r->AddEnum(message, field, v) : r->SetEnum(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const std::string& type = field->message_type()->full_name();
      Message* target = rep ? r->AddMessage(message, field) : r->MutableMessage(message, field);
      if (type == "google.protobuf.Timestamp") {
        google::protobuf::Timestamp ts;
        if (!google::protobuf::util::TimeUtil::FromString(value, &ts)) {
          return bad("must be an RFC 3339 time, e.g. 2026-11-27T10:00:00Z");
        }
        target->CopyFrom(ts);
        return absl::OkStatus();
      }
      if (type == "google.protobuf.FieldMask") {
        google::protobuf::FieldMask mask;
        for (absl::string_view p : absl::StrSplit(value, ',', absl::SkipEmpty())) {
          mask.add_paths(CamelToSnake(std::string(p)));
        }
        target->CopyFrom(mask);
        return absl::OkStatus();
      }
      return bad("cannot be set from a query parameter");
    }
  }
  return bad("unsupported field type");
}

}  // namespace

std::string CamelToSnake(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      out.push_back('_');
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<QueryParams> ParseQuery(const std::string& query) {
  QueryParams out;
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    absl::StatusOr<std::string> key = PercentDecode(kv.first, true);
    absl::StatusOr<std::string> value = PercentDecode(kv.second, true);
    if (!key.ok() || !value.ok()) return Violation("query", "malformed percent escape");
    out.emplace_back(*std::move(key), *std::move(value));
  }
  return out;
}

absl::Status ScanJson(const std::string& body, int max_depth, std::vector<std::string>* keys) {
  std::vector<char> stack;
  bool expect_key = false;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c == '"') {
      size_t start = ++i;
      while (i < body.size() && body[i] != '"') {
        if (body[i] == '\\') ++i;
        ++i;
      }
      if (expect_key && stack.size() == 1 && stack.back() == '{' && keys != nullptr) {
        keys->push_back(body.substr(start, std::min(i, body.size()) - start));
      }
      expect_key = false;
    } else if (c == '{' || c == '[') {
      stack.push_back(c);
      if (static_cast<int>(stack.size()) > max_depth) {
        return Violation("body", absl::StrCat("JSON nests deeper than ", max_depth, " levels"));
      }
      expect_key = c == '{';
    } else if (c == '}' || c == ']') {
      if (!stack.empty()) stack.pop_back();
      expect_key = false;
    } else if (c == ',') {
      expect_key = !stack.empty() && stack.back() == '{';
    }
  }
  return absl::OkStatus();
}

absl::Status SetFieldFromString(Message* message, const std::string& path, const std::string& value) {
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  Message* current = message;
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* field = FindField(current->GetDescriptor(), parts[i]);
    if (field == nullptr) return Violation(path, "unknown parameter");
    bool last = i + 1 == parts.size();
    if (last) return SetScalar(current, field, path, value);
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || field->is_repeated()) {
      return Violation(path, "unknown parameter");
    }
    current = current->GetReflection()->MutableMessage(current, field);
  }
  return Violation(path, "unknown parameter");
}

absl::StatusOr<std::unique_ptr<Message>> BuildRequest(const Route& route, const HttpInput& input) {
  const Descriptor* type = route.method->input_type();
  const Message* prototype = google::protobuf::MessageFactory::generated_factory()->GetPrototype(type);
  if (prototype == nullptr) return absl::InternalError("no generated type for " + type->full_name());
  std::unique_ptr<Message> request(prototype->New());

  const std::string& body_rule = route.rule.body();
  std::vector<std::string> keys;
  if (!input.body.empty()) {
    if (body_rule.empty()) return Violation("body", "this route takes no body");
    if (Utf8Length(input.body) == std::string::npos) return Violation("body", "must be valid UTF-8");
    if (absl::Status s = ScanJson(input.body, kMaxJsonDepth, &keys); !s.ok()) return s;
    if (body_rule == "*") {
      if (absl::Status s = ParseJsonInto(input.body, keys, "", request.get()); !s.ok()) return s;
    } else {
      const FieldDescriptor* field = type->FindFieldByName(body_rule);
      Message* target = request->GetReflection()->MutableMessage(request.get(), field);
      if (absl::Status s = ParseJsonInto(input.body, keys, field->json_name(), target); !s.ok()) return s;
    }
  }

  std::vector<std::string> violations;
  for (const auto& [name, value] : input.query) {
    bool is_path_var = false;
    for (const std::string& var : route.vars) is_path_var |= (var == name || var == CamelToSnake(name));
    absl::Status s = is_path_var ? Violation(name, "is set by the path")
                                 : SetFieldFromString(request.get(), name, value);
    if (!s.ok()) violations.emplace_back(s.message());
  }
  if (!violations.empty()) return absl::InvalidArgumentError(absl::StrJoin(violations, "; "));
  for (const auto& [name, value] : input.path_vars) {
    if (absl::Status s = SetFieldFromString(request.get(), name, value); !s.ok()) return s;
  }

  // PATCH without an update mask: the body's top-level keys are the mask.
  const FieldDescriptor* mask_field = type->FindFieldByName("update_mask");
  if (route.http_method == "PATCH" && mask_field != nullptr &&
      mask_field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
      mask_field->message_type()->full_name() == "google.protobuf.FieldMask") {
    const Reflection* r = request->GetReflection();
    auto* mask = static_cast<google::protobuf::FieldMask*>(r->MutableMessage(request.get(), mask_field));
    if (mask->paths_size() == 0) {
      const Descriptor* body_type = type;
      if (!body_rule.empty() && body_rule != "*") body_type = type->FindFieldByName(body_rule)->message_type();
      for (const std::string& key : keys) {
        const FieldDescriptor* f = FindField(body_type, key);
        if (f == nullptr || (body_type == type && (f == mask_field || std::find(route.vars.begin(), route.vars.end(), f->name()) != route.vars.end()))) {
          continue;
        }
        mask->add_paths(f->name());
      }
    }
  }
  return request;
}

absl::StatusOr<std::string> ToJson(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = false;
  options.preserve_proto_field_names = false;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return absl::InternalError("cannot print the response as JSON");
  return out;
}

}  // namespace rapport::gateway
