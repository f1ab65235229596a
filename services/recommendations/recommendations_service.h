// The gRPC adapter of the recommendations service (callback API): authorizes
// each call (READ, user-scoped) from signed metadata, validates the request,
// and answers from the result cache or by running the logic on the read
// model under its shared lock. Rankings are paged by offset tokens.
//
// Thread-safety: handlers run concurrently; the service holds no mutable
// state of its own (the model and cache are thread-safe).
#ifndef RAPPORT_SERVICES_RECOMMENDATIONS_RECOMMENDATIONS_SERVICE_H_
#define RAPPORT_SERVICES_RECOMMENDATIONS_RECOMMENDATIONS_SERVICE_H_

#include "rapport/recommendations/v1/recommendations.grpc.pb.h"
#include "services/common/rpc.h"
#include "services/recommendations/health_snapshots.h"
#include "services/recommendations/org_backfills.h"
#include "services/recommendations/read_model.h"
#include "services/recommendations/recommendation_actions.h"
#include "services/recommendations/recommendations_logic.h"
#include "services/recommendations/result_cache.h"

namespace rapport::recommendations {

class RecommendationsServiceImpl final : public pb::RecommendationsService::CallbackService {
 public:
  // model, cache, signer and backfills must outlive the service. An org
  // that backfills names pending (its backfill failed) is refused
  // UNAVAILABLE; without backfills every org is answered.
  // store (dismissals, snoozes, health snapshots; must outlive the
  // service): without it the action and history RPCs answer UNAVAILABLE
  // and the lists hide nothing. period: the snapshot job's weeks.
  RecommendationsServiceImpl(ReadModel* model, ResultCache* cache, const TenantSigner* signer, Settings settings,
                             const OrgBackfills* backfills = nullptr, RecommendationsStore* store = nullptr,
                             SnapshotPeriod period = {});

  using Ctx = grpc::CallbackServerContext;
  using R = grpc::ServerUnaryReactor;

  R* ListReachOuts(Ctx* ctx, const pb::ListReachOutsRequest* req, pb::ListReachOutsResponse* resp) override;
  R* ListGiveBacks(Ctx* ctx, const pb::ListGiveBacksRequest* req, pb::ListGiveBacksResponse* resp) override;
  R* ListFollowUps(Ctx* ctx, const pb::ListFollowUpsRequest* req, pb::ListFollowUpsResponse* resp) override;
  R* ListIntroductionSuggestions(Ctx* ctx, const pb::ListIntroductionSuggestionsRequest* req,
                                 pb::ListIntroductionSuggestionsResponse* resp) override;
  R* ListGroupSuggestions(Ctx* ctx, const pb::ListGroupSuggestionsRequest* req,
                          pb::ListGroupSuggestionsResponse* resp) override;
  R* FindPaths(Ctx* ctx, const pb::FindPathsRequest* req, pb::FindPathsResponse* resp) override;
  R* GetNetworkHealth(Ctx* ctx, const pb::GetNetworkHealthRequest* req, pb::NetworkHealth* resp) override;
  // Issue 19 (recommendation_actions_service.cc): acting on items, and health over time.
  R* DismissRecommendation(Ctx* ctx, const pb::DismissRecommendationRequest* req,
                           pb::RecommendationAction* resp) override;
  R* SnoozeRecommendation(Ctx* ctx, const pb::SnoozeRecommendationRequest* req,
                          pb::RecommendationAction* resp) override;
  R* GetNetworkHealthHistory(Ctx* ctx, const pb::GetNetworkHealthHistoryRequest* req,
                             pb::NetworkHealthHistory* resp) override;
  // Platform only (no HTTP rule): the org-by-org backfill's health detail.
  R* GetBackfillStatus(Ctx* ctx, const pb::GetBackfillStatusRequest* req, pb::BackfillStatus* resp) override;

 private:
  // The answer for (t's org and user, rpc, req): cached, or compute(query)
  // on the read model. org_wide: the answer depends on teammates' data.
  // salt: what else the answer depends on (the user's actions in force).
  template <typename Resp>
  absl::StatusOr<Resp> Answer(const TenantContext& t, const char* rpc, const google::protobuf::Message& req,
                              bool org_wide, const std::function<absl::StatusOr<Resp>(const Query&)>& compute,
                              const std::string& salt = "");
  // The user's dismissals and snoozes in force now (none without a store).
  absl::StatusOr<ActiveActions> Actions(const TenantContext& t, int64_t now_us);
  // Stores a dismissal or snooze of an item the user's list could name and
  // bumps the user's cached results.
  void Act(const TenantContext& t, const std::string& kind, const std::string& item_id, bool dismissed,
           int64_t until_us, int64_t now_us, Reply<pb::RecommendationAction> reply);

  ReadModel* model_;
  ResultCache* cache_;
  Settings settings_;
  const OrgBackfills* backfills_;
  RecommendationsStore* store_;
  SnapshotPeriod period_;
  RpcHandler rpc_;
};

}  // namespace rapport::recommendations

#endif  // RAPPORT_SERVICES_RECOMMENDATIONS_RECOMMENDATIONS_SERVICE_H_
