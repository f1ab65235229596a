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
#include "services/recommendations/org_backfills.h"
#include "services/recommendations/read_model.h"
#include "services/recommendations/recommendations_logic.h"
#include "services/recommendations/result_cache.h"

namespace rapport::recommendations {

class RecommendationsServiceImpl final : public pb::RecommendationsService::CallbackService {
 public:
  // model, cache, signer and backfills must outlive the service. An org
  // that backfills names pending (its backfill failed) is refused
  // UNAVAILABLE; without backfills every org is answered.
  RecommendationsServiceImpl(ReadModel* model, ResultCache* cache, const TenantSigner* signer, Settings settings,
                             const OrgBackfills* backfills = nullptr);

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
  // Platform only (no HTTP rule): the org-by-org backfill's health detail.
  R* GetBackfillStatus(Ctx* ctx, const pb::GetBackfillStatusRequest* req, pb::BackfillStatus* resp) override;

 private:
  // The answer for (t's org and user, rpc, req): cached, or compute(query)
  // on the read model. org_wide: the answer depends on teammates' data.
  template <typename Resp>
  absl::StatusOr<Resp> Answer(const TenantContext& t, const char* rpc, const google::protobuf::Message& req,
                              bool org_wide, const std::function<absl::StatusOr<Resp>(const Query&)>& compute);

  ReadModel* model_;
  ResultCache* cache_;
  Settings settings_;
  const OrgBackfills* backfills_;
  RpcHandler rpc_;
};

}  // namespace rapport::recommendations

#endif  // RAPPORT_SERVICES_RECOMMENDATIONS_RECOMMENDATIONS_SERVICE_H_
