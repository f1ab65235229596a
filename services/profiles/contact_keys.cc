#include "services/profiles/contact_keys.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace rapport::profiles {
namespace {

// Debian's Abseil has its own string_view, distinct from std::string_view.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Lower-cased, trimmed, inner runs of whitespace made one space.
std::string CollapseLower(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : absl::StripAsciiWhitespace(A(s))) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::string NormalizeEmail(std::string_view email) {
  std::string e = absl::AsciiStrToLower(absl::StripAsciiWhitespace(A(email)));
  // "mailto:" as vCards and spreadsheets sometimes carry it.
  if (absl::StartsWith(e, "mailto:")) e = e.substr(7);
  size_t at = e.find('@');
  if (at == std::string::npos || at == 0 || at + 1 >= e.size() || e.find('@', at + 1) != std::string::npos) {
    return "";
  }
  return e;
}

std::string NormalizePhone(std::string_view phone) {
  absl::string_view p = absl::StripAsciiWhitespace(A(phone));
  std::string out;
  if (!p.empty() && p.front() == '+') out.push_back('+');
  int digits = 0;
  for (char c : p) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      out.push_back(c);
      ++digits;
    }
  }
  return digits >= 5 ? out : "";
}

std::string NormalizeLinkedInUrl(std::string_view url) {
  std::string u = absl::AsciiStrToLower(absl::StripAsciiWhitespace(A(url)));
  for (absl::string_view scheme : {"https://", "http://"}) {
    if (absl::StartsWith(u, scheme)) {
      u = u.substr(scheme.size());
      break;
    }
  }
  size_t slash = u.find('/');
  if (slash == std::string::npos) return "";
  absl::string_view host = absl::string_view(u).substr(0, slash);
  // linkedin.com, www.linkedin.com, and country subdomains (uk., de-de. …).
  if (host != "linkedin.com" && !absl::EndsWith(host, ".linkedin.com")) return "";
  absl::string_view path = absl::string_view(u).substr(slash);
  path = path.substr(0, std::min(path.find('?'), path.find('#')));
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  if (parts.size() < 2 || parts[0] != "in") return "";
  return absl::StrCat("https://www.linkedin.com/in/", parts[1]);
}

std::string NameAndCompanyKey(const ::rapport::profiles::v1::Contact& contact) {
  std::string name = CollapseLower(contact.display_name());
  if (name.empty()) name = CollapseLower(absl::StrCat(contact.given_name(), " ", contact.family_name()));
  std::string company = CollapseLower(contact.company());
  if (name.empty() || company.empty()) return "";
  return absl::StrCat(name, "\x1f", company);
}

std::vector<MatchKey> MatchKeys(const ::rapport::profiles::v1::Contact& contact) {
  std::vector<MatchKey> keys;
  for (const std::string& e : contact.emails()) {
    if (std::string k = NormalizeEmail(e); !k.empty()) keys.push_back({kKeyEmail, std::move(k)});
  }
  for (const std::string& p : contact.phones()) {
    if (std::string k = NormalizePhone(p); !k.empty()) keys.push_back({kKeyPhone, std::move(k)});
  }
  for (const std::string& l : contact.links()) {
    if (std::string k = NormalizeLinkedInUrl(l); !k.empty()) keys.push_back({kKeyLinkedIn, std::move(k)});
  }
  if (std::string k = NameAndCompanyKey(contact); !k.empty()) keys.push_back({kKeyNameAndCompany, std::move(k)});
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

}  // namespace rapport::profiles
