// The rows of an import file as contacts: the formats Rapport takes in
// (LinkedIn's Connections.csv, vCard 3.0/4.0, Google Contacts CSV, Rapport's
// own CSV export, and any CSV with a column mapping), recognized or named,
// each row either a contact ready to store or the reason it is skipped.
// Also the two rules of deduplication on the way in: which keys identify a
// person (normalized emails, the LinkedIn profile URL) and how an imported
// row fills an existing contact (empty fields only, lists unioned).
//
// Parsing is deterministic: the same bytes give the same rows in the same
// order, which is what lets an import job resume at a row number after a
// restart (import_jobs.h).
//
// Functions of their arguments; thread-safe.
#ifndef RAPPORT_SERVICES_PROFILES_IMPORT_ROWS_H_
#define RAPPORT_SERVICES_PROFILES_IMPORT_ROWS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rapport/profiles/v1/profiles.pb.h"

namespace rapport::profiles {

namespace pb = ::rapport::profiles::v1;

// The largest file an import takes (the gateway admits this much on
// POST /v1/imports only).
inline constexpr size_t kMaxImportBytes = 20 * 1024 * 1024;

enum class ImportFormat { kAuto, kLinkedIn, kVcard, kGoogle, kCsv };

// "" or "auto" → kAuto; "linkedin", "vcard", "google", "csv"; anything else
// is INVALID_ARGUMENT naming the field "format".
absl::StatusOr<ImportFormat> ParseImportFormat(absl::string_view name);
absl::string_view ImportFormatName(ImportFormat format);

// A column mapping "Column=field,Other Column=field": CSV header names (as
// written, case-insensitive) to contact fields by their JSON names
// (displayName, givenName, familyName, headline, company, title, emails,
// phones, links, location, birthday, tags, seeking, offering, tier,
// howWeMet, notes). INVALID_ARGUMENT naming "map" for an unknown field or
// a malformed pair.
using ColumnMap = std::vector<std::pair<std::string, std::string>>;
absl::StatusOr<ColumnMap> ParseColumnMap(absl::string_view spec);

struct ImportRow {
  int64_t row = 0;      // 1-based: data rows after the header, or cards
  pb::Contact contact;  // valid and normalized, without id or times, when skip is empty
  std::string skip;     // why the row is not imported ("row 12: emails[0]: ...")
};

struct ParsedImport {
  ImportFormat format = ImportFormat::kAuto;  // as recognized
  std::vector<ImportRow> rows;
};

struct ImportOptions {
  ImportFormat format = ImportFormat::kAuto;
  ColumnMap map;                  // with kCsv (or kAuto on an unknown header)
  std::vector<std::string> tags;  // added to every imported contact
};

// The rows of a file. INVALID_ARGUMENT naming "file" when the file as a
// whole cannot be read: empty, binary (NUL bytes), not of the named format,
// a CSV header with no known column and no mapping; or "map" when the
// mapping names a column the header lacks. Everything else is a per-row skip.
absl::StatusOr<ParsedImport> ParseImportFile(absl::string_view data, const ImportOptions& options);

// The keys that identify a person across sources: "email:<normalized>" for
// each email, "linkedin:<host-less profile path>" for a LinkedIn profile link.
std::vector<std::string> DedupeKeys(const pb::Contact& contact);
// "linkedin.com/in/<slug>" (lowercase, no scheme, www, query or trailing
// slash) when url is a LinkedIn profile URL, else "".
std::string LinkedInProfileKey(absl::string_view url);

// Fills the empty fields of existing from incoming and unions emails,
// phones, links, tags, seeking and offering (up to their limits); never
// overwrites a field that has a value. True when existing changed.
bool MergeImported(const pb::Contact& incoming, pb::Contact* existing);

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_IMPORT_ROWS_H_
