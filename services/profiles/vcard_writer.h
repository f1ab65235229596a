// Writes contacts as vCard 4.0 (RFC 6350), for GET /v1/contacts:export.
//
// One card per contact, CRLF line ends, lines folded at 75 octets (never
// inside a UTF-8 sequence) with CRLF + space, text values escaped (\\, \n,
// \, and \; where the property is structured). What each contact field
// becomes, so that an importer (Rapport's own, or another address book)
// reads it back:
//
//   id                 UID:urn:rapport:contact:<id>
//   displayName        FN
//   familyName, givenName  N:<family>;<given>;;;
//   company, title     ORG:<company>   TITLE:<title>
//   emails, phones     one EMAIL / TEL each (TEL;VALUE=text)
//   links              one URL each
//   birthday           BDAY:YYYYMMDD, or BDAY:--MMDD without a year
//   tags               CATEGORIES:<tag>,<tag>  (a comma in a tag is \,)
//   notes              NOTE
//   updateTime         REV:YYYYMMDDTHHMMSSZ
//   headline, location, seeking, offering, tier, cadenceDays, howWeMet,
//   metThroughContactId, visibility, createTime: extended properties
//   X-RAPPORT-HEADLINE, X-RAPPORT-LOCATION, X-RAPPORT-SEEKING (a list like
//   CATEGORIES), X-RAPPORT-OFFERING, X-RAPPORT-TIER (the enum name),
//   X-RAPPORT-CADENCE-DAYS, X-RAPPORT-HOW-WE-MET, X-RAPPORT-MET-THROUGH,
//   X-RAPPORT-VISIBILITY, X-RAPPORT-CREATED (RFC 3339), present only when set.
//
// Thread-safety: pure functions.
#ifndef RAPPORT_SERVICES_PROFILES_VCARD_WRITER_H_
#define RAPPORT_SERVICES_PROFILES_VCARD_WRITER_H_

#include <string>
#include <string_view>

#include "rapport/profiles/v1/profiles.pb.h"

namespace rapport::profiles {

namespace pb = ::rapport::profiles::v1;

inline constexpr char kVCardContentType[] = "text/vcard; charset=utf-8";

// Appends the contact's card (BEGIN:VCARD ... END:VCARD\r\n) to out.
void AppendVCard(const pb::Contact& contact, std::string* out);

// A text value escaped per RFC 6350 §3.4: backslash, newline (CR, LF or
// CRLF become \n), comma; and semicolon when `structured` (N, ORG).
std::string EscapeVCardText(std::string_view value, bool structured);

// Appends "<line>\r\n" folded so that no physical line exceeds 75 octets;
// continuation lines start with one space and a fold never splits a UTF-8
// character.
void AppendFoldedLine(std::string_view line, std::string* out);

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_VCARD_WRITER_H_
