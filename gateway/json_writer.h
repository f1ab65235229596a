// The gateway's one way of writing JSON. AppendJsonString is the only place
// that escapes a JSON string, the same way protobuf's printer does (", \ and
// control characters; < and > for HTML; U+007F..U+009F and invisible or
// direction-changing code points as \u escapes), so that the fast response
// printer (json_printer.h) stays byte-for-byte protobuf's; JsonWriter builds
// the documents the gateway writes itself (problem+json, /openapi.json,
// /readyz, /healthz) on it, placing commas and colons, so no JSON is put
// together by string concatenation. Output has no whitespace; members come
// in the order they are written.
//
// A JsonWriter appends to a string it does not own; the string must outlive it.
//
// Thread-safety: the functions are stateless; a JsonWriter is used by one
// thread at a time.
#ifndef RAPPORT_GATEWAY_JSON_WRITER_H_
#define RAPPORT_GATEWAY_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rapport::gateway {

// Whether s has a character that AppendJsonString escapes (or a non-ASCII
// byte, which it checks).
bool JsonStringNeedsEscape(std::string_view s);

// Appends s to *out as a JSON string literal (quotes included); returns false
// (leaving *out in an unspecified state) when s is not valid UTF-8.
bool AppendJsonStringStrict(std::string* out, std::string_view s);

// Appends s to *out as a JSON string literal; bytes that are not valid UTF-8
// are written as U+FFFD.
void AppendJsonString(std::string* out, std::string_view s);

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  // The name of the next member of the object being written.
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  // A value that is already JSON (e.g. a message printed by ToJson), as is.
  JsonWriter& Json(std::string_view json);

 private:
  JsonWriter& Open(char bracket);
  JsonWriter& Close(char bracket);
  // A comma before every value but the first of its object or array (a
  // member's value follows its key without one).
  void Separate();

  std::string* out_;
  // Per open object or array: whether a value has been written in it.
  std::vector<bool> written_;
  bool after_key_ = false;
};

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_JSON_WRITER_H_
