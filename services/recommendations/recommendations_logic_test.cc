#include "services/recommendations/recommendations_logic.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/recommendations/test_network.h"

namespace rapport::recommendations {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TestNetwork;
namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;

constexpr char kOrg[] = "org1";

template <typename T>
std::vector<std::string> Names(const std::vector<T>& items) {
  std::vector<std::string> names;
  for (const auto& i : items) names.push_back(i.contact().display_name());
  return names;
}

std::vector<std::string> Route(const pb::Path& p) {
  std::vector<std::string> hops;
  for (const auto& h : p.hops()) hops.push_back(h.display_name());
  return hops;
}

std::vector<std::vector<std::string>> Routes(const pb::FindPathsResponse& r) {
  std::vector<std::vector<std::string>> out;
  for (const auto& p : r.paths()) out.push_back(Route(p));
  return out;
}

// --- reach outs ---

TEST(ReachOuts, RanksOverdueByTierStrengthBirthdayAndDebt) {
  TestNetwork n;
  n.User(kOrg, "u", "Uma");
  auto contact = [&](const std::string& id, ppb::Tier tier, int last_days, double balance, int bday_in = -1) {
    n.Contact(kOrg, "u", id, id, [&](ppb::Contact& c) {
      c.set_tier(tier);
      if (bday_in >= 0) {
        absl::CivilDay d = absl::ToCivilDay(FromMicros(n.now), absl::UTCTimeZone()) + bday_in;
        c.mutable_birthday()->set_month(d.month());
        c.mutable_birthday()->set_day(d.day());
      }
    });
    n.Ledger(kOrg, "u", id, 50, balance > 0 ? balance : 0, balance < 0 ? -balance : 0, last_days);
  };
  contact("Ann", ppb::INNER, 20, 0);          // 6 days late: 8 x (1 + 6/14) x 0.5 = 5.714
  contact("Bea", ppb::ACQUAINTANCE, 500, 0);  // 320 late: 1 x (1 + 3 capped... 320/180) x 0.5 = 1.389
  contact("Cal", ppb::NETWORK, 10, 0);        // not due
  contact("Eve", ppb::CLOSE, 40, 0, 3);       // 4 x (1 + 10/30) x 0.5 x 1.5 = 4.0
  contact("Fay", ppb::CLOSE, 40, 0);          // 2.667
  contact("Gus", ppb::CLOSE, 40, 0);          // 2.667, after Fay by name
  contact("Hal", ppb::CLOSE, 40, -10);        // 2.667 x 2 = 5.333
  n.Contact(kOrg, "u", "Ida", "Ida");         // never met: no due date

  auto items = n.With(kOrg, "u", [](const Query& q) { return ReachOuts(q); });
  EXPECT_THAT(Names(items), ElementsAre("Ann", "Hal", "Eve", "Fay", "Gus", "Bea"));
  EXPECT_NEAR(items[0].score(), 8 * (1 + 6.0 / 14) * 0.5, 1e-3);
  EXPECT_EQ(items[0].overdue_days(), 6);
  EXPECT_THAT(items[0].reasons(0), HasSubstr("Overdue by 6 days"));
  EXPECT_THAT(items[1].reasons(2), HasSubstr("balance -10.0"));
  EXPECT_THAT(items[2].reasons(2), HasSubstr("birthday is in 3 days"));
  EXPECT_NEAR(items[5].score(), 1 * (1 + 320.0 / 180) * 0.5, 1e-3);
}

TEST(ReachOuts, InnerDueTodayOutranksAcquaintanceAtAnyLateness) {
  TestNetwork n;
  n.Contact(kOrg, "u", "i", "Inner", [](ppb::Contact& c) { c.set_tier(ppb::INNER); });
  n.Contact(kOrg, "u", "a", "Acq", [](ppb::Contact& c) { c.set_tier(ppb::ACQUAINTANCE); });
  n.Ledger(kOrg, "u", "i", 30, 0, 0, 14);
  n.Ledger(kOrg, "u", "a", 30, 0, 0, 2000);
  auto items = n.With(kOrg, "u", [](const Query& q) { return ReachOuts(q); });
  EXPECT_THAT(Names(items), ElementsAre("Inner", "Acq"));
}

TEST(ReachOuts, UnknownUserGetsNothing) {
  TestNetwork n;
  auto items = n.With(kOrg, "nobody", [](const Query& q) { return ReachOuts(q); });
  EXPECT_TRUE(items.empty());
}

// --- give backs ---

TEST(GiveBacks, WhomYouOweWithActsMirroringWhatTheyGave) {
  TestNetwork n;
  n.Contact(kOrg, "u", "p", "Pia", [](ppb::Contact& c) { c.add_seeking("Design"); });
  n.Contact(kOrg, "u", "q", "Quin", [](ppb::Contact& c) { c.add_offering(" design "); });
  n.Contact(kOrg, "u", "r", "Rex");
  n.Contact(kOrg, "u", "s", "Sam");
  n.Contact(kOrg, "u", "t", "Tom");
  n.Ledger(kOrg, "u", "p", 40, 2, 8, 5);  // -6 x 1.4 = 8.4
  n.Ledger(kOrg, "u", "r", 30, 0, 2, 5);  // -2 x 1.3 = 2.6
  n.Ledger(kOrg, "u", "s", 30, 3, 0, 5);  // they owe you: absent
  n.Ledger(kOrg, "u", "t", 10, 0, 2, 5);  // -2 x 1.1 = 2.2
  n.Interaction(kOrg, "u", "i1", ipb::INTRODUCTION, ipb::RECEIVED, 5, {"p"});
  n.Interaction(kOrg, "u", "i2", ipb::ENDORSEMENT, ipb::RECEIVED, 5, {"r"});
  n.Interaction(kOrg, "u", "i3", ipb::MEETING, ipb::MUTUAL, 5, {"t"});

  auto items = n.With(kOrg, "u", [](const Query& q) { return GiveBacks(q); });
  ASSERT_THAT(Names(items), ElementsAre("Pia", "Rex", "Tom"));
  EXPECT_NEAR(items[0].score(), 8.4, 1e-3);
  EXPECT_EQ(items[0].suggested_kind(), ipb::INTRODUCTION);
  EXPECT_EQ(items[0].suggested_act(), "Introduce Pia to Quin, who offers design, as they gave you an introduction.");
  EXPECT_EQ(items[1].suggested_kind(), ipb::ENDORSEMENT);
  EXPECT_EQ(items[1].suggested_act(), "Endorse Rex's skills, as they gave you an endorsement.");
  EXPECT_EQ(items[2].suggested_kind(), ipb::FAVOR);
  EXPECT_THAT(items[0].reasons(0), HasSubstr("They gave 8.0 and received 2.0 from you: balance -6.0."));
}

// --- follow ups ---

TEST(FollowUps, ConversationsWithoutLaterInteractionNewestFirst) {
  TestNetwork n;
  for (const char* id : {"x", "y", "z", "w"}) n.Contact(kOrg, "u", id, std::string(1, id[0] - 32));
  n.Interaction(kOrg, "u", "m1", ipb::MEETING, ipb::MUTUAL, 10, {"x"});       // listed
  n.Interaction(kOrg, "u", "c1", ipb::CONVERSATION, ipb::MUTUAL, 20, {"y"});  // followed by e1
  n.Interaction(kOrg, "u", "e1", ipb::EMAIL, ipb::GAVE, 15, {"y"});
  n.Interaction(kOrg, "u", "k1", ipb::CALL, ipb::MUTUAL, 3, {"z"});                // window still open
  n.Interaction(kOrg, "u", "c2", ipb::CONVERSATION, ipb::MUTUAL, 30, {"x", "w"});  // W only: X met later
  n.Interaction(kOrg, "u", "g1", ipb::GIFT, ipb::GAVE, 40, {"z"});                 // not a conversation

  auto items = n.With(kOrg, "u", [](const Query& q) { return FollowUps(q); });
  ASSERT_THAT(Names(items), ElementsAre("X", "W"));
  EXPECT_EQ(items[0].interaction_id(), "m1");
  EXPECT_EQ(items[0].days_since(), 10);
  EXPECT_EQ(items[1].interaction_id(), "c2");

  // Deleting the later email reopens Y's conversation; an update moves it.
  n.Interaction(kOrg, "u", "e1", ipb::EMAIL, ipb::GAVE, 15, {"y"}, "interaction.deleted");
  items = n.With(kOrg, "u", [](const Query& q) { return FollowUps(q); });
  EXPECT_THAT(Names(items), ElementsAre("X", "Y", "W"));
}

// --- introductions ---

TEST(Introductions, SeekingMeetsOfferingNeverAlreadyIntroduced) {
  TestNetwork n;
  auto contact = [&](const std::string& name, std::vector<std::string> seeking, std::vector<std::string> offering) {
    n.Contact(kOrg, "u", name, name, [&](ppb::Contact& c) {
      for (const auto& s : seeking) c.add_seeking(s);
      for (const auto& o : offering) c.add_offering(o);
    });
    n.Ledger(kOrg, "u", name, 50, 0, 0, 1);
  };
  contact("Ann", {"design"}, {});
  contact("Bob", {}, {"Design "});
  contact("Cy", {"funding"}, {});
  contact("Dee", {}, {"funding"});
  contact("Eli", {"hiring"}, {"design"});
  contact("Flo", {"design"}, {"hiring"});
  n.Introduction(kOrg, "u", "in1", "Dee", "Cy", ipb::DECLINED);

  auto items = n.With(kOrg, "u", [](const Query& q) { return IntroductionSuggestions(q); });
  std::vector<std::string> pairs;
  for (const auto& i : items) pairs.push_back(i.contact_a().display_name() + ">" + i.contact_b().display_name());
  EXPECT_THAT(pairs, ElementsAre("Eli>Flo", "Ann>Bob", "Ann>Eli", "Flo>Bob"));
  EXPECT_THAT(items[0].matched_tags(), ElementsAre("design", "hiring"));
  EXPECT_NEAR(items[0].score(), 0.5, 1e-3);
  EXPECT_NEAR(items[1].score(), 0.25, 1e-3);
  EXPECT_THAT(items[1].reasons(0), HasSubstr("Ann seeks design, which Bob offers."));
}

// --- groups ---

TEST(Groups, FromStrongContactsAndSimilarTeammatesNeverOnesYouAreIn) {
  TestNetwork n;
  n.User(kOrg, "u", "Uma", [](ppb::Profile& p) { p.set_industry("Fintech"); });
  n.User(kOrg, "t", "Theo", [](ppb::Profile& p) { p.set_industry("fintech"); });
  n.User(kOrg, "v", "Vic", [](ppb::Profile& p) { p.set_industry("retail"); });
  n.Contact(kOrg, "u", "a", "Ann");
  n.Contact(kOrg, "u", "b", "Bob");
  n.Ledger(kOrg, "u", "a", 80, 0, 0, 1);
  n.Ledger(kOrg, "u", "b", 20, 0, 0, 1);
  n.Member(kOrg, "u", "g1", "Design Guild", ppb::PROFESSIONAL_ASSOCIATION, "a", ppb::ORGANIZER);
  n.Member(kOrg, "u", "g1", "Design Guild", ppb::PROFESSIONAL_ASSOCIATION, "b");
  n.Member(kOrg, "u", "g2", "Runners", ppb::HOBBY, "me");
  n.Member(kOrg, "u", "g2", "Runners", ppb::HOBBY, "a");
  n.Member(kOrg, "t", "g3", "Fintech Forum", ppb::INDUSTRY, "me");
  n.Member(kOrg, "t", "g4", "runners ", ppb::HOBBY, "me");
  n.Member(kOrg, "v", "g5", "Retail Club", ppb::INDUSTRY, "me");

  auto items = n.With(kOrg, "u", [](const Query& q) { return GroupSuggestions(q); });
  std::vector<std::string> names;
  for (const auto& i : items) names.push_back(i.display_name());
  ASSERT_THAT(names, ElementsAre("Design Guild", "Fintech Forum"));
  EXPECT_NEAR(items[0].score(), 0.8 * 1.5 + 0.2, 1e-3);
  EXPECT_EQ(items[0].reasons(0), "2 of your contacts are members: Ann (strength 80, organizer), Bob (strength 20).");
  EXPECT_EQ(items[1].reasons(0), "Teammate Theo is a member (same industry: fintech).");
}

// --- network health ---

TEST(NetworkHealth, CountsTiesBalanceAndFollowUpRate) {
  TestNetwork n;
  n.Contact(kOrg, "u", "a", "A",
            [&](ppb::Contact& c) { *c.mutable_create_time() = ToTimestamp(n.now - 10 * TestNetwork::kDayUs); });
  n.Contact(kOrg, "u", "b", "B");
  n.Contact(kOrg, "u", "c", "C");
  n.Contact(kOrg, "u", "d", "D");
  n.Ledger(kOrg, "u", "a", 50, 6, 2, 5, 30);    // active
  n.Ledger(kOrg, "u", "b", 20, 0, 2, 100, 30);  // decaying
  n.Interaction(kOrg, "u", "i1", ipb::CONVERSATION, ipb::MUTUAL, 100, {"a"});
  n.Interaction(kOrg, "u", "i2", ipb::EMAIL, ipb::GAVE, 90, {"a"});       // a: followed within 30 days
  n.Interaction(kOrg, "u", "i3", ipb::MEETING, ipb::MUTUAL, 100, {"b"});  // b: never followed
  n.Interaction(kOrg, "u", "i4", ipb::CALL, ipb::MUTUAL, 5, {"c"});       // c: window still open

  auto h = n.With(kOrg, "u", [](const Query& q) { return NetworkHealth(q); });
  EXPECT_EQ(h.size(), 4);
  EXPECT_EQ(h.active_ties(), 1);
  EXPECT_EQ(h.decaying_ties(), 1);
  EXPECT_EQ(h.never_contacted(), 2);
  EXPECT_DOUBLE_EQ(h.given(), 6);
  EXPECT_DOUBLE_EQ(h.received(), 4);
  EXPECT_DOUBLE_EQ(h.give_take_ratio(), 1.5);
  EXPECT_EQ(h.first_conversations(), 2);
  EXPECT_DOUBLE_EQ(h.follow_up_rate(), 0.5);
  EXPECT_EQ(h.contacts_added_90d(), 1);
  EXPECT_THAT(h.reasons(2), HasSubstr("1 of 2 first conversations (50%)"));
}

// --- paths ---

// Uma (u) with teammates Theo (t1) and Tara (t2); Carol at Acme is an ORG
// contact of both teammates (one person); Ann is Uma's and Theo's (ORG).
// Teammates share nothing yet: each tie is the base 0.25.
class PathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    n.User(
        kOrg, "u", "Uma",
        [](ppb::Profile& p) {
          p.set_headline("Product designer");
          p.add_seeking("design leadership role");
        },
        "uma@org.com");
    n.User(kOrg, "t1", "Theo", nullptr, "Theo@Org.com");
    n.User(kOrg, "t2", "Tara", nullptr, "tara@org.com");
    Org("u", "a1", "Ann", "ann@x.com", 80, 5);
    Contact("u", "a2", "Bob", "bob@y.com", ppb::PRIVATE, 90);
    Org("t1", "t1a", "Ann B.", "ANN@x.com ", 60, 0);
    Org("t1", "t1c", "Carol", "carol@acme.com", 70, 0, "Acme", "Hiring Manager");
    Contact("t2", "t2b", "Bob", "bob@y.com", ppb::PRIVATE, 95);
    Org("t2", "t2c", "Carol K.", "carol@acme.com", 30, 0, "ACME", "Hiring manager");
    Contact("t2", "t2s", "Dave", "dave@acme.com", ppb::PRIVATE, 99, 0, "Acme", "Hiring manager");
  }
  void Contact(const std::string& user, const std::string& id, const std::string& name, const std::string& email,
               ppb::Visibility vis, double strength, double balance = 0, const std::string& company = "",
               const std::string& title = "") {
    n.Contact(kOrg, user, id, name, [&](ppb::Contact& c) {
      c.add_emails(email);
      c.set_visibility(vis);
      c.set_company(company);
      c.set_title(title);
    });
    n.Ledger(kOrg, user, id, strength, balance > 0 ? balance : 0, balance < 0 ? -balance : 0, 1);
  }
  void Org(const std::string& user, const std::string& id, const std::string& name, const std::string& email,
           double strength, double balance, const std::string& company = "", const std::string& title = "") {
    Contact(user, id, name, email, ppb::ORG, strength, balance, company, title);
  }
  absl::StatusOr<pb::FindPathsResponse> Find(const std::string& user,
                                             const std::function<void(pb::FindPathsRequest&)>& edit,
                                             const std::string& org = kOrg, Settings settings = Settings{}) {
    pb::FindPathsRequest r;
    edit(r);
    return n.With(
        org, user, [&](const Query& q) { return FindPaths(q, r); }, settings);
  }
  TestNetwork n;
};

TEST_F(PathsTest, ThroughYourContactsAndTeammatesRankedByTieAndStrength) {
  auto r = Find("u", [](auto& r) { r.set_target_contact_id("t1c"); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Routes(*r), ElementsAre(ElementsAre("Uma", "Theo", "Carol"), ElementsAre("Uma", "Tara", "Carol K.")));
  EXPECT_NEAR(r->paths(0).score(), 0.25 * 0.7, 1e-9);
  EXPECT_NEAR(r->paths(1).score(), 0.25 * 0.3, 1e-9);
  EXPECT_EQ(r->paths(0).hops(0).kind(), pb::YOU);
  EXPECT_EQ(r->paths(0).hops(1).kind(), pb::TEAMMATE);
  EXPECT_EQ(r->paths(0).hops(1).user_id(), "t1");
  EXPECT_NEAR(r->paths(0).hops(1).strength(), 25, 1e-9);
  EXPECT_EQ(r->paths(0).hops(2).contact_id(), "t1c");
  EXPECT_NEAR(r->paths(0).hops(2).strength(), 70, 0.01);
  EXPECT_THAT(r->paths(0).reasons(),
              ElementsAre("Theo is your teammate (tie 0.25).", "Theo knows Carol (strength 70)."));
  EXPECT_THAT(r->paths(0).ask(), HasSubstr("Hi Theo, could you introduce me to Carol (Hiring Manager at Acme)?"));
  EXPECT_THAT(r->paths(0).ask(), HasSubstr("Uma, Product designer. Looking for: design leadership role."));
  auto ann = Find("u", [](auto& r) { r.set_target_contact_id("a1"); });
  ASSERT_TRUE(ann.ok());
  EXPECT_THAT(Routes(*ann), ElementsAre(ElementsAre("Uma", "Ann"), ElementsAre("Uma", "Theo", "Ann B.")));
  EXPECT_NEAR(ann->paths(0).score(), 0.8, 1e-9);
}

// The detour of issue 19: Uma -> Ann -> Theo -> Carol asked Ann, an outside
// contact, to introduce Uma to her own colleague Theo, and ranked first.
TEST_F(PathsTest, NeverAsksAnyoneToIntroduceYouToAColleague) {
  auto r = Find("u", [](auto& r) { r.set_target_contact_id("t1c"); });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_GT(r->paths_size(), 0);
  EXPECT_THAT(Route(r->paths(0)), ElementsAre("Uma", "Theo", "Carol"));
  for (const pb::Path& p : r->paths()) {
    for (int i = 1; i < p.hops_size(); ++i) {
      EXPECT_FALSE(p.hops(i - 1).kind() == pb::CONTACT && p.hops(i).kind() == pb::TEAMMATE) << p.ask();
    }
    EXPECT_THAT(p.ask(), ::testing::Not(HasSubstr("introduce me to Theo")));
    EXPECT_THAT(p.ask(), ::testing::Not(HasSubstr("introduce me to Tara")));
  }
}

// A colleague's position appears once: Uma and Tara hold contact records of
// Theo (his email), and Theo holds one of himself. Before, Uma -> Theo (her
// record) -> Theo (teammate) -> Carol passed through Theo twice, and Theo
// as a target was reached through Tara.
TEST_F(PathsTest, AColleagueIsAskedDirectlyAndAppearsOnce) {
  Org("u", "ut", "Theo (friend)", "theo@org.com", 90, 0);
  Org("t1", "t1t", "Theo me", "theo@org.com", 100, 0);
  Org("t2", "t2t", "Theo", "theo@org.com", 80, 0);
  Org("t2", "t2u", "Uma", "uma@org.com", 60, 0);
  for (const char* target : {"ut", "t1t", "t2t"}) {
    auto r = Find("u", [&](auto& r) { r.set_target_contact_id(target); });
    ASSERT_TRUE(r.ok()) << target;
    ASSERT_EQ(r->paths_size(), 1) << target;
    EXPECT_THAT(Route(r->paths(0)), ElementsAre("Uma", "Theo")) << target;
    EXPECT_EQ(r->paths(0).hops(1).kind(), pb::TEAMMATE);
    EXPECT_EQ(r->paths(0).hops(1).user_id(), "t1");
    EXPECT_NEAR(r->paths(0).score(), 0.25, 1e-9);
    EXPECT_THAT(r->paths(0).ask(), HasSubstr("Hi Theo, would you have 20 minutes"));
  }
  auto carol = Find("u", [](auto& r) { r.set_target_contact_id("t1c"); });
  ASSERT_TRUE(carol.ok());
  EXPECT_THAT(Routes(*carol), ElementsAre(ElementsAre("Uma", "Theo", "Carol"), ElementsAre("Uma", "Tara", "Carol K.")));
  // Tara's record of Uma herself: no path to yourself.
  auto self = Find("u", [](auto& r) { r.set_target_contact_id("t2u"); });
  ASSERT_TRUE(self.ok());
  EXPECT_EQ(self->paths_size(), 0);
}

// Before, every teammate weighed a fixed 0.5 and Theo (70 with Carol) beat
// Tara (30) whatever Uma shared with Tara.
TEST_F(PathsTest, TeammateTieFromSharedGroupsAndIntroductionsTheyMadeForYou) {
  n.Member(kOrg, "u", "ug1", "Design Guild", ppb::PROFESSIONAL_ASSOCIATION, "me");
  n.Member(kOrg, "u", "ug2", "Runners", ppb::HOBBY, "me");
  n.Member(kOrg, "t2", "tg1", "design guild", ppb::PROFESSIONAL_ASSOCIATION, "me");
  n.Member(kOrg, "t2", "tg2", "Runners", ppb::HOBBY, "me");
  n.Member(kOrg, "t2", "tg3", "Chess", ppb::HOBBY, "me");     // Uma is not in it
  n.Member(kOrg, "t1", "th1", "Runners", ppb::HOBBY, "t1a");  // Theo himself is not a member
  Contact("t2", "t2u", "Uma", "UMA@org.com", ppb::PRIVATE, 50);
  n.Introduction(kOrg, "t2", "i1", "t2u", "t2b", ipb::COMPLETED);
  n.Introduction(kOrg, "t2", "i2", "t2u", "t2c", ipb::DECLINED);  // not made: does not count
  auto r = Find("u", [](auto& r) { r.set_target_contact_id("t1c"); });
  ASSERT_TRUE(r.ok()) << r.status();
  // Tara: 0.25 + 0.15 x 2 + 0.2 x 1 = 0.75, x 0.3 = 0.225; Theo 0.25 x 0.7 = 0.175.
  EXPECT_THAT(Routes(*r), ElementsAre(ElementsAre("Uma", "Tara", "Carol K."), ElementsAre("Uma", "Theo", "Carol")));
  EXPECT_NEAR(r->paths(0).score(), 0.75 * 0.3, 1e-9);
  EXPECT_NEAR(r->paths(0).hops(1).strength(), 75, 1e-9);
  EXPECT_EQ(r->paths(0).reasons(0),
            "Tara is your teammate; you share 2 groups and Tara made 1 introduction for you (tie 0.75).");
  EXPECT_NEAR(r->paths(1).score(), 0.25 * 0.7, 1e-9);
}

// Equal scores: the shorter path first. Uma knows Erin at 22 herself; Tara
// (tie 0.55 from two shared groups) knows her at 40: 0.55 x 0.4 = 0.22.
// Before, Theo's fixed 0.5 x Erin 80 outranked Uma's own 0.22.
TEST_F(PathsTest, ShorterPathWinsATie) {
  n.Member(kOrg, "u", "ug1", "Design Guild", ppb::PROFESSIONAL_ASSOCIATION, "me");
  n.Member(kOrg, "u", "ug2", "Runners", ppb::HOBBY, "me");
  n.Member(kOrg, "t2", "tg1", "Design Guild", ppb::PROFESSIONAL_ASSOCIATION, "me");
  n.Member(kOrg, "t2", "tg2", "Runners", ppb::HOBBY, "me");
  Org("t2", "t2e", "Erin", "erin@z.com", 40, 0);
  Org("u", "ue", "Erin", "erin@z.com", 22, 0);
  Org("t1", "t1e", "Erin", "erin@z.com", 88, 0);  // 0.25 x 0.88 = 0.22 too
  auto r = Find("u", [](auto& r) { r.set_target_contact_id("ue"); });
  ASSERT_TRUE(r.ok()) << r.status();
  // Then names and ids decide: Theo's record t1e before Tara's t2e.
  EXPECT_THAT(Routes(*r), ElementsAre(ElementsAre("Uma", "Erin"), ElementsAre("Uma", "Theo", "Erin"),
                                      ElementsAre("Uma", "Tara", "Erin")));
  EXPECT_EQ(r->paths(0).hops_size(), 2);
  EXPECT_NEAR(r->paths(0).score(), r->paths(1).score(), 1e-9);
  EXPECT_NEAR(r->paths(1).score(), r->paths(2).score(), 1e-9);
}

TEST_F(PathsTest, MaxHopsLimitsAndUnreachableIsEmpty) {
  auto two = Find("u", [](auto& r) {
    r.set_target_contact_id("t1c");
    r.set_max_hops(2);
  });
  ASSERT_TRUE(two.ok());
  EXPECT_THAT(Routes(*two), ElementsAre(ElementsAre("Uma", "Theo", "Carol"), ElementsAre("Uma", "Tara", "Carol K.")));
  auto one = Find("u", [](auto& r) {
    r.set_target_contact_id("t1c");
    r.set_max_hops(1);
  });
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->paths_size(), 0);
}

TEST_F(PathsTest, PrivateContactsNeverConnectOrShow) {
  // Tara's PRIVATE Dave is invisible to Uma: NOT_FOUND like a missing id.
  auto dave = Find("u", [](auto& r) { r.set_target_contact_id("t2s"); });
  EXPECT_EQ(dave.status().code(), absl::StatusCode::kNotFound);
  auto missing = Find("u", [](auto& r) { r.set_target_contact_id("nope"); });
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), dave.status().message());
  // Uma's PRIVATE Bob shares Tara's PRIVATE Bob's email but stays apart.
  auto bob = Find("u", [](auto& r) { r.set_target_contact_id("a2"); });
  ASSERT_TRUE(bob.ok());
  EXPECT_THAT(Routes(*bob), ElementsAre(ElementsAre("Uma", "Bob")));
  // Tara can reach her own private Dave.
  auto own = Find("t2", [](auto& r) { r.set_target_contact_id("t2s"); });
  ASSERT_TRUE(own.ok());
  EXPECT_THAT(Routes(*own), ElementsAre(ElementsAre("Tara", "Dave")));
}

TEST_F(PathsTest, CompanyAndTitleKeywordFindPeopleNotRecords) {
  auto r = Find("u", [](auto& r) {
    r.set_company("acme");
    r.set_title_keyword("HIRING");
  });
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Routes(*r), ElementsAre(ElementsAre("Uma", "Theo", "Carol"), ElementsAre("Uma", "Tara", "Carol K.")));
  auto none = Find("u", [](auto& r) {
    r.set_company("acme");
    r.set_title_keyword("ceo");
  });
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->paths_size(), 0);
}

TEST_F(PathsTest, AnotherOrgsIdenticalEmailNeverConnects) {
  n.User("org2", "z", "Zed");
  n.Contact("org2", "z", "zc", "Carol Z", [](ppb::Contact& c) {
    c.add_emails("carol@acme.com");
    c.set_visibility(ppb::ORG);
    c.set_company("Acme");
  });
  n.Ledger("org2", "z", "zc", 40, 0, 0, 1);
  auto z = Find(
      "z", [](auto& r) { r.set_company("Acme"); }, "org2");
  ASSERT_TRUE(z.ok());
  EXPECT_THAT(Routes(*z), ElementsAre(ElementsAre("Zed", "Carol Z")));
  // Org 1's contact id from org 2: NOT_FOUND; and org 1 never sees Zed's Carol.
  EXPECT_EQ(Find(
                "z", [](auto& r) { r.set_target_contact_id("t1c"); }, "org2")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Find("u", [](auto& r) { r.set_target_contact_id("zc"); }).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PathsTest, CyclesAndTiesAreDeterministic) {
  // Ann is also Tara's: a cycle Uma-Ann-Theo-Carol-Tara-Ann. Equal ties to
  // Erin from both teammates break by the target record's name, then id.
  Org("t2", "t2a", "Ann C.", "ann@x.com", 60, 0);
  Org("t1", "t1e", "Erin", "erin@z.com", 50, 0);
  Org("t2", "t2e", "Erin", "erin@z.com", 50, 0);
  auto r = Find("u", [](auto& r) {
    r.set_target_contact_id("t2e");
    r.set_max_hops(2);
  });
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->paths_size(), 2);
  EXPECT_EQ(r->paths(0).hops(2).contact_id(), "t1e");
  EXPECT_EQ(r->paths(1).hops(2).contact_id(), "t2e");
  EXPECT_DOUBLE_EQ(r->paths(0).score(), r->paths(1).score());
  auto three = Find("u", [](auto& r) { r.set_target_contact_id("t1c"); });
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->paths_size(), 2);  // Theo, Tara: never via Ann to a teammate
}

TEST(PathsValidation, RefusesBadQueries) {
  auto check = [](const std::function<void(pb::FindPathsRequest&)>& edit, const std::string& field) {
    pb::FindPathsRequest r;
    edit(r);
    absl::Status s = ValidatePathsRequest(r);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(std::string(s.message()), HasSubstr(field + ":"));
  };
  check([](auto& r) {}, "targetContactId");
  check(
      [](auto& r) {
        r.set_target_contact_id("c1");
        r.set_max_hops(4);
      },
      "maxHops");
  check(
      [](auto& r) {
        r.set_target_contact_id("c1");
        r.set_company("acme");
      },
      "company");
  check([](auto& r) { r.set_title_keyword("cto"); }, "titleKeyword");
  check([](auto& r) { r.set_target_contact_id("bad id!"); }, "targetContactId");
}

}  // namespace
}  // namespace rapport::recommendations
