// Issue 19: recommendations a user has acted on, or that are too old to act
// on, are not listed (follow-ups expire after 60 days; logging the suggested
// give-back or introduction removes it).
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/recommendations/recommendations_logic.h"
#include "services/recommendations/test_network.h"

namespace rapport::recommendations {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
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

TEST(FollowUps, OlderThanSixtyDaysExpire) {
  TestNetwork n;
  for (const char* id : {"x", "y", "z"}) n.Contact(kOrg, "u", id, std::string(1, id[0] - 32));
  n.Interaction(kOrg, "u", "m1", ipb::MEETING, ipb::MUTUAL, 61, {"x"});        // expired
  n.Interaction(kOrg, "u", "m2", ipb::MEETING, ipb::MUTUAL, 60, {"y"});        // the last day it is listed
  n.Interaction(kOrg, "u", "c1", ipb::CONVERSATION, ipb::MUTUAL, 200, {"z"});  // long expired
  auto items = n.With(kOrg, "u", [](const Query& q) { return FollowUps(q); });
  EXPECT_THAT(Names(items), ElementsAre("Y"));
}

TEST(GiveBacks, LoggingTheSuggestedActRemovesIt) {
  TestNetwork n;
  n.Contact(kOrg, "u", "r", "Rex");
  n.Contact(kOrg, "u", "s", "Sue");
  n.Ledger(kOrg, "u", "r", 30, 1, 3, 1);  // still owing after the endorsement given back
  n.Ledger(kOrg, "u", "s", 30, 1, 3, 1);
  n.Interaction(kOrg, "u", "i1", ipb::ENDORSEMENT, ipb::RECEIVED, 10, {"r"});
  n.Interaction(kOrg, "u", "i2", ipb::ENDORSEMENT, ipb::RECEIVED, 10, {"s"});
  auto items = n.With(kOrg, "u", [](const Query& q) { return GiveBacks(q); });
  ASSERT_THAT(Names(items), ElementsAre("Rex", "Sue"));
  EXPECT_EQ(items[0].suggested_kind(), ipb::ENDORSEMENT);

  // Rex gets the endorsement back; Sue only an email (not the suggested act).
  n.Interaction(kOrg, "u", "g1", ipb::ENDORSEMENT, ipb::GAVE, 1, {"r"});
  n.Interaction(kOrg, "u", "g2", ipb::EMAIL, ipb::GAVE, 1, {"s"});
  items = n.With(kOrg, "u", [](const Query& q) { return GiveBacks(q); });
  EXPECT_THAT(Names(items), ElementsAre("Sue"));

  // Rex helps again: a new give-back is due.
  n.Interaction(kOrg, "u", "i3", ipb::ENDORSEMENT, ipb::RECEIVED, 0, {"r"});
  items = n.With(kOrg, "u", [](const Query& q) { return GiveBacks(q); });
  EXPECT_THAT(Names(items), ElementsAre("Rex", "Sue"));
}

TEST(Introductions, LoggingTheIntroductionRemovesThePair) {
  TestNetwork n;
  n.Contact(kOrg, "u", "a", "Ann", [](ppb::Contact& c) { c.add_seeking("design"); });
  n.Contact(kOrg, "u", "b", "Bob", [](ppb::Contact& c) { c.add_offering("design"); });
  n.Contact(kOrg, "u", "c", "Cat", [](ppb::Contact& c) { c.add_offering("design"); });
  auto pairs = [&] {
    std::vector<std::string> out;
    for (const auto& i : n.With(kOrg, "u", [](const Query& q) { return IntroductionSuggestions(q); })) {
      out.push_back(i.contact_a().display_name() + ">" + i.contact_b().display_name());
    }
    return out;
  };
  ASSERT_THAT(pairs(), ElementsAre("Ann>Bob", "Ann>Cat"));
  n.Interaction(kOrg, "u", "x1", ipb::INTRODUCTION, ipb::GAVE, 1, {"a", "b"});
  EXPECT_THAT(pairs(), ElementsAre("Ann>Cat"));
  n.Interaction(kOrg, "u", "x2", ipb::INTRODUCTION, ipb::GAVE, 1, {"c", "a"});
  EXPECT_THAT(pairs(), IsEmpty());
}

}  // namespace
}  // namespace rapport::recommendations
