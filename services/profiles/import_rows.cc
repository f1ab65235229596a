#include "services/profiles/import_rows.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "services/common/validate.h"
#include "services/profiles/csv_records.h"
#include "services/profiles/profiles_logic.h"
#include "services/profiles/vcard_parser.h"

namespace rapport::profiles {
namespace {

constexpr size_t kMaxListItems = 20;  // emails, phones, links (ValidateContact)

// How a CSV column feeds a contact.
enum class Feed {
  kField,         // a contact field by JSON name (SetField)
  kConnectedOn,   // LinkedIn's "Connected On": howWeMet
  kLabels,        // Google's "Labels" / "Group Membership": tags, " ::: " separated
  kMiddleName,    // part of the display name only
  kLocationPart,  // Google's address city/region/country: joined into location
};

struct Binding {
  size_t column;
  Feed feed;
  std::string field;  // for kField
};

const std::vector<std::string>& ContactFields() {
  static const std::vector<std::string> kFields = {"displayName", "givenName", "familyName",  "headline",  "company",
                                                   "title",       "emails",    "phones",      "links",     "location",
                                                   "birthday",    "tags",      "seeking",     "offering",  "tier",
                                                   "howWeMet",    "notes",     "cadenceDays", "visibility"};
  return kFields;
}

// The JSON field name s names (case-insensitive), or "".
std::string ContactField(absl::string_view s) {
  for (const std::string& f : ContactFields()) {
    if (absl::EqualsIgnoreCase(f, absl::StripAsciiWhitespace(s))) return f;
  }
  return "";
}

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(absl::StripAsciiWhitespace(s)); }

// Common header names of address-book CSVs, for a CSV without a mapping.
std::string AliasField(absl::string_view header) {
  static const std::vector<std::pair<std::vector<std::string>, std::string>> kAliases = {
      {{"name", "full name", "display name", "contact name"}, "displayName"},
      {{"first name", "given name", "firstname", "first"}, "givenName"},
      {{"last name", "family name", "surname", "lastname", "last"}, "familyName"},
      {{"email", "e-mail", "email address", "e-mail address", "mail"}, "emails"},
      {{"phone", "phone number", "mobile", "mobile phone", "telephone", "tel"}, "phones"},
      {{"company", "organization", "organisation", "employer"}, "company"},
      {{"job title", "position", "role"}, "title"},
      {{"url", "website", "web page", "linkedin", "linkedin url", "profile url"}, "links"},
      {{"city", "address"}, "location"},
      {{"note", "comments"}, "notes"},
      {{"labels", "categories", "groups"}, "tags"},
      {{"connected on", "how we met", "met"}, "howWeMet"},
  };
  std::string h = Lower(header);
  std::string direct = ContactField(h);
  if (!direct.empty()) return direct;
  for (const auto& [names, field] : kAliases) {
    if (std::find(names.begin(), names.end(), h) != names.end()) return field;
  }
  return "";
}

std::vector<std::string> SplitList(absl::string_view s) {
  std::vector<std::string> out;
  std::string text(s);
  absl::StrReplaceAll({{" ::: ", ";"}, {"\r\n", ";"}, {"\n", ";"}}, &text);
  for (absl::string_view part : absl::StrSplit(text, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

std::string Link(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  if (s.empty()) return "";
  if (absl::StartsWithIgnoreCase(s, "http://") || absl::StartsWithIgnoreCase(s, "https://")) return std::string(s);
  return absl::StrCat("https://", s);
}

void AddUnique(google::protobuf::RepeatedPtrField<std::string>* list, std::string value,
               const std::function<std::string(absl::string_view)>& key, size_t max) {
  if (value.empty()) return;
  std::string k = key(value);
  for (const std::string& v : *list) {
    if (key(v) == k) return;
  }
  if (static_cast<size_t>(list->size()) >= max) return;
  list->Add(std::move(value));
}

std::string EmailKey(absl::string_view s) { return NormalizeKey(std::string(s)); }
std::string PhoneKey(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '+') out.push_back(c);
  }
  return out;
}
std::string LinkKey(absl::string_view s) {
  std::string li = LinkedInProfileKey(s);
  return li.empty() ? Lower(s) : li;
}
std::string TagKey(absl::string_view s) { return NormalizeKey(std::string(s)); }

// A birthday as address books write it: 1985-04-12, 19850412, --04-12,
// --0412, 1985-04-12T00:00:00Z. A year before 1900 means "no year" (Apple
// writes 1604 for birthdays without one).
std::optional<pb::Birthday> ParseBirthday(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  if (size_t t = s.find('T'); t != absl::string_view::npos) s = s.substr(0, t);
  std::string digits;
  bool no_year = absl::StartsWith(s, "--");
  if (no_year) s.remove_prefix(2);
  for (char c : s) {
    if (c == '-') continue;
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    digits.push_back(c);
  }
  int year = 0, month = 0, day = 0;
  if (no_year && digits.size() == 4) {
    (void)absl::SimpleAtoi(digits.substr(0, 2), &month);
    (void)absl::SimpleAtoi(digits.substr(2, 2), &day);
  } else if (!no_year && digits.size() == 8) {
    (void)absl::SimpleAtoi(digits.substr(0, 4), &year);
    (void)absl::SimpleAtoi(digits.substr(4, 2), &month);
    (void)absl::SimpleAtoi(digits.substr(6, 2), &day);
  } else {
    return std::nullopt;
  }
  if (year < 1900) year = 0;
  if (!IsValidBirthday(month, day, year)) return std::nullopt;
  pb::Birthday b;
  b.set_month(month);
  b.set_day(day);
  b.set_year(year);
  return b;
}

// LinkedIn writes "04 Dec 2026"; the contact keeps it as the date they connected.
std::string ConnectedOn(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  if (s.empty()) return "";
  absl::Time t;
  std::string err;
  if (absl::ParseTime("%d %b %Y", std::string(s), absl::UTCTimeZone(), &t, &err)) {
    return absl::StrCat("Connected on LinkedIn on ", absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()));
  }
  return absl::StrCat("Connected on LinkedIn on ", s);
}

// Sets one field from a cell; an error names the field.
absl::Status SetField(pb::Contact* c, const std::string& field, absl::string_view raw) {
  absl::string_view v = absl::StripAsciiWhitespace(raw);
  if (v.empty()) return absl::OkStatus();
  std::string s(v);
  if (field == "displayName")
    c->set_display_name(s);
  else if (field == "givenName")
    c->set_given_name(s);
  else if (field == "familyName")
    c->set_family_name(s);
  else if (field == "headline")
    c->set_headline(s);
  else if (field == "company")
    c->set_company(s);
  else if (field == "title")
    c->set_title(s);
  else if (field == "location")
    c->set_location(s);
  else if (field == "howWeMet")
    c->set_how_we_met(s);
  else if (field == "notes")
    c->set_notes(std::string(raw));
  else if (field == "emails") {
    for (std::string& e : SplitList(s)) {
      if (absl::StartsWithIgnoreCase(e, "mailto:")) e = e.substr(7);
      AddUnique(c->mutable_emails(), std::move(e), EmailKey, kMaxListItems + 1);
    }
  } else if (field == "phones") {
    for (std::string& p : SplitList(s)) AddUnique(c->mutable_phones(), std::move(p), PhoneKey, kMaxListItems + 1);
  } else if (field == "links") {
    for (std::string& l : SplitList(s)) AddUnique(c->mutable_links(), Link(l), LinkKey, kMaxListItems + 1);
  } else if (field == "tags" || field == "seeking" || field == "offering") {
    auto* list = field == "tags"      ? c->mutable_tags()
                 : field == "seeking" ? c->mutable_seeking()
                                      : c->mutable_offering();
    for (std::string& t : SplitList(s)) list->Add(std::move(t));
  } else if (field == "birthday") {
    std::optional<pb::Birthday> b = ParseBirthday(s);
    if (!b.has_value()) return absl::InvalidArgumentError("birthday: is not a date (YYYY-MM-DD or --MM-DD)");
    *c->mutable_birthday() = *b;
  } else if (field == "tier") {
    pb::Tier tier;
    if (!pb::Tier_Parse(absl::AsciiStrToUpper(s), &tier)) {
      return absl::InvalidArgumentError("tier: is not INNER, CLOSE, NETWORK or ACQUAINTANCE");
    }
    c->set_tier(tier);
  } else if (field == "cadenceDays") {
    int days = 0;
    if (!absl::SimpleAtoi(s, &days) || days < 0) {
      return absl::InvalidArgumentError("cadenceDays: is not a whole number of days");
    }
    c->set_cadence_days(days);
  } else if (field == "visibility") {
    pb::Visibility visibility;
    if (!pb::Visibility_Parse(absl::AsciiStrToUpper(s), &visibility)) {
      return absl::InvalidArgumentError("visibility: is not a visibility of Rapport's");
    }
    c->set_visibility(visibility);
  }
  return absl::OkStatus();
}

// The last checks every row passes: a name, the options' tags, the
// contact's own validation (field limits, 32 KiB as JSON).
void Finish(const ImportOptions& options, const std::string& where, std::vector<std::string> middle, ImportRow* row) {
  if (!row->skip.empty()) return;
  pb::Contact& c = row->contact;
  if (c.display_name().empty()) {
    std::vector<std::string> parts;
    if (!c.given_name().empty()) parts.push_back(c.given_name());
    for (std::string& m : middle) {
      if (!m.empty()) parts.push_back(std::move(m));
    }
    if (!c.family_name().empty()) parts.push_back(c.family_name());
    c.set_display_name(absl::StrJoin(parts, " "));
  }
  if (c.display_name().empty() && c.emails_size() > 0) c.set_display_name(c.emails(0));
  if (c.display_name().empty()) {
    row->skip = absl::StrCat(where, ": has no name and no email");
    return;
  }
  for (const std::string& t : options.tags) c.add_tags(t);
  NormalizeContact(&c);
  absl::Status valid = ValidateContact(c);
  if (!valid.ok()) row->skip = absl::StrCat(where, ": ", valid.message());
}

bool IsBlankRecord(const CsvRecord& r) {
  return std::all_of(r.begin(), r.end(), [](const std::string& s) { return absl::StripAsciiWhitespace(s).empty(); });
}

bool HeaderHas(const CsvRecord& header, absl::string_view name) {
  return std::any_of(header.begin(), header.end(),
                     [&](const std::string& h) { return absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(h), name); });
}

bool IsLinkedInHeader(const CsvRecord& r) {
  return r.size() >= 3 && HeaderHas(r, "First Name") && HeaderHas(r, "Last Name") && HeaderHas(r, "URL") &&
         HeaderHas(r, "Connected On");
}

bool IsGoogleHeader(const CsvRecord& r) {
  for (const std::string& h : r) {
    absl::string_view s = absl::StripAsciiWhitespace(h);
    if (absl::StartsWith(s, "E-mail 1 - ") || absl::StartsWith(s, "Phone 1 - ") || s == "Group Membership" ||
        s == "Organization Name" || s == "Organization 1 - Name") {
      return true;
    }
  }
  return false;
}

// Rapport's own CSV export: the contact's JSON field names as headers.
bool IsRapportHeader(const CsvRecord& r) { return !r.empty() && HeaderHas(r, "displayName"); }

std::vector<Binding> LinkedInBindings(const CsvRecord& header) {
  std::vector<Binding> out;
  for (size_t i = 0; i < header.size(); ++i) {
    std::string h = Lower(header[i]);
    if (h == "first name")
      out.push_back({i, Feed::kField, "givenName"});
    else if (h == "last name")
      out.push_back({i, Feed::kField, "familyName"});
    else if (h == "url")
      out.push_back({i, Feed::kField, "links"});
    else if (h == "email address")
      out.push_back({i, Feed::kField, "emails"});
    else if (h == "company")
      out.push_back({i, Feed::kField, "company"});
    else if (h == "position")
      out.push_back({i, Feed::kField, "title"});
    else if (h == "connected on")
      out.push_back({i, Feed::kConnectedOn, ""});
  }
  return out;
}

std::vector<Binding> GoogleBindings(const CsvRecord& header) {
  std::vector<Binding> out;
  for (size_t i = 0; i < header.size(); ++i) {
    std::string h = Lower(header[i]);
    auto field = [&](const char* f) { out.push_back({i, Feed::kField, f}); };
    if (h == "name")
      field("displayName");
    else if (h == "first name" || h == "given name")
      field("givenName");
    else if (h == "last name" || h == "family name")
      field("familyName");
    else if (h == "middle name" || h == "additional name")
      out.push_back({i, Feed::kMiddleName, ""});
    else if (h == "organization name" || h == "organization 1 - name")
      field("company");
    else if (h == "organization title" || h == "organization 1 - title")
      field("title");
    else if (h == "birthday")
      field("birthday");
    else if (h == "notes")
      field("notes");
    else if (h == "labels" || h == "group membership")
      out.push_back({i, Feed::kLabels, ""});
    else if (absl::StartsWith(h, "e-mail ") && absl::EndsWith(h, " - value"))
      field("emails");
    else if (absl::StartsWith(h, "phone ") && absl::EndsWith(h, " - value"))
      field("phones");
    else if (absl::StartsWith(h, "website ") && absl::EndsWith(h, " - value"))
      field("links");
    else if (h == "address 1 - city" || h == "address 1 - region" || h == "address 1 - country") {
      out.push_back({i, Feed::kLocationPart, ""});
    }
  }
  return out;
}

absl::StatusOr<std::vector<Binding>> MappedBindings(const CsvRecord& header, const ColumnMap& map) {
  std::vector<Binding> out;
  for (const auto& [column, field] : map) {
    bool found = false;
    for (size_t i = 0; i < header.size(); ++i) {
      if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(header[i]), column)) {
        out.push_back({i, Feed::kField, field});
        found = true;
      }
    }
    if (!found) return absl::InvalidArgumentError(absl::StrCat("map: the file has no column \"", column, "\""));
  }
  return out;
}

std::vector<Binding> AliasBindings(const CsvRecord& header) {
  std::vector<Binding> out;
  for (size_t i = 0; i < header.size(); ++i) {
    std::string f = AliasField(header[i]);
    if (!f.empty()) out.push_back({i, Feed::kField, f});
  }
  return out;
}

ImportRow CsvRow(int64_t n, const CsvRecord& record, size_t header_size, const std::vector<Binding>& bindings,
                 const ImportOptions& options) {
  ImportRow row;
  row.row = n;
  const std::string where = absl::StrCat("row ", n);
  if (record.size() != header_size) {
    row.skip = absl::StrCat(where, ": has ", record.size(), " columns, the header has ", header_size);
    return row;
  }
  for (size_t i = 0; i < record.size(); ++i) {
    if (Utf8Length(record[i]) == std::string::npos) {
      row.skip = absl::StrCat(where, ": column ", i + 1, " is not valid UTF-8");
      return row;
    }
  }
  std::vector<std::string> middle;
  std::vector<std::string> location;
  for (const Binding& b : bindings) {
    const std::string& cell = record[b.column];
    switch (b.feed) {
      case Feed::kField:
        if (absl::Status s = SetField(&row.contact, b.field, cell); !s.ok()) {
          row.skip = absl::StrCat(where, ": ", s.message());
          return row;
        }
        break;
      case Feed::kConnectedOn:
        if (row.contact.how_we_met().empty()) row.contact.set_how_we_met(ConnectedOn(cell));
        break;
      case Feed::kLabels:
        for (std::string& label : SplitList(cell)) {
          if (absl::StartsWith(label, "* ")) continue;  // Google's system groups: myContacts, starred
          row.contact.add_tags(std::move(label));
        }
        break;
      case Feed::kMiddleName:
        middle.emplace_back(absl::StripAsciiWhitespace(cell));
        break;
      case Feed::kLocationPart:
        if (!absl::StripAsciiWhitespace(cell).empty()) location.emplace_back(absl::StripAsciiWhitespace(cell));
        break;
    }
  }
  if (row.contact.location().empty() && !location.empty()) row.contact.set_location(absl::StrJoin(location, ", "));
  Finish(options, where, std::move(middle), &row);
  return row;
}

absl::StatusOr<ParsedImport> ParseCsv(absl::string_view data, const ImportOptions& options) {
  absl::StatusOr<std::vector<CsvRecord>> read = ReadCsvRecords(data);
  if (!read.ok()) return read.status();
  std::vector<CsvRecord> records;
  for (CsvRecord& r : *read) {
    if (!IsBlankRecord(r)) records.push_back(std::move(r));
  }
  read->clear();
  ParsedImport out;
  size_t header_at = 0;
  std::vector<Binding> bindings;
  ImportFormat format = options.format;
  if (format == ImportFormat::kLinkedIn || format == ImportFormat::kAuto) {
    // LinkedIn's export opens with "Notes:" lines before its header.
    size_t found = records.size();
    for (size_t i = 0; i < records.size() && i < 20; ++i) {
      if (IsLinkedInHeader(records[i])) {
        found = i;
        break;
      }
    }
    if (found < records.size()) {
      format = ImportFormat::kLinkedIn;
      header_at = found;
    } else if (format == ImportFormat::kLinkedIn) {
      return absl::InvalidArgumentError(
          "file: is not a LinkedIn connections export (no header with First Name, Last Name, URL, Connected On)");
    }
  }
  if (records.empty()) return absl::InvalidArgumentError("file: holds no CSV rows");
  const CsvRecord& header = records[header_at];
  if (format == ImportFormat::kAuto) {
    if (!options.map.empty())
      format = ImportFormat::kCsv;
    else if (IsGoogleHeader(header))
      format = ImportFormat::kGoogle;
    else
      format = ImportFormat::kCsv;
  }
  if (format == ImportFormat::kLinkedIn) {
    bindings = LinkedInBindings(header);
  } else if (format == ImportFormat::kGoogle) {
    bindings = GoogleBindings(header);
    if (bindings.empty()) return absl::InvalidArgumentError("file: is not a Google Contacts CSV (no known column)");
  } else if (!options.map.empty()) {
    absl::StatusOr<std::vector<Binding>> mapped = MappedBindings(header, options.map);
    if (!mapped.ok()) return mapped.status();
    bindings = *std::move(mapped);
  } else {
    bindings = AliasBindings(header);
    if (bindings.empty()) {
      return absl::InvalidArgumentError(
          "file: the CSV header names no known column; give a column mapping (map=Column=field,...)");
    }
  }
  out.format = format;
  ImportOptions row_options = options;
  if (format == ImportFormat::kLinkedIn) row_options.tags.push_back("linkedin");
  for (size_t i = header_at + 1; i < records.size(); ++i) {
    out.rows.push_back(CsvRow(static_cast<int64_t>(i - header_at), records[i], header.size(), bindings, row_options));
  }
  return out;
}

ImportRow VcardRow(int64_t n, const Vcard& card, const ImportOptions& options) {
  ImportRow row;
  row.row = n;
  const std::string where = absl::StrCat("card ", n, " (line ", card.line, ")");
  if (!card.error.empty()) {
    row.skip = absl::StrCat(where, ": ", card.error);
    return row;
  }
  pb::Contact& c = row.contact;
  std::vector<std::string> middle;
  for (const VcardProperty& p : card.properties) {
    if (Utf8Length(p.value) == std::string::npos) {
      row.skip = absl::StrCat(where, ": ", p.name, " is not valid UTF-8");
      return row;
    }
  }
  for (const VcardProperty& p : card.properties) {
    const std::string& name = p.name;
    if (name == "FN") {
      if (c.display_name().empty())
        c.set_display_name(std::string(absl::StripAsciiWhitespace(UnescapeVcardText(p.value))));
    } else if (name == "N") {
      std::vector<std::string> n_parts = SplitVcardValue(p.value, ';');
      if (!n_parts.empty()) c.set_family_name(std::string(absl::StripAsciiWhitespace(n_parts[0])));
      if (n_parts.size() > 1) c.set_given_name(std::string(absl::StripAsciiWhitespace(n_parts[1])));
      if (n_parts.size() > 2) middle.emplace_back(absl::StripAsciiWhitespace(n_parts[2]));
    } else if (name == "EMAIL") {
      std::string e(absl::StripAsciiWhitespace(UnescapeVcardText(p.value)));
      if (absl::StartsWithIgnoreCase(e, "mailto:")) e = e.substr(7);
      AddUnique(c.mutable_emails(), std::move(e), EmailKey, kMaxListItems + 1);
    } else if (name == "TEL") {
      std::string t(absl::StripAsciiWhitespace(UnescapeVcardText(p.value)));
      if (absl::StartsWithIgnoreCase(t, "tel:")) t = t.substr(4);
      AddUnique(c.mutable_phones(), std::move(t), PhoneKey, kMaxListItems + 1);
    } else if (name == "ORG") {
      std::vector<std::string> org = SplitVcardValue(p.value, ';');
      if (!org.empty() && c.company().empty()) c.set_company(std::string(absl::StripAsciiWhitespace(org[0])));
    } else if (name == "TITLE") {
      if (c.title().empty()) c.set_title(std::string(absl::StripAsciiWhitespace(UnescapeVcardText(p.value))));
    } else if (name == "URL" || name == "X-SOCIALPROFILE") {
      std::string u(absl::StripAsciiWhitespace(UnescapeVcardText(p.value)));
      if (absl::StartsWithIgnoreCase(u, "x-apple:")) continue;
      AddUnique(c.mutable_links(), Link(u), LinkKey, kMaxListItems + 1);
    } else if (name == "BDAY") {
      std::optional<pb::Birthday> b = ParseBirthday(UnescapeVcardText(p.value));
      if (!b.has_value()) {
        row.skip = absl::StrCat(where, ": BDAY \"", p.value.substr(0, 40), "\" is not a date");
        return row;
      }
      *c.mutable_birthday() = *b;
    } else if (name == "NOTE") {
      std::string note = UnescapeVcardText(p.value);
      c.set_notes(c.notes().empty() ? note : absl::StrCat(c.notes(), "\n", note));
    } else if (name == "CATEGORIES") {
      for (std::string& t : SplitVcardValue(p.value, ',')) {
        absl::string_view tag = absl::StripAsciiWhitespace(t);
        if (!tag.empty()) c.add_tags(std::string(tag));
      }
    } else if (absl::StartsWith(name, "X-RAPPORT-")) {
      // What Rapport's own vCard export carries beyond RFC 6350
      // (vcard_writer.cc); met-through names an id of the exporting
      // account, which means nothing here, and times are the new contact's.
      static const auto* kFields = new absl::flat_hash_map<std::string, std::string>{
          {"X-RAPPORT-HEADLINE", "headline"},   {"X-RAPPORT-LOCATION", "location"},
          {"X-RAPPORT-SEEKING", "seeking"},     {"X-RAPPORT-OFFERING", "offering"},
          {"X-RAPPORT-TIER", "tier"},           {"X-RAPPORT-CADENCE-DAYS", "cadenceDays"},
          {"X-RAPPORT-HOW-WE-MET", "howWeMet"}, {"X-RAPPORT-VISIBILITY", "visibility"}};
      auto field = kFields->find(name);
      if (field == kFields->end()) continue;
      std::string value;
      if (field->second == "seeking" || field->second == "offering") {
        for (std::string& item : SplitVcardValue(p.value, ',')) {
          if (!value.empty()) value += '\n';
          value += item;
        }
      } else {
        value = UnescapeVcardText(p.value);
      }
      if (field->second == "location") c.clear_location();  // the export's own value wins over ADR
      absl::Status set = SetField(&c, field->second, value);
      if (!set.ok()) {
        row.skip = absl::StrCat(where, ": ", set.message());
        return row;
      }
    } else if (name == "ADR") {
      if (!c.location().empty()) continue;
      std::vector<std::string> adr = SplitVcardValue(p.value, ';');
      std::vector<std::string> parts;
      for (size_t i : {3u, 4u, 6u}) {
        if (i < adr.size() && !absl::StripAsciiWhitespace(adr[i]).empty()) {
          parts.emplace_back(absl::StripAsciiWhitespace(adr[i]));
        }
      }
      c.set_location(absl::StrJoin(parts, ", "));
    }
  }
  Finish(options, where, std::move(middle), &row);
  return row;
}

}  // namespace

absl::StatusOr<ImportFormat> ParseImportFormat(absl::string_view name) {
  std::string n = Lower(name);
  if (n.empty() || n == "auto") return ImportFormat::kAuto;
  if (n == "linkedin") return ImportFormat::kLinkedIn;
  if (n == "vcard" || n == "vcf") return ImportFormat::kVcard;
  if (n == "google") return ImportFormat::kGoogle;
  if (n == "csv") return ImportFormat::kCsv;
  return absl::InvalidArgumentError("format: must be linkedin, vcard, google or csv (or empty to recognize it)");
}

absl::string_view ImportFormatName(ImportFormat format) {
  switch (format) {
    case ImportFormat::kAuto:
      return "auto";
    case ImportFormat::kLinkedIn:
      return "linkedin";
    case ImportFormat::kVcard:
      return "vcard";
    case ImportFormat::kGoogle:
      return "google";
    case ImportFormat::kCsv:
      return "csv";
  }
  return "auto";
}

absl::StatusOr<ColumnMap> ParseColumnMap(absl::string_view spec) {
  ColumnMap out;
  if (absl::StripAsciiWhitespace(spec).empty()) return out;
  for (absl::string_view pair : absl::StrSplit(spec, ',')) {
    size_t eq = pair.rfind('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("map: \"", pair, "\" is not Column=field"));
    }
    std::string column(absl::StripAsciiWhitespace(pair.substr(0, eq)));
    std::string field = ContactField(pair.substr(eq + 1));
    if (column.empty()) return absl::InvalidArgumentError(absl::StrCat("map: \"", pair, "\" names no column"));
    if (field.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("map: \"", pair.substr(eq + 1), "\" is not a contact field (",
                                                     absl::StrJoin(ContactFields(), ", "), ")"));
    }
    out.emplace_back(std::move(column), std::move(field));
  }
  if (out.size() > 64) return absl::InvalidArgumentError("map: at most 64 columns");
  return out;
}

absl::StatusOr<ParsedImport> ParseImportFile(absl::string_view data, const ImportOptions& options) {
  absl::string_view body = absl::StripAsciiWhitespace(StripBom(data));
  if (body.empty()) return absl::InvalidArgumentError("file: is empty");
  if (data.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("file: is binary (it holds NUL bytes), not CSV or vCard text");
  }
  bool looks_vcard = absl::StartsWithIgnoreCase(body, "BEGIN:VCARD");
  ImportFormat format = options.format;
  if (format == ImportFormat::kAuto && looks_vcard) format = ImportFormat::kVcard;
  if (format == ImportFormat::kVcard) {
    absl::StatusOr<std::vector<Vcard>> cards = ParseVcards(data);
    if (!cards.ok()) return cards.status();
    ParsedImport out;
    out.format = ImportFormat::kVcard;
    out.rows.reserve(cards->size());
    for (size_t i = 0; i < cards->size(); ++i)
      out.rows.push_back(VcardRow(static_cast<int64_t>(i) + 1, (*cards)[i], options));
    return out;
  }
  if (looks_vcard) return absl::InvalidArgumentError("file: is a vCard, not CSV (use format=vcard)");
  ImportOptions csv_options = options;
  csv_options.format = format;
  return ParseCsv(data, csv_options);
}

std::string LinkedInProfileKey(absl::string_view url) {
  std::string s = Lower(url);
  for (absl::string_view prefix : {"https://", "http://"}) {
    if (absl::StartsWith(s, prefix)) s = s.substr(prefix.size());
  }
  for (absl::string_view prefix : {"www.", "m.", "mobile."}) {
    if (absl::StartsWith(s, prefix)) s = s.substr(prefix.size());
  }
  // Country subdomains: fr.linkedin.com/in/...
  size_t at = s.find("linkedin.com/in/");
  if (at == std::string::npos || (at > 0 && (s[at - 1] != '.' || at > 4))) return "";
  s = s.substr(at);
  if (size_t q = s.find_first_of("?#"); q != std::string::npos) s.resize(q);
  while (!s.empty() && s.back() == '/') s.pop_back();
  absl::string_view slug = absl::string_view(s).substr(strlen("linkedin.com/in/"));
  if (slug.empty()) return "";
  if (size_t slash = slug.find('/'); slash != absl::string_view::npos) s.resize(strlen("linkedin.com/in/") + slash);
  return s;
}

std::vector<std::string> DedupeKeys(const pb::Contact& contact) {
  std::vector<std::string> keys;
  for (const std::string& e : contact.emails()) {
    std::string k = NormalizeKey(e);
    if (!k.empty()) keys.push_back(absl::StrCat("email:", k));
  }
  for (const std::string& l : contact.links()) {
    std::string k = LinkedInProfileKey(l);
    if (!k.empty()) keys.push_back(absl::StrCat("linkedin:", k));
  }
  return keys;
}

bool MergeImported(const pb::Contact& in, pb::Contact* c) {
  const std::string before = c->SerializeAsString();
  auto fill = [](const std::string& from, std::string* to) {
    if (to->empty() && !from.empty()) *to = from;
  };
  fill(in.given_name(), c->mutable_given_name());
  fill(in.family_name(), c->mutable_family_name());
  fill(in.headline(), c->mutable_headline());
  fill(in.company(), c->mutable_company());
  fill(in.title(), c->mutable_title());
  fill(in.location(), c->mutable_location());
  fill(in.how_we_met(), c->mutable_how_we_met());
  fill(in.notes(), c->mutable_notes());
  if ((!c->has_birthday() || c->birthday().month() == 0) && in.has_birthday()) *c->mutable_birthday() = in.birthday();
  for (const std::string& e : in.emails()) AddUnique(c->mutable_emails(), e, EmailKey, kMaxListItems);
  for (const std::string& p : in.phones()) AddUnique(c->mutable_phones(), p, PhoneKey, kMaxListItems);
  for (const std::string& l : in.links()) AddUnique(c->mutable_links(), l, LinkKey, kMaxListItems);
  for (const std::string& t : in.tags()) AddUnique(c->mutable_tags(), t, TagKey, kMaxTags);
  for (const std::string& t : in.seeking()) AddUnique(c->mutable_seeking(), t, TagKey, kMaxTags);
  for (const std::string& t : in.offering()) AddUnique(c->mutable_offering(), t, TagKey, kMaxTags);
  return c->SerializeAsString() != before;
}

}  // namespace rapport::profiles
