// JSON <-> proto transcoding for one route, driven by the route's HTTP rule:
// - the body ("*": the whole request; a field name: that message field) is
//   parsed as proto3 JSON with unknown fields rejected;
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
#include "gateway/router.h"
#include "google/protobuf/message.h"

namespace rapport::gateway {

inline constexpr int kMaxJsonDepth = 32;

using QueryParams = std::vector<std::pair<std::string, std::string>>;

struct HttpInput {
  std::string body;  // raw request body; empty means none
  PathVars path_vars;
  QueryParams query;
};

// Splits and percent-decodes a query string ("a=1&b=x+y"). INVALID_ARGUMENT
// on a malformed escape.
absl::StatusOr<QueryParams> ParseQuery(const std::string& query);

// Checks that body nests at most max_depth objects/arrays and, when it is an
// object, returns its top-level keys. Not a full validator: the JSON parser
// still checks the syntax. INVALID_ARGUMENT when too deep.
absl::Status ScanJson(const std::string& body, int max_depth, std::vector<std::string>* top_level_keys);

// Builds the request message of route.method from the HTTP input.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> BuildRequest(const Route& route,
                                                                        const HttpInput& input);

// Sets the field named by a dotted path (proto or JSON names) from a string.
absl::Status SetFieldFromString(google::protobuf::Message* message, const std::string& path,
                                const std::string& value);

// Proto3 JSON of a response.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message);

// lowerCamelCase -> snake_case ("updateMask" -> "update_mask").
std::string CamelToSnake(const std::string& s);

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_TRANSCODER_H_
