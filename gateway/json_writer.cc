#include "gateway/json_writer.h"

#include "absl/strings/str_cat.h"

namespace rapport::gateway {
namespace {

// Reads one UTF-8 code point at s[*i]; false on a malformed, overlong or
// surrogate sequence or one past U+10FFFF.
bool NextCodePoint(std::string_view s, size_t* i, uint32_t* cp) {
  const auto b0 = static_cast<unsigned char>(s[*i]);
  int extra;
  uint32_t min;
  if (b0 < 0x80) {
    *cp = b0;
    ++*i;
    return true;
  } else if (b0 >= 0xc2 && b0 <= 0xdf) {
    extra = 1, min = 0x80, *cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    extra = 2, min = 0x800, *cp = b0 & 0x0f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    extra = 3, min = 0x10000, *cp = b0 & 0x07;
  } else {
    return false;
  }
  if (*i + extra >= s.size()) return false;  // truncated
  for (int k = 1; k <= extra; ++k) {
    const auto b = static_cast<unsigned char>(s[*i + k]);
    if ((b & 0xc0) != 0x80) return false;
    *cp = (*cp << 6) | (b & 0x3f);
  }
  if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) return false;
  *i += extra + 1;
  return true;
}

void AppendU16(std::string* out, uint32_t unit) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[6] = {'\\', 'u', kHex[(unit >> 12) & 15], kHex[(unit >> 8) & 15], kHex[(unit >> 4) & 15], kHex[unit & 15]};
  out->append(buf, sizeof(buf));
}

// protobuf's JSON escaping: ", \ and control characters as JSON requires, <
// and > for HTML, U+007F..U+009F, and the invisible or direction-changing
// code points below (as \u escapes, astral ones as surrogate pairs).
bool EscapedCodePoint(uint32_t cp, std::string* out) {
  if (cp < 0xa0) {
    switch (cp) {
      case '"':
        out->append("\\\"");
        return true;
      case '\\':
        out->append("\\\\");
        return true;
      case '\b':
        out->append("\\b");
        return true;
      case '\t':
        out->append("\\t");
        return true;
      case '\n':
        out->append("\\n");
        return true;
      case '\f':
        out->append("\\f");
        return true;
      case '\r':
        out->append("\\r");
        return true;
      default:
        if (cp < 0x20 || cp >= 0x7f || cp == '<' || cp == '>') {
          AppendU16(out, cp);
          return true;
        }
        return false;
    }
  }
  if (cp == 0xfeff || cp == 0xfff9 || cp == 0xfffa || cp == 0xfffb || cp == 0x00ad || cp == 0x06dd || cp == 0x070f ||
      cp == 0x17b4 || cp == 0x17b5 || (cp >= 0x0600 && cp <= 0x0603) || (cp >= 0x200b && cp <= 0x200f) ||
      (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x206a && cp <= 0x206f)) {
    AppendU16(out, cp);
    return true;
  }
  if (cp == 0xe0001 || (cp >= 0x1d173 && cp <= 0x1d17a) || (cp >= 0xe0020 && cp <= 0xe007f)) {
    const uint32_t v = cp - 0x10000;
    AppendU16(out, 0xd800 + (v >> 10));
    AppendU16(out, 0xdc00 + (v & 0x3ff));
    return true;
  }
  return false;
}

// The body of a string literal; an invalid UTF-8 byte fails (strict) or
// becomes U+FFFD.
bool AppendEscaped(std::string* out, std::string_view s, bool strict) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    uint32_t cp;
    if (!NextCodePoint(s, &i, &cp)) {
      if (strict) return false;
      out->append("\xef\xbf\xbd");
      i = start + 1;
      continue;
    }
    if (!EscapedCodePoint(cp, out)) out->append(s.substr(start, i - start));
  }
  return true;
}

}  // namespace

bool JsonStringNeedsEscape(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>') return true;
  }
  return false;
}

bool AppendJsonStringStrict(std::string* out, std::string_view s) {
  out->push_back('"');
  if (!JsonStringNeedsEscape(s)) {
    out->append(s);
  } else if (!AppendEscaped(out, s, /*strict=*/true)) {
    return false;
  }
  out->push_back('"');
  return true;
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  if (!JsonStringNeedsEscape(s)) {
    out->append(s);
  } else {
    AppendEscaped(out, s, /*strict=*/false);
  }
  out->push_back('"');
}

void JsonWriter::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (written_.empty()) return;
  if (written_.back()) out_->push_back(',');
  written_.back() = true;
}

JsonWriter& JsonWriter::Open(char bracket) {
  Separate();
  out_->push_back(bracket);
  written_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::Close(char bracket) {
  out_->push_back(bracket);
  if (!written_.empty()) written_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
  Separate();
  AppendJsonString(out_, key);
  out_->push_back(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view value) {
  Separate();
  AppendJsonString(out_, value);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t value) {
  Separate();
  absl::StrAppend(out_, value);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool value) {
  Separate();
  out_->append(value ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::Json(std::string_view json) {
  Separate();
  out_->append(json);
  return *this;
}

}  // namespace rapport::gateway
