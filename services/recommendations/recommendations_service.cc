#include "services/recommendations/recommendations_service.h"

#include <string>

#include "absl/strings/numbers.h"
#include "services/common/pagination.h"
#include "services/common/time_util.h"

namespace rapport::recommendations {
namespace {

// Offset tokens over a ranking: the ranking is recomputed per page, so a
// page boundary may shift when the network changed in between, which is
// acceptable for suggestions (no item is ever duplicated within one page).
absl::StatusOr<Page> ParseRankingPage(int page_size, const std::string& token) {
  ASSIGN_OR_RETURN(Page page, ParsePage(page_size, token));
  int offset = 0;
  if (!page.after.empty() && (!absl::SimpleAtoi(page.after, &offset) || offset < 0)) {
    return absl::InvalidArgumentError("pageToken: is not a token from a previous page");
  }
  return page;
}

// The end of a page in the ranking: its offset plus its size.
size_t PageEnd(const Page& page) {
  int offset = 0;
  if (!page.after.empty()) (void)absl::SimpleAtoi(page.after, &offset);
  return static_cast<size_t>(offset) + static_cast<size_t>(page.size);
}

template <typename Resp, typename Item>
Resp Slice(std::vector<Item> items, const Page& page) {
  int offset = 0;
  if (!page.after.empty()) (void)absl::SimpleAtoi(page.after, &offset);
  Resp out;
  const int end = std::min<int>(static_cast<int>(items.size()), offset + page.size);
  for (int i = offset; i < end; ++i) *out.add_items() = std::move(items[i]);
  if (end < static_cast<int>(items.size())) out.set_next_page_token(EncodePageToken(std::to_string(end)));
  return out;
}

}  // namespace

RecommendationsServiceImpl::RecommendationsServiceImpl(ReadModel* model, ResultCache* cache, const TenantSigner* signer,
                                                       Settings settings, const OrgBackfills* backfills,
                                                       RecommendationsStore* store, SnapshotPeriod period)
    : model_(model),
      cache_(cache),
      settings_(settings),
      backfills_(backfills),
      store_(store),
      period_(period),
      rpc_(signer, google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
                       pb::RecommendationsService::service_full_name())) {}

template <typename Resp>
absl::StatusOr<Resp> RecommendationsServiceImpl::Answer(
    const TenantContext& t, const char* rpc, const google::protobuf::Message& req, bool org_wide,
    const std::function<absl::StatusOr<Resp>(const Query&)>& compute, const std::string& salt) {
  if (backfills_ != nullptr && !backfills_->Ready(t.org_id)) {
    // The org's model is incomplete: no answer rather than a wrong one.
    return absl::UnavailableError(
        "recommendations for this org are not available yet: its backfill failed and is being retried");
  }
  absl::StatusOr<std::string> bytes = cache_->GetOrCompute(
      t.org_id, t.user_id, rpc, req.SerializeAsString() + salt, org_wide, [&]() -> absl::StatusOr<std::string> {
        absl::StatusOr<Resp> result = absl::InternalError("not computed");
        model_->Read(t.org_id, [&](const OrgGraph& g) {
          result = compute(Query{g, t.user_id, NowMicros(), settings_});
        });
        if (!result.ok()) return result.status();
        return result->SerializeAsString();
      });
  if (!bytes.ok()) return bytes.status();
  Resp out;
  if (!out.ParseFromString(*bytes)) return absl::InternalError("corrupt cached result");
  return out;
}

// A ranking without the items the user dismissed or snoozed (kind: the
// list's route name; ItemId: the id an action names), computed far enough
// to fill the page after they are left out.
#define RAPPORT_RANKING_RPC(Method, Req, Resp, Fn, org_wide, kind, ItemId)                                     \
  grpc::ServerUnaryReactor* RecommendationsServiceImpl::Method(Ctx* ctx, const pb::Req* req, pb::Resp* resp) { \
    return rpc_.Handle(ctx, #Method, resp, [=, this](const TenantContext& t, Reply<pb::Resp> reply) {          \
      absl::StatusOr<Page> page = ParseRankingPage(req->page_size(), req->page_token());                       \
      if (!page.ok()) return reply(page.status());                                                             \
      absl::StatusOr<ActiveActions> actions = Actions(t, NowMicros());                                         \
      if (!actions.ok()) return reply(actions.status());                                                       \
      reply(Answer<pb::Resp>(                                                                                  \
          t, #Method, *req, org_wide,                                                                          \
          [&](Query q) -> absl::StatusOr<pb::Resp> {                                                           \
            q.limit = PageEnd(*page) + 1 + actions->CountFor(kind);                                            \
            auto items = Fn(q);                                                                                \
            std::erase_if(items, [&](const auto& item) { return actions->Hides(q.graph, kind, ItemId); });     \
            return Slice<pb::Resp>(std::move(items), *page);                                                   \
          },                                                                                                   \
          actions->Digest()));                                                                                 \
    });                                                                                                        \
  }

RAPPORT_RANKING_RPC(ListReachOuts, ListReachOutsRequest, ListReachOutsResponse, ReachOuts, false, kReachOutsKind,
                    item.contact().id())
RAPPORT_RANKING_RPC(ListGiveBacks, ListGiveBacksRequest, ListGiveBacksResponse, GiveBacks, false, kGiveBacksKind,
                    item.contact().id())
RAPPORT_RANKING_RPC(ListFollowUps, ListFollowUpsRequest, ListFollowUpsResponse, FollowUps, false, kFollowUpsKind,
                    item.contact().id())
RAPPORT_RANKING_RPC(ListIntroductionSuggestions, ListIntroductionSuggestionsRequest,
                    ListIntroductionSuggestionsResponse, IntroductionSuggestions, false, kIntroductionsKind,
                    item.contact_a().id())
RAPPORT_RANKING_RPC(ListGroupSuggestions, ListGroupSuggestionsRequest, ListGroupSuggestionsResponse, GroupSuggestions,
                    true, kGroupsKind, item.group_id())

#undef RAPPORT_RANKING_RPC

grpc::ServerUnaryReactor* RecommendationsServiceImpl::FindPaths(Ctx* ctx, const pb::FindPathsRequest* req,
                                                                pb::FindPathsResponse* resp) {
  return rpc_.Handle(ctx, "FindPaths", resp, [=, this](const TenantContext& t, Reply<pb::FindPathsResponse> reply) {
    absl::Status valid = ValidatePathsRequest(*req);
    if (!valid.ok()) return reply(valid);
    reply(Answer<pb::FindPathsResponse>(t, "FindPaths", *req, true,
                                        [&](const Query& q) { return recommendations::FindPaths(q, *req); }));
  });
}

grpc::ServerUnaryReactor* RecommendationsServiceImpl::GetNetworkHealth(Ctx* ctx, const pb::GetNetworkHealthRequest* req,
                                                                       pb::NetworkHealth* resp) {
  return rpc_.Handle(ctx, "GetNetworkHealth", resp, [=, this](const TenantContext& t, Reply<pb::NetworkHealth> reply) {
    reply(Answer<pb::NetworkHealth>(
        t, "GetNetworkHealth", *req, false,
        [&](const Query& q) -> absl::StatusOr<pb::NetworkHealth> { return recommendations::NetworkHealth(q); }));
  });
}

grpc::ServerUnaryReactor* RecommendationsServiceImpl::GetBackfillStatus(Ctx* ctx, const pb::GetBackfillStatusRequest*,
                                                                        pb::BackfillStatus* resp) {
  return rpc_.Handle(ctx, "GetBackfillStatus", resp, [this](const TenantContext&, Reply<pb::BackfillStatus> reply) {
    if (backfills_ == nullptr) return reply(pb::BackfillStatus());
    reply(backfills_->Status());
  });
}

}  // namespace rapport::recommendations
