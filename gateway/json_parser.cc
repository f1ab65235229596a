#include "gateway/json_parser.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "google/protobuf/descriptor.h"

namespace rapport::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr int kMaxDepth = 32;

// A cursor over the body; every method returns false to decline.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  void Space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool AtEnd() {
    Space();
    return i_ == s_.size();
  }
  char Peek() {
    Space();
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++i_;
    return true;
  }

  // A JSON string, unescaped; declines on lone surrogates and bad escapes.
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    out->clear();
    while (i_ < s_.size()) {
      const char c = s_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (i_ >= s_.size()) return false;
      const char e = s_[i_++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xdc00 && cp <= 0xdfff) return false;  // lone low surrogate
          if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t low;
            if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') return false;
            i_ += 2;
            if (!Hex4(&low) || low < 0xdc00 || low > 0xdfff) return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  // The text of a JSON number, by RFC 8259's grammar:
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool Number(std::string_view* text, bool* integral) {
    Space();
    const size_t start = i_;
    auto digit = [this] { return i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9'; };
    auto digits = [&] {
      if (!digit()) return false;
      while (digit()) ++i_;
      return true;
    };
    *integral = true;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else if (!digits()) {
      return false;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      *integral = false;
      if (!digits()) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      *integral = false;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) return false;
    }
    *text = s_.substr(start, i_ - start);
    return true;
  }

  bool Literal(std::string_view word) {
    Space();
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

 private:
  bool Hex4(uint32_t* cp) {
    if (i_ + 4 > s_.size()) return false;
    *cp = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (v < 0) return false;
      *cp = (*cp << 4) | static_cast<uint32_t>(v);
    }
    return true;
  }


  std::string_view s_;
  size_t i_ = 0;
};

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
  if (s.size() < 20 || !digits(0, 4, &y) || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' ||
      !digits(8, 2, &d) || s[10] != 'T' || !digits(11, 2, &h) || s[13] != ':' || !digits(14, 2, &mi) ||
      s[16] != ':' || !digits(17, 2, &se)) {
    return false;
  }
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, static_cast<int>(mo)) || h > 23 || mi > 59 ||
      se > 59) {
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

bool ParseObject(Reader& r, Message* m, int depth);

// One value (an array element when repeated) of field f.
bool ParseValue(Reader& r, Message* m, const FieldDescriptor* f, int depth, std::string& scratch) {
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
      bool v;
      if (r.Literal("true")) {
        v = true;
      } else if (r.Literal("false")) {
        v = false;
      } else {
        return false;
      }
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
      const bool is_signed = f->cpp_type() == FieldDescriptor::CPPTYPE_INT32 ||
                             f->cpp_type() == FieldDescriptor::CPPTYPE_INT64;
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

bool ParseObject(Reader& r, Message* m, int depth) {
  if (depth > kMaxDepth || !r.Eat('{')) return false;
  const Descriptor* d = m->GetDescriptor();
  std::vector<const FieldDescriptor*> seen;
  std::string key, scratch;
  if (r.Eat('}')) return true;
  do {
    if (!r.String(&key) || !r.Eat(':')) return false;
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
      if (!r.Eat('[')) return false;
      if (!r.Eat(']')) {
        do {
          if (!ParseValue(r, m, f, depth, scratch)) return false;
        } while (r.Eat(','));
        if (!r.Eat(']')) return false;
      }
    } else if (!ParseValue(r, m, f, depth, scratch)) {
      return false;
    }
  } while (r.Eat(','));
  return r.Eat('}');
}

}  // namespace

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

bool ParseJsonFast(std::string_view json, Message* message) {
  Reader r(json);
  return ParseObject(r, message, 0) && r.AtEnd();
}

}  // namespace rapport::gateway
