#include "services/recommendations/recommendation_actions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"

namespace rapport::recommendations {
namespace {

bool KnownKind(const std::string& kind) {
  for (const char* k : {kReachOutsKind, kGiveBacksKind, kFollowUpsKind, kIntroductionsKind, kGroupsKind}) {
    if (kind == k) return true;
  }
  return false;
}

std::string Key(const std::string& kind, const std::string& item_id) { return absl::StrCat(kind, "/", item_id); }

}  // namespace

absl::Status ValidateItem(const std::string& kind, const std::string& item_id) {
  Violations v;
  if (!KnownKind(kind)) {
    v.Add("kind", "must be one of reachOuts, giveBacks, followUps, introductions, groups");
  }
  v.Id("contactId", item_id, true);
  return v.ToStatus();
}

absl::StatusOr<int64_t> ValidateSnoozeUntil(bool has_until, const google::protobuf::Timestamp& until, int64_t now_us) {
  if (!has_until) return absl::InvalidArgumentError("until: is required");
  if (!IsValidTimestamp(until)) return absl::InvalidArgumentError("until: is not a valid time");
  const int64_t t = TimestampToMicros(until);
  if (t <= now_us) return absl::InvalidArgumentError("until: must be in the future");
  if (t - now_us > kMaxSnoozeUs) return absl::InvalidArgumentError("until: must be at most one year ahead");
  return t;
}

absl::Status CheckItemExists(const OrgGraph& g, const std::string& user, const std::string& kind,
                             const std::string& item_id) {
  const UserNode* u = g.FindUser(user);
  if (u != nullptr) {
    const uint32_t me = g.user_index.at(user);
    if (kind == kGroupsKind) {
      // Suggestions come from the user's own groups and teammates' groups.
      for (const GroupNode& group : g.groups) {
        if (group.id == item_id) return absl::OkStatus();
      }
    } else {
      const uint32_t c = g.FindContact(item_id);
      if (c != kNone && g.edges[c].alive() && g.edges[c].owner == me) return absl::OkStatus();
    }
  }
  return absl::NotFoundError(kind == kGroupsKind ? "group not found" : "contact not found");
}

ActiveActions::ActiveActions(const std::vector<ItemAction>& actions, int64_t now_us) {
  for (const ItemAction& a : actions) {
    if (!a.dismissed && a.until_us <= now_us) continue;  // a snooze that ended hides nothing
    by_key_[Key(a.kind, a.item_id)] = a;
    ++per_kind_[a.kind];
    // Sorted input (the store lists by kind, item id): the digest is stable.
    absl::StrAppend(&digest_, a.kind, "/", a.item_id, "/", a.dismissed ? "d" : "s", a.until_us, "/", a.acted_us, ";");
  }
}

bool ActiveActions::Hides(const OrgGraph& g, const std::string& kind, const std::string& item_id) const {
  auto it = by_key_.find(Key(kind, item_id));
  if (it == by_key_.end()) return false;
  const ItemAction& a = it->second;
  if (!a.dismissed) return true;  // an active snooze
  if (kind == kGroupsKind) return true;
  // Dismissed until an interaction with the contact happens after the dismissal.
  const uint32_t c = g.FindContact(item_id);
  if (c == kNone) return true;
  return g.info[c].last_us <= a.acted_us;
}

size_t ActiveActions::CountFor(const std::string& kind) const {
  auto it = per_kind_.find(kind);
  return it == per_kind_.end() ? 0 : it->second;
}

}  // namespace rapport::recommendations
