// The recommendations themselves: plain functions over one org's read model
// (OrgGraph) for one acting user at a given instant, returning the response
// protos with their `reasons`. No I/O, no locks (the caller holds the read
// lock), deterministic for a given graph and `now`, so that tests can assert
// exact rankings.
//
// Scoring (the numbers the reasons quote):
// - tie weight w(c) = max(strength(c), 5) / 100, so that a contact never met
//   still counts a little;
// - reachOuts: contacts whose next due date (last interaction + cadence) has
//   passed; score = tier weight (INNER 8, CLOSE 4, NETWORK 2, ACQUAINTANCE 1)
//   x (1 + min(overdue days / cadence, 3)) x w, x 1.5 when their birthday is
//   within 7 days (in the user's timezone), x (1 + min(-balance, 10) / 10)
//   when the user owes them. An INNER contact due today outranks an
//   ACQUAINTANCE at any lateness for equal strength (8 > 1 x 4).
// - giveBacks: balance < 0; score = -balance x (1 + strength / 100).
//   Suggested act mirrors the most valuable kind they gave (REFERRAL,
//   INTRODUCTION, RECOMMENDATION, ENDORSEMENT); an introduction names one of
//   the user's contacts offering what they seek when there is one; otherwise a
//   FAVOR towards what they seek.
// - followUps: CONVERSATION / MEETING / CALL interactions that are still the
//   latest interaction with that contact once follow_up_days have passed,
//   and at most follow_up_expiry_days (60) old; newest first.
//   A give-back is done once the user logs its suggested kind (GAVE or
//   MUTUAL) with the contact after the contact last gave; an introduction
//   suggestion once an INTRODUCTION naming both is logged (or requested).
// - introductions: unordered pairs of the user's contacts where one's seeking
//   tag equals the other's offering tag (normalized); score = w(a) x w(b) x
//   matched tags; pairs named by any earlier introduction are left out. Only
//   the user's kMaxIntroductionPool strongest contacts are paired.
// - groups: the user's own groups they are not in, by Σ w(member) (x 1.5
//   for leaders and organizers); teammates' groups (where the teammate is a
//   member) when the teammate shares the user's industry or company or an
//   alumni group, +0.5 each; merged by normalized group name; groups the user
//   is already in are never suggested.
// - paths: see FindPaths below.
#ifndef RAPPORT_SERVICES_RECOMMENDATIONS_RECOMMENDATIONS_LOGIC_H_
#define RAPPORT_SERVICES_RECOMMENDATIONS_RECOMMENDATIONS_LOGIC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rapport/recommendations/v1/recommendations.pb.h"
#include "services/recommendations/read_model.h"

namespace rapport::recommendations {

namespace pb = ::rapport::recommendations::v1;

struct Settings {
  int follow_up_days = 7;          // a conversation needs a later interaction within this
  int follow_up_expiry_days = 60;  // an older follow-up suggestion has expired
  int follow_up_rate_days = 30;    // network health's follow-up window
  int max_introduction_pool = 2000;
};

// The acting user's view of the org. The user may be unknown to the read
// model (no events yet): every list is then empty.
struct Query {
  const OrgGraph& graph;
  std::string user_id;
  int64_t now_us;
  Settings settings;
  // Rankings are always complete, but only their first `limit` items are
  // built (reasons and all): a page's end, plus one to know another follows.
  size_t limit = SIZE_MAX;
};

std::vector<pb::ReachOut> ReachOuts(const Query& q);
std::vector<pb::GiveBack> GiveBacks(const Query& q);
std::vector<pb::FollowUp> FollowUps(const Query& q);
std::vector<pb::IntroductionSuggestion> IntroductionSuggestions(const Query& q);
std::vector<pb::GroupSuggestion> GroupSuggestions(const Query& q);
pb::NetworkHealth NetworkHealth(const Query& q);

// Warm paths of at most max_hops (1..3; a path has at most 2 since a
// teammate is always asked directly) from the user to a target person:
//   YOU -> CONTACT(target)                 one of your contacts;
//   YOU -> TEAMMATE -> CONTACT(target)     a teammate's ORG contact;
//   YOU -> TEAMMATE(target)                the target is your colleague (a
//                                          user of the org, matched by email).
// Never a detour: no path asks someone (a contact of yours, or another
// teammate) to introduce you to a colleague, and no path passes through one
// teammate's position twice; a target that is you has no path.
// Score:
// - your contact: w(target) = max(strength, 5) / 100, the strength as the
//   hops show it (two decimals);
// - through teammate T: tie(T) x w(T's contact for the target), and tie(T)
//   alone when T is the target, where
//   tie(T) = min(1, 0.25 + 0.15 x min(shared groups, 3)
//                   + 0.2 x min(introductions T made for you, 2)),
//   shared groups being group names you and T are both members of, and
//   introductions T made for you being T's MADE or COMPLETED introductions
//   naming a contact with your email. The TEAMMATE hop's strength is
//   100 x tie(T), and the reasons name the signals.
// Scores equal to 1e-9 are ties: among them the shorter path wins, then
// names decide. Targets are people, so several contact records of one person
// are one target. INVALID_ARGUMENT for a bad query (no target, both kinds,
// maxHops out of 1..3); NOT_FOUND when target_contact_id is not a contact
// the user can see (another org's, a teammate's PRIVATE one, or missing
// alike).
absl::StatusOr<pb::FindPathsResponse> FindPaths(const Query& q, const pb::FindPathsRequest& request);

// Validates a FindPathsRequest (the same checks FindPaths makes).
absl::Status ValidatePathsRequest(const pb::FindPathsRequest& request);

}  // namespace rapport::recommendations

#endif  // RAPPORT_SERVICES_RECOMMENDATIONS_RECOMMENDATIONS_LOGIC_H_
