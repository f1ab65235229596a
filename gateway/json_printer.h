// A fast proto3 JSON printer for responses, byte-for-byte the output of
// protobuf's MessageToJsonString with the gateway's options (lowerCamelCase
// json names, no whitespace, default values omitted, enums by name).
//
// Why: protobuf 3.21's printer serializes the message again, then resolves
// every type it meets into google.protobuf.Type protos (through a TypeResolver
// and a fresh TypeInfo per call) and streams the bytes through an object
// writer; for one contact that was a sixth of the gateway's CPU per request.
// This printer walks the message with reflection and writes straight into
// the output string, with what it needs per message type computed once;
// strings are escaped by json_writer.h, as protobuf escapes them.
//
// It covers what Rapport's responses use: every scalar type, enums, nested
// messages, repeated fields, proto3 optional and oneofs, and Timestamp. For
// anything else (map fields, Any, Struct/Value/ListValue, Duration,
// FieldMask, wrapper types, a Timestamp out of range or at the top level) it
// declines, and the caller prints with protobuf instead, so the output is the
// same either way.
//
// Thread-safety: safe from any thread (what it needs per generated message
// type is cached per thread).
#ifndef RAPPORT_GATEWAY_JSON_PRINTER_H_
#define RAPPORT_GATEWAY_JSON_PRINTER_H_

#include <string>

#include "google/protobuf/message.h"

namespace rapport::gateway {

// Appends message's proto3 JSON to *out and returns true, or returns false
// (leaving *out in an unspecified state) when the message needs something
// this printer does not do.
bool PrintJsonFast(const google::protobuf::Message& message, std::string* out);

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_JSON_PRINTER_H_
