// The import RPCs of ProfilesServiceImpl (POST /v1/imports, GET
// /v1/imports/{id}, GET /v1/imports), kept apart from profiles_service.cc:
// they decode, ask PrepareImport (import_jobs.h) and the import store, and
// wake the runner. No SQL and no rule of their own.
#include "absl/strings/str_cat.h"
#include "services/common/ids.h"
#include "services/common/pagination.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"
#include "services/profiles/import_jobs.h"
#include "services/profiles/profiles_service.h"

namespace rapport::profiles {

void ProfilesServiceImpl::ServeImports(ImportStore* store, ImportRunner* runner) {
  import_store_ = store;
  import_runner_ = runner;
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::CreateImport(Ctx* ctx, const pb::CreateImportRequest* req,
                                                            pb::Import* resp) {
  return rpc_.Handle(ctx, "CreateImport", resp, [=, this](const TenantContext& t, Reply<pb::Import> reply) {
    if (import_store_ == nullptr) return reply(absl::UnavailableError("imports are not served by this process"));
    absl::StatusOr<pb::Import> import = PrepareImport(*req, NewId(), NowMicros());
    if (!import.ok()) return reply(import.status());
    ImportRunner* runner = import_runner_;
    pb::Import created = *import;
    import_store_->Create(
        OwnerOf(t), created, req->file().data(),
        [reply, runner, created](absl::Status s) {
          if (!s.ok()) return reply(s);
          if (runner != nullptr) runner->Wake();
          reply(created);
        },
        t);
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::GetImport(Ctx* ctx, const pb::GetImportRequest* req, pb::Import* resp) {
  return rpc_.Handle(ctx, "GetImport", resp, [=, this](const TenantContext& t, Reply<pb::Import> reply) {
    if (import_store_ == nullptr) return reply(absl::UnavailableError("imports are not served by this process"));
    absl::Status id = RequireId("importId", req->import_id());
    if (!id.ok()) return reply(id);
    reply(import_store_->Get(OwnerOf(t), req->import_id(), /*skips=*/true));
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::ListImports(Ctx* ctx, const pb::ListImportsRequest* req,
                                                           pb::ListImportsResponse* resp) {
  return rpc_.Handle(ctx, "ListImports", resp, [=, this](const TenantContext& t, Reply<pb::ListImportsResponse> reply) {
    if (import_store_ == nullptr) return reply(absl::UnavailableError("imports are not served by this process"));
    absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
    if (!page.ok()) return reply(page.status());
    absl::StatusOr<std::vector<pb::Import>> imports = import_store_->List(OwnerOf(t), page->after, page->size + 1);
    if (!imports.ok()) return reply(imports.status());
    pb::ListImportsResponse out;
    out.set_next_page_token(TrimToPage(*imports, page->size, [](const pb::Import& i) { return i.id(); }));
    for (auto& i : *imports) *out.add_imports() = std::move(i);
    reply(std::move(out));
  });
}

}  // namespace rapport::profiles
