#include "services/recommendations/backfill.h"

#include <grpcpp/client_context.h>

#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "rapport/backfill/v1/backfill.grpc.pb.h"
#include "services/common/ids.h"
#include "services/common/log.h"
#include "services/common/pagination.h"
#include "services/common/status.h"

namespace rapport::recommendations {
namespace {

namespace bpb = ::rapport::backfill::v1;

using PageFn = std::function<grpc::Status(grpc::ClientContext*, const bpb::ExportRequest&, bpb::ExportResponse*)>;

// Waits up to timeout (sleeps it when nothing can ask to stop); true when
// the process is stopping.
bool StopRequested(const BackfillSources& sources, std::chrono::milliseconds timeout) {
  if (!sources.stop) {
    std::this_thread::sleep_for(timeout);
    return false;
  }
  return sources.stop(timeout);
}

absl::Status Stopped() { return absl::CancelledError("start-up stopped: the process is terminating"); }

// Calls fn until it succeeds, waiting sources.retry_every after each failure
// (logged); Stopped() when the process is stopping first.
template <typename Fn>
auto RetryUntilOk(const BackfillSources& sources, const char* what, Fn fn) -> decltype(fn()) {
  while (true) {
    auto result = fn();
    if (result.ok()) return result;
    if (StopRequested(sources, std::chrono::milliseconds(0))) return Stopped();
    log::Warn(absl::StrCat(what, " failed; retrying"), {{"error", result.status().ToString()}});
    if (StopRequested(sources, sources.retry_every)) return Stopped();
  }
}

// Pages through one export; method is its full path, which each page's
// platform signature names (services/common/tenant.h).
absl::Status Drain(const BackfillSources& sources, const std::string& org, const std::string& what,
                   const std::string& method, const PageFn& fetch, ReadModel* model, BackfillStats* stats) {
  bpb::ExportRequest request;
  request.set_page_size(sources.page_size);
  request.set_org_id(org);
  while (true) {
    if (StopRequested(sources, std::chrono::milliseconds(0))) return Stopped();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + sources.deadline);
    TenantContext platform;
    platform.Add(api::v1::PLATFORM);
    platform.request_id = NewId();
    sources.signer->Sign(platform, method, &ctx);
    bpb::ExportResponse page;
    grpc::Status status = fetch(&ctx, request, &page);
    if (!status.ok()) {
      absl::Status s = FromGrpcStatus(status);
      return absl::Status(s.code(),
                          absl::StrCat("backfill of ", what, org.empty() ? "" : " of org " + org, ": ", s.message()));
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

absl::StatusOr<BackfillStats> Backfill(const BackfillSources& sources, ReadModel* model, const std::string& org) {
  auto profiles = bpb::ProfilesBackfill::NewStub(sources.profiles);
  auto interactions = bpb::InteractionsBackfill::NewStub(sources.interactions);
  BackfillStats stats;
  // Users and contacts first, so that later rows find their owners filled in
  // (placeholders would also do; this just keeps the model tidy).
  const std::string from_profiles = bpb::ProfilesBackfill::service_full_name();
  const std::string from_interactions = bpb::InteractionsBackfill::service_full_name();
  RETURN_IF_ERROR(Drain(
      sources, org, "users", FullMethod(from_profiles, "ExportUsers"),
      [&](auto* c, const auto& r, auto* p) { return profiles->ExportUsers(c, r, p); }, model, &stats));
  RETURN_IF_ERROR(Drain(
      sources, org, "contacts", FullMethod(from_profiles, "ExportContacts"),
      [&](auto* c, const auto& r, auto* p) { return profiles->ExportContacts(c, r, p); }, model, &stats));
  RETURN_IF_ERROR(Drain(
      sources, org, "memberships", FullMethod(from_profiles, "ExportMemberships"),
      [&](auto* c, const auto& r, auto* p) { return profiles->ExportMemberships(c, r, p); }, model, &stats));
  RETURN_IF_ERROR(Drain(
      sources, org, "interactions", FullMethod(from_interactions, "ExportInteractions"),
      [&](auto* c, const auto& r, auto* p) { return interactions->ExportInteractions(c, r, p); }, model, &stats));
  RETURN_IF_ERROR(Drain(
      sources, org, "introductions", FullMethod(from_interactions, "ExportIntroductions"),
      [&](auto* c, const auto& r, auto* p) { return interactions->ExportIntroductions(c, r, p); }, model, &stats));
  RETURN_IF_ERROR(Drain(
      sources, org, "ledger", FullMethod(from_interactions, "ExportLedger"),
      [&](auto* c, const auto& r, auto* p) { return interactions->ExportLedger(c, r, p); }, model, &stats));
  return stats;
}

absl::StatusOr<std::vector<std::string>> ListOrgs(const BackfillSources& sources) {
  auto profiles = bpb::ProfilesBackfill::NewStub(sources.profiles);
  const std::string method = FullMethod(bpb::ProfilesBackfill::service_full_name(), "ListOrgs");
  std::vector<std::string> orgs;
  bpb::ListOrgsRequest request;
  request.set_page_size(kMaxPageSize);
  while (true) {
    if (StopRequested(sources, std::chrono::milliseconds(0))) return Stopped();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + sources.deadline);
    TenantContext platform;
    platform.Add(api::v1::PLATFORM);
    platform.request_id = NewId();
    sources.signer->Sign(platform, method, &ctx);
    bpb::ListOrgsResponse page;
    grpc::Status status = profiles->ListOrgs(&ctx, request, &page);
    if (!status.ok()) {
      absl::Status s = FromGrpcStatus(status);
      return absl::Status(s.code(), absl::StrCat("listing the orgs: ", s.message()));
    }
    for (const std::string& id : page.org_ids()) orgs.push_back(id);
    if (page.next_page_token().empty()) return orgs;
    request.set_page_token(page.next_page_token());
  }
}

absl::StatusOr<std::string> NoteAndBackfill(redis::Client* redis, const std::string& stream,
                                            const BackfillSources& sources, ReadModel* model, OrgBackfills* orgs) {
  // 1. Where the stream is now; 2. backfill (3., consuming from there, is
  // the EventFeed's).
  ASSIGN_OR_RETURN(const std::string position, RetryUntilOk(sources, "noting the event stream position",
                                                            [&] { return StreamPosition(redis, stream); }));
  const auto started = std::chrono::steady_clock::now();
  BackfillStats stats;
  int failed = 0;
  if (orgs == nullptr) {
    ASSIGN_OR_RETURN(stats, RetryUntilOk(sources, "backfill", [&] { return Backfill(sources, model); }));
  } else {
    ASSIGN_OR_RETURN(const std::vector<std::string> ids,
                     RetryUntilOk(sources, "listing the orgs", [&] { return ListOrgs(sources); }));
    for (const std::string& org : ids) {
      // A source that cannot be reached fails every org alike: wait for it
      // as for Redis. Any other failure is this org's (a row that cannot be
      // read, a page that times out): it waits for a retry, the rest go on.
      absl::StatusOr<BackfillStats> one = Backfill(sources, model, org);
      while (one.status().code() == absl::StatusCode::kUnavailable) {
        log::Warn("backfill failed; retrying", {{"org_id", org}, {"error", one.status().ToString()}});
        if (StopRequested(sources, sources.retry_every)) return Stopped();
        one = Backfill(sources, model, org);
      }
      if (one.status().code() == absl::StatusCode::kCancelled) return Stopped();
      if (!one.ok()) {
        orgs->Failed(org, one.status());
        ++failed;
        continue;
      }
      stats.events += one->events;
      stats.pages += one->pages;
    }
  }
  model->RebuildAll();
  log::Info(
      "backfill done",
      {{"events", std::to_string(stats.events)},
       {"pages", std::to_string(stats.pages)},
       {"orgs_failed", std::to_string(failed)},
       {"ms",
        std::to_string(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count())},
       {"stream_position", position}});
  return position;
}

}  // namespace rapport::recommendations
