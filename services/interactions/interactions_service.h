// The gRPC adapter of the interactions service (callback API): each handler
// decodes the request, calls the rules in interactions_logic.h (validation,
// the introduction lifecycle, ContactChecker) and the store, and encodes the
// answer. Authorization from signed tenant metadata is RpcHandler's
// (services/common/rpc.h). No SQL and no business rule here. Handlers never
// wait on the disk or on profiles: they answer from the completion callbacks.
#ifndef RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_SERVICE_H_
#define RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_SERVICE_H_

#include "rapport/backfill/v1/backfill.grpc.pb.h"
#include "rapport/interactions/v1/interactions.grpc.pb.h"
#include "services/common/rpc.h"
#include "services/interactions/interactions_logic.h"
#include "services/interactions/interactions_store.h"
#include "services/interactions/path_asks.h"

namespace rapport::interactions {

class InteractionsServiceImpl final : public pb::InteractionsService::CallbackService {
 public:
  // store, checker and signer must outlive the service.
  InteractionsServiceImpl(InteractionsStore* store, ContactChecker* checker, const TenantSigner* signer);

  using Ctx = grpc::CallbackServerContext;
  using R = grpc::ServerUnaryReactor;

  R* CreateInteraction(Ctx* ctx, const pb::CreateInteractionRequest* req, pb::Interaction* resp) override;
  R* GetInteraction(Ctx* ctx, const pb::GetInteractionRequest* req, pb::Interaction* resp) override;
  R* UpdateInteraction(Ctx* ctx, const pb::UpdateInteractionRequest* req, pb::Interaction* resp) override;
  R* DeleteInteraction(Ctx* ctx, const pb::DeleteInteractionRequest* req, pb::DeleteInteractionResponse* resp) override;
  R* CancelInteraction(Ctx* ctx, const pb::CancelInteractionRequest* req, pb::Interaction* resp) override;
  R* ListInteractions(Ctx* ctx, const pb::ListInteractionsRequest* req, pb::ListInteractionsResponse* resp) override;
  R* GetLedger(Ctx* ctx, const pb::GetLedgerRequest* req, pb::LedgerEntry* resp) override;
  R* ListLedger(Ctx* ctx, const pb::ListLedgerRequest* req, pb::ListLedgerResponse* resp) override;
  R* CreateIntroduction(Ctx* ctx, const pb::CreateIntroductionRequest* req, pb::Introduction* resp) override;
  R* RespondIntroduction(Ctx* ctx, const pb::RespondIntroductionRequest* req, pb::Introduction* resp) override;
  R* MakeIntroduction(Ctx* ctx, const pb::MakeIntroductionRequest* req, pb::Introduction* resp) override;
  R* CompleteIntroduction(Ctx* ctx, const pb::CompleteIntroductionRequest* req, pb::Introduction* resp) override;
  R* ListIntroductions(Ctx* ctx, const pb::ListIntroductionsRequest* req, pb::ListIntroductionsResponse* resp) override;
  // Warm-path asks (path_asks.h).
  R* AskPath(Ctx* ctx, const pb::AskPathRequest* req, pb::Introduction* resp) override;
  R* AcceptIntroduction(Ctx* ctx, const pb::AnswerIntroductionRequest* req, pb::Introduction* resp) override;
  R* DeclineIntroduction(Ctx* ctx, const pb::AnswerIntroductionRequest* req, pb::Introduction* resp) override;

  // Where AskPath resolves its connector and target (must outlive the
  // service); without one, asks answer UNAVAILABLE.
  void set_path_asks(PathAskDirectory* directory);

 private:
  void AnswerAskFor(const TenantContext& t, const std::string& id, bool accept, Reply<pb::Introduction> reply);

  InteractionsStore* store_;
  ContactChecker* checker_;
  RpcHandler rpc_;
  PathAskDirectory* path_asks_ = nullptr;
};

// The internal export of every org's interactions, introductions and ledger
// rows for read models' backfill (rapport.backfill.v1.InteractionsBackfill).
// No HTTP rules: only platform-signed callers (other services) are authorized.
class InteractionsBackfillImpl final : public backfill::v1::InteractionsBackfill::CallbackService {
 public:
  // store and signer must outlive the service.
  InteractionsBackfillImpl(InteractionsStore* store, const TenantSigner* signer);

  using Ctx = grpc::CallbackServerContext;
  using R = grpc::ServerUnaryReactor;
  using Req = backfill::v1::ExportRequest;
  using Resp = backfill::v1::ExportResponse;

  R* ExportInteractions(Ctx* ctx, const Req* req, Resp* resp) override;
  R* ExportIntroductions(Ctx* ctx, const Req* req, Resp* resp) override;
  R* ExportLedger(Ctx* ctx, const Req* req, Resp* resp) override;

 private:
  InteractionsStore* store_;
  RpcHandler rpc_;
};

}  // namespace rapport::interactions

#endif  // RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_SERVICE_H_
