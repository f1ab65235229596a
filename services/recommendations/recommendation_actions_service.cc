// The issue-19 RPCs of RecommendationsServiceImpl (declared in
// recommendations_service.h): dismiss and snooze an item, and network health
// over time. Kept apart from the rankings so the two grow independently.
#include <algorithm>
#include <string>

#include "services/common/time_util.h"
#include "services/recommendations/recommendations_service.h"

namespace rapport::recommendations {
namespace {

constexpr int kDefaultHistoryWeeks = 12;
constexpr int kMaxHistoryWeeks = 104;

absl::Status NoStore() { return absl::UnavailableError("recommendations has no store configured"); }

}  // namespace

absl::StatusOr<ActiveActions> RecommendationsServiceImpl::Actions(const TenantContext& t, int64_t now_us) {
  if (store_ == nullptr) return ActiveActions();
  absl::StatusOr<std::vector<ItemAction>> actions = store_->ListActions({t.org_id, t.user_id});
  if (!actions.ok()) return actions.status();
  return ActiveActions(*actions, now_us);
}

void RecommendationsServiceImpl::Act(const TenantContext& t, const std::string& kind, const std::string& item_id,
                                     bool dismissed, int64_t until_us, int64_t now_us,
                                     Reply<pb::RecommendationAction> reply) {
  if (store_ == nullptr) return reply(NoStore());
  if (backfills_ != nullptr && !backfills_->Ready(t.org_id)) {
    return reply(absl::UnavailableError(
        "recommendations for this org are not available yet: its backfill failed and is being retried"));
  }
  absl::Status exists = absl::NotFoundError("contact not found");
  model_->Read(t.org_id, [&](const OrgGraph& g) { exists = CheckItemExists(g, t.user_id, kind, item_id); });
  if (!exists.ok()) return reply(exists);
  ItemAction action{kind, item_id, dismissed, dismissed ? 0 : until_us, now_us};
  pb::RecommendationAction out;
  out.set_kind(kind);
  out.set_contact_id(item_id);
  out.set_dismissed(dismissed);
  if (!dismissed) *out.mutable_snoozed_until() = ToTimestamp(until_us);
  *out.mutable_acted_at() = ToTimestamp(now_us);
  store_->PutAction({t.org_id, t.user_id}, action,
                    [this, t, out = std::move(out), reply = std::move(reply)](absl::Status status) {
                      if (!status.ok()) return reply(status);
                      // The digest of actions in the cache key already keeps old
                      // answers from being read; bumping the user's generation
                      // also drops them where another replica looks them up.
                      cache_->Invalidate(t.org_id, t.user_id, false);
                      reply(out);
                    });
}

grpc::ServerUnaryReactor* RecommendationsServiceImpl::DismissRecommendation(Ctx* ctx,
                                                                            const pb::DismissRecommendationRequest* req,
                                                                            pb::RecommendationAction* resp) {
  return rpc_.Handle(ctx, "DismissRecommendation", resp,
                     [=, this](const TenantContext& t, Reply<pb::RecommendationAction> reply) {
                       absl::Status valid = ValidateItem(req->kind(), req->contact_id());
                       if (!valid.ok()) return reply(valid);
                       Act(t, req->kind(), req->contact_id(), true, 0, NowMicros(), std::move(reply));
                     });
}

grpc::ServerUnaryReactor* RecommendationsServiceImpl::SnoozeRecommendation(Ctx* ctx,
                                                                           const pb::SnoozeRecommendationRequest* req,
                                                                           pb::RecommendationAction* resp) {
  return rpc_.Handle(ctx, "SnoozeRecommendation", resp,
                     [=, this](const TenantContext& t, Reply<pb::RecommendationAction> reply) {
                       absl::Status valid = ValidateItem(req->kind(), req->contact_id());
                       if (!valid.ok()) return reply(valid);
                       const int64_t now = NowMicros();
                       absl::StatusOr<int64_t> until = ValidateSnoozeUntil(req->has_until(), req->until(), now);
                       if (!until.ok()) return reply(until.status());
                       Act(t, req->kind(), req->contact_id(), false, *until, now, std::move(reply));
                     });
}

grpc::ServerUnaryReactor* RecommendationsServiceImpl::GetNetworkHealthHistory(
    Ctx* ctx, const pb::GetNetworkHealthHistoryRequest* req, pb::NetworkHealthHistory* resp) {
  return rpc_.Handle(
      ctx, "GetNetworkHealthHistory", resp, [=, this](const TenantContext& t, Reply<pb::NetworkHealthHistory> reply) {
        const int weeks = req->weeks() == 0 ? kDefaultHistoryWeeks : req->weeks();
        if (weeks < 1 || weeks > kMaxHistoryWeeks) {
          return reply(absl::InvalidArgumentError("weeks: must be between 1 and 104"));
        }
        if (store_ == nullptr) return reply(NoStore());
        if (backfills_ != nullptr && !backfills_->Ready(t.org_id)) {
          return reply(absl::UnavailableError(
              "recommendations for this org are not available yet: its backfill failed and is being retried"));
        }
        const int64_t now = NowMicros();
        const int64_t current = period_.StartOf(now);
        absl::StatusOr<std::vector<HealthSnapshot>> stored =
            store_->ListSnapshots({t.org_id, t.user_id}, current - int64_t{weeks - 1} * period_.period_us, current);
        if (!stored.ok()) return reply(stored.status());
        pb::NetworkHealthHistory out;
        for (HealthSnapshot& s : *stored) {
          pb::NetworkHealthSnapshot* item = out.add_snapshots();
          *item->mutable_week_start() = ToTimestamp(s.week_start_us);
          *item->mutable_taken_at() = ToTimestamp(s.taken_us);
          *item->mutable_health() = std::move(s.health);
        }
        // The current week, live (not cached: history is read rarely, for charts).
        pb::NetworkHealthSnapshot* live = out.add_snapshots();
        *live->mutable_week_start() = ToTimestamp(current);
        *live->mutable_taken_at() = ToTimestamp(now);
        live->set_live(true);
        model_->Read(t.org_id, [&](const OrgGraph& g) {
          *live->mutable_health() = NetworkHealth(Query{g, t.user_id, now, settings_});
        });
        reply(std::move(out));
      });
}

}  // namespace rapport::recommendations
