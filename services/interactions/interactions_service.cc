#include "services/interactions/interactions_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "services/common/export_page.h"
#include "services/common/field_mask.h"
#include "services/common/ids.h"
#include "services/common/pagination.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"
#include "services/interactions/interactions_logic.h"

namespace rapport::interactions {
namespace {

// Keyset tokens for orders other than by id: "<value>|<id>".
std::string CursorKey(double value, const std::string& id) { return absl::StrFormat("%.17g|%s", value, id); }

absl::StatusOr<std::optional<Cursor>> DecodeCursor(const std::string& token) {
  ASSIGN_OR_RETURN(std::string key, DecodePageToken(token));
  if (key.empty()) return std::nullopt;
  size_t bar = key.find('|');
  Cursor c;
  if (bar == std::string::npos || !absl::SimpleAtod(key.substr(0, bar), &c.value)) {
    return absl::InvalidArgumentError("pageToken: is not a token from a previous page");
  }
  c.id = key.substr(bar + 1);
  return c;
}

const std::set<std::string>& InteractionReadOnly() {
  static const std::set<std::string> kFields = {"id", "introduction_id", "create_time", "update_time", "state"};
  return kFields;
}

}  // namespace

InteractionsServiceImpl::InteractionsServiceImpl(InteractionsStore* store, ContactChecker* checker,
                                                 const TenantSigner* signer)
    : store_(store),
      checker_(checker),
      rpc_(signer, google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
                       pb::InteractionsService::service_full_name())) {}

grpc::ServerUnaryReactor* InteractionsServiceImpl::CreateInteraction(Ctx* ctx, const pb::CreateInteractionRequest* req,
                                                                     pb::Interaction* resp) {
  return rpc_.Handle(ctx, "CreateInteraction", resp, [=, this](const TenantContext& t, Reply<pb::Interaction> reply) {
    pb::Interaction interaction = req->interaction();
    Violations v;
    if (!interaction.id().empty()) v.Add("interaction.id", "is assigned by the server");
    if (!interaction.introduction_id().empty()) v.Add("interaction.introductionId", "is set by introductions");
    if (!v.empty()) return reply(v.ToStatus());
    int64_t now = NowMicros();
    if (!interaction.has_occurred_at()) *interaction.mutable_occurred_at() = ToTimestamp(now);
    absl::Status valid = ValidateInteraction(interaction, now);
    if (!valid.ok()) return reply(valid);
    interaction.set_id(NewId());
    // Output only: a future interaction is planned, counting toward nothing yet.
    interaction.clear_state();
    absl::Status state = SetStateFromTime(interaction, now);
    if (!state.ok()) return reply(state);
    *interaction.mutable_create_time() = ToTimestamp(now);
    *interaction.mutable_update_time() = ToTimestamp(now);
    std::vector<std::string> ids(interaction.contact_ids().begin(), interaction.contact_ids().end());
    Owner owner = OwnerOf(t);
    IdempotencyScope idem = IdempotencyOf(t, "CreateInteraction");
    pb::CreateInteractionRequest request = *req;
    checker_->Check(t, ids, ContactFields(interaction),
                    [this, owner, interaction, idem, request, reply](absl::StatusOr<Cadences> cadences) {
                      if (!cadences.ok()) return reply(cadences.status());
                      store_->CreateInteraction(owner, interaction, *cadences, idem, request, reply);
                    });
  });
}

grpc::ServerUnaryReactor* InteractionsServiceImpl::GetInteraction(Ctx* ctx, const pb::GetInteractionRequest* req,
                                                                  pb::Interaction* resp) {
  return rpc_.Handle(ctx, "GetInteraction", resp, [=, this](const TenantContext& t, Reply<pb::Interaction> reply) {
    absl::Status id = RequireId("interactionId", req->interaction_id());
    if (!id.ok()) return reply(id);
    reply(store_->GetInteraction(OwnerOf(t), req->interaction_id()));
  });
}

grpc::ServerUnaryReactor* InteractionsServiceImpl::UpdateInteraction(Ctx* ctx, const pb::UpdateInteractionRequest* req,
                                                                     pb::Interaction* resp) {
  return rpc_.Handle(ctx, "UpdateInteraction", resp, [=, this](const TenantContext& t, Reply<pb::Interaction> reply) {
    absl::Status id = RequireId("interactionId", req->interaction_id());
    if (!id.ok()) return reply(id);
    pb::UpdateInteractionRequest request = *req;
    Owner owner = OwnerOf(t);
    int64_t now = NowMicros();
    // Contacts named by the patch must be the user's before the write.
    checker_->Check(t, ContactsNamedByPatch(request), ContactFields(request.interaction()),
                    [this, owner, request, now, reply](absl::StatusOr<Cadences> cadences) {
                      if (!cadences.ok()) return reply(cadences.status());
                      store_->UpdateInteraction(
                          owner, request.interaction_id(),
                          [request, now](pb::Interaction& i) -> absl::Status {
                            RETURN_IF_ERROR(ApplyFieldMask(request.interaction(), request.update_mask(),
                                                           InteractionReadOnly(), "interaction", &i));
                            RETURN_IF_ERROR(ValidateInteraction(i, now));
                            // Moved to the future it is planned again, out of it it happens.
                            RETURN_IF_ERROR(SetStateFromTime(i, now));
                            *i.mutable_update_time() = ToTimestamp(now);
                            return absl::OkStatus();
                          },
                          *cadences, reply);
                    });
  });
}

grpc::ServerUnaryReactor* InteractionsServiceImpl::DeleteInteraction(Ctx* ctx, const pb::DeleteInteractionRequest* req,
                                                                     pb::DeleteInteractionResponse* resp) {
  return rpc_.Handle(ctx, "DeleteInteraction", resp,
                     [=, this](const TenantContext& t, Reply<pb::DeleteInteractionResponse> reply) {
                       absl::Status id = RequireId("interactionId", req->interaction_id());
                       if (!id.ok()) return reply(id);
                       store_->DeleteInteraction(OwnerOf(t), req->interaction_id(), Acknowledge(reply));
                     });
}

grpc::ServerUnaryReactor* InteractionsServiceImpl::CancelInteraction(Ctx* ctx, const pb::CancelInteractionRequest* req,
                                                                     pb::Interaction* resp) {
  return rpc_.Handle(ctx, "CancelInteraction", resp, [=, this](const TenantContext& t, Reply<pb::Interaction> reply) {
    absl::Status id = RequireId("interactionId", req->interaction_id());
    if (!id.ok()) return reply(id);
    store_->CancelInteraction(OwnerOf(t), req->interaction_id(), NowMicros(), reply);
  });
}

grpc::ServerUnaryReactor* InteractionsServiceImpl::ListInteractions(Ctx* ctx, const pb::ListInteractionsRequest* req,
                                                                    pb::ListInteractionsResponse* resp) {
  return rpc_.Handle(
      ctx, "ListInteractions", resp, [=, this](const TenantContext& t, Reply<pb::ListInteractionsResponse> reply) {
        absl::StatusOr<int> size = PageSize(req->page_size());
        if (!size.ok()) return reply(size.status());
        absl::StatusOr<std::optional<Cursor>> after = DecodeCursor(req->page_token());
        if (!after.ok()) return reply(after.status());
        Violations v;
        v.Id("contactId", req->contact_id(), false);
        if (!pb::InteractionKind_IsValid(req->kind())) v.Add("kind", "is not an interaction kind");
        if (req->has_after() && !IsValidTimestamp(req->after())) v.Add("after", "is not a valid time");
        if (req->has_before() && !IsValidTimestamp(req->before())) v.Add("before", "is not a valid time");
        if (!v.empty()) return reply(v.ToStatus());
        InteractionFilter filter;
        filter.contact_id = req->contact_id();
        filter.kind = req->kind();
        if (req->has_after()) filter.after_us = TimestampToMicros(req->after());
        if (req->has_before()) filter.before_us = TimestampToMicros(req->before());
        auto items = store_->ListInteractions(OwnerOf(t), filter, *after, *size + 1);
        if (!items.ok()) return reply(items.status());
        pb::ListInteractionsResponse out;
        if (static_cast<int>(items->size()) > *size) {
          items->resize(*size);
          const pb::Interaction& last = items->back();
          out.set_next_page_token(
              EncodePageToken(CursorKey(static_cast<double>(TimestampToMicros(last.occurred_at())), last.id())));
        }
        for (auto& i : *items) *out.add_interactions() = std::move(i);
        reply(std::move(out));
      });
}

grpc::ServerUnaryReactor* InteractionsServiceImpl::GetLedger(Ctx* ctx, const pb::GetLedgerRequest* req,
                                                             pb::LedgerEntry* resp) {
  return rpc_.Handle(ctx, "GetLedger", resp, [=, this](const TenantContext& t, Reply<pb::LedgerEntry> reply) {
    absl::Status id = RequireId("contactId", req->contact_id());
    if (!id.ok()) return reply(id);
    absl::StatusOr<LedgerRow> row = store_->GetLedgerRow(OwnerOf(t), req->contact_id());
    if (row.ok()) {
      // With the interactions behind it, largest decayed weights first.
      absl::StatusOr<std::vector<pb::Interaction>> counted = store_->CountedInteractions(OwnerOf(t), req->contact_id());
      if (!counted.ok()) return reply(counted.status());
      const absl::Time now = absl::Now();
      pb::LedgerEntry entry = ToEntry(*row, now);
      *entry.mutable_explanation() = Explain(*row, *counted, now);
      return reply(std::move(entry));
    }
    if (!absl::IsNotFound(row.status())) return reply(row.status());
    // No interaction yet: an empty entry, if the contact is the user's.
    std::string contact_id = req->contact_id();
    checker_->Check(t, {contact_id}, {"contactId"}, [reply, contact_id](absl::StatusOr<Cadences> cadences) {
      if (!cadences.ok()) {
        if (absl::IsInvalidArgument(cadences.status())) return reply(absl::NotFoundError("contact not found"));
        return reply(cadences.status());
      }
      LedgerRow empty;
      empty.contact_id = contact_id;
      empty.cadence_days = cadences->at(contact_id);
      pb::LedgerEntry entry = ToEntry(empty, absl::Now());
      entry.mutable_explanation();  // present, and empty
      reply(std::move(entry));
    });
  });
}

grpc::ServerUnaryReactor* InteractionsServiceImpl::ListLedger(Ctx* ctx, const pb::ListLedgerRequest* req,
                                                              pb::ListLedgerResponse* resp) {
  return rpc_.Handle(ctx, "ListLedger", resp, [=, this](const TenantContext& t, Reply<pb::ListLedgerResponse> reply) {
    absl::StatusOr<int> size = PageSize(req->page_size());
    if (!size.ok()) return reply(size.status());
    absl::StatusOr<std::optional<Cursor>> after = DecodeCursor(req->page_token());
    if (!after.ok()) return reply(after.status());
    LedgerOrder order;
    const std::string& by = req->order_by();
    if (by.empty() || by == "balance") {
      order = LedgerOrder::kBalance;
    } else if (by == "strength") {
      order = LedgerOrder::kStrength;
    } else if (by == "nextDue" || by == "next_due") {
      order = LedgerOrder::kNextDue;
    } else if (by == "lastInteraction" || by == "last_interaction") {
      order = LedgerOrder::kLastInteraction;
    } else {
      return reply(absl::InvalidArgumentError("orderBy: must be balance, strength, nextDue or lastInteraction"));
    }
    auto rows = store_->ListLedger(OwnerOf(t), order, *after, *size + 1);
    if (!rows.ok()) return reply(rows.status());
    pb::ListLedgerResponse out;
    if (static_cast<int>(rows->size()) > *size) {
      rows->resize(*size);
      const LedgerRow& last = rows->back();
      double value = 0;
      switch (order) {
        case LedgerOrder::kBalance:
          value = static_cast<double>(last.balance_milli());
          break;
        case LedgerOrder::kStrength:
          value = last.anchored;
          break;
        case LedgerOrder::kNextDue:
          value = static_cast<double>(last.next_due_us());
          break;
        case LedgerOrder::kLastInteraction:
          value = static_cast<double>(last.last_us);
          break;
      }
      out.set_next_page_token(EncodePageToken(CursorKey(value, last.contact_id)));
    }
    absl::Time now = absl::Now();
    for (const LedgerRow& row : *rows) *out.add_entries() = ToEntry(row, now);
    reply(std::move(out));
  });
}

grpc::ServerUnaryReactor* InteractionsServiceImpl::CreateIntroduction(Ctx* ctx,
                                                                      const pb::CreateIntroductionRequest* req,
                                                                      pb::Introduction* resp) {
  return rpc_.Handle(ctx, "CreateIntroduction", resp, [=, this](const TenantContext& t, Reply<pb::Introduction> reply) {
    absl::Status valid = ValidateNewIntroduction(*req);
    if (!valid.ok()) return reply(valid);
    int64_t now = NowMicros();
    pb::Introduction intro;
    intro.set_id(NewId());
    intro.set_mode(req->mode());
    intro.set_contact_a_id(req->contact_a_id());
    intro.set_contact_b_id(req->contact_b_id());
    intro.set_reason(req->reason());
    intro.set_state(pb::REQUESTED);
    *intro.mutable_create_time() = ToTimestamp(now);
    *intro.mutable_update_time() = ToTimestamp(now);
    Owner owner = OwnerOf(t);
    IdempotencyScope idem = IdempotencyOf(t, "CreateIntroduction");
    pb::CreateIntroductionRequest request = *req;
    checker_->Check(t, {req->contact_a_id(), req->contact_b_id()}, {"contactAId", "contactBId"},
                    [this, owner, intro, idem, request, reply](absl::StatusOr<Cadences> cadences) {
                      if (!cadences.ok()) return reply(cadences.status());
                      store_->CreateIntroduction(owner, intro, idem, request, reply);
                    });
  });
}

grpc::ServerUnaryReactor* InteractionsServiceImpl::RespondIntroduction(Ctx* ctx,
                                                                       const pb::RespondIntroductionRequest* req,
                                                                       pb::Introduction* resp) {
  return rpc_.Handle(ctx, "RespondIntroduction", resp,
                     [=, this](const TenantContext& t, Reply<pb::Introduction> reply) {
                       absl::Status id = RequireId("id", req->id());
                       if (!id.ok()) return reply(id);
                       pb::Party party = req->party();
                       bool accept = req->accept();
                       int64_t now = NowMicros();
                       store_->TransitionIntroduction(
                           OwnerOf(t), req->id(),
                           [party, accept, now](pb::Introduction& i) {
                             RETURN_IF_ERROR(AskerMayAnswer(i));  // a teammate's ask is theirs to answer
                             return Respond(i, party, accept, now);
                           },
                           std::nullopt, Cadences(), reply);
                     });
}

grpc::ServerUnaryReactor* InteractionsServiceImpl::MakeIntroduction(Ctx* ctx, const pb::MakeIntroductionRequest* req,
                                                                    pb::Introduction* resp) {
  return rpc_.Handle(ctx, "MakeIntroduction", resp, [=, this](const TenantContext& t, Reply<pb::Introduction> reply) {
    absl::Status id = RequireId("id", req->id());
    if (!id.ok()) return reply(id);
    Owner owner = OwnerOf(t);
    absl::StatusOr<pb::Introduction> current = store_->GetIntroduction(owner, req->id());
    if (!current.ok()) return reply(current.status());
    absl::Status mine = AskerMayAnswer(*current);
    if (!mine.ok()) return reply(mine);
    int64_t now = NowMicros();
    pb::Interaction made = MadeInteraction(*current, NewId(), now);
    std::vector<std::string> ids(made.contact_ids().begin(), made.contact_ids().end());
    // The cadences of the contacts whose ledger rows the introduction credits.
    checker_->Check(t, ids, {"contactAId", "contactBId"},
                    [this, owner, made, now, reply, intro_id = req->id()](absl::StatusOr<Cadences> cadences) {
                      if (!cadences.ok()) return reply(cadences.status());
                      store_->TransitionIntroduction(
                          owner, intro_id, [now](pb::Introduction& i) { return MarkMade(i, now); }, made, *cadences,
                          reply);
                    });
  });
}

grpc::ServerUnaryReactor* InteractionsServiceImpl::CompleteIntroduction(Ctx* ctx,
                                                                        const pb::CompleteIntroductionRequest* req,
                                                                        pb::Introduction* resp) {
  return rpc_.Handle(ctx, "CompleteIntroduction", resp,
                     [=, this](const TenantContext& t, Reply<pb::Introduction> reply) {
                       absl::Status id = RequireId("id", req->id());
                       if (!id.ok()) return reply(id);
                       std::string outcome = req->outcome(), note = req->note();
                       int64_t now = NowMicros();
                       store_->TransitionIntroduction(
                           OwnerOf(t), req->id(),
                           [outcome, note, now](pb::Introduction& i) { return Complete(i, outcome, note, now); },
                           std::nullopt, Cadences(), reply);
                     });
}

grpc::ServerUnaryReactor* InteractionsServiceImpl::ListIntroductions(Ctx* ctx, const pb::ListIntroductionsRequest* req,
                                                                     pb::ListIntroductionsResponse* resp) {
  return rpc_.Handle(
      ctx, "ListIntroductions", resp, [=, this](const TenantContext& t, Reply<pb::ListIntroductionsResponse> reply) {
        absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
        if (!page.ok()) return reply(page.status());
        if (!pb::IntroductionState_IsValid(req->state())) {
          return reply(absl::InvalidArgumentError("state: is not an introduction state"));
        }
        auto items = store_->ListIntroductions(OwnerOf(t), req->state(), page->after, page->size + 1);
        if (!items.ok()) return reply(items.status());
        pb::ListIntroductionsResponse out;
        out.set_next_page_token(TrimToPage(*items, page->size, [](const pb::Introduction& i) { return i.id(); }));
        for (auto& i : *items) *out.add_introductions() = std::move(i);
        reply(std::move(out));
      });
}

// --- internal export for backfills ---

// --- warm-path asks (path_asks.h) ---

void InteractionsServiceImpl::set_path_asks(PathAskDirectory* directory) { path_asks_ = directory; }

grpc::ServerUnaryReactor* InteractionsServiceImpl::AskPath(Ctx* ctx, const pb::AskPathRequest* req,
                                                           pb::Introduction* resp) {
  return rpc_.Handle(ctx, "AskPath", resp, [=, this](const TenantContext& t, Reply<pb::Introduction> reply) {
    absl::Status valid = ValidateAskPath(*req);
    if (!valid.ok()) return reply(valid);
    if (path_asks_ == nullptr) return reply(absl::UnavailableError("asks need profiles; try again"));
    Owner owner = OwnerOf(t);
    IdempotencyScope idem = IdempotencyOf(t, "AskPath");
    pb::AskPathRequest request = *req;
    path_asks_->Resolve(t, request, [this, owner, idem, request, reply](absl::StatusOr<ResolvedAsk> resolved) {
      if (!resolved.ok()) return reply(resolved.status());
      store_->CreateIntroduction(owner, NewAskIntroduction(request, *resolved, owner.user, NewId(), NowMicros()), idem,
                                 request, reply);
    });
  });
}

void InteractionsServiceImpl::AnswerAskFor(const TenantContext& t, const std::string& id, bool accept,
                                           Reply<pb::Introduction> reply) {
  absl::Status valid = RequireId("id", id);
  if (!valid.ok()) return reply(valid);
  // The row is the asker's; the teammate finds it by id within the org, and
  // AnswerAsk (in the write) refuses anyone but the teammate asked.
  absl::StatusOr<Owner> asker = store_->IntroductionOwner(t.org_id, id);
  if (!asker.ok()) return reply(asker.status());
  std::string caller = t.user_id;
  int64_t now = NowMicros();
  store_->TransitionIntroduction(
      *asker, id, [caller, accept, now](pb::Introduction& i) { return AnswerAsk(i, caller, accept, now); },
      std::nullopt, Cadences(), reply);
}

grpc::ServerUnaryReactor* InteractionsServiceImpl::AcceptIntroduction(Ctx* ctx,
                                                                      const pb::AnswerIntroductionRequest* req,
                                                                      pb::Introduction* resp) {
  return rpc_.Handle(ctx, "AcceptIntroduction", resp, [=, this](const TenantContext& t, Reply<pb::Introduction> reply) {
    AnswerAskFor(t, req->id(), true, reply);
  });
}

grpc::ServerUnaryReactor* InteractionsServiceImpl::DeclineIntroduction(Ctx* ctx,
                                                                       const pb::AnswerIntroductionRequest* req,
                                                                       pb::Introduction* resp) {
  return rpc_.Handle(
      ctx, "DeclineIntroduction", resp,
      [=, this](const TenantContext& t, Reply<pb::Introduction> reply) { AnswerAskFor(t, req->id(), false, reply); });
}

InteractionsBackfillImpl::InteractionsBackfillImpl(InteractionsStore* store, const TenantSigner* signer)
    : store_(store),
      rpc_(signer, google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
                       backfill::v1::InteractionsBackfill::service_full_name())) {}

grpc::ServerUnaryReactor* InteractionsBackfillImpl::ExportInteractions(Ctx* ctx, const Req* req, Resp* resp) {
  return rpc_.Handle(ctx, "ExportInteractions", resp, [=, this](const TenantContext&, Reply<Resp> reply) {
    reply(
        ExportPage(*req, 3, [this](const auto& after, int limit) { return store_->ExportInteractions(after, limit); }));
  });
}

grpc::ServerUnaryReactor* InteractionsBackfillImpl::ExportIntroductions(Ctx* ctx, const Req* req, Resp* resp) {
  return rpc_.Handle(ctx, "ExportIntroductions", resp, [=, this](const TenantContext&, Reply<Resp> reply) {
    reply(ExportPage(*req, 3,
                     [this](const auto& after, int limit) { return store_->ExportIntroductions(after, limit); }));
  });
}

grpc::ServerUnaryReactor* InteractionsBackfillImpl::ExportLedger(Ctx* ctx, const Req* req, Resp* resp) {
  return rpc_.Handle(ctx, "ExportLedger", resp, [=, this](const TenantContext&, Reply<Resp> reply) {
    reply(ExportPage(*req, 3, [this](const auto& after, int limit) { return store_->ExportLedger(after, limit); }));
  });
}

}  // namespace rapport::interactions
