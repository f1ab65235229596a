#include "services/profiles/profiles_logic.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/crypto.h"
#include "services/common/time_util.h"

namespace rapport::profiles {
namespace {

pb::Contact ValidContact() {
  pb::Contact c;
  c.set_display_name("Ada Lovelace");
  c.add_emails("ada@example.com");
  c.add_links("https://www.linkedin.com/in/ada");
  c.add_phones("+44 20 7946 0958");
  c.set_tier(pb::CLOSE);
  c.set_visibility(pb::PRIVATE);
  return c;
}

struct ContactCase {
  const char* name;
  void (*mutate)(pb::Contact&);
  const char* field;  // expected field in the error, or nullptr when valid
};

class ContactValidationTest : public ::testing::TestWithParam<ContactCase> {};

TEST_P(ContactValidationTest, NamesTheBadField) {
  pb::Contact c = ValidContact();
  GetParam().mutate(c);
  absl::Status s = ValidateContact(c);
  if (GetParam().field == nullptr) {
    EXPECT_TRUE(s.ok()) << s;
  } else {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(GetParam().field), std::string::npos) << s.message();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ContactValidationTest,
    ::testing::Values(
        ContactCase{"valid", [](pb::Contact&) {}, nullptr},
        ContactCase{"missing_name", [](pb::Contact& c) { c.clear_display_name(); }, "displayName: is required"},
        ContactCase{"blank_name", [](pb::Contact& c) { c.set_display_name("   "); }, "displayName: is required"},
        ContactCase{"name_200_ok", [](pb::Contact& c) { c.set_display_name(std::string(200, 'x')); }, nullptr},
        ContactCase{"name_201", [](pb::Contact& c) { c.set_display_name(std::string(201, 'x')); },
                    "displayName: is longer than 200"},
        // 200 two-byte characters are 200 characters, not 400.
        ContactCase{"name_200_utf8",
                    [](pb::Contact& c) {
                      std::string s;
                      for (int i = 0; i < 200; ++i) s += "\xc3\xa9";
                      c.set_display_name(s);
                    },
                    nullptr},
        ContactCase{"invalid_utf8", [](pb::Contact& c) { c.set_company("bad \xff byte"); },
                    "company: is not valid UTF-8"},
        ContactCase{"overlong_utf8", [](pb::Contact& c) { c.set_title("\xc0\xaf"); }, "title: is not valid UTF-8"},
        ContactCase{"notes_10000_ok", [](pb::Contact& c) { c.set_notes(std::string(10000, 'n')); }, nullptr},
        ContactCase{"notes_10001", [](pb::Contact& c) { c.set_notes(std::string(10001, 'n')); },
                    "notes: is longer than 10000"},
        ContactCase{"bad_email", [](pb::Contact& c) { c.set_emails(0, "not-an-email"); }, "emails[0]: is not an email"},
        ContactCase{"email_no_tld", [](pb::Contact& c) { c.add_emails("a@b"); }, "emails[1]"},
        ContactCase{"bad_url_scheme", [](pb::Contact& c) { c.set_links(0, "ftp://x.org"); },
                    "links[0]: must be an http or https URL"},
        ContactCase{"url_no_host", [](pb::Contact& c) { c.set_links(0, "https:///path"); },
                    "links[0]: is not a valid URL"},
        ContactCase{"bad_phone", [](pb::Contact& c) { c.set_phones(0, "call me"); }, "phones[0]"},
        ContactCase{"feb29_no_year_ok",
                    [](pb::Contact& c) {
                      c.mutable_birthday()->set_month(2);
                      c.mutable_birthday()->set_day(29);
                    },
                    nullptr},
        ContactCase{"feb29_leap_ok",
                    [](pb::Contact& c) {
                      auto* b = c.mutable_birthday();
                      b->set_month(2);
                      b->set_day(29);
                      b->set_year(2000);
                    },
                    nullptr},
        ContactCase{"feb29_common_year",
                    [](pb::Contact& c) {
                      auto* b = c.mutable_birthday();
                      b->set_month(2);
                      b->set_day(29);
                      b->set_year(1999);
                    },
                    "birthday"},
        ContactCase{"april31",
                    [](pb::Contact& c) {
                      c.mutable_birthday()->set_month(4);
                      c.mutable_birthday()->set_day(31);
                    },
                    "birthday"},
        ContactCase{"month13",
                    [](pb::Contact& c) {
                      c.mutable_birthday()->set_month(13);
                      c.mutable_birthday()->set_day(1);
                    },
                    "birthday"},
        ContactCase{"tags_50_ok",
                    [](pb::Contact& c) {
                      for (int i = 0; i < 50; ++i) c.add_tags(absl::StrCat("t", i));
                    },
                    nullptr},
        ContactCase{"tags_51",
                    [](pb::Contact& c) {
                      for (int i = 0; i < 51; ++i) c.add_tags(absl::StrCat("t", i));
                    },
                    "tags: has more than 50"},
        ContactCase{"empty_seeking", [](pb::Contact& c) { c.add_seeking(""); }, "seeking[0]: is required"},
        ContactCase{"bad_tier", [](pb::Contact& c) { c.set_tier(static_cast<pb::Tier>(42)); }, "tier"},
        ContactCase{"bad_visibility", [](pb::Contact& c) { c.set_visibility(static_cast<pb::Visibility>(9)); },
                    "visibility"},
        ContactCase{"negative_cadence", [](pb::Contact& c) { c.set_cadence_days(-1); }, "cadenceDays"},
        ContactCase{"bad_met_through", [](pb::Contact& c) { c.set_met_through_contact_id("../etc"); },
                    "metThroughContactId: is not a valid id"},
        // Every field within its own limit, and the whole over 32 KiB as
        // JSON: 10 000 three-byte characters of notes and 20 long links.
        // Named by its largest field.
        ContactCase{"over_32_kib",
                    [](pb::Contact& c) {
                      std::string notes;
                      for (int i = 0; i < 10000; ++i) notes += "\xe2\x82\xac";
                      c.set_notes(notes);
                      for (int i = 0; i < 19; ++i) c.add_links("https://example.com/" + std::string(200, 'p'));
                    },
                    "notes: makes the contact"},
        ContactCase{"links_over_32_kib",
                    [](pb::Contact& c) {
                      for (int i = 0; i < 19; ++i) c.add_links("https://example.com/" + std::string(2000, 'p'));
                    },
                    "links: makes the contact"},
        ContactCase{"notes_at_limit_ok", [](pb::Contact& c) { c.set_notes(std::string(10000, 'n')); }, nullptr}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ContactLogicTest, NormalizeFillsDefaultsAndTidiesTags) {
  pb::Contact c;
  c.set_display_name("Grace");
  c.add_tags(" Rust ");
  c.add_tags("rust");
  c.add_tags("");
  c.add_tags("Go");
  NormalizeContact(&c);
  EXPECT_EQ(c.tier(), pb::NETWORK);
  EXPECT_EQ(c.visibility(), pb::PRIVATE);
  ASSERT_EQ(c.tags_size(), 2);
  EXPECT_EQ(c.tags(0), "Rust");
  EXPECT_EQ(c.tags(1), "Go");
  EXPECT_EQ(c.effective_cadence_days(), 90);
  c.set_cadence_days(7);
  NormalizeContact(&c);
  EXPECT_EQ(c.effective_cadence_days(), 7);
}

TEST(ContactLogicTest, TierCadences) {
  EXPECT_EQ(TierCadenceDays(pb::INNER), 14);
  EXPECT_EQ(TierCadenceDays(pb::CLOSE), 30);
  EXPECT_EQ(TierCadenceDays(pb::NETWORK), 90);
  EXPECT_EQ(TierCadenceDays(pb::ACQUAINTANCE), 180);
  EXPECT_EQ(TierCadenceDays(pb::TIER_UNSPECIFIED), 90);
}

TEST(ProfileLogicTest, TimeZones) {
  EXPECT_TRUE(IsValidTimeZone("Europe/Paris"));
  EXPECT_TRUE(IsValidTimeZone("America/New_York"));
  EXPECT_TRUE(IsValidTimeZone("UTC"));
  EXPECT_FALSE(IsValidTimeZone("Mars/Olympus"));
  EXPECT_FALSE(IsValidTimeZone(""));
  EXPECT_FALSE(IsValidTimeZone("../../etc/passwd"));
}

// The own profile is bounded like a contact: 32 KiB as JSON, named by its
// largest field (here 20 long links, each within its own limit).
TEST(ProfileLogicTest, AProfileOver32KiBNamesItsLargestField) {
  pb::Profile p;
  p.set_display_name("Ann");
  p.set_timezone("Europe/Paris");
  EXPECT_TRUE(ValidateProfile(p).ok()) << ValidateProfile(p);
  for (int i = 0; i < 20; ++i) p.add_links("https://example.com/" + std::string(2000, 'p'));
  absl::Status s = ValidateProfile(p);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("links: makes the profile"), std::string::npos) << s.message();
}

TEST(ProfileLogicTest, CompletenessScoresAndExplains) {
  pb::Profile p;
  p.set_display_name("Ada");
  p.set_timezone("UTC");
  auto empty = Completeness(p);
  EXPECT_EQ(empty.score(), 10);
  ASSERT_GT(empty.missing_size(), 0);
  EXPECT_EQ(empty.missing(0).field(), "headline");  // most valuable first
  EXPECT_FALSE(empty.missing(0).why().empty());

  p.set_headline("Engineer");
  p.set_company("Analytical Engines");
  p.set_title("Programmer");
  p.set_bio("First programmer.");
  p.add_skills("math");
  p.set_industry("Computing");
  p.set_location("London");
  p.set_photo_url("https://example.com/ada.png");
  p.add_emails("ada@example.com");
  p.add_links("https://example.com");
  p.add_seeking("funding");
  p.add_offering("algorithms");
  auto full = Completeness(p);
  EXPECT_EQ(full.score(), 100);
  EXPECT_EQ(full.missing_size(), 0);
}

struct BirthdayCase {
  const char* name;
  int month, day;
  absl::CivilDay today;
  absl::CivilDay expected;
};

class NextBirthdayTest : public ::testing::TestWithParam<BirthdayCase> {};

TEST_P(NextBirthdayTest, Computes) {
  const auto& c = GetParam();
  EXPECT_EQ(NextBirthday(c.month, c.day, c.today), c.expected) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, NextBirthdayTest,
    ::testing::Values(
        BirthdayCase{"today", 3, 15, absl::CivilDay(2026, 3, 15), absl::CivilDay(2026, 3, 15)},
        BirthdayCase{"later_this_year", 12, 1, absl::CivilDay(2026, 3, 15), absl::CivilDay(2026, 12, 1)},
        BirthdayCase{"year_wrap", 1, 3, absl::CivilDay(2026, 12, 30), absl::CivilDay(2027, 1, 3)},
        BirthdayCase{"feb29_leap_year", 2, 29, absl::CivilDay(2028, 1, 10), absl::CivilDay(2028, 2, 29)},
        BirthdayCase{"feb29_common_year", 2, 29, absl::CivilDay(2026, 1, 10), absl::CivilDay(2026, 2, 28)},
        BirthdayCase{"feb29_after_feb28", 2, 29, absl::CivilDay(2027, 3, 1), absl::CivilDay(2028, 2, 29)}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(UpcomingBirthdaysTest, WithinWindowSoonestFirstAcrossYearEnd) {
  std::vector<pb::Contact> contacts(4);
  contacts[0].set_display_name("Jan");
  contacts[0].mutable_birthday()->set_month(1);
  contacts[0].mutable_birthday()->set_day(2);
  contacts[1].set_display_name("Dec");
  contacts[1].mutable_birthday()->set_month(12);
  contacts[1].mutable_birthday()->set_day(31);
  contacts[2].set_display_name("June");
  contacts[2].mutable_birthday()->set_month(6);
  contacts[2].mutable_birthday()->set_day(1);
  contacts[3].set_display_name("None");
  auto out = UpcomingBirthdays(contacts, absl::CivilDay(2026, 12, 28), 7);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].contact().display_name(), "Dec");
  EXPECT_EQ(out[0].days_until(), 3);
  EXPECT_EQ(out[0].next_date(), "2026-12-31");
  EXPECT_EQ(out[1].contact().display_name(), "Jan");
  EXPECT_EQ(out[1].days_until(), 5);
  EXPECT_EQ(out[1].next_date(), "2027-01-02");
}

// --- BatchGetContacts ---

struct BatchCase {
  const char* name;
  std::vector<std::string> ids;
  std::vector<std::string> want_fields;  // bad fields named in the error; empty when valid
};

std::vector<std::string> Ids(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(absl::StrCat("c", i));
  return ids;
}

class BatchGetContactsValidationTest : public ::testing::TestWithParam<BatchCase> {};

TEST_P(BatchGetContactsValidationTest, NamesTheBadIds) {
  const BatchCase& c = GetParam();
  pb::BatchGetContactsRequest request;
  for (const std::string& id : c.ids) request.add_contact_ids(id);
  absl::Status s = ValidateBatchGetContacts(request);
  if (c.want_fields.empty()) {
    EXPECT_TRUE(s.ok()) << c.name << ": " << s;
    return;
  }
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.name;
  for (const std::string& field : c.want_fields) {
    EXPECT_NE(s.message().find(field + ":"), absl::string_view::npos) << c.name << ": " << s.message();
  }
}

INSTANTIATE_TEST_SUITE_P(Table, BatchGetContactsValidationTest,
                         ::testing::Values(BatchCase{"one", {"c1"}, {}}, BatchCase{"hundred", Ids(100), {}},
                                           BatchCase{"none", {}, {"contactIds"}},
                                           BatchCase{"hundred_and_one", Ids(101), {"contactIds"}},
                                           BatchCase{"empty_id", {"c1", ""}, {"contactIds[1]"}},
                                           BatchCase{"malformed_id", {"Not An Id!"}, {"contactIds[0]"}},
                                           BatchCase{"repeated_id", {"c1", "c2", "c1"}, {"contactIds[2]"}},
                                           BatchCase{"every_bad_id_named",
                                                     {"", "c1", "X", "c1"},
                                                     {"contactIds[0]", "contactIds[2]", "contactIds[3]"}}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(BatchGetContactsValidationTest, TooManyIsOneViolation) {
  pb::BatchGetContactsRequest request;
  for (const std::string& id : Ids(500)) request.add_contact_ids(id);
  absl::Status s = ValidateBatchGetContacts(request);
  EXPECT_EQ(s.message(), "contactIds: has more than 100 ids");
}

// --- API keys ---

using api::v1::Scope;

TEST(ApiKeySecretTest, RoundTripsTheIdsAndDiffersEachTime) {
  std::string first = MakeApiKeySecret("org-1", "key_2");
  EXPECT_NE(first, MakeApiKeySecret("org-1", "key_2"));
  std::string org, key;
  ASSERT_TRUE(ParseApiKeySecret(first, &org, &key)) << first;
  EXPECT_EQ(org, "org-1");
  EXPECT_EQ(key, "key_2");
}

struct SecretCase {
  const char* name;
  std::string secret;
};

class MalformedSecretTest : public ::testing::TestWithParam<SecretCase> {};

TEST_P(MalformedSecretTest, IsRefused) {
  std::string org = "unchanged", key = "unchanged";
  EXPECT_FALSE(ParseApiKeySecret(GetParam().secret, &org, &key)) << GetParam().secret;
  EXPECT_EQ(org, "unchanged");
  EXPECT_EQ(key, "unchanged");
}

const std::string kHex48(48, 'a');

INSTANTIATE_TEST_SUITE_P(Table, MalformedSecretTest,
                         ::testing::Values(SecretCase{"empty", ""}, SecretCase{"wrong_prefix", "rpx.o.k." + kHex48},
                                           SecretCase{"three_parts", "rpk.o." + kHex48},
                                           SecretCase{"five_parts", "rpk.o.k.x." + kHex48},
                                           SecretCase{"short_random", "rpk.o.k." + std::string(47, 'a')},
                                           SecretCase{"long_random", "rpk.o.k." + std::string(49, 'a')},
                                           SecretCase{"empty_org", "rpk..k." + kHex48},
                                           SecretCase{"uppercase_org", "rpk.Org.k." + kHex48},
                                           SecretCase{"space_in_key", "rpk.o.k y." + kHex48}),
                         [](const auto& info) { return std::string(info.param.name); });

struct NewKeyCase {
  const char* name;
  std::string display_name;
  std::vector<int> scopes;
  std::vector<int> want_scopes;          // when valid
  std::vector<std::string> want_fields;  // bad fields named in the error, when invalid
};

class MakeApiKeyTest : public ::testing::TestWithParam<NewKeyCase> {};

TEST_P(MakeApiKeyTest, ValidatesAndKeepsScopesOnce) {
  const NewKeyCase& c = GetParam();
  pb::CreateApiKeyRequest request;
  request.set_display_name(c.display_name);
  for (int s : c.scopes) request.add_scopes(static_cast<Scope>(s));
  absl::StatusOr<NewApiKey> key = MakeApiKey("org1", "key1", request, 1'700'000'000'000'000);
  if (!c.want_fields.empty()) {
    ASSERT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    for (const std::string& field : c.want_fields) {
      EXPECT_NE(key.status().message().find(field), absl::string_view::npos)
          << c.name << ": " << key.status().message() << " should name " << field;
    }
    return;
  }
  ASSERT_TRUE(key.ok()) << c.name << ": " << key.status();
  EXPECT_EQ(std::vector<int>(key->stored.key.scopes().begin(), key->stored.key.scopes().end()), c.want_scopes)
      << c.name;
  EXPECT_EQ(key->stored.org_id, "org1");
  EXPECT_EQ(key->stored.key.id(), "key1");
  EXPECT_EQ(key->stored.key.display_name(), c.display_name);
  EXPECT_EQ(key->stored.key.create_time().seconds(), 1'700'000'000);
  EXPECT_EQ(key->stored.secret_sha256, Sha256(key->secret));  // only the hash is stored
  std::string org, id;
  ASSERT_TRUE(ParseApiKeySecret(key->secret, &org, &id));
  EXPECT_EQ(org, "org1");
  EXPECT_EQ(id, "key1");
}

INSTANTIATE_TEST_SUITE_P(
    Table, MakeApiKeyTest,
    ::testing::Values(NewKeyCase{"one_scope", "ci", {api::v1::READ}, {api::v1::READ}, {}},
                      NewKeyCase{"all_org_scopes",
                                 "ops",
                                 {api::v1::ACT_AS_USER, api::v1::ADMIN, api::v1::WRITE, api::v1::READ},
                                 {api::v1::ACT_AS_USER, api::v1::ADMIN, api::v1::WRITE, api::v1::READ},
                                 {}},
                      NewKeyCase{"repeats_dropped_first_order_kept",
                                 "k",
                                 {api::v1::WRITE, api::v1::READ, api::v1::WRITE, api::v1::READ},
                                 {api::v1::WRITE, api::v1::READ},
                                 {}},
                      NewKeyCase{"no_scope", "k", {}, {}, {"scopes"}},
                      NewKeyCase{
                          "platform_is_not_an_org_scope", "k", {api::v1::READ, api::v1::PLATFORM}, {}, {"scopes[1]"}},
                      NewKeyCase{"unspecified_scope", "k", {api::v1::SCOPE_UNSPECIFIED}, {}, {"scopes[0]"}},
                      NewKeyCase{"unknown_scope_number", "k", {99}, {}, {"scopes[0]"}},
                      NewKeyCase{"no_name", "", {api::v1::READ}, {}, {"displayName"}},
                      NewKeyCase{"every_bad_field_named", "", {api::v1::PLATFORM}, {}, {"displayName", "scopes[0]"}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ApiKeyTest, OrgAdminKeyHoldsEveryOrgScope) {
  NewApiKey key = MakeOrgAdminKey("org1", "key1", 0);
  EXPECT_EQ(key.stored.key.display_name(), "org admin");
  EXPECT_EQ(std::vector<int>(key.stored.key.scopes().begin(), key.stored.key.scopes().end()),
            (std::vector<int>{api::v1::READ, api::v1::WRITE, api::v1::ADMIN, api::v1::ACT_AS_USER}));
  EXPECT_EQ(key.stored.secret_sha256, Sha256(key.secret));
}

struct VerifyCase {
  const char* name;
  // Turns a freshly made key and its secret into the case: what is presented
  // and what the lookup answers.
  void (*arrange)(NewApiKey& key, std::string& presented, absl::Status& lookup_error);
  absl::StatusCode want;
};

class VerifyApiKeyTest : public ::testing::TestWithParam<VerifyCase> {};

TEST_P(VerifyApiKeyTest, AcceptsOnlyALiveKeysExactSecret) {
  pb::CreateApiKeyRequest request;
  request.set_display_name("k");
  request.add_scopes(api::v1::READ);
  request.add_scopes(api::v1::ACT_AS_USER);
  absl::StatusOr<NewApiKey> key = MakeApiKey("org1", "key1", request, 0);
  ASSERT_TRUE(key.ok());
  std::string presented = key->secret;
  absl::Status lookup_error;
  GetParam().arrange(*key, presented, lookup_error);
  int lookups = 0;
  absl::StatusOr<pb::VerifyApiKeyResponse> out = VerifyApiKeySecret(
      presented,
      [&](const std::string& org, const std::string& id) -> absl::StatusOr<StoredApiKey> {
        ++lookups;
        if (!lookup_error.ok()) return lookup_error;
        if (org != key->stored.org_id || id != key->stored.key.id()) return absl::NotFoundError("api key not found");
        return key->stored;
      },
      NowMicros());
  EXPECT_EQ(out.status().code(), GetParam().want) << GetParam().name << ": " << out.status();
  if (GetParam().want == absl::StatusCode::kUnauthenticated) {
    EXPECT_EQ(out.status().message(), "invalid API key");  // the same answer for every refusal
  }
  if (out.ok()) {
    EXPECT_EQ(out->org_id(), "org1");
    EXPECT_EQ(out->key_id(), "key1");
    ASSERT_EQ(out->scopes_size(), 2);
    EXPECT_EQ(out->scopes(0), api::v1::READ);
    EXPECT_EQ(out->scopes(1), api::v1::ACT_AS_USER);
  }
  if (std::string(GetParam().name) == "malformed") {
    EXPECT_EQ(lookups, 0);  // no store read for garbage
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, VerifyApiKeyTest,
    ::testing::Values(
        VerifyCase{"live_key", [](NewApiKey&, std::string&, absl::Status&) {}, absl::StatusCode::kOk},
        VerifyCase{"malformed", [](NewApiKey&, std::string& p, absl::Status&) { p = "rpk.nope"; },
                   absl::StatusCode::kUnauthenticated},
        VerifyCase{"wrong_random_part",
                   [](NewApiKey&, std::string& p, absl::Status&) { p = "rpk.org1.key1." + std::string(48, '0'); },
                   absl::StatusCode::kUnauthenticated},
        VerifyCase{"no_such_key",
                   [](NewApiKey&, std::string& p, absl::Status&) { p = MakeApiKeySecret("org1", "key9"); },
                   absl::StatusCode::kUnauthenticated},
        VerifyCase{"another_orgs_ids",
                   [](NewApiKey&, std::string& p, absl::Status&) { p = MakeApiKeySecret("org2", "key1"); },
                   absl::StatusCode::kUnauthenticated},
        VerifyCase{
            "revoked",
            [](NewApiKey& k, std::string&, absl::Status&) { k.stored.key.mutable_revoke_time()->set_seconds(1); },
            absl::StatusCode::kUnauthenticated},
        VerifyCase{"store_unavailable",
                   [](NewApiKey&, std::string&, absl::Status& e) { e = absl::UnavailableError("disk"); },
                   absl::StatusCode::kUnavailable}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace rapport::profiles
