// CSV records for the import of contacts (import_rows.h), read with Debian's
// libcsv rather than by splitting on commas: quoted fields with embedded
// commas, quotes and newlines, CRLF or LF line ends, and blank lines
// (skipped) all follow RFC 4180 as libcsv reads it. Spaces around unquoted
// fields are trimmed (LinkedIn writes "First Name, Last Name" in some
// exports). A leading UTF-8 byte-order mark is dropped.
//
// Functions of their arguments; thread-safe.
#ifndef RAPPORT_SERVICES_PROFILES_CSV_RECORDS_H_
#define RAPPORT_SERVICES_PROFILES_CSV_RECORDS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rapport::profiles {

using CsvRecord = std::vector<std::string>;

// Every record of data, in order. INVALID_ARGUMENT ("file: ...") when libcsv
// cannot read it (out of memory on a pathological field); a file that ends
// inside a quoted field still gives the records read so far plus that last
// field as it stands, as a spreadsheet would.
absl::StatusOr<std::vector<CsvRecord>> ReadCsvRecords(absl::string_view data);

// data without a leading UTF-8 byte-order mark.
absl::string_view StripBom(absl::string_view data);

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_CSV_RECORDS_H_
