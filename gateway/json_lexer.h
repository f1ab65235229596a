// The gateway's one JSON lexer: a cursor over a text that reads one token at
// a time by RFC 8259's grammar, strictly (double-quoted strings with valid
// escapes and paired surrogates, no control characters in strings, numbers
// without leading zeros or a bare '.', literals true/false/null only), and
// keeps the first syntax error with its offset. Everything in the gateway
// that reads JSON reads it through this lexer: ScanJson (transcoder.h)
// validates request bodies and names their errors, ParseJsonFast
// (json_parser.h) fills request messages, ParseJsonValue (json_parser.h)
// reads the JSON of tokens (JWT headers and claims). Each caller decides the
// structure (objects, arrays, nesting depth); the lexer only reads tokens.
//
// The lexer does not own the text, which must outlive it.
//
// Thread-safety: a JsonLexer is used by one thread at a time.
#ifndef RAPPORT_GATEWAY_JSON_LEXER_H_
#define RAPPORT_GATEWAY_JSON_LEXER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rapport::gateway {

// Objects and arrays nested deeper than this are refused (or declined) by
// every reader of request JSON.
inline constexpr int kMaxJsonDepth = 32;

class JsonLexer {
 public:
  // What the next token is, by its first character (kBad: none can start there).
  enum class Token { kObject, kArray, kString, kNumber, kBool, kNull, kBad };

  explicit JsonLexer(std::string_view text) : s_(text) {}

  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  // The character at the cursor ('\0' at the end), whitespace not skipped.
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  Token PeekToken() const;
  // Skips whitespace, then consumes c if it comes next.
  bool Consume(char c) {
    SkipSpace();
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  // Skips whitespace; whether the text ends there.
  bool AtEnd() {
    SkipSpace();
    return pos_ == s_.size();
  }

  // The token readers skip whitespace first and return false (with the
  // error recorded) when the text there is not such a token.
  //
  // A string, unescaped into *out (cleared first; may be null to skip it).
  bool String(std::string* out);
  // A number's text (may be null) and whether it has no fraction or exponent.
  bool Number(std::string_view* text = nullptr, bool* integral = nullptr);
  // Exactly `word` (true, false or null).
  bool Literal(std::string_view word);

  // Records what is wrong at the cursor, unless an error is recorded already;
  // returns false, for `return lexer.Fail(...)`.
  bool Fail(std::string_view what) {
    if (error_.empty()) error_ = what;
    return false;
  }
  bool failed() const { return !error_.empty(); }
  // The first error ("" when none), e.g. "trailing comma in an object".
  const std::string& error() const { return error_; }
  // Where the cursor is: after an error, where it was found.
  size_t offset() const { return pos_; }

 private:
  bool Hex4(uint32_t* out);

  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
};

// Appends code point cp (≤ 0x10FFFF) to out as UTF-8.
void AppendUtf8(uint32_t cp, std::string* out);

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_JSON_LEXER_H_
