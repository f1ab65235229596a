#include "services/profiles/vcard_parser.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/profiles/csv_records.h"

namespace rapport::profiles {
namespace {

// Physical lines, without their CR/LF.
std::vector<absl::string_view> Lines(absl::string_view data) {
  std::vector<absl::string_view> lines;
  size_t start = 0;
  while (start < data.size()) {
    size_t end = data.find('\n', start);
    if (end == absl::string_view::npos) end = data.size();
    absl::string_view line = data.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

// The part of a logical line before its value: up to the first ':' outside
// double quotes; npos when there is none.
size_t ValueColon(absl::string_view line) {
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '"') quoted = !quoted;
    if (line[i] == ':' && !quoted) return i;
  }
  return absl::string_view::npos;
}

bool IsQuotedPrintable(absl::string_view line) {
  size_t colon = ValueColon(line);
  std::string head = absl::AsciiStrToUpper(line.substr(0, colon));
  return absl::StrContains(head, "QUOTED-PRINTABLE");
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string DecodeQuotedPrintable(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '=') {
      int hi = i + 1 < s.size() ? HexDigit(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? HexDigit(s[i + 2]) : -1;
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
      if (i + 1 == s.size()) continue;  // a soft break left at the end
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string Latin1ToUtf8(absl::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::string Unquote(absl::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return std::string(v);
}

// One logical line into a property; false when it is not one.
bool ParseProperty(absl::string_view line, VcardProperty* prop) {
  size_t colon = ValueColon(line);
  if (colon == absl::string_view::npos) return false;
  absl::string_view head = line.substr(0, colon);
  absl::string_view value = line.substr(colon + 1);
  // Parameters are split at ';' outside quotes.
  std::vector<absl::string_view> parts;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i <= head.size(); ++i) {
    if (i < head.size() && head[i] == '"') quoted = !quoted;
    if (i == head.size() || (head[i] == ';' && !quoted)) {
      parts.push_back(head.substr(start, i - start));
      start = i + 1;
    }
  }
  absl::string_view name = absl::StripAsciiWhitespace(parts[0]);
  if (size_t dot = name.rfind('.'); dot != absl::string_view::npos) name.remove_prefix(dot + 1);
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  prop->name = absl::AsciiStrToUpper(name);
  prop->params.clear();
  bool qp = false;
  std::string charset;
  for (size_t i = 1; i < parts.size(); ++i) {
    absl::string_view p = absl::StripAsciiWhitespace(parts[i]);
    if (p.empty()) continue;
    size_t eq = p.find('=');
    std::string key, val;
    if (eq == absl::string_view::npos) {
      std::string bare = absl::AsciiStrToUpper(p);
      if (bare == "QUOTED-PRINTABLE" || bare == "BASE64" || bare == "B") {
        key = "ENCODING";
      } else {
        key = "TYPE";
      }
      val = std::string(p);
    } else {
      key = absl::AsciiStrToUpper(p.substr(0, eq));
      val = Unquote(p.substr(eq + 1));
    }
    if (key == "ENCODING" && absl::EqualsIgnoreCase(val, "QUOTED-PRINTABLE")) qp = true;
    if (key == "CHARSET") charset = absl::AsciiStrToUpper(val);
    prop->params.emplace_back(std::move(key), std::move(val));
  }
  std::string decoded = qp ? DecodeQuotedPrintable(value) : std::string(value);
  if (charset == "ISO-8859-1" || charset == "WINDOWS-1252" || charset == "LATIN1") {
    decoded = Latin1ToUtf8(decoded);
  }
  prop->value = std::move(decoded);
  return true;
}

bool IsBinary(const VcardProperty& p) {
  for (const auto& [k, v] : p.params) {
    if (k == "ENCODING" && (absl::EqualsIgnoreCase(v, "b") || absl::EqualsIgnoreCase(v, "BASE64"))) return true;
  }
  return p.name == "PHOTO" || p.name == "LOGO" || p.name == "SOUND" || p.name == "KEY";
}

}  // namespace

bool VcardProperty::HasType(absl::string_view type) const {
  for (const auto& [k, v] : params) {
    if (k != "TYPE") continue;
    for (absl::string_view t : absl::StrSplit(v, ',')) {
      if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(t), type)) return true;
    }
  }
  return false;
}

const VcardProperty* Vcard::Find(absl::string_view name) const {
  for (const VcardProperty& p : properties) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

absl::StatusOr<std::vector<Vcard>> ParseVcards(absl::string_view data) {
  std::vector<absl::string_view> physical = Lines(StripBom(data));
  // Logical lines with the physical line each starts on.
  std::vector<std::pair<int, std::string>> logical;
  for (size_t i = 0; i < physical.size(); ++i) {
    absl::string_view line = physical[i];
    bool continuation = !line.empty() && (line[0] == ' ' || line[0] == '\t');
    if (continuation && !logical.empty()) {
      logical.back().second.append(line.data() + 1, line.size() - 1);
      continue;
    }
    logical.emplace_back(static_cast<int>(i) + 1, std::string(line));
    // Quoted-printable soft breaks: "=" at the end joins the next physical
    // line as it is (2.1 writers do not indent it).
    while (IsQuotedPrintable(logical.back().second) && !logical.back().second.empty() &&
           logical.back().second.back() == '=' && i + 1 < physical.size()) {
      logical.back().second.pop_back();
      ++i;
      absl::string_view next = physical[i];
      logical.back().second.append(next.data(), next.size());
    }
  }
  std::vector<Vcard> cards;
  bool in_card = false;
  bool any_begin = false;
  for (auto& [line_no, text] : logical) {
    absl::string_view line = absl::StripTrailingAsciiWhitespace(text);
    if (absl::EqualsIgnoreCase(line, "BEGIN:VCARD")) {
      any_begin = true;
      if (in_card) cards.back().error = absl::StrCat("card at line ", cards.back().line, ": no END:VCARD");
      cards.emplace_back();
      cards.back().line = line_no;
      in_card = true;
      continue;
    }
    if (absl::EqualsIgnoreCase(line, "END:VCARD")) {
      in_card = false;
      continue;
    }
    if (!in_card) continue;  // text between cards is ignored
    if (line.empty()) continue;
    VcardProperty prop;
    if (!ParseProperty(line, &prop)) {
      if (cards.back().error.empty()) {
        cards.back().error = absl::StrCat("card at line ", cards.back().line, ": line ", line_no, " is not a property");
      }
      continue;
    }
    if (IsBinary(prop)) continue;
    cards.back().properties.push_back(std::move(prop));
  }
  if (in_card && cards.back().error.empty()) {
    cards.back().error = absl::StrCat("card at line ", cards.back().line, ": no END:VCARD");
  }
  if (!any_begin) return absl::InvalidArgumentError("file: holds no vCard (no BEGIN:VCARD line)");
  return cards;
}

std::string UnescapeVcardText(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) {
      char n = value[++i];
      if (n == 'n' || n == 'N') {
        out.push_back('\n');
      } else {
        out.push_back(n);  // \, \; \\ and any other escaped character
      }
      continue;
    }
    out.push_back(value[i]);
  }
  return out;
}

std::vector<std::string> SplitVcardValue(absl::string_view value, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i < value.size() && value[i] == '\\') {
      ++i;
      continue;
    }
    if (i == value.size() || value[i] == sep) {
      parts.push_back(UnescapeVcardText(value.substr(start, i - start)));
      start = i + 1;
    }
  }
  return parts;
}

}  // namespace rapport::profiles
