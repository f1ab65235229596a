#include "services/profiles/csv_records.h"

#include <csv.h>

#include "absl/strings/str_cat.h"

namespace rapport::profiles {
namespace {

struct Collector {
  std::vector<CsvRecord> records;
  CsvRecord current;
};

void OnField(void* field, size_t length, void* data) {
  auto* c = static_cast<Collector*>(data);
  c->current.emplace_back(field == nullptr ? "" : std::string(static_cast<const char*>(field), length));
}

void OnRecord(int /*terminator*/, void* data) {
  auto* c = static_cast<Collector*>(data);
  c->records.push_back(std::move(c->current));
  c->current.clear();
}

}  // namespace

absl::string_view StripBom(absl::string_view data) {
  if (data.substr(0, 3) == "\xEF\xBB\xBF") data.remove_prefix(3);
  return data;
}

absl::StatusOr<std::vector<CsvRecord>> ReadCsvRecords(absl::string_view data) {
  data = StripBom(data);
  csv_parser parser;
  if (csv_init(&parser, 0) != 0) return absl::InternalError("csv: cannot initialize the parser");
  Collector collector;
  size_t parsed = csv_parse(&parser, data.data(), data.size(), OnField, OnRecord, &collector);
  absl::Status status;
  if (parsed != data.size()) {
    status = absl::InvalidArgumentError(
        absl::StrCat("file: not readable as CSV at byte ", parsed, " (", csv_strerror(csv_error(&parser)), ")"));
  } else {
    csv_fini(&parser, OnField, OnRecord, &collector);
  }
  csv_free(&parser);
  if (!status.ok()) return status;
  return std::move(collector.records);
}

}  // namespace rapport::profiles
