// Writes contacts as CSV (RFC 4180), for GET /v1/contacts:export?format=csv.
//
// The first row names the columns by the contact's proto3 JSON field names,
// in this order (kContactCsvColumns): id, displayName, givenName,
// familyName, headline, company, title, emails, phones, links, location,
// birthday, tags, seeking, offering, tier, cadenceDays, howWeMet,
// metThroughContactId, notes, visibility, createTime, updateTime; an importer
// recognizes Rapport's own CSV by that header. One row per contact, CRLF
// line ends, UTF-8 without a byte-order mark. A field holding a comma, a
// double quote, CR or LF is quoted ("" for a quote inside). Multi-valued
// fields (emails, phones, links, tags, seeking, offering) hold their values
// joined by a line feed in one quoted cell (emails, phones and links never
// contain one; a tag holding a line feed would come back as two). birthday
// is YYYY-MM-DD, or --MM-DD without a year; tier and visibility are enum
// names; times are RFC 3339 UTC; an unset field is an empty cell.
//
// Thread-safety: pure functions.
#ifndef RAPPORT_SERVICES_PROFILES_CONTACT_CSV_H_
#define RAPPORT_SERVICES_PROFILES_CONTACT_CSV_H_

#include <string>
#include <string_view>

#include "rapport/profiles/v1/profiles.pb.h"

namespace rapport::profiles {

namespace pb = ::rapport::profiles::v1;

inline constexpr char kCsvContentType[] = "text/csv; charset=utf-8; header=present";

inline constexpr const char* kContactCsvColumns[] = {"id",
                                                     "displayName",
                                                     "givenName",
                                                     "familyName",
                                                     "headline",
                                                     "company",
                                                     "title",
                                                     "emails",
                                                     "phones",
                                                     "links",
                                                     "location",
                                                     "birthday",
                                                     "tags",
                                                     "seeking",
                                                     "offering",
                                                     "tier",
                                                     "cadenceDays",
                                                     "howWeMet",
                                                     "metThroughContactId",
                                                     "notes",
                                                     "visibility",
                                                     "createTime",
                                                     "updateTime"};

// The header row, CRLF-terminated.
std::string ContactCsvHeader();
// Appends the contact's row, CRLF-terminated.
void AppendContactCsvRow(const pb::Contact& contact, std::string* out);
// Appends one field, quoted when it must be.
void AppendCsvField(std::string_view value, std::string* out);

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_CONTACT_CSV_H_
