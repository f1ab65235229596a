#include "gateway/json_parser.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gateway/json_lexer.h"
#include "google/protobuf/descriptor.h"

namespace rapport::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool IsTimestamp(const Descriptor* d) { return d->full_name() == "google.protobuf.Timestamp"; }

// Message types whose JSON form is special: left to protobuf.
bool IsSpecial(const Descriptor* d) {
  return d->full_name().rfind("google.protobuf.", 0) == 0 && !IsTimestamp(d) &&
         d->full_name() != "google.protobuf.Empty";
}

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian), H. Hinnant's algorithm.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// "YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]Z" only.
bool ParseTimestamp(const std::string& s, int64_t* seconds, int32_t* nanos) {
  auto digits = [&s](size_t at, size_t n, int64_t* v) {
    if (at + n > s.size()) return false;
    *v = 0;
    for (size_t k = at; k < at + n; ++k) {
      if (s[k] < '0' || s[k] > '9') return false;
      *v = *v * 10 + (s[k] - '0');
    }
    return true;
  };
  int64_t y, mo, d, h, mi, se;
  if (s.size() < 20 || !digits(0, 4, &y) || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' || !digits(8, 2, &d) ||
      s[10] != 'T' || !digits(11, 2, &h) || s[13] != ':' || !digits(14, 2, &mi) || s[16] != ':' ||
      !digits(17, 2, &se)) {
    return false;
  }
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, static_cast<int>(mo)) || h > 23 || mi > 59 || se > 59) {
    return false;
  }
  int64_t frac = 0;
  size_t at = 19;
  if (s[at] == '.') {
    const size_t n = s.size() - at - 2;  // digits between '.' and 'Z'
    if (n != 3 && n != 6 && n != 9) return false;
    if (!digits(at + 1, n, &frac)) return false;
    for (size_t k = n; k < 9; ++k) frac *= 10;
    at += 1 + n;
  }
  if (at + 1 != s.size() || s[at] != 'Z') return false;
  *seconds = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + se;
  *nanos = static_cast<int32_t>(frac);
  return true;
}

bool ParseObject(JsonLexer& r, Message* m, int depth);

// One value (an array element when repeated) of field f.
bool ParseValue(JsonLexer& r, Message* m, const FieldDescriptor* f, int depth, std::string& scratch) {
  const Reflection* refl = m->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      if (f->type() == FieldDescriptor::TYPE_BYTES || !r.String(&scratch)) return false;
      if (rep) {
        refl->AddString(m, f, scratch);
      } else {
        refl->SetString(m, f, scratch);
      }
      return true;
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      r.SkipSpace();
      const bool v = r.Peek() == 't';
      if (!r.Literal(v ? "true" : "false")) return false;
      if (rep) {
        refl->AddBool(m, f, v);
      } else {
        refl->SetBool(m, f, v);
      }
      return true;
    }
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: {
      std::string_view text;
      bool integral;
      if (!r.Number(&text, &integral) || !integral) return false;
      if (text.size() > 1 && (text[0] == '0' || (text[0] == '-' && text[1] == '0'))) return false;
      const bool is_signed =
          f->cpp_type() == FieldDescriptor::CPPTYPE_INT32 || f->cpp_type() == FieldDescriptor::CPPTYPE_INT64;
      if (is_signed) {
        int64_t v;
        if (!absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &v)) return false;
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT32) {
          if (v < INT32_MIN || v > INT32_MAX) return false;
          rep ? refl->AddInt32(m, f, static_cast<int32_t>(v)) : refl->SetInt32(m, f, static_cast<int32_t>(v));
        } else {
          rep ? refl->AddInt64(m, f, v) : refl->SetInt64(m, f, v);
        }
      } else {
        uint64_t v;
        if (text[0] == '-' || !absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &v)) return false;
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
          if (v > UINT32_MAX) return false;
          rep ? refl->AddUInt32(m, f, static_cast<uint32_t>(v)) : refl->SetUInt32(m, f, static_cast<uint32_t>(v));
        } else {
          rep ? refl->AddUInt64(m, f, v) : refl->SetUInt64(m, f, v);
        }
      }
      return true;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      std::string_view text;
      bool integral;
      if (!r.Number(&text, &integral)) return false;
      const std::string copy(text);
      char* end = nullptr;
      errno = 0;
      const double v = std::strtod(copy.c_str(), &end);
      if (end != copy.c_str() + copy.size() || errno != 0 || !std::isfinite(v)) return false;
      rep ? refl->AddDouble(m, f, v) : refl->SetDouble(m, f, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_FLOAT:
      return false;
    case FieldDescriptor::CPPTYPE_ENUM: {
      if (!r.String(&scratch)) return false;
      const google::protobuf::EnumValueDescriptor* v = f->enum_type()->FindValueByName(scratch);
      if (v == nullptr) return false;
      rep ? refl->AddEnumValue(m, f, v->number()) : refl->SetEnumValue(m, f, v->number());
      return true;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Descriptor* type = f->message_type();
      if (IsSpecial(type)) return false;
      Message* sub = rep ? refl->AddMessage(m, f) : refl->MutableMessage(m, f);
      if (IsTimestamp(type)) {
        int64_t seconds;
        int32_t nanos;
        if (!r.String(&scratch) || !ParseTimestamp(scratch, &seconds, &nanos)) return false;
        const Reflection* tr = sub->GetReflection();
        tr->SetInt64(sub, type->FindFieldByNumber(1), seconds);
        tr->SetInt32(sub, type->FindFieldByNumber(2), nanos);
        return true;
      }
      return ParseObject(r, sub, depth + 1);
    }
  }
  return false;
}

bool ParseObject(JsonLexer& r, Message* m, int depth) {
  if (depth > kMaxJsonDepth || !r.Consume('{')) return false;
  const Descriptor* d = m->GetDescriptor();
  std::vector<const FieldDescriptor*> seen;
  std::string key, scratch;
  if (r.Consume('}')) return true;
  do {
    if (!r.String(&key) || !r.Consume(':')) return false;
    const FieldDescriptor* f = nullptr;
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* c = d->field(i);
      if (c->json_name() == key || c->name() == key) {
        if (f != nullptr && f != c) return false;  // ambiguous name: protobuf decides
        f = c;
      }
    }
    if (f == nullptr || f->is_map() || f->is_extension()) return false;
    for (const FieldDescriptor* s : seen) {
      if (s == f) return false;  // a key given twice
      if (f->real_containing_oneof() != nullptr && s->real_containing_oneof() == f->real_containing_oneof()) {
        return false;  // two members of one oneof
      }
    }
    seen.push_back(f);
    if (f->is_repeated()) {
      if (!r.Consume('[')) return false;
      if (!r.Consume(']')) {
        do {
          if (!ParseValue(r, m, f, depth, scratch)) return false;
        } while (r.Consume(','));
        if (!r.Consume(']')) return false;
      }
    } else if (!ParseValue(r, m, f, depth, scratch)) {
      return false;
    }
  } while (r.Consume(','));
  return r.Consume('}');
}

// One JSON value into *out, strictly; objects and arrays nest at most max_depth.
bool ReadValue(JsonLexer& r, int depth, int max_depth, google::protobuf::Value* out) {
  r.SkipSpace();
  const JsonLexer::Token token = r.PeekToken();
  if ((token == JsonLexer::Token::kObject || token == JsonLexer::Token::kArray) && depth >= max_depth) {
    return r.Fail(absl::StrCat("JSON nests deeper than ", max_depth, " levels"));
  }
  switch (token) {
    case JsonLexer::Token::kObject: {
      r.Consume('{');
      auto* fields = out->mutable_struct_value()->mutable_fields();
      if (r.Consume('}')) return true;
      std::string key;
      do {
        if (!r.String(&key)) return false;
        // Refused as protobuf's parser refuses it: which of two values a
        // reader takes is where parsers disagree.
        if (fields->count(key) > 0) return r.Fail("a key given twice");
        if (!r.Consume(':')) return r.Fail("expected ':' after an object key");
        if (!ReadValue(r, depth + 1, max_depth, &(*fields)[key])) return false;
      } while (r.Consume(','));
      return r.Consume('}') || r.Fail("expected ',' or '}' in an object");
    }
    case JsonLexer::Token::kArray: {
      r.Consume('[');
      auto* values = out->mutable_list_value()->mutable_values();
      if (r.Consume(']')) return true;
      do {
        if (!ReadValue(r, depth + 1, max_depth, values->Add())) return false;
      } while (r.Consume(','));
      return r.Consume(']') || r.Fail("expected ',' or ']' in an array");
    }
    case JsonLexer::Token::kString:
      return r.String(out->mutable_string_value());
    case JsonLexer::Token::kNumber: {
      std::string_view text;
      if (!r.Number(&text)) return false;
      const std::string copy(text);
      errno = 0;
      const double v = std::strtod(copy.c_str(), nullptr);
      if (errno != 0 || !std::isfinite(v)) return r.Fail("number out of range");
      out->set_number_value(v);
      return true;
    }
    case JsonLexer::Token::kBool: {
      const bool v = r.Peek() == 't';
      if (!r.Literal(v ? "true" : "false")) return false;
      out->set_bool_value(v);
      return true;
    }
    case JsonLexer::Token::kNull:
      if (!r.Literal("null")) return false;
      out->set_null_value(google::protobuf::NULL_VALUE);
      return true;
    case JsonLexer::Token::kBad:
      break;
  }
  return r.Fail(r.AtEnd() ? "unexpected end of input" : "expected a value");
}

}  // namespace

absl::StatusOr<google::protobuf::Value> ParseJsonValue(std::string_view json, int max_depth) {
  JsonLexer r(json);
  google::protobuf::Value value;
  if (ReadValue(r, 0, max_depth, &value) && !r.AtEnd()) r.Fail("unexpected data after the value");
  if (r.failed()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", r.error(), " at offset ", r.offset()));
  }
  return value;
}

bool ParseJsonFast(std::string_view json, Message* message) {
  JsonLexer r(json);
  return ParseObject(r, message, 0) && r.AtEnd();
}

}  // namespace rapport::gateway
