#include "services/common/tenant.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/common/crypto.h"

namespace rapport {
namespace {

constexpr int64_t kMaxSkewSeconds = 300;

std::string SignedString(const TenantContext& ctx, const std::string& scopes, int64_t unix_seconds) {
  return absl::StrCat("v1\n", ctx.org_id, "\n", ctx.user_id, "\n", scopes, "\n", unix_seconds, "\n",
                      ctx.request_id);
}

const grpc::string_ref* Find(const std::multimap<grpc::string_ref, grpc::string_ref>& md,
                             const char* key) {
  auto it = md.find(grpc::string_ref(key));
  return it == md.end() ? nullptr : &it->second;
}

std::string Str(const grpc::string_ref* ref) {
  return ref == nullptr ? std::string() : std::string(ref->data(), ref->size());
}

}  // namespace

std::string ScopesToString(uint32_t scopes) {
  std::string out;
  for (int s = api::v1::Scope_MIN; s <= api::v1::Scope_MAX; ++s) {
    if (s != api::v1::SCOPE_UNSPECIFIED && ((scopes >> s) & 1u)) {
      if (!out.empty()) out.push_back(',');
      out += api::v1::Scope_Name(static_cast<Scope>(s));
    }
  }
  return out;
}

TenantSigner::TenantSigner(std::string key) : mac_(key) {}

std::string TenantSigner::Mac(std::string_view message) const { return HexEncode(mac_.Mac(message)); }

template <typename Add>
void TenantSigner::Pairs(const TenantContext& ctx, absl::Time now, Add add) const {
  const int64_t t = absl::ToUnixSeconds(now);
  std::string scopes = ScopesToString(ctx.scopes);
  add(kOrgHeader, ctx.org_id);
  add(kUserHeader, ctx.user_id);
  add(kTimeHeader, absl::StrCat(t));
  add(kSignatureHeader, Mac(SignedString(ctx, scopes, t)));
  add(kScopesHeader, std::move(scopes));
  add(kRequestIdHeader, ctx.request_id);
  if (!ctx.idempotency_key.empty()) add(kIdempotencyHeader, ctx.idempotency_key);
}

std::multimap<std::string, std::string> TenantSigner::Metadata(const TenantContext& ctx,
                                                               absl::Time now) const {
  std::multimap<std::string, std::string> md;
  Pairs(ctx, now, [&md](const char* key, std::string value) { md.emplace(key, std::move(value)); });
  return md;
}

// Straight into the call's metadata, without the map: this runs per backend call.
void TenantSigner::Sign(const TenantContext& ctx, grpc::ClientContext* client) const {
  Pairs(ctx, absl::Now(), [client](const char* key, const std::string& value) { client->AddMetadata(key, value); });
}

absl::StatusOr<TenantContext> TenantSigner::Verify(
    const std::multimap<grpc::string_ref, grpc::string_ref>& md, absl::Time now) const {
  const grpc::string_ref* sig = Find(md, kSignatureHeader);
  const grpc::string_ref* time = Find(md, kTimeHeader);
  if (sig == nullptr || time == nullptr) {
    return absl::UnauthenticatedError("missing signed tenant metadata");
  }
  TenantContext ctx;
  ctx.org_id = Str(Find(md, kOrgHeader));
  ctx.user_id = Str(Find(md, kUserHeader));
  ctx.request_id = Str(Find(md, kRequestIdHeader));
  ctx.idempotency_key = Str(Find(md, kIdempotencyHeader));
  std::string scope_names = Str(Find(md, kScopesHeader));
  for (absl::string_view name : absl::StrSplit(scope_names, ',', absl::SkipEmpty())) {
    Scope scope;
    if (!api::v1::Scope_Parse(std::string(name), &scope)) {
      return absl::UnauthenticatedError("malformed tenant metadata");
    }
    ctx.Add(scope);
  }
  int64_t t = 0;
  if (!absl::SimpleAtoi(Str(time), &t)) return absl::UnauthenticatedError("malformed tenant metadata");
  int64_t skew = absl::ToUnixSeconds(now) - t;
  if (skew > kMaxSkewSeconds || skew < -kMaxSkewSeconds) {
    return absl::UnauthenticatedError("stale tenant metadata");
  }
  std::string expected = Mac(SignedString(ctx, scope_names, t));
  // Canonical scopes: a reordered scope list would sign differently, so only
  // the exact string the signer produced verifies.
  if (ScopesToString(ctx.scopes) != scope_names ||
      !ConstantTimeEquals(std::string_view(sig->data(), sig->size()), expected)) {
    return absl::UnauthenticatedError("invalid tenant signature");
  }
  return ctx;
}

Scope RequiredScope(const google::protobuf::ServiceDescriptor* service, std::string_view method) {
  const google::protobuf::MethodDescriptor* m = service->FindMethodByName(std::string(method));
  if (m == nullptr || !m->options().HasExtension(api::v1::http)) return api::v1::PLATFORM;
  return m->options().GetExtension(api::v1::http).scope();
}

absl::StatusOr<TenantContext> Authorize(const TenantSigner& signer,
                                        const grpc::CallbackServerContext& ctx, Scope needed) {
  absl::StatusOr<TenantContext> tenant = signer.Verify(ctx.client_metadata());
  if (!tenant.ok()) return tenant.status();
  if (!tenant->Has(needed)) {
    return absl::PermissionDeniedError(
        absl::StrCat("credentials lack the ", api::v1::Scope_Name(needed), " scope"));
  }
  if (needed != api::v1::PLATFORM && tenant->org_id.empty()) {
    return absl::PermissionDeniedError("credentials name no org");
  }
  if ((needed == api::v1::READ || needed == api::v1::WRITE) && tenant->user_id.empty()) {
    return absl::PermissionDeniedError(
        "credentials name no user: use a user token, or a key with ACT_AS_USER and X-Rapport-User");
  }
  return tenant;
}

absl::StatusOr<TenantContext> Authorize(const TenantSigner& signer,
                                        const grpc::CallbackServerContext& ctx,
                                        const google::protobuf::ServiceDescriptor* service,
                                        std::string_view method) {
  return Authorize(signer, ctx, RequiredScope(service, method));
}

}  // namespace rapport
