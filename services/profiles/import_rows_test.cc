// Parsers of the import formats on the committed fixtures
// (tests/fixtures/import/) and on inline cases: what each format yields as
// contacts, which rows are skipped and why, which files are refused whole.
#include "services/profiles/import_rows.h"

#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/profiles/csv_records.h"
#include "services/profiles/vcard_parser.h"

namespace rapport::profiles {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(RAPPORT_SOURCE_DIR) + "/tests/fixtures/import/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ParsedImport Parse(const std::string& data, ImportFormat format = ImportFormat::kAuto) {
  ImportOptions options;
  options.format = format;
  absl::StatusOr<ParsedImport> parsed = ParseImportFile(data, options);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *std::move(parsed) : ParsedImport();
}

int Skipped(const ParsedImport& p) {
  int n = 0;
  for (const ImportRow& r : p.rows) n += r.skip.empty() ? 0 : 1;
  return n;
}

TEST(CsvRecords, QuotedFieldsWithCommasQuotesAndNewlinesAndCrlf) {
  auto records = ReadCsvRecords(
      "\xEF\xBB\xBF"
      "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"line1\r\nline2\"\r\n\r\nlast,,\n");
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 3u);
  EXPECT_THAT((*records)[0], ElementsAre("a", "b", "c"));
  EXPECT_THAT((*records)[1], ElementsAre("x, y", "say \"hi\"", "line1\r\nline2"));
  EXPECT_THAT((*records)[2], ElementsAre("last", "", ""));
}

TEST(ImportRows, LinkedInExportWithPreambleAndQuirks) {
  ParsedImport p = Parse(Fixture("linkedin_connections.csv"));
  EXPECT_EQ(p.format, ImportFormat::kLinkedIn);
  ASSERT_EQ(p.rows.size(), 1000u);
  EXPECT_EQ(Skipped(p), 2);
  const pb::Contact& first = p.rows[0].contact;
  EXPECT_EQ(first.display_name(), "Fatima Dubois");
  EXPECT_EQ(first.given_name(), "Fatima");
  EXPECT_EQ(first.family_name(), "Dubois");
  EXPECT_EQ(first.company(), "Wayne Enterprises");
  EXPECT_EQ(first.title(), "CTO");
  EXPECT_EQ(first.how_we_met(), "Connected on LinkedIn on 2023-08-07");
  EXPECT_THAT(first.links(), ElementsAre("https://www.linkedin.com/in/fatima-dubois-1"));
  EXPECT_THAT(first.tags(), ElementsAre("linkedin"));
  EXPECT_EQ(p.rows[1].contact.title(), "Senior Engineer, Platform");  // a quoted comma
  EXPECT_THAT(p.rows[1].contact.emails(), ElementsAre("PERSON2@EXAMPLE5.COM"));
  bool saw_columns = false, saw_utf8 = false;
  for (const ImportRow& r : p.rows) {
    if (r.skip.empty()) continue;
    saw_columns |= r.skip.find("has 3 columns, the header has 7") != std::string::npos;
    saw_utf8 |= r.skip.find("is not valid UTF-8") != std::string::npos;
  }
  EXPECT_TRUE(saw_columns);
  EXPECT_TRUE(saw_utf8);
  // The last row repeats the first: the same dedupe key.
  EXPECT_EQ(DedupeKeys(p.rows.back().contact), DedupeKeys(first));
}

TEST(ImportRows, LinkedInNamedButNotLinkedIn) {
  ImportOptions options;
  options.format = ImportFormat::kLinkedIn;
  auto parsed = ParseImportFile("Name,Email\nA,a@example.com\n", options);
  EXPECT_TRUE(absl::IsInvalidArgument(parsed.status()));
  EXPECT_THAT(parsed.status().message(), HasSubstr("file: is not a LinkedIn"));
}

TEST(ImportRows, AppleVcardWithGroupsPhotoAndYearlessBirthday) {
  ParsedImport p = Parse(Fixture("apple.vcf"));
  EXPECT_EQ(p.format, ImportFormat::kVcard);
  ASSERT_EQ(p.rows.size(), 2u);
  ASSERT_EQ(p.rows[0].skip, "");
  const pb::Contact& c = p.rows[0].contact;
  EXPECT_EQ(c.display_name(), "Johnny Appleseed");
  EXPECT_EQ(c.given_name(), "Johnny");
  EXPECT_EQ(c.family_name(), "Appleseed");
  EXPECT_EQ(c.company(), "Apple Inc.");
  EXPECT_EQ(c.title(), "Orchard Engineer");
  EXPECT_THAT(c.emails(), ElementsAre("johnny@apple.example", "johnny.home@example.com"));
  EXPECT_THAT(c.phones(), ElementsAre("+1 (408) 555-0101"));
  EXPECT_EQ(c.location(), "Cupertino, CA, United States");
  EXPECT_THAT(c.links(),
              ElementsAre("https://www.linkedin.com/in/johnny-appleseed/", "https://twitter.com/johnnyapple"));
  EXPECT_EQ(c.birthday().month(), 4);
  EXPECT_EQ(c.birthday().day(), 12);
  EXPECT_EQ(c.birthday().year(), 0);  // 1604: Apple's "no year"
  EXPECT_EQ(c.notes(), "Met at WWDC, in the line for coffee.\nLikes orchards.");
  EXPECT_THAT(c.tags(), ElementsAre("Friends", "Apple"));
  EXPECT_EQ(p.rows[1].contact.company(), "Wójcik & Synowie");
  EXPECT_EQ(p.rows[1].contact.birthday().year(), 1985);
  EXPECT_THAT(DedupeKeys(c), ElementsAre("email:johnny@apple.example", "email:johnny.home@example.com",
                                         "linkedin:linkedin.com/in/johnny-appleseed"));
}

TEST(ImportRows, GoogleVcardWithEscapesAndFolding) {
  ParsedImport p = Parse(Fixture("google.vcf"));
  ASSERT_EQ(p.rows.size(), 2u);
  ASSERT_EQ(p.rows[0].skip, "");
  const pb::Contact& c = p.rows[0].contact;
  EXPECT_EQ(c.display_name(), "Grace Hopper");
  EXPECT_THAT(c.links(), ElementsAre("http://www.example.com/grace"));
  EXPECT_EQ(c.birthday().year(), 1906);
  EXPECT_EQ(c.notes(),
            "Coined the term \"debugging\" (maybe); a long note that is folded over two lines by the writer.");
  EXPECT_THAT(c.tags(), ElementsAre("myContacts", "Computing Pioneers"));
  EXPECT_EQ(c.location(), "Arlington, VA, USA");
  EXPECT_EQ(p.rows[1].contact.display_name(), "Alan Turing");
}

TEST(ImportRows, OutlookVcard21QuotedPrintableAndWindows1252) {
  ParsedImport p = Parse(Fixture("outlook.vcf"));
  ASSERT_EQ(p.rows.size(), 1u);
  ASSERT_EQ(p.rows[0].skip, "");
  const pb::Contact& c = p.rows[0].contact;
  EXPECT_EQ(c.display_name(), "Hélène Lefèvre");
  EXPECT_EQ(c.family_name(), "Lefèvre");
  EXPECT_EQ(c.company(), "Contoso Ltd.");
  EXPECT_THAT(c.phones(), ElementsAre("+33 1 23 45 67 89"));
  EXPECT_THAT(c.emails(), ElementsAre("helene.lefevre@contoso.example"));
  EXPECT_EQ(c.notes(), "Rencontrée au salon à Lyon.\r\nA rappeler en janvier.");
}

TEST(ImportRows, Vcard4WithUrisEscapesAndYearlessBirthday) {
  ParsedImport p = Parse(Fixture("v4.vcf"));
  ASSERT_EQ(p.rows.size(), 2u);
  ASSERT_EQ(p.rows[0].skip, "");
  const pb::Contact& c = p.rows[0].contact;
  EXPECT_EQ(c.company(), "World Trade, Finance and Development");
  EXPECT_THAT(c.phones(), ElementsAre("+234-1-555-0199"));
  EXPECT_EQ(c.birthday().month(), 6);
  EXPECT_EQ(c.birthday().day(), 13);
  EXPECT_EQ(c.birthday().year(), 0);
  EXPECT_THAT(c.tags(), ElementsAre("economics", "board,advisors"));
  EXPECT_EQ(c.notes(), "Line one\nLine two, with a comma; and a semicolon\\ and a backslash");
  EXPECT_THAT(DedupeKeys(c), ElementsAre("email:ngozi@example.org", "linkedin:linkedin.com/in/ngozi-okonjo"));
  EXPECT_EQ(p.rows[1].contact.display_name(),
            "Folded Person With A Very Long Display Name That The Writer Folded Across Lines");
  EXPECT_EQ(p.rows[1].contact.birthday().month(), 2);
}

TEST(ImportRows, BrokenVcardsAreSkippedWithReasons) {
  ParsedImport p = Parse(Fixture("broken.vcf"));
  ASSERT_EQ(p.rows.size(), 4u);
  EXPECT_EQ(p.rows[0].skip, "");
  EXPECT_THAT(p.rows[1].skip, HasSubstr("BDAY \"sometime in spring\" is not a date"));
  EXPECT_THAT(p.rows[2].skip, HasSubstr("emails[0]"));
  EXPECT_THAT(p.rows[3].skip, HasSubstr("no END:VCARD"));
}

TEST(ImportRows, GoogleContactsCsv) {
  ParsedImport p = Parse(Fixture("google_contacts.csv"));
  EXPECT_EQ(p.format, ImportFormat::kGoogle);
  ASSERT_EQ(p.rows.size(), 2u);
  ASSERT_EQ(p.rows[0].skip, "");
  const pb::Contact& c = p.rows[0].contact;
  EXPECT_EQ(c.display_name(), "Marie Salomea Curie");
  EXPECT_THAT(c.emails(), ElementsAre("marie@sorbonne.example", "marie.home@example.fr"));
  EXPECT_EQ(c.company(), "Sorbonne");
  EXPECT_EQ(c.title(), "Professor");
  EXPECT_EQ(c.location(), "Paris, France");
  EXPECT_EQ(c.notes(), "Two Nobel prizes,\nphysics and chemistry");
  EXPECT_THAT(c.tags(), ElementsAre("Science", "Paris"));
  EXPECT_EQ(c.birthday().month(), 11);
  EXPECT_EQ(c.birthday().year(), 0);  // Rapport keeps years 1900..2200; earlier ones read as unknown
  EXPECT_EQ(p.rows[1].contact.birthday().year(), 0);
  EXPECT_EQ(p.rows[1].contact.birthday().month(), 2);
}

TEST(ImportRows, CsvWithAMapping) {
  ImportOptions options;
  options.format = ImportFormat::kCsv;
  auto map = ParseColumnMap("Full Name=displayName,Work Email=emails,Employer=company,Tags=tags");
  ASSERT_TRUE(map.ok()) << map.status();
  options.map = *map;
  options.tags = {"nasa-import"};
  auto parsed = ParseImportFile(Fixture("mapped.csv"), options);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->rows.size(), 2u);
  const pb::Contact& c = parsed->rows[0].contact;
  EXPECT_EQ(c.display_name(), "Katherine Johnson");
  EXPECT_THAT(c.emails(), ElementsAre("katherine@nasa.example"));
  EXPECT_EQ(c.company(), "NASA");
  EXPECT_THAT(c.tags(), ElementsAre("mathematics", "orbits", "nasa-import"));
}

TEST(ImportRows, RapportExportHeaderIsRecognized) {
  ParsedImport p = Parse(Fixture("rapport_export.csv"));
  EXPECT_EQ(p.format, ImportFormat::kCsv);
  ASSERT_EQ(p.rows.size(), 1u);
  ASSERT_EQ(p.rows[0].skip, "");
  const pb::Contact& c = p.rows[0].contact;
  EXPECT_EQ(c.display_name(), "Edsger Dijkstra");
  EXPECT_THAT(c.emails(), ElementsAre("edsger@utexas.example", "ewd@example.nl"));
  EXPECT_THAT(c.tags(), ElementsAre("algorithms", "structured programming"));
  EXPECT_EQ(c.birthday().year(), 1930);
  EXPECT_EQ(c.notes(), "Wrote \"Goto considered harmful\"");
}

TEST(ImportRows, MismatchedColumnsAndInvalidUtf8AreRowSkips) {
  ParsedImport p = Parse(Fixture("mismatched.csv"));
  ASSERT_EQ(p.rows.size(), 4u);
  EXPECT_EQ(p.rows[0].skip, "");
  EXPECT_EQ(p.rows[1].skip, "row 2: has 2 columns, the header has 4");
  EXPECT_EQ(p.rows[2].skip, "");
  EXPECT_EQ(p.rows[2].contact.company(), "Difference, Engines Ltd");
  EXPECT_EQ(p.rows[3].skip, "row 4: column 1 is not valid UTF-8");
}

struct BadFile {
  std::string name;
  std::string data;
  std::string format;
  std::string message;
};

class BadFiles : public ::testing::TestWithParam<BadFile> {};

TEST_P(BadFiles, AreRefusedWhole) {
  const BadFile& c = GetParam();
  ImportOptions options;
  auto format = ParseImportFormat(c.format);
  if (!format.ok()) {
    EXPECT_THAT(format.status().message(), HasSubstr(c.message));
    return;
  }
  options.format = *format;
  auto parsed = ParseImportFile(c.data, options);
  ASSERT_FALSE(parsed.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(parsed.status()));
  EXPECT_THAT(parsed.status().message(), HasSubstr(c.message));
}

INSTANTIATE_TEST_SUITE_P(Files, BadFiles,
                         ::testing::Values(BadFile{"empty", Fixture("empty.csv"), "", "file: is empty"},
                                           BadFile{"only_bom", "\xEF\xBB\xBF\r\n", "", "file: is empty"},
                                           BadFile{"binary", Fixture("binary.png"), "", "file: is binary"},
                                           BadFile{"unknown_format", "a,b\n", "xlsx", "format: must be"},
                                           BadFile{"unknown_header", "foo,bar\n1,2\n", "csv", "names no known column"},
                                           BadFile{"vcard_as_csv", Fixture("apple.vcf"), "csv", "is a vCard"},
                                           BadFile{"csv_as_vcard", "Name\nA\n", "vcard", "no BEGIN:VCARD"}),
                         [](const auto& info) { return info.param.name; });

TEST(ImportRows, ColumnMapErrorsNameTheMap) {
  EXPECT_THAT(ParseColumnMap("Name").status().message(), HasSubstr("map: \"Name\" is not Column=field"));
  EXPECT_THAT(ParseColumnMap("Name=nickname").status().message(), HasSubstr("map: \"nickname\" is not a contact"));
  ImportOptions options;
  options.format = ImportFormat::kCsv;
  options.map = {{"Missing", "displayName"}};
  EXPECT_THAT(ParseImportFile("Name\nA\n", options).status().message(), HasSubstr("map: the file has no column"));
}

TEST(ImportRows, ContactsOverTheLimitsAreSkipped) {
  std::string big(11000, 'x');
  ParsedImport p = Parse("Name,Notes\nBig Notes,\"" + big + "\"\n,\n", ImportFormat::kCsv);
  ASSERT_EQ(p.rows.size(), 1u);  // the blank record is not a row
  EXPECT_THAT(p.rows[0].skip, HasSubstr("row 1: notes"));
}

TEST(ImportRows, LinkedInProfileKeys) {
  EXPECT_EQ(LinkedInProfileKey("https://www.linkedin.com/in/Jane-Doe/"), "linkedin.com/in/jane-doe");
  EXPECT_EQ(LinkedInProfileKey("http://fr.linkedin.com/in/jane-doe?trk=x"), "linkedin.com/in/jane-doe");
  EXPECT_EQ(LinkedInProfileKey("linkedin.com/in/jane-doe/details/experience"), "linkedin.com/in/jane-doe");
  EXPECT_EQ(LinkedInProfileKey("https://www.linkedin.com/company/acme"), "");
  EXPECT_EQ(LinkedInProfileKey("https://notlinkedin.com/in/x"), "");
}

TEST(ImportRows, MergeFillsEmptyFieldsAndUnionsLists) {
  pb::Contact existing;
  existing.set_display_name("Jane (my name for her)");
  existing.set_company("Her Own Co");
  existing.add_emails("jane@example.com");
  existing.add_tags("friend");
  pb::Contact in;
  in.set_display_name("Jane Doe");
  in.set_company("LinkedIn Co");
  in.set_title("CTO");
  in.add_emails("JANE@example.com");
  in.add_emails("jane@work.example");
  in.add_tags("Friend");
  in.add_tags("linkedin");
  EXPECT_TRUE(MergeImported(in, &existing));
  EXPECT_EQ(existing.display_name(), "Jane (my name for her)");
  EXPECT_EQ(existing.company(), "Her Own Co");
  EXPECT_EQ(existing.title(), "CTO");
  EXPECT_THAT(existing.emails(), ElementsAre("jane@example.com", "jane@work.example"));
  EXPECT_THAT(existing.tags(), ElementsAre("friend", "linkedin"));
  EXPECT_FALSE(MergeImported(in, &existing));  // a second time changes nothing
}

}  // namespace
}  // namespace rapport::profiles
