#include "services/common/validate.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "services/common/ids.h"

namespace rapport {

size_t Utf8Length(std::string_view s) {
  size_t count = 0;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return std::string_view::npos;
    }
    if (i + len > s.size()) return std::string_view::npos;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return std::string_view::npos;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return std::string_view::npos;
    }
    i += len;
    ++count;
  }
  return count;
}

namespace {
// Debian's absl::string_view is its own type, not std::string_view.
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }
bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
}  // namespace

std::string NormalizeKey(std::string_view s) { return absl::AsciiStrToLower(absl::StripAsciiWhitespace(AbslView(s))); }

absl::Status RequireId(const std::string& field, std::string_view id) {
  Violations v;
  v.Id(field, id, /*required=*/true);
  return v.ToStatus();
}

void Violations::Add(std::string field, std::string description) {
  items_.emplace_back(std::move(field), std::move(description));
}

absl::Status Violations::ToStatus() const {
  if (items_.empty()) return absl::OkStatus();
  std::vector<std::string> parts;
  parts.reserve(items_.size());
  for (const auto& [field, description] : items_) parts.push_back(absl::StrCat(field, ": ", description));
  return absl::InvalidArgumentError(absl::StrJoin(parts, "; "));
}

void Violations::Text(const std::string& field, std::string_view value, size_t max_chars, bool required) {
  size_t n = Utf8Length(value);
  if (n == std::string_view::npos) {
    Add(field, "is not valid UTF-8");
  } else if (required && absl::StripAsciiWhitespace(AbslView(value)).empty()) {
    Add(field, "is required");
  } else if (n > max_chars) {
    Add(field, absl::StrCat("is longer than ", max_chars, " characters"));
  }
}

void Violations::Email(const std::string& field, std::string_view value) {
  size_t before = items_.size();
  Text(field, value, 254, true);
  if (items_.size() != before) return;
  size_t at = value.find('@');
  bool ok = at != std::string_view::npos && at > 0 && value.find('@', at + 1) == std::string_view::npos;
  if (ok) {
    std::string_view domain = value.substr(at + 1);
    size_t dot = domain.find('.');
    ok = dot != std::string_view::npos && dot > 0 && dot + 1 < domain.size() &&
         domain.find("..") == std::string_view::npos;
  }
  // No space or control character (CR, NUL, DEL... would reach exports and
  // mail headers as they are), nor the separators of an address list.
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f || c == '<' || c == '>' || c == ',') ok = false;
  }
  if (!ok) Add(field, "is not an email address");
}

void Violations::Url(const std::string& field, std::string_view value) {
  size_t before = items_.size();
  Text(field, value, 2048, true);
  if (items_.size() != before) return;
  std::string_view rest;
  if (StartsWith(value, "https://")) {
    rest = value.substr(8);
  } else if (StartsWith(value, "http://")) {
    rest = value.substr(7);
  } else {
    Add(field, "must be an http or https URL");
    return;
  }
  std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  bool ok = !host.empty();
  for (char c : value) {
    if (static_cast<unsigned char>(c) <= ' ') ok = false;
  }
  if (!ok) Add(field, "is not a valid URL");
}

void Violations::Phone(const std::string& field, std::string_view value) {
  size_t before = items_.size();
  Text(field, value, 40, true);
  if (items_.size() != before) return;
  int digits = 0;
  for (char c : value) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c != '+' && c != ' ' && c != '-' && c != '(' && c != ')' && c != '.') {
      Add(field, "may hold only digits, spaces and + - ( ) .");
      return;
    }
  }
  if (digits < 3) Add(field, "has too few digits");
}

void Violations::Id(const std::string& field, std::string_view value, bool required) {
  if (value.empty()) {
    if (required) Add(field, "is required");
    return;
  }
  if (!IsWellFormedId(value)) Add(field, "is not a valid id");
}

void Violations::TextList(const std::string& field, const google::protobuf::RepeatedPtrField<std::string>& values,
                          size_t max_items, size_t max_chars) {
  if (static_cast<size_t>(values.size()) > max_items) {
    Add(field, absl::StrCat("has more than ", max_items, " items"));
    return;
  }
  for (int i = 0; i < values.size(); ++i) {
    Text(absl::StrCat(field, "[", i, "]"), values[i], max_chars, true);
  }
}

}  // namespace rapport
