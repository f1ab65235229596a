// ProfilesServiceImpl's handlers of orgs' JWT signing keys
// (jwt_keys_logic.h): RotateJwtKey and ListJwtKeys for the org admin,
// ResolveJwtKey for the gateway (internal: platform-signed callers only).
#include <vector>

#include "services/common/ids.h"
#include "services/common/pagination.h"
#include "services/common/time_util.h"
#include "services/profiles/profiles_service.h"

namespace rapport::profiles {

grpc::ServerUnaryReactor* ProfilesServiceImpl::RotateJwtKey(Ctx* ctx, const pb::RotateJwtKeyRequest*,
                                                            pb::JwtKeySecret* resp) {
  return rpc_.Handle(ctx, "RotateJwtKey", resp, [=, this](const TenantContext& t, Reply<pb::JwtKeySecret> reply) {
    if (t.org_id.empty()) return reply(absl::InvalidArgumentError("org: the call names no org"));
    const int64_t now = NowMicros();
    StoredJwtKey next = NewJwtKey(t.org_id, NewId(), now);
    pb::JwtKeySecret out;
    *out.mutable_jwt_key() = next.key;
    out.set_secret(next.secret);
    jwt_keys_.Rotate(next, jwt_key_options_.grace, now, [reply, out](absl::Status s) {
      if (!s.ok()) return reply(s);
      reply(out);
    });
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::ListJwtKeys(Ctx* ctx, const pb::ListJwtKeysRequest* req,
                                                           pb::ListJwtKeysResponse* resp) {
  return rpc_.Handle(ctx, "ListJwtKeys", resp, [=, this](const TenantContext& t, Reply<pb::ListJwtKeysResponse> reply) {
    if (t.org_id.empty()) return reply(absl::InvalidArgumentError("org: the call names no org"));
    absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
    if (!page.ok()) return reply(page.status());
    absl::StatusOr<std::vector<pb::JwtKey>> keys = jwt_keys_.List(t.org_id, page->after, page->size + 1);
    if (!keys.ok()) return reply(keys.status());
    pb::ListJwtKeysResponse out;
    out.set_next_page_token(TrimToPage(*keys, page->size, [](const pb::JwtKey& k) { return k.kid(); }));
    for (auto& k : *keys) *out.add_jwt_keys() = std::move(k);
    reply(std::move(out));
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::ResolveJwtKey(Ctx* ctx, const pb::ResolveJwtKeyRequest* req,
                                                             pb::ResolveJwtKeyResponse* resp) {
  return rpc_.Handle(
      ctx, "ResolveJwtKey", resp, [=, this](const TenantContext&, Reply<pb::ResolveJwtKeyResponse> reply) {
        reply(ResolveKid(req->kid(), NowMicros(),
                         [this](const std::string& org, const std::string& kid) { return jwt_keys_.Get(org, kid); }));
      });
}

}  // namespace rapport::profiles
