#include "services/profiles/contact_csv.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace rapport::profiles {
namespace {

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& items) { return absl::StrJoin(items, "\n"); }

std::string Time(const google::protobuf::Timestamp& ts) { return google::protobuf::util::TimeUtil::ToString(ts); }

}  // namespace

void AppendCsvField(std::string_view value, std::string* out) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

std::string ContactCsvHeader() {
  std::string out;
  bool first = true;
  for (const char* column : kContactCsvColumns) {
    if (!first) out += ',';
    first = false;
    out += column;
  }
  out += "\r\n";
  return out;
}

void AppendContactCsvRow(const pb::Contact& c, std::string* out) {
  std::string birthday;
  if (c.has_birthday() && c.birthday().month() > 0) {
    const pb::Birthday& b = c.birthday();
    birthday = b.year() > 0 ? absl::StrFormat("%04d-%02d-%02d", b.year(), b.month(), b.day())
                            : absl::StrFormat("--%02d-%02d", b.month(), b.day());
  }
  const std::string fields[] = {
      c.id(),
      c.display_name(),
      c.given_name(),
      c.family_name(),
      c.headline(),
      c.company(),
      c.title(),
      Joined(c.emails()),
      Joined(c.phones()),
      Joined(c.links()),
      c.location(),
      birthday,
      Joined(c.tags()),
      Joined(c.seeking()),
      Joined(c.offering()),
      c.tier() == pb::TIER_UNSPECIFIED ? "" : pb::Tier_Name(c.tier()),
      c.cadence_days() == 0 ? "" : absl::StrCat(c.cadence_days()),
      c.how_we_met(),
      c.met_through_contact_id(),
      c.notes(),
      c.visibility() == pb::VISIBILITY_UNSPECIFIED ? "" : pb::Visibility_Name(c.visibility()),
      c.has_create_time() ? Time(c.create_time()) : "",
      c.has_update_time() ? Time(c.update_time()) : "",
  };
  static_assert(sizeof(fields) / sizeof(fields[0]) == sizeof(kContactCsvColumns) / sizeof(kContactCsvColumns[0]));
  bool first = true;
  for (const std::string& f : fields) {
    if (!first) out->push_back(',');
    first = false;
    AppendCsvField(f, out);
  }
  out->append("\r\n");
}

}  // namespace rapport::profiles
