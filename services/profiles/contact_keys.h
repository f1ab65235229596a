// Normalized match keys of a contact: the one place that says when two
// contacts are "the same person" by email, phone, LinkedIn profile URL, or
// name and company. Profiles keeps these keys in the contact_keys table
// (written with every contact), which GET /v1/contacts:duplicates reads and
// which import's dedupe can reuse (NormalizeEmail, NormalizeLinkedInUrl).
//
// Every function is pure and thread-safe. An input that cannot be a key (no
// '@' in an email, too few digits in a phone, a URL that is not a LinkedIn
// profile) normalizes to "" and yields no key.
#ifndef RAPPORT_SERVICES_PROFILES_CONTACT_KEYS_H_
#define RAPPORT_SERVICES_PROFILES_CONTACT_KEYS_H_

#include <string>
#include <string_view>
#include <vector>

#include "rapport/profiles/v1/profiles.pb.h"

namespace rapport::profiles {

// Kinds of match key, as the duplicates API names them in its reasons.
inline constexpr char kKeyEmail[] = "email";
inline constexpr char kKeyPhone[] = "phone";
inline constexpr char kKeyLinkedIn[] = "linkedinUrl";
inline constexpr char kKeyNameAndCompany[] = "nameAndCompany";

// Trimmed and lower-cased; "" unless it has one '@' with text on both sides.
std::string NormalizeEmail(std::string_view email);
// Digits only, with a leading '+' kept ("+33 6 12-34" → "+33612 34" without
// the space); "" when fewer than 5 digits (an extension alone is no key).
std::string NormalizePhone(std::string_view phone);
// The canonical "https://www.linkedin.com/in/<handle>" (handle lower-cased,
// percent-escapes kept) for any scheme, www./country subdomain, trailing
// slash, query or fragment; "" when the URL is not a LinkedIn /in/ profile.
std::string NormalizeLinkedInUrl(std::string_view url);
// Lower-cased name (display name, else given + family) and company with runs
// of spaces collapsed, joined by a unit separator; "" when either is empty.
std::string NameAndCompanyKey(const ::rapport::profiles::v1::Contact& contact);

struct MatchKey {
  std::string kind;  // one of kKey*
  std::string key;   // the normalized value
  bool operator==(const MatchKey& o) const { return kind == o.kind && key == o.key; }
  bool operator<(const MatchKey& o) const { return kind != o.kind ? kind < o.kind : key < o.key; }
};

// Every distinct key of the contact, sorted.
std::vector<MatchKey> MatchKeys(const ::rapport::profiles::v1::Contact& contact);

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_CONTACT_KEYS_H_
