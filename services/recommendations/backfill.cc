#include "services/recommendations/backfill.h"

#include <functional>

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "rapport/backfill/v1/backfill.grpc.pb.h"
#include "services/common/ids.h"
#include "services/common/status.h"

namespace rapport::recommendations {
namespace {

namespace bpb = ::rapport::backfill::v1;

using PageFn = std::function<grpc::Status(grpc::ClientContext*, const bpb::ExportRequest&, bpb::ExportResponse*)>;

absl::Status Drain(const BackfillSources& sources, const std::string& what, const PageFn& fetch, ReadModel* model,
                   BackfillStats* stats) {
  bpb::ExportRequest request;
  request.set_page_size(sources.page_size);
  while (true) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + sources.deadline);
    TenantContext platform;
    platform.Add(api::v1::PLATFORM);
    platform.request_id = NewId();
    sources.signer->Sign(platform, &ctx);
    bpb::ExportResponse page;
    grpc::Status status = fetch(&ctx, request, &page);
    if (!status.ok()) {
      absl::Status s = FromGrpcStatus(status);
      return absl::Status(s.code(), absl::StrCat("backfill of ", what, ": ", s.message()));
    }
    for (const events::v1::Event& e : page.events()) {
      RETURN_IF_ERROR(model->Apply(e));
      ++stats->events;
    }
    ++stats->pages;
    if (page.next_page_token().empty()) return absl::OkStatus();
    request.set_page_token(page.next_page_token());
  }
}

}  // namespace

absl::StatusOr<std::string> StreamPosition(redis::Client* redis, const std::string& stream) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis->Command({"XREVRANGE", stream, "+", "-", "COUNT", "1"}));
  if (reply.type != redis::Reply::Type::kArray || reply.elements.empty()) return std::string("0");
  const redis::Reply& entry = reply.elements[0];
  if (entry.type != redis::Reply::Type::kArray || entry.elements.empty()) return std::string("0");
  return entry.elements[0].str;
}

absl::StatusOr<BackfillStats> Backfill(const BackfillSources& sources, ReadModel* model) {
  auto profiles = bpb::ProfilesBackfill::NewStub(sources.profiles);
  auto interactions = bpb::InteractionsBackfill::NewStub(sources.interactions);
  BackfillStats stats;
  // Users and contacts first, so that later rows find their owners filled in
  // (placeholders would also do; this just keeps the model tidy).
  RETURN_IF_ERROR(Drain(sources, "users",
                        [&](auto* c, const auto& r, auto* p) { return profiles->ExportUsers(c, r, p); }, model, &stats));
  RETURN_IF_ERROR(Drain(sources, "contacts",
                        [&](auto* c, const auto& r, auto* p) { return profiles->ExportContacts(c, r, p); }, model,
                        &stats));
  RETURN_IF_ERROR(Drain(sources, "memberships",
                        [&](auto* c, const auto& r, auto* p) { return profiles->ExportMemberships(c, r, p); }, model,
                        &stats));
  RETURN_IF_ERROR(Drain(sources, "interactions",
                        [&](auto* c, const auto& r, auto* p) { return interactions->ExportInteractions(c, r, p); },
                        model, &stats));
  RETURN_IF_ERROR(Drain(sources, "introductions",
                        [&](auto* c, const auto& r, auto* p) { return interactions->ExportIntroductions(c, r, p); },
                        model, &stats));
  RETURN_IF_ERROR(Drain(sources, "ledger",
                        [&](auto* c, const auto& r, auto* p) { return interactions->ExportLedger(c, r, p); }, model,
                        &stats));
  return stats;
}

}  // namespace rapport::recommendations
