// Dismissing and snoozing recommendations (issue 19): the rules behind
// POST /v1/recommendations/{kind}/{contactId}:dismiss and :snooze, and what
// a stored action (recommendations_store.h) hides from the lists.
//
// - kind is a list's route name: reachOuts, giveBacks, followUps,
//   introductions, groups. The id is the item's contact (introductions: the
//   seeking contact, contact_a, so every suggestion to introduce that person
//   goes; groups: the group id). It must be one the user's list could name
//   (their own contact; a group they can see), else NOT_FOUND, alike for
//   another org's id.
// - A snooze hides the item until `until` (in the future, at most a year
//   ahead); then it is listed again if it still applies.
// - A dismissal hides the item until the situation changes materially: an
//   interaction with that contact happening after the dismissal (for a
//   reach-out, a give-back, a follow-up or an introduction), after which
//   the item is listed again whenever the rules raise it. A dismissed group
//   suggestion is gone for good (nothing about a group changes for the
//   user that would make the same suggestion new).
//
// Thread-safety: plain functions and an immutable value type.
#ifndef RAPPORT_SERVICES_RECOMMENDATIONS_RECOMMENDATION_ACTIONS_H_
#define RAPPORT_SERVICES_RECOMMENDATIONS_RECOMMENDATION_ACTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/recommendations/read_model.h"
#include "services/recommendations/recommendations_store.h"

namespace rapport::recommendations {

inline constexpr char kReachOutsKind[] = "reachOuts";
inline constexpr char kGiveBacksKind[] = "giveBacks";
inline constexpr char kFollowUpsKind[] = "followUps";
inline constexpr char kIntroductionsKind[] = "introductions";
inline constexpr char kGroupsKind[] = "groups";
// A snooze reaches at most this far ahead.
inline constexpr int64_t kMaxSnoozeUs = int64_t{365} * 86400 * 1000000;

// INVALID_ARGUMENT naming `kind` or `contactId` when they are not valid.
absl::Status ValidateItem(const std::string& kind, const std::string& item_id);
// The snooze end in micros; INVALID_ARGUMENT naming `until` when it is
// missing, not after now, or more than kMaxSnoozeUs ahead.
absl::StatusOr<int64_t> ValidateSnoozeUntil(bool has_until, const google::protobuf::Timestamp& until, int64_t now_us);
// OK when the user's list of kind could name item_id; NOT_FOUND otherwise.
absl::Status CheckItemExists(const OrgGraph& g, const std::string& user, const std::string& kind,
                             const std::string& item_id);

// A user's actions as they stand at one instant.
class ActiveActions {
 public:
  ActiveActions() = default;
  ActiveActions(const std::vector<ItemAction>& actions, int64_t now_us);

  // Whether the item is hidden now.
  bool Hides(const OrgGraph& g, const std::string& kind, const std::string& item_id) const;
  // How many actions of kind may hide items (a ranking computes this many
  // more to fill its page).
  size_t CountFor(const std::string& kind) const;
  // What the actions in force are, for the result cache's key: a snooze
  // that ends changes it.
  const std::string& Digest() const { return digest_; }

 private:
  absl::flat_hash_map<std::string, ItemAction> by_key_;  // "<kind>/<item id>"
  absl::flat_hash_map<std::string, size_t> per_kind_;
  std::string digest_;
};

}  // namespace rapport::recommendations

#endif  // RAPPORT_SERVICES_RECOMMENDATIONS_RECOMMENDATION_ACTIONS_H_
