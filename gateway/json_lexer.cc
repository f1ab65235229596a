#include "gateway/json_lexer.h"

namespace rapport::gateway {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Characters a string copies as they are: not the end, an escape or a control character.
bool Plain(char c) { return c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20; }

}  // namespace

JsonLexer::Token JsonLexer::PeekToken() const {
  switch (Peek()) {
    case '{':
      return Token::kObject;
    case '[':
      return Token::kArray;
    case '"':
      return Token::kString;
    case 't':
    case 'f':
      return Token::kBool;
    case 'n':
      return Token::kNull;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
      return Token::kNumber;
    default:
      return Token::kBad;
  }
}

bool JsonLexer::Hex4(uint32_t* out) {
  if (pos_ + 4 > s_.size()) return Fail("truncated \\u escape");
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    const int h = HexDigit(s_[pos_ + i]);
    if (h < 0) return Fail("invalid \\u escape");
    v = v * 16 + static_cast<uint32_t>(h);
  }
  pos_ += 4;
  *out = v;
  return true;
}

bool JsonLexer::String(std::string* out) {
  SkipSpace();
  if (Peek() != '"') return Fail("expected a double-quoted string");
  ++pos_;
  if (out != nullptr) out->clear();
  while (true) {
    // Runs of plain characters are copied at once.
    const size_t run = pos_;
    while (pos_ < s_.size() && Plain(s_[pos_])) ++pos_;
    if (out != nullptr) out->append(s_.data() + run, pos_ - run);
    if (pos_ >= s_.size()) return Fail("unterminated string");
    const char c = s_[pos_];
    if (c == '"') {
      ++pos_;
      return true;
    }
    if (c != '\\') return Fail("unescaped control character in a string");
    ++pos_;
    const char e = Peek();
    char simple = 0;
    switch (e) {
      case '"':
        simple = '"';
        break;
      case '\\':
        simple = '\\';
        break;
      case '/':
        simple = '/';
        break;
      case 'b':
        simple = '\b';
        break;
      case 'f':
        simple = '\f';
        break;
      case 'n':
        simple = '\n';
        break;
      case 'r':
        simple = '\r';
        break;
      case 't':
        simple = '\t';
        break;
      case 'u': {
        ++pos_;
        uint32_t cp;
        if (!Hex4(&cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return Fail("unpaired surrogate in a \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t low;
          if (s_.substr(pos_, 2) != "\\u") return Fail("unpaired surrogate in a \\u escape");
          pos_ += 2;
          if (!Hex4(&low)) return false;
          if (low < 0xDC00 || low > 0xDFFF) return Fail("unpaired surrogate in a \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        if (out != nullptr) AppendUtf8(cp, out);
        continue;
      }
      default:
        return Fail("invalid escape in a string");  // the cursor on the escaped character
    }
    ++pos_;
    if (out != nullptr) out->push_back(simple);
  }
}

// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool JsonLexer::Number(std::string_view* text, bool* integral) {
  SkipSpace();
  const size_t start = pos_;
  auto digit = [this] { return pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'; };
  bool whole = true;
  if (Peek() == '-') ++pos_;
  if (Peek() == '0') {
    ++pos_;
    if (digit()) return Fail("leading zero in a number");
  } else if (digit()) {
    while (digit()) ++pos_;
  } else {
    return Fail("invalid number");
  }
  if (Peek() == '.') {
    ++pos_;
    whole = false;
    if (!digit()) return Fail("invalid number");
    while (digit()) ++pos_;
  }
  if (Peek() == 'e' || Peek() == 'E') {
    ++pos_;
    whole = false;
    if (Peek() == '+' || Peek() == '-') ++pos_;
    if (!digit()) return Fail("invalid number");
    while (digit()) ++pos_;
  }
  if (text != nullptr) *text = s_.substr(start, pos_ - start);
  if (integral != nullptr) *integral = whole;
  return true;
}

bool JsonLexer::Literal(std::string_view word) {
  SkipSpace();
  if (s_.substr(pos_, word.size()) != word) return Fail("invalid literal (only true, false and null)");
  pos_ += word.size();
  return true;
}

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

}  // namespace rapport::gateway
