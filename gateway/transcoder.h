// JSON <-> proto transcoding for one route, driven by the route's HTTP rule:
// - the body ("*": the whole request; a field name: that message field) is
//   checked by ScanJson (strict RFC 8259, unknown fields, each value's type
//   against its field) before protobuf, whose parser is lenient, parses it as
//   proto3 JSON; on "*" a body key naming a path variable is refused;
// - path variables and query parameters set request fields by name (proto or
//   lowerCamelCase JSON names, nested through dots): scalars, enums by name,
//   repeated fields as repeated parameters, Timestamps as RFC 3339, FieldMasks
//   as comma-separated paths;
// - a PATCH without updateMask gets one derived from the body's top-level keys
//   (proto field names), so only the fields present are updated;
// - responses are printed as proto3 JSON (lowerCamelCase).
// Every input error is INVALID_ARGUMENT with the services' violation format,
// "field: description; field: description", which the server splits into
// problem+json violations.
//
// Thread-safety: stateless functions, safe from any thread.
#ifndef RAPPORT_GATEWAY_TRANSCODER_H_
#define RAPPORT_GATEWAY_TRANSCODER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gateway/json_lexer.h"
#include "gateway/router.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace rapport::gateway {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

struct HttpInput {
  std::string body;          // raw request body; empty means none
  std::string content_type;  // its Content-Type, for a raw-body (HttpBody) route
  PathVars path_vars;
  QueryParams query;
};

// Splits and percent-decodes a query string ("a=1&b=x+y"). INVALID_ARGUMENT
// on a malformed escape.
absl::StatusOr<QueryParams> ParseQuery(const std::string& query);

// Strict RFC 8259 validation of body (protobuf's JSON parser is lenient: it
// takes single quotes, trailing commas, "yes" for true, a scalar for a list):
// double-quoted strings only, no trailing commas or comments, numbers per the
// grammar, literals true/false/null only, at most max_depth nested
// objects/arrays, one value and nothing after it. When body is an object its
// top-level keys (unescaped) go to top_level_keys.
// With a type, the body must be an object and every value is checked against
// the field it sets, as proto3 JSON: unknown fields are refused; a repeated
// field takes an array, a map field and a message field an object (except the
// well-known types: Timestamp, Duration, FieldMask take a string, wrappers
// their wrapped type, Struct/Value/Any anything JSON), a string field a string,
// a bool field true/false, a numeric field a number or a string, an enum a
// value name or a number; null is accepted for any field. Violations name the
// field by its JSON path below prefix ("contact.tags", "items[2].name").
// INVALID_ARGUMENT on a syntax error ("<prefix or body>: invalid JSON: ...")
// or with every type violation, "path: description; path: description".
absl::Status ScanJson(const std::string& body, int max_depth, std::vector<std::string>* top_level_keys,
                      const google::protobuf::Descriptor* type = nullptr, const std::string& prefix = "");

// Builds the request message of route.method from the HTTP input.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> BuildRequest(const Route& route, const HttpInput& input);

// Sets the field named by a dotted path (proto or JSON names) from a string.
absl::Status SetFieldFromString(google::protobuf::Message* message, const std::string& path, const std::string& value);

// Proto3 JSON of a response.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message);

// lowerCamelCase -> snake_case ("updateMask" -> "update_mask").
std::string CamelToSnake(const std::string& s);

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_TRANSCODER_H_
