#include "services/recommendations/backfill.h"

#include <functional>

#include <grpcpp/client_context.h>

#include "absl/strings/match.h"
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

namespace {

// A field of an XINFO reply entry: RESP2 [name, value, name, value, ...].
const redis::Reply* InfoField(const redis::Reply& entry, const std::string& name) {
  if (entry.type != redis::Reply::Type::kArray) return nullptr;
  for (size_t i = 0; i + 1 < entry.elements.size(); i += 2) {
    if (entry.elements[i].str == name) return &entry.elements[i + 1];
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<int> SweepGroups(redis::Client* redis, const std::string& stream, const std::string& prefix,
                                const std::string& own, std::chrono::milliseconds abandoned_after) {
  absl::StatusOr<redis::Reply> groups = redis->Command({"XINFO", "GROUPS", stream});
  if (!groups.ok()) {
    // No stream yet: no group either.
    if (absl::StrContains(groups.status().message(), "no such key")) return 0;
    return groups.status();
  }
  if (groups->type != redis::Reply::Type::kArray) return absl::InternalError("XINFO GROUPS reply is not an array");
  int destroyed = 0;
  for (const redis::Reply& group : groups->elements) {
    const redis::Reply* name = InfoField(group, "name");
    if (name == nullptr || !absl::StartsWith(name->str, prefix)) continue;
    bool abandoned = name->str == own;
    if (!abandoned) {
      ASSIGN_OR_RETURN(redis::Reply consumers, redis->Command({"XINFO", "CONSUMERS", stream, name->str}));
      if (consumers.type != redis::Reply::Type::kArray) {
        return absl::InternalError("XINFO CONSUMERS reply is not an array");
      }
      abandoned = !consumers.elements.empty();
      for (const redis::Reply& consumer : consumers.elements) {
        const redis::Reply* idle = InfoField(consumer, "idle");
        if (idle == nullptr || idle->integer <= abandoned_after.count()) abandoned = false;
      }
    }
    if (!abandoned) continue;
    ASSIGN_OR_RETURN(redis::Reply gone, redis->Command({"XGROUP", "DESTROY", stream, name->str}));
    if (gone.integer > 0) ++destroyed;
  }
  return destroyed;
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
