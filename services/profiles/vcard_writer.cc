#include "services/profiles/vcard_writer.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "services/common/time_util.h"

namespace rapport::profiles {
namespace {

constexpr size_t kMaxLineOctets = 75;

void Property(std::string_view name, std::string_view escaped_value, std::string* out) {
  std::string line(name);
  line += ':';
  line.append(escaped_value);
  AppendFoldedLine(line, out);
}

void TextProperty(std::string_view name, const std::string& value, std::string* out) {
  if (value.empty()) return;
  Property(name, EscapeVCardText(value, false), out);
}

// A comma-separated list value (CATEGORIES); commas inside items are escaped.
void ListProperty(std::string_view name, const google::protobuf::RepeatedPtrField<std::string>& items,
                  std::string* out) {
  if (items.empty()) return;
  std::string value;
  for (const std::string& item : items) {
    if (!value.empty()) value += ',';
    value += EscapeVCardText(item, false);
  }
  Property(name, value, out);
}

}  // namespace

std::string EscapeVCardText(std::string_view value, bool structured) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case ',':
        out += "\\,";
        break;
      case ';':
        out += structured ? "\\;" : ";";
        break;
      case '\r':
        if (i + 1 < value.size() && value[i + 1] == '\n') ++i;
        out += "\\n";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void AppendFoldedLine(std::string_view line, std::string* out) {
  // The first physical line holds 75 octets; each continuation holds 74
  // after its leading space.
  size_t limit = kMaxLineOctets;
  while (line.size() > limit) {
    size_t cut = limit;
    // Back off to the start of a UTF-8 character (never cut before a
    // continuation byte 10xxxxxx).
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    if (cut == 0) cut = limit;  // not UTF-8 at all: cut anyway
    out->append(line.substr(0, cut));
    out->append("\r\n ");
    line.remove_prefix(cut);
    limit = kMaxLineOctets - 1;
  }
  out->append(line);
  out->append("\r\n");
}

void AppendVCard(const pb::Contact& c, std::string* out) {
  out->append("BEGIN:VCARD\r\nVERSION:4.0\r\n");
  if (!c.id().empty()) Property("UID", absl::StrCat("urn:rapport:contact:", c.id()), out);
  // FN is required by RFC 6350; a contact always has a display name.
  Property("FN", EscapeVCardText(c.display_name(), false), out);
  if (!c.family_name().empty() || !c.given_name().empty()) {
    Property("N",
             absl::StrCat(EscapeVCardText(c.family_name(), true), ";", EscapeVCardText(c.given_name(), true), ";;;"),
             out);
  }
  if (!c.company().empty()) Property("ORG", EscapeVCardText(c.company(), true), out);
  TextProperty("TITLE", c.title(), out);
  for (const std::string& e : c.emails()) Property("EMAIL", EscapeVCardText(e, false), out);
  for (const std::string& p : c.phones()) Property("TEL;VALUE=text", EscapeVCardText(p, false), out);
  for (const std::string& u : c.links()) Property("URL", EscapeVCardText(u, false), out);
  if (c.has_birthday() && c.birthday().month() > 0 && c.birthday().day() > 0) {
    const pb::Birthday& b = c.birthday();
    Property("BDAY",
             b.year() > 0 ? absl::StrFormat("%04d%02d%02d", b.year(), b.month(), b.day())
                          : absl::StrFormat("--%02d%02d", b.month(), b.day()),
             out);
  }
  ListProperty("CATEGORIES", c.tags(), out);
  TextProperty("NOTE", c.notes(), out);
  TextProperty("X-RAPPORT-HEADLINE", c.headline(), out);
  TextProperty("X-RAPPORT-LOCATION", c.location(), out);
  ListProperty("X-RAPPORT-SEEKING", c.seeking(), out);
  ListProperty("X-RAPPORT-OFFERING", c.offering(), out);
  if (c.tier() != pb::TIER_UNSPECIFIED) Property("X-RAPPORT-TIER", pb::Tier_Name(c.tier()), out);
  if (c.cadence_days() != 0) Property("X-RAPPORT-CADENCE-DAYS", absl::StrCat(c.cadence_days()), out);
  TextProperty("X-RAPPORT-HOW-WE-MET", c.how_we_met(), out);
  TextProperty("X-RAPPORT-MET-THROUGH", c.met_through_contact_id(), out);
  if (c.visibility() != pb::VISIBILITY_UNSPECIFIED) {
    Property("X-RAPPORT-VISIBILITY", pb::Visibility_Name(c.visibility()), out);
  }
  if (c.has_create_time()) {
    Property("X-RAPPORT-CREATED", google::protobuf::util::TimeUtil::ToString(c.create_time()), out);
  }
  if (c.has_update_time()) {
    Property("REV",
             absl::FormatTime("%Y%m%dT%H%M%SZ", FromMicros(TimestampToMicros(c.update_time())), absl::UTCTimeZone()),
             out);
  }
  out->append("END:VCARD\r\n");
}

}  // namespace rapport::profiles
