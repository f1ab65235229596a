#include "services/recommendations/read_model.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/recommendations/test_network.h"

namespace rapport::recommendations {
namespace {

using testing::TestNetwork;
namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
constexpr char kOrg[] = "org1";

uint32_t PersonOf(TestNetwork& n, const std::string& contact) {
  uint32_t p = kNone;
  n.model.Read(kOrg, [&](const OrgGraph& g) { p = g.edges[g.FindContact(contact)].person; });
  return p;
}

void OrgContact(TestNetwork& n, const std::string& user, const std::string& id, const std::string& email) {
  n.Contact(kOrg, user, id, id, [&](ppb::Contact& c) {
    c.add_emails(email);
    c.set_visibility(ppb::ORG);
  });
}

TEST(ReadModel, StrengthDecaysWithAHalfLifeOf90Days) {
  const int64_t t0 = 1700000000LL * 1000000;
  float anchor = LogAnchorFromStrength(26.0, t0);
  EXPECT_NEAR(StrengthAt(anchor, t0), 26.0, 1e-3);
  // Strength = 100 (1 - e^(-S/10)): half of S after 90 days.
  double s0 = -10 * std::log(1 - 0.26);
  EXPECT_NEAR(StrengthAt(anchor, t0 + 90LL * 86400 * 1000000), 100 * (1 - std::exp(-s0 / 20)), 1e-3);
  EXPECT_EQ(StrengthAt(LogAnchorFromStrength(0, t0), t0), 0);
}

TEST(ReadModel, OrgContactsSharingAnEmailOrLinkedInAreOnePerson) {
  TestNetwork n;
  OrgContact(n, "u1", "a", "Ann@X.com");
  OrgContact(n, "u2", "b", " ann@x.com");
  n.Contact(kOrg, "u3", "c", "c", [](ppb::Contact& c) {
    c.add_links("https://www.linkedin.com/in/ann/");
    c.add_emails("other@x.com");
    c.set_visibility(ppb::ORG);
  });
  n.Contact(kOrg, "u4", "d", "d", [](ppb::Contact& c) {
    c.add_links("http://linkedin.com/in/ann");
    c.add_emails("ann@x.com");
    c.set_visibility(ppb::ORG);
  });
  n.Contact(kOrg, "u5", "p", "p", [](ppb::Contact& c) { c.add_emails("ann@x.com"); });  // PRIVATE
  EXPECT_EQ(PersonOf(n, "a"), PersonOf(n, "b"));
  // d bridges a's email and c's LinkedIn URL: one person after the rebuild.
  EXPECT_EQ(PersonOf(n, "c"), PersonOf(n, "a"));
  EXPECT_EQ(PersonOf(n, "d"), PersonOf(n, "a"));
  EXPECT_NE(PersonOf(n, "p"), PersonOf(n, "a"));

  // d changes its email and loses its link: c and a split apart again.
  n.Contact(kOrg, "u4", "d", "d", [](ppb::Contact& c) {
    c.add_emails("dee@x.com");
    c.set_visibility(ppb::ORG);
  });
  EXPECT_NE(PersonOf(n, "c"), PersonOf(n, "a"));
  EXPECT_EQ(PersonOf(n, "b"), PersonOf(n, "a"));
  // Turning b PRIVATE takes it out of the shared person.
  n.Contact(kOrg, "u2", "b", "b", [](ppb::Contact& c) { c.add_emails("ann@x.com"); });
  EXPECT_NE(PersonOf(n, "b"), PersonOf(n, "a"));
}

TEST(ReadModel, EventsAreIdempotentAndDeletesAreFinal) {
  TestNetwork n;
  OrgContact(n, "u1", "a", "ann@x.com");
  events::v1::Event created = n.last_event;
  n.Ledger(kOrg, "u1", "a", 40, 1, 0, 3);
  events::v1::Event ledger = n.last_event;
  ASSERT_TRUE(n.model.Apply(created).ok());
  ASSERT_TRUE(n.model.Apply(ledger).ok());
  n.model.Read(kOrg, [&](const OrgGraph& g) {
    EXPECT_EQ(g.users[g.user_index.at("u1")].contacts.size(), 1u);
    EXPECT_EQ(g.AliveEdges(), 1u);
    EXPECT_NEAR(StrengthAt(g.edges[g.FindContact("a")].log_anchor, n.now), 40, 1e-3);
  });
  n.DeleteContact(kOrg, "u1", "a");
  // A late replay of the creation and of the ledger does not resurrect it.
  ASSERT_TRUE(n.model.Apply(created).ok());
  ASSERT_TRUE(n.model.Apply(ledger).ok());
  n.model.Read(kOrg, [&](const OrgGraph& g) {
    EXPECT_TRUE(g.users[g.user_index.at("u1")].contacts.empty());
    EXPECT_EQ(g.AliveEdges(), 0u);
    EXPECT_FALSE(g.VisibleTo(g.FindContact("a"), g.user_index.at("u1")));
  });
}

TEST(ReadModel, ContactMergedRepointsToTheSurvivorAndTombstonesTheRest) {
  TestNetwork n;
  n.Contact(kOrg, "u1", "s", "Dee");
  n.Contact(kOrg, "u1", "m", "Dee R.");
  n.Contact(kOrg, "u1", "f", "Friend");
  n.Interaction(kOrg, "u1", "i1", ipb::MEETING, ipb::GAVE, 10, {"m"});
  n.Interaction(kOrg, "u1", "i2", ipb::CALL, ipb::GAVE, 5, {"s", "m"});
  n.Introduction(kOrg, "u1", "x1", "m", "f", ipb::REQUESTED);
  for (int round = 0; round < 2; ++round) {  // applying it twice changes nothing more
    n.Apply(kOrg, "u1", "contact.merged", [](events::v1::Event& e) {
      e.mutable_contact_merged()->mutable_survivor()->set_id("s");
      e.mutable_contact_merged()->mutable_survivor()->set_display_name("Dee");
      e.mutable_contact_merged()->mutable_survivor()->set_company("Initech");
      e.mutable_contact_merged()->add_merged_ids("m");
    });
    n.model.Read(kOrg, [&](const OrgGraph& g) {
      const uint32_t s = g.FindContact("s");
      const uint32_t m = g.FindContact("m");
      EXPECT_TRUE(g.edges[s].alive());
      EXPECT_EQ(g.info[s].company, "Initech");
      EXPECT_FALSE(g.edges[m].alive());
      EXPECT_EQ(g.users[g.user_index.at("u1")].contacts.size(), 2u);  // s and f
      EXPECT_THAT(g.interactions[g.interaction_index.at("i1")].contacts, ::testing::ElementsAre(s));
      EXPECT_THAT(g.interactions[g.interaction_index.at("i2")].contacts, ::testing::ElementsAre(s));
      EXPECT_EQ(g.introductions[g.introduction_index.at("x1")].a, s);
    });
  }
  // A late update of the merged contact does not bring it back.
  n.Contact(kOrg, "u1", "m", "Dee R.");
  n.model.Read(kOrg, [&](const OrgGraph& g) { EXPECT_FALSE(g.edges[g.FindContact("m")].alive()); });
}

TEST(ReadModel, LedgerBeforeContactFillsAPlaceholder) {
  TestNetwork n;
  n.Ledger(kOrg, "u1", "a", 40, 0, 3, 3);
  n.model.Read(kOrg, [&](const OrgGraph& g) { EXPECT_EQ(g.AliveEdges(), 0u); });
  n.Contact(kOrg, "u1", "a", "Ann");
  n.model.Read(kOrg, [&](const OrgGraph& g) {
    uint32_t c = g.FindContact("a");
    EXPECT_TRUE(g.edges[c].alive());
    EXPECT_FLOAT_EQ(g.edges[c].balance, -3);
  });
}

TEST(ReadModel, EventWithoutOrgIsRefusedAndOrgsAreApart) {
  ReadModel model;
  events::v1::Event e;
  e.set_type("contact.created");
  EXPECT_EQ(model.Apply(e).code(), absl::StatusCode::kInvalidArgument);
  TestNetwork n;
  OrgContact(n, "u1", "a", "ann@x.com");
  n.model.Read("org2", [&](const OrgGraph& g) { EXPECT_EQ(g.FindContact("a"), kNone); });
}

TEST(ReadModel, MemoryCountersCoverTheGraph) {
  TestNetwork n;
  for (int i = 0; i < 100; ++i) OrgContact(n, "u1", "c" + std::to_string(i), "p" + std::to_string(i) + "@x.com");
  n.model.Read(kOrg, [&](const OrgGraph& g) {
    EXPECT_EQ(g.AliveEdges(), 100u);
    EXPECT_GE(g.GraphBytes(), 100 * (sizeof(ContactEdge) + sizeof(uint32_t)));
    EXPECT_GT(g.TotalBytes(), g.GraphBytes());
  });
}

}  // namespace
}  // namespace rapport::recommendations

// Issue 19: a planned (future) or cancelled interaction has not happened; the
// interaction.created that comes when it does makes it count.
namespace rapport::recommendations {
namespace {

TEST(ReadModel, PlannedAndCancelledInteractionsHaveNotHappened) {
  TestNetwork n;
  n.Contact(kOrg, "u1", "c", "c", [](ppb::Contact&) {});
  auto log = [&](const std::string& id, const std::string& type, ipb::InteractionState state) {
    n.Apply(kOrg, "u1", type, [&](events::v1::Event& e) {
      ipb::Interaction* i = e.mutable_interaction();
      i->set_id(id);
      i->set_kind(ipb::MEETING);
      i->set_direction(ipb::GAVE);
      i->set_state(state);
      *i->mutable_occurred_at() = ToTimestamp(n.now + 86400000000);
      i->add_contact_ids("c");
    });
  };
  auto alive = [&](const std::string& id) {
    bool out = false;
    n.model.Read(kOrg, [&](const OrgGraph& g) { out = g.interactions[g.interaction_index.at(id)].alive; });
    return out;
  };
  log("p", "interaction.planned", ipb::PLANNED);
  log("x", "interaction.planned", ipb::PLANNED);
  EXPECT_FALSE(alive("p"));
  log("x", "interaction.cancelled", ipb::CANCELLED);
  EXPECT_FALSE(alive("x"));
  log("p", "interaction.created", ipb::HAPPENED);
  EXPECT_TRUE(alive("p"));
  // Moved back to the future: planned again.
  log("p", "interaction.planned", ipb::PLANNED);
  EXPECT_FALSE(alive("p"));
}

}  // namespace
}  // namespace rapport::recommendations
