#include "tools/datagen/datagen.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rapport::datagen {
namespace {

std::vector<std::string> Serialized(const Options& o, Stats* stats = nullptr) {
  std::vector<std::string> out;
  Stats s = Generate(o, [&](const events::v1::Event& e) { out.push_back(e.SerializeAsString()); });
  if (stats != nullptr) *stats = s;
  return out;
}

Options Small() {
  Options o;
  o.orgs = 2;
  o.users_per_org = 4;
  o.contacts_per_user = 30;
  o.now_us = int64_t{1780000000} * 1000000;
  return o;
}

TEST(Datagen, SameSeedSameNetworkOtherSeedAnother) {
  EXPECT_EQ(Serialized(Small()), Serialized(Small()));
  Options other = Small();
  other.seed = 7;
  EXPECT_NE(Serialized(Small()), Serialized(other));
}

TEST(Datagen, ExactCountsWithoutHeavyTailAndSharedPeople) {
  Options o = Small();
  o.heavy_tail = false;
  o.shared = 0.5;
  Stats stats;
  std::map<std::string, int> by_type;
  std::map<std::string, std::set<std::string>> emails_by_org;
  std::map<std::string, std::set<std::string>> emails_by_user;
  int64_t ledger_given = 0;
  Generate(o, [&](const events::v1::Event& e) {
    ++by_type[e.type()];
    if (e.type() == "contact.created") {
      emails_by_org[e.org_id()].insert(e.contact().contact().emails(0));
      EXPECT_TRUE(emails_by_user[e.user_id()].insert(e.contact().contact().emails(0)).second)
          << "a user knows each person once";
      EXPECT_TRUE(e.contact().contact().notes().empty());
    }
    if (e.type() == "ledger.changed") {
      EXPECT_GT(e.ledger().interaction_count(), 0);
      EXPECT_GE(e.ledger().strength(), 0);
      EXPECT_LE(e.ledger().strength(), 100);
      ledger_given += e.ledger().interaction_count();
    }
  });
  stats = Generate(o, [](const events::v1::Event&) {});
  EXPECT_EQ(by_type["user.created"], 8);
  EXPECT_EQ(by_type["contact.created"], 2 * 4 * 30);
  EXPECT_EQ(stats.contacts, 240);
  EXPECT_EQ(by_type["interaction.created"], stats.interactions);
  EXPECT_EQ(ledger_given, stats.interactions);  // every interaction counted in its contact's ledger
  // Teammates share people: fewer distinct emails than contacts in each org.
  for (const auto& [org, emails] : emails_by_org) EXPECT_LT(emails.size(), 120u);
  EXPECT_EQ(stats.people, static_cast<int64_t>(emails_by_org["org1"].size() + emails_by_org["org2"].size()));
}

TEST(Datagen, LedgerOnlyModeEmitsNoInteractions) {
  Options o = Small();
  o.emit_interactions = false;
  int interactions = 0, ledgers = 0;
  Stats stats = Generate(o, [&](const events::v1::Event& e) {
    interactions += e.type() == "interaction.created";
    ledgers += e.type() == "ledger.changed";
  });
  EXPECT_EQ(interactions, 0);
  EXPECT_GT(ledgers, 0);
  EXPECT_GT(stats.interactions, 0);
}

}  // namespace
}  // namespace rapport::datagen
