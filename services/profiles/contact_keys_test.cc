// Table tests of the match-key normalizers (contact_keys.h) and of the merge
// rules (contact_merge.h).
#include "services/profiles/contact_keys.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/profiles/contact_merge.h"

namespace rapport::profiles {
namespace {

namespace pb = ::rapport::profiles::v1;

struct NormCase {
  std::string in;
  std::string want;
};

class EmailTest : public ::testing::TestWithParam<NormCase> {};
TEST_P(EmailTest, Normalizes) { EXPECT_EQ(NormalizeEmail(GetParam().in), GetParam().want); }
INSTANTIATE_TEST_SUITE_P(Table, EmailTest,
                         ::testing::Values(NormCase{"  Ada@Example.COM ", "ada@example.com"},
                                           NormCase{"mailto:ada@example.com", "ada@example.com"},
                                           NormCase{"ada.example.com", ""}, NormCase{"@example.com", ""},
                                           NormCase{"ada@", ""}, NormCase{"a@b@c", ""}, NormCase{"", ""}));

class PhoneTest : public ::testing::TestWithParam<NormCase> {};
TEST_P(PhoneTest, Normalizes) { EXPECT_EQ(NormalizePhone(GetParam().in), GetParam().want); }
INSTANTIATE_TEST_SUITE_P(Table, PhoneTest,
                         ::testing::Values(NormCase{"+33 6 12 34 56 78", "+33612345678"},
                                           NormCase{" +1 (555) 010-0199", "+15550100199"},
                                           NormCase{"(555) 010-0199", "5550100199"},
                                           NormCase{"555.010.0199", "5550100199"}, NormCase{"ext 12", ""},
                                           NormCase{"1234", ""}, NormCase{"", ""}));

class LinkedInTest : public ::testing::TestWithParam<NormCase> {};
TEST_P(LinkedInTest, Normalizes) { EXPECT_EQ(NormalizeLinkedInUrl(GetParam().in), GetParam().want); }
INSTANTIATE_TEST_SUITE_P(
    Table, LinkedInTest,
    ::testing::Values(NormCase{"https://www.linkedin.com/in/AdaLovelace/", "https://www.linkedin.com/in/adalovelace"},
                      NormCase{"http://linkedin.com/in/ada-l", "https://www.linkedin.com/in/ada-l"},
                      NormCase{"linkedin.com/in/ada-l?trk=x#top", "https://www.linkedin.com/in/ada-l"},
                      NormCase{"https://uk.linkedin.com/in/ada-l/details", "https://www.linkedin.com/in/ada-l"},
                      NormCase{"https://www.linkedin.com/company/acme", ""},
                      NormCase{"https://notlinkedin.com/in/ada", ""}, NormCase{"https://example.com/in/ada", ""},
                      NormCase{"https://www.linkedin.com/in/", ""}, NormCase{"", ""}));

TEST(MatchKeysTest, EveryKindOnceSorted) {
  pb::Contact c;
  c.set_display_name("  Ada   Lovelace ");
  c.set_company("Analytical Engines");
  c.add_emails("ADA@example.com");
  c.add_emails("ada@example.com ");
  c.add_phones("+44 20 7946 0000");
  c.add_links("https://www.linkedin.com/in/ada/");
  c.add_links("https://ada.dev");
  std::vector<MatchKey> keys = MatchKeys(c);
  ASSERT_EQ(keys.size(), 4u);
  EXPECT_EQ(keys[0].kind, kKeyEmail);
  EXPECT_EQ(keys[0].key, "ada@example.com");
  EXPECT_EQ(keys[1].kind, kKeyLinkedIn);
  EXPECT_EQ(keys[2].kind, kKeyNameAndCompany);
  EXPECT_EQ(keys[2].key,
            "ada lovelace\x1f"
            "analytical engines");
  EXPECT_EQ(keys[3].kind, kKeyPhone);
  EXPECT_EQ(keys[3].key, "+442079460000");
}

TEST(MatchKeysTest, NameWithoutCompanyIsNoKey) {
  pb::Contact c;
  c.set_display_name("Ada");
  EXPECT_TRUE(MatchKeys(c).empty());
}

TEST(CombineContactsTest, SurvivorKeepsFillsUnitesAndConcatenates) {
  pb::Contact s;
  s.set_id("01S");
  s.set_display_name("Ada Lovelace");
  s.add_emails("ada@example.com");
  s.add_tags("Math");
  s.set_notes("first");
  s.mutable_create_time()->set_seconds(200);
  s.set_met_through_contact_id("01O");
  pb::Contact o;
  o.set_id("01O");
  o.set_display_name("A. Lovelace");
  o.set_company("Engines");
  o.add_emails(" ADA@example.com");
  o.add_emails("ada@work.example");
  o.add_phones("+44 1");
  o.add_tags("math");
  o.add_tags("poetry");
  o.set_notes("second");
  o.mutable_birthday()->set_month(12);
  o.mutable_birthday()->set_day(10);
  o.mutable_create_time()->set_seconds(100);
  pb::Contact m = CombineContacts(s, {o});
  EXPECT_EQ(m.id(), "01S");
  EXPECT_EQ(m.display_name(), "Ada Lovelace");
  EXPECT_EQ(m.company(), "Engines");
  ASSERT_EQ(m.emails_size(), 2);
  EXPECT_EQ(m.emails(1), "ada@work.example");
  EXPECT_EQ(m.phones_size(), 1);
  ASSERT_EQ(m.tags_size(), 2);
  EXPECT_EQ(m.tags(1), "poetry");
  EXPECT_EQ(m.notes(), "first\n\nsecond");
  EXPECT_EQ(m.birthday().month(), 12);
  EXPECT_EQ(m.create_time().seconds(), 100);
  EXPECT_TRUE(m.met_through_contact_id().empty());  // it named a merged contact
}

struct MergeCase {
  std::string name;
  std::string contact_id;
  std::vector<std::string> others;
  std::string bad_field;  // "" when valid
};

class ValidateMergeTest : public ::testing::TestWithParam<MergeCase> {};
TEST_P(ValidateMergeTest, Table) {
  pb::MergeContactsRequest r;
  r.set_contact_id(GetParam().contact_id);
  for (const auto& id : GetParam().others) r.add_other_ids(id);
  absl::Status s = ValidateMergeContacts(r);
  if (GetParam().bad_field.empty()) {
    EXPECT_TRUE(s.ok()) << s;
  } else {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(GetParam().bad_field), std::string::npos) << s;
  }
}
std::vector<std::string> ManyIds(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back("h" + std::to_string(1000 + i));
  return ids;
}
INSTANTIATE_TEST_SUITE_P(Table, ValidateMergeTest,
                         ::testing::Values(MergeCase{"ok", "c1", {"c2", "c3"}, ""},
                                           MergeCase{"fifty", "c1", ManyIds(50), ""},
                                           MergeCase{"none", "c1", {}, "otherIds"},
                                           MergeCase{"fiftyOne", "c1", ManyIds(51), "otherIds"},
                                           MergeCase{"self", "c1", {"c2", "c1"}, "otherIds[1]"},
                                           MergeCase{"repeat", "c1", {"c2", "c2"}, "otherIds[1]"},
                                           MergeCase{"badOther", "c1", {"bad id!"}, "otherIds[0]"},
                                           MergeCase{"noSurvivor", "", {"c2"}, "contactId"}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace rapport::profiles
