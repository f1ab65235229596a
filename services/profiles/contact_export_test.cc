// The vCard and CSV writers of the contact export: escaping, folding, every
// field, and the format names.
#include "services/profiles/contact_export.h"

#include <gtest/gtest.h>

#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "services/profiles/contact_csv.h"
#include "services/profiles/vcard_writer.h"

namespace rapport::profiles {
namespace {

pb::Contact FullContact() {
  pb::Contact c;
  c.set_id("01HCONTACT");
  c.set_display_name("Ada Lovelace, Countess");
  c.set_given_name("Ada");
  c.set_family_name("Lovelace;King");
  c.set_headline("Analyst");
  c.set_company("Analytical Engines; Ltd");
  c.set_title("Programmer");
  c.add_emails("ada@example.com");
  c.add_emails("ada@engines.example");
  c.add_phones("+44 20 7946 0000");
  c.add_links("https://www.linkedin.com/in/ada");
  c.set_location("London");
  c.mutable_birthday()->set_month(12);
  c.mutable_birthday()->set_day(10);
  c.mutable_birthday()->set_year(1815);
  c.add_tags("math");
  c.add_tags("a,b");
  c.add_seeking("funding");
  c.add_offering("algorithms");
  c.set_tier(pb::CLOSE);
  c.set_cadence_days(21);
  c.set_how_we_met("At Babbage's salon\nin 1833");
  c.set_met_through_contact_id("01HBABBAGE");
  c.set_notes("Line one\r\nLine two \\ backslash");
  c.set_visibility(pb::ORG);
  c.mutable_create_time()->set_seconds(1764892800);  // 2025-12-05T00:00:00Z
  c.mutable_update_time()->set_seconds(1764896400);
  return c;
}

std::string Unfold(const std::string& card) { return absl::StrReplaceAll(card, {{"\r\n ", ""}}); }

TEST(VCardWriter, WritesEveryFieldEscaped) {
  std::string out;
  AppendVCard(FullContact(), &out);
  const std::string card = Unfold(out);
  for (const char* line : {
           "BEGIN:VCARD\r\nVERSION:4.0\r\n",
           "UID:urn:rapport:contact:01HCONTACT\r\n",
           "FN:Ada Lovelace\\, Countess\r\n",
           "N:Lovelace\\;King;Ada;;;\r\n",
           "ORG:Analytical Engines\\; Ltd\r\n",
           "TITLE:Programmer\r\n",
           "EMAIL:ada@example.com\r\n",
           "EMAIL:ada@engines.example\r\n",
           "TEL;VALUE=text:+44 20 7946 0000\r\n",
           "URL:https://www.linkedin.com/in/ada\r\n",
           "BDAY:18151210\r\n",
           "CATEGORIES:math,a\\,b\r\n",
           "NOTE:Line one\\nLine two \\\\ backslash\r\n",
           "X-RAPPORT-HEADLINE:Analyst\r\n",
           "X-RAPPORT-LOCATION:London\r\n",
           "X-RAPPORT-SEEKING:funding\r\n",
           "X-RAPPORT-OFFERING:algorithms\r\n",
           "X-RAPPORT-TIER:CLOSE\r\n",
           "X-RAPPORT-CADENCE-DAYS:21\r\n",
           "X-RAPPORT-HOW-WE-MET:At Babbage's salon\\nin 1833\r\n",
           "X-RAPPORT-MET-THROUGH:01HBABBAGE\r\n",
           "X-RAPPORT-VISIBILITY:ORG\r\n",
           "X-RAPPORT-CREATED:2025-12-05T00:00:00Z\r\n",
           "REV:20251205T010000Z\r\n",
           "END:VCARD\r\n",
       }) {
    EXPECT_NE(card.find(line), std::string::npos) << line << " in\n" << card;
  }
}

TEST(VCardWriter, BirthdayWithoutYearAndUnsetFieldsLeftOut) {
  pb::Contact c;
  c.set_display_name("Bo");
  c.mutable_birthday()->set_month(2);
  c.mutable_birthday()->set_day(29);
  std::string out;
  AppendVCard(c, &out);
  EXPECT_EQ(out, "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bo\r\nBDAY:--0229\r\nEND:VCARD\r\n");
}

TEST(VCardWriter, FoldsAt75OctetsWithoutSplittingUtf8) {
  // 100 three-octet characters: a naive cut at 75 octets would land inside one.
  std::string name;
  for (int i = 0; i < 100; ++i) name += "\xE2\x82\xAC";  // €
  name += "x";
  std::string out;
  AppendFoldedLine("NOTE:" + name, &out);
  std::vector<std::string> lines = absl::StrSplit(out, "\r\n");
  ASSERT_GT(lines.size(), 3u);
  EXPECT_TRUE(lines.back().empty());  // ends with CRLF
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_LE(lines[i].size(), 75u) << i;
    if (i > 0) {
      EXPECT_EQ(lines[i][0], ' ');
    }
    // The first octet after the fold's space starts a character.
    const unsigned char first = static_cast<unsigned char>(lines[i][i > 0 ? 1 : 0]);
    EXPECT_NE(first & 0xC0, 0x80) << i;
  }
  EXPECT_EQ(Unfold(out), "NOTE:" + name + "\r\n");
}

TEST(ContactCsv, HeaderIsTheJsonFieldNames) {
  EXPECT_EQ(ContactCsvHeader(),
            "id,displayName,givenName,familyName,headline,company,title,emails,phones,links,location,birthday,"
            "tags,seeking,offering,tier,cadenceDays,howWeMet,metThroughContactId,notes,visibility,createTime,"
            "updateTime\r\n");
}

TEST(ContactCsv, RowQuotesAndJoinsMultiValuedFields) {
  pb::Contact c = FullContact();
  c.set_title("The \"Enchantress\"");
  std::string out;
  AppendContactCsvRow(c, &out);
  EXPECT_EQ(out,
            "01HCONTACT,\"Ada Lovelace, Countess\",Ada,Lovelace;King,Analyst,Analytical Engines; Ltd,"
            "\"The \"\"Enchantress\"\"\",\"ada@example.com\nada@engines.example\",+44 20 7946 0000,"
            "https://www.linkedin.com/in/ada,London,1815-12-10,\"math\na,b\",funding,algorithms,CLOSE,21,"
            "\"At Babbage's salon\nin 1833\",01HBABBAGE,\"Line one\r\nLine two \\ backslash\",ORG,"
            "2025-12-05T00:00:00Z,2025-12-05T01:00:00Z\r\n");
}

TEST(ContactCsv, EmptyFieldsAndBirthdayWithoutYear) {
  pb::Contact c;
  c.set_display_name("Bo");
  c.mutable_birthday()->set_month(2);
  c.mutable_birthday()->set_day(9);
  std::string out;
  AppendContactCsvRow(c, &out);
  EXPECT_EQ(out, ",Bo,,,,,,,,,,--02-09,,,,,,,,,,,\r\n");
}

TEST(ContactExportFormat, Names) {
  EXPECT_EQ(*ParseContactExportFormat(""), ContactExportFormat::kVCard);
  EXPECT_EQ(*ParseContactExportFormat("VCard"), ContactExportFormat::kVCard);
  EXPECT_EQ(*ParseContactExportFormat("csv"), ContactExportFormat::kCsv);
  absl::StatusOr<ContactExportFormat> bad = ParseContactExportFormat("xlsx");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "format: is not vcard or csv");
}

}  // namespace
}  // namespace rapport::profiles
