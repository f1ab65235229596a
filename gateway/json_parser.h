// Reading JSON into protobuf messages, on the one lexer (json_lexer.h).
//
// ParseJsonValue reads any JSON document, strictly (RFC 8259; a key given
// twice is refused, as protobuf's parser refuses it), into a
// google.protobuf.Value: what the gateway reads that is not a request body,
// e.g. the header and claims of a JWT (auth.h).
//
// ParseJsonFast is a fast path for reading request bodies as proto3 JSON:
// fills a message by reflection, giving exactly what protobuf's
// JsonStringToMessage gives, for the bodies clients normally send.
//
// Why: protobuf 3.21's parser builds a TypeInfo and resolves every type into
// google.protobuf.Type protos per call, writes binary, then parses that; it
// was a sixth of the gateway's CPU on POST /v1/interactions.
//
// It only takes the success path of the common subset, and declines (returns
// false) on anything else, for the caller to parse with protobuf, which then
// also produces protobuf's error: strings, bools, integers written as JSON
// integers, doubles, enums by name, nested messages, arrays of those, and
// Timestamps written as "YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]Z".
// Declined: null, numbers as strings, floats, bytes, enums by number, maps,
// Any/Struct/Value, Duration, FieldMask, wrappers, time offsets, a key given
// twice, two members of one oneof, out-of-range values.
//
// Thread-safety: stateless, safe from any thread.
#ifndef RAPPORT_GATEWAY_JSON_PARSER_H_
#define RAPPORT_GATEWAY_JSON_PARSER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "gateway/json_lexer.h"
#include "google/protobuf/message.h"
#include "google/protobuf/struct.pb.h"

namespace rapport::gateway {

// INVALID_ARGUMENT ("invalid JSON: <what> at offset <n>") when json is not
// one JSON value, or nests objects and arrays deeper than max_depth.
absl::StatusOr<google::protobuf::Value> ParseJsonValue(std::string_view json, int max_depth = kMaxJsonDepth);

// Parses json (one object) into *message, which must be empty. Returns false
// when it declines; *message is then in an unspecified state (Clear() it).
bool ParseJsonFast(std::string_view json, google::protobuf::Message* message);

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_JSON_PARSER_H_
