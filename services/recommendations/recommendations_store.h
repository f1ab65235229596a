// The recommendations service's one durable store (services/common/db.h;
// SQLite file recommendations.db or the PostgreSQL schema `recommendations`):
// what the read model cannot rebuild from events because only this service
// hears it, shared by every replica.
//
// - recommendation_actions: a user's dismissals and snoozes, one row per
//   (org, user, kind, item id); a later dismiss or snooze of the same item
//   replaces the earlier one. What a row hides is recommendation_actions.h's
//   business.
// - health_snapshots: a user's network-health figures per week (the
//   rapport.recommendations.v1.NetworkHealth proto), written once per
//   (org, user, week start) by the weekly job (health_snapshots.h).
// - snapshot_leases: which replica takes an org's snapshots of a week, so
//   two replicas do not both do it; a lease that expired unfinished (its
//   replica died) can be claimed again.
// Every key starts with org_id; erasure (recommendations_erasure in the
// .cc, through services/common/erasure.h) deletes a user's or an org's rows.
//
// Thread-safety: safe for concurrent use (the database layer is).
#ifndef RAPPORT_SERVICES_RECOMMENDATIONS_RECOMMENDATIONS_STORE_H_
#define RAPPORT_SERVICES_RECOMMENDATIONS_RECOMMENDATIONS_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rapport/recommendations/v1/recommendations.pb.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/common/erasure.h"

namespace rapport::recommendations {

// One dismissal or snooze of a recommendation item.
struct ItemAction {
  std::string kind;     // the list's route name: reachOuts, giveBacks, followUps, introductions, groups
  std::string item_id;  // the contact id (introductions: the seeking contact; groups: the group id)
  bool dismissed = false;
  int64_t until_us = 0;  // snoozed: shown again from then
  int64_t acted_us = 0;  // when the user dismissed or snoozed it
};

// One stored weekly snapshot of a user's network health.
struct HealthSnapshot {
  int64_t week_start_us = 0;
  int64_t taken_us = 0;
  v1::NetworkHealth health;
};

// The tables a user's or an org's erasure empties.
std::vector<ErasureTable> RecommendationsErasureTables();

class RecommendationsStore {
 public:
  // Opens the database options name and applies the store's migrations.
  static absl::StatusOr<std::unique_ptr<RecommendationsStore>> Open(db::Options options);

  // Records a dismissal or snooze (replacing the item's earlier one); done
  // once durable.
  void PutAction(const Owner& owner, const ItemAction& action, DoneStatus done);
  // The user's actions, by kind and item id.
  absl::StatusOr<std::vector<ItemAction>> ListActions(const Owner& owner);

  // Claims the org's snapshots of the week starting at week_start_us for
  // holder until now_us + ttl_us: true when no one holds it, it expired
  // unfinished, or holder already held it; false when another replica holds
  // it or it is finished.
  absl::StatusOr<bool> ClaimSnapshotLease(const std::string& org, int64_t week_start_us, const std::string& holder,
                                          int64_t now_us, int64_t ttl_us);
  // Marks holder's lease finished: nobody takes that week of the org again.
  absl::Status FinishSnapshotLease(const std::string& org, int64_t week_start_us, const std::string& holder);
  // Stores the snapshots of one org's week (a user's existing snapshot of
  // that week is kept: the first one taken is the week's).
  absl::Status PutSnapshots(const std::string& org, int64_t week_start_us, int64_t taken_us,
                            const std::vector<std::pair<std::string, v1::NetworkHealth>>& by_user);
  // The user's snapshots of weeks starting in [from_us, to_us), oldest first.
  absl::StatusOr<std::vector<HealthSnapshot>> ListSnapshots(const Owner& owner, int64_t from_us, int64_t to_us);

  db::Database& db() { return *db_; }

 private:
  explicit RecommendationsStore(std::unique_ptr<db::Database> db) : db_(std::move(db)) {}
  std::unique_ptr<db::Database> db_;
};

}  // namespace rapport::recommendations

#endif  // RAPPORT_SERVICES_RECOMMENDATIONS_RECOMMENDATIONS_STORE_H_
