#include "gateway/transcoder.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <iterator>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gateway/json_lexer.h"
#include "gateway/json_parser.h"
#include "gateway/json_printer.h"
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

// Parses json, already checked by ScanJson (syntax, unknown fields, types),
// into message.
absl::Status ParseJsonInto(const std::string& json, const std::string& prefix, Message* message) {
  if (ParseJsonFast(json, message)) return absl::OkStatus();
  message->Clear();  // declined: protobuf parses it, or names the error
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

// Strict JSON walker behind ScanJson, on the lexer: a syntax error stops the
// walk (the lexer keeps it); type violations are collected and the walk goes on.
class JsonScanner {
 public:
  // prefix: the JSON path of the body's value ("" for the whole request).
  JsonScanner(const std::string& s, int max_depth, const std::string& prefix)
      : lex_(s), max_depth_(max_depth), prefix_(prefix), root_(prefix.empty() ? "body" : prefix) {}

  absl::Status Run(const Descriptor* type, std::vector<std::string>* keys) {
    lex_.SkipSpace();
    if (type != nullptr) {
      if (lex_.Peek() != '{') {
        if (lex_.PeekToken() == Kind::kBad) {
          Value(0);  // the syntax error, e.g. a comment
        } else {
          lex_.Fail("expected a JSON object");
        }
        return SyntaxError();
      }
      MessageValue(type, prefix_, 0, keys);
    } else {
      Value(0, keys);
    }
    if (!lex_.failed() && !lex_.AtEnd()) lex_.Fail("unexpected data after the value");
    if (lex_.failed()) return SyntaxError();
    if (!violations_.empty()) return absl::InvalidArgumentError(absl::StrJoin(violations_, "; "));
    return absl::OkStatus();
  }

 private:
  using Kind = JsonLexer::Token;

  absl::Status SyntaxError() const {
    if (!depth_error_.empty()) return Violation("body", depth_error_);
    return Violation(root_, absl::StrCat("invalid JSON: ", lex_.error(), " at offset ", lex_.offset()));
  }

  void Bad(const std::string& path, const std::string& what) { violations_.push_back(absl::StrCat(path, ": ", what)); }

  bool Enter(int depth) {
    if (depth + 1 > max_depth_) {
      depth_error_ = absl::StrCat("JSON nests deeper than ", max_depth_, " levels");
      return lex_.Fail(depth_error_);
    }
    return true;
  }

  // Walks an object; for each member calls member(key) with the cursor at its
  // value, which must consume the value.
  template <typename F>
  bool Object(int depth, F member) {
    if (!Enter(depth)) return false;
    lex_.Consume('{');
    if (lex_.Consume('}')) return true;
    while (true) {
      std::string key;
      if (!lex_.String(&key)) return false;
      if (!lex_.Consume(':')) return lex_.Fail("expected ':' after an object key");
      lex_.SkipSpace();
      if (!member(key)) return false;
      if (lex_.Consume(',')) {
        lex_.SkipSpace();
        if (lex_.Peek() == '}') return lex_.Fail("trailing comma in an object");
        continue;
      }
      if (lex_.Consume('}')) return true;
      return lex_.Fail("expected ',' or '}' in an object");
    }
  }

  template <typename F>
  bool Array(int depth, F element) {
    if (!Enter(depth)) return false;
    lex_.Consume('[');
    if (lex_.Consume(']')) return true;
    for (int i = 0;; ++i) {
      lex_.SkipSpace();
      if (!element(i)) return false;
      if (lex_.Consume(',')) {
        lex_.SkipSpace();
        if (lex_.Peek() == ']') return lex_.Fail("trailing comma in an array");
        continue;
      }
      if (lex_.Consume(']')) return true;
      return lex_.Fail("expected ',' or ']' in an array");
    }
  }

  // Any JSON value, syntax only. Top-level object keys go to keys.
  bool Value(int depth, std::vector<std::string>* keys = nullptr) {
    switch (lex_.PeekToken()) {
      case Kind::kObject:
        return Object(depth, [&](const std::string& key) {
          if (keys != nullptr) keys->push_back(key);
          return Value(depth + 1);
        });
      case Kind::kArray:
        return Array(depth, [&](int) { return Value(depth + 1); });
      case Kind::kString:
        return lex_.String(nullptr);
      case Kind::kNumber:
        return lex_.Number();
      case Kind::kBool:
        return lex_.Literal(lex_.Peek() == 't' ? "true" : "false");
      case Kind::kNull:
        return lex_.Literal("null");
      case Kind::kBad:
        break;
    }
    if (lex_.AtEnd()) return lex_.Fail("unexpected end of input");
    if (lex_.Peek() == '\'') return lex_.Fail("strings must be in double quotes");
    if (lex_.Peek() == '/') return lex_.Fail("comments are not allowed");
    return lex_.Fail("expected a value");
  }

  // A message as a JSON object: each key must name a field, set once.
  bool MessageValue(const Descriptor* type, const std::string& path, int depth,
                    std::vector<std::string>* keys = nullptr) {
    std::vector<const FieldDescriptor*> seen;
    return Object(depth, [&](const std::string& key) {
      if (keys != nullptr) keys->push_back(key);
      const std::string sub = JsonPath(path, key);
      const FieldDescriptor* f = FindField(type, key);
      if (f == nullptr) {
        Bad(sub, "unknown field");
        return Value(depth + 1);
      }
      if (std::find(seen.begin(), seen.end(), f) != seen.end()) Bad(sub, "is set more than once");
      seen.push_back(f);
      return Field(f, sub, depth + 1);
    });
  }

  // The whole value of a field: null, an array (repeated), an object (map),
  // or one value.
  bool Field(const FieldDescriptor* f, const std::string& path, int depth) {
    Kind k = lex_.PeekToken();
    if (k == Kind::kNull) return lex_.Literal("null");
    if (f->is_map()) {
      if (k != Kind::kObject) {
        Bad(path, "must be an object");
        return Value(depth);
      }
      const FieldDescriptor* value_field = f->message_type()->map_value();
      return Object(depth, [&](const std::string& key) {
        return Single(value_field, absl::StrCat(path, "[", key, "]"), depth + 1, /*in_list=*/true);
      });
    }
    if (f->is_repeated()) {
      if (k != Kind::kArray) {
        Bad(path, "must be an array");
        return Value(depth);
      }
      return Array(depth, [&](int i) { return Single(f, absl::StrCat(path, "[", i, "]"), depth + 1, true); });
    }
    return Single(f, path, depth, false);
  }

  static bool IsWrapper(const std::string& type) {
    static const char* const kWrappers[] = {
        "google.protobuf.DoubleValue", "google.protobuf.FloatValue",  "google.protobuf.Int64Value",
        "google.protobuf.UInt64Value", "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
        "google.protobuf.BoolValue",   "google.protobuf.StringValue", "google.protobuf.BytesValue"};
    return std::find(std::begin(kWrappers), std::end(kWrappers), type) != std::end(kWrappers);
  }

  // One value of field f (an element when f is repeated).
  bool Single(const FieldDescriptor* f, const std::string& path, int depth, bool in_list) {
    const Kind k = lex_.PeekToken();
    if (k == Kind::kBad) return Value(depth);  // the syntax error
    auto want = [&](bool ok, const char* what) {
      if (!ok) Bad(path, what);
      return Value(depth);
    };
    if (k == Kind::kNull) {
      // null is "unset" for a field, but not a list element (but for Value).
      bool ok = !in_list || (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
                             f->message_type()->full_name() == "google.protobuf.Value");
      return want(ok, "must not be null");
    }
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        return want(k == Kind::kString, "must be a string");
      case FieldDescriptor::CPPTYPE_BOOL:
        return want(k == Kind::kBool, "must be true or false");
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64:
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT:
        return want(k == Kind::kNumber || k == Kind::kString, "must be a number");
      case FieldDescriptor::CPPTYPE_ENUM: {
        const google::protobuf::EnumDescriptor* e = f->enum_type();
        if (k == Kind::kNumber) return lex_.Number();
        if (k != Kind::kString) {
          Bad(path, "must be a value name or number");
          return Value(depth);
        }
        std::string name;
        if (!lex_.String(&name)) return false;
        if (e->FindValueByName(name) == nullptr) {
          std::vector<std::string> names;
          for (int i = 1; i < e->value_count(); ++i) names.push_back(e->value(i)->name());
          Bad(path, absl::StrCat("must be one of ", absl::StrJoin(names, ", ")));
        }
        return true;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        const Descriptor* type = f->message_type();
        const std::string& name = type->full_name();
        if (name == "google.protobuf.Timestamp") {
          if (k != Kind::kString) return want(false, "must be an RFC 3339 time, e.g. 2026-11-27T10:00:00Z");
          std::string value;
          if (!lex_.String(&value)) return false;
          google::protobuf::Timestamp ts;
          if (!google::protobuf::util::TimeUtil::FromString(value, &ts)) {
            Bad(path, "must be an RFC 3339 time, e.g. 2026-11-27T10:00:00Z");
          }
          return true;
        }
        if (name == "google.protobuf.Duration")
          return want(k == Kind::kString, "must be a duration string, e.g. \"3.5s\"");
        if (name == "google.protobuf.FieldMask")
          return want(k == Kind::kString, "must be a string of comma-separated paths");
        if (IsWrapper(name)) return Single(type->FindFieldByName("value"), path, depth, in_list);
        if (name == "google.protobuf.Value") return Value(depth);
        if (name == "google.protobuf.Struct" || name == "google.protobuf.Any") {
          return want(k == Kind::kObject, "must be an object");
        }
        if (name == "google.protobuf.ListValue") return want(k == Kind::kArray, "must be an array");
        if (k != Kind::kObject) return want(false, "must be an object");
        return MessageValue(type, path, depth);
      }
    }
    return Value(depth);
  }

  JsonLexer lex_;
  const int max_depth_;
  const std::string prefix_;
  const std::string root_;  // names the body in syntax errors
  std::string depth_error_;
  std::vector<std::string> violations_;
};

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
        for (int i = 1; i < field->enum_type()->value_count(); ++i)
          names.push_back(field->enum_type()->value(i)->name());
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

absl::Status ScanJson(const std::string& body, int max_depth, std::vector<std::string>* keys, const Descriptor* type,
                      const std::string& prefix) {
  return JsonScanner(body, max_depth, prefix).Run(type, keys);
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
  if (route.raw_body) {
    // An upload (rapport.api.v1.HttpBody): the bytes as they came, whatever
    // they hold; the service judges the file.
    const FieldDescriptor* field = type->FindFieldByName(body_rule);
    Message* target = request->GetReflection()->MutableMessage(request.get(), field);
    const Descriptor* body_type = target->GetDescriptor();
    target->GetReflection()->SetString(target, body_type->FindFieldByName("content_type"), input.content_type);
    target->GetReflection()->SetString(target, body_type->FindFieldByName("data"), input.body);
  } else if (!input.body.empty()) {
    if (body_rule.empty()) return Violation("body", "this route takes no body");
    if (Utf8Length(input.body) == std::string::npos) return Violation("body", "must be valid UTF-8");
    if (body_rule == "*") {
      if (absl::Status s = ScanJson(input.body, kMaxJsonDepth, &keys, type); !s.ok()) return s;
      // A body key naming a path variable would be silently overridden.
      std::vector<std::string> taken;
      for (const std::string& key : keys) {
        const FieldDescriptor* f = FindField(type, key);
        if (f != nullptr && std::find(route.vars.begin(), route.vars.end(), f->name()) != route.vars.end()) {
          taken.push_back(absl::StrCat(key, ": is set by the path"));
        }
      }
      if (!taken.empty()) return absl::InvalidArgumentError(absl::StrJoin(taken, "; "));
      if (absl::Status s = ParseJsonInto(input.body, "", request.get()); !s.ok()) return s;
    } else {
      const FieldDescriptor* field = type->FindFieldByName(body_rule);
      const std::string prefix = field->json_name();
      if (absl::Status s = ScanJson(input.body, kMaxJsonDepth, &keys, field->message_type(), prefix); !s.ok()) {
        return s;
      }
      Message* target = request->GetReflection()->MutableMessage(request.get(), field);
      if (absl::Status s = ParseJsonInto(input.body, prefix, target); !s.ok()) return s;
    }
  }

  std::vector<std::string> violations;
  for (const auto& [name, value] : input.query) {
    bool is_path_var = false;
    for (const std::string& var : route.vars) is_path_var |= (var == name || var == CamelToSnake(name));
    absl::Status s =
        is_path_var ? Violation(name, "is set by the path") : SetFieldFromString(request.get(), name, value);
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
        if (f == nullptr || (body_type == type && (f == mask_field || std::find(route.vars.begin(), route.vars.end(),
                                                                                f->name()) != route.vars.end()))) {
          continue;
        }
        mask->add_paths(f->name());
      }
    }
  }
  return request;
}

absl::StatusOr<std::string> ToJson(const Message& message) {
  std::string fast;
  fast.reserve(1024);
  if (PrintJsonFast(message, &fast)) return fast;
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
