// A reader of vCard files (RFC 2426 vCard 3.0, RFC 6350 vCard 4.0, and the
// 2.1 habits that phones and Outlook still write) for the import of contacts
// (import_rows.h). It yields each card's properties with their parameters and
// decoded values; what a property means for a contact is import_rows' call.
//
// Handled here: many cards in one file, CRLF or LF, folded lines (a line
// starting with a space or tab continues the previous one), quoted-printable
// values with soft line breaks ("=" at a line's end), CHARSET=ISO-8859-1 or
// WINDOWS-1252 values (turned into UTF-8), group prefixes ("item1.EMAIL"),
// bare 2.1 parameters ("TEL;WORK;VOICE"), quoted parameter values, and
// binary values (PHOTO;ENCODING=b) which are dropped unread.
//
// Functions of their arguments; thread-safe.
#ifndef RAPPORT_SERVICES_PROFILES_VCARD_PARSER_H_
#define RAPPORT_SERVICES_PROFILES_VCARD_PARSER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rapport::profiles {

struct VcardProperty {
  std::string name;  // upper case, group prefix removed: "EMAIL"
  // Parameter names upper case; a bare 2.1 parameter ("WORK") is ("TYPE", "WORK").
  std::vector<std::pair<std::string, std::string>> params;
  std::string value;  // quoted-printable and charset decoded, vCard escapes kept

  // True when a TYPE parameter (any of its comma-separated values) is type,
  // case-insensitive.
  bool HasType(absl::string_view type) const;
};

struct Vcard {
  int line = 0;  // the line of its BEGIN:VCARD (1-based), for reports
  std::vector<VcardProperty> properties;
  // Set when the card is broken (no END:VCARD, a line that is not a
  // property): the import skips it with this reason.
  std::string error;

  // The first property named name, or nullptr.
  const VcardProperty* Find(absl::string_view name) const;
};

// Every card of data. INVALID_ARGUMENT ("file: ...") when data holds no
// BEGIN:VCARD line at all.
absl::StatusOr<std::vector<Vcard>> ParseVcards(absl::string_view data);

// A text value with its escapes (\n \N \, \; \\) resolved.
std::string UnescapeVcardText(absl::string_view value);
// The components of a structured (sep ';') or list (sep ',') value, split at
// unescaped separators, each unescaped.
std::vector<std::string> SplitVcardValue(absl::string_view value, char sep);

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_VCARD_PARSER_H_
