#include "services/common/tenant.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/crypto.h"

namespace rapport {
namespace {

constexpr char kVersion[] = "v4";
constexpr size_t kFields = 10;  // version, method, org, user, scopes, time, request id, key id, client, mac

// Debian's absl::string_view is its own type, not std::string_view.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool HasSpace(std::string_view s) { return s.find(' ') != std::string_view::npos; }

// "/<service>/<method>", neither part empty.
bool IsMethodPath(std::string_view m) {
  if (m.size() < 4 || m[0] != '/' || HasSpace(m)) return false;
  const size_t slash = m.find('/', 1);
  return slash != std::string_view::npos && slash > 1 && slash + 1 < m.size() &&
         m.find('/', slash + 1) == std::string_view::npos;
}

}  // namespace

std::string FullMethod(std::string_view service, std::string_view method) {
  return absl::StrCat("/", Absl(service), "/", Absl(method));
}

TenantSigner::TenantSigner(std::string key) : mac_(key) {}

std::string TenantSigner::Mac(std::string_view message) const { return absl::BytesToHexString(mac_.Mac(message)); }

std::string TenantSigner::Token(const TenantContext& ctx, std::string_view method, absl::Time now) const {
  if (!IsMethodPath(method) || HasSpace(ctx.org_id) || HasSpace(ctx.user_id) || HasSpace(ctx.request_id) ||
      HasSpace(ctx.key_id) || HasSpace(ctx.client_address)) {
    return "";
  }
  std::string token =
      absl::StrCat(kVersion, " ", Absl(method), " ", ctx.org_id, " ", ctx.user_id, " ", ctx.scopes, " ",
                   absl::ToUnixSeconds(now), " ", ctx.request_id, " ", ctx.key_id, " ", ctx.client_address);
  absl::StrAppend(&token, " ", Mac(token));
  return token;
}

std::multimap<std::string, std::string> TenantSigner::Metadata(const TenantContext& ctx, std::string_view method,
                                                               absl::Time now) const {
  std::multimap<std::string, std::string> md;
  md.emplace(kTenantHeader, Token(ctx, method, now));
  if (!ctx.idempotency_key.empty()) md.emplace(kIdempotencyHeader, ctx.idempotency_key);
  return md;
}

void TenantSigner::Sign(const TenantContext& ctx, std::string_view method, grpc::ClientContext* client) const {
  client->AddMetadata(kTenantHeader, Token(ctx, method));
  if (!ctx.idempotency_key.empty()) client->AddMetadata(kIdempotencyHeader, ctx.idempotency_key);
}

absl::StatusOr<TenantContext> TenantSigner::Verify(const std::multimap<grpc::string_ref, grpc::string_ref>& md,
                                                   std::string_view method, absl::Time now) const {
  auto it = md.find(grpc::string_ref(kTenantHeader));
  if (it == md.end()) return absl::UnauthenticatedError("missing signed tenant metadata");
  const std::string_view token(it->second.data(), it->second.size());
  const size_t mac_at = token.rfind(' ');
  if (mac_at == std::string_view::npos || !ConstantTimeEquals(token.substr(mac_at + 1), Mac(token.substr(0, mac_at)))) {
    return absl::UnauthenticatedError("invalid tenant signature");
  }
  std::vector<absl::string_view> fields = absl::StrSplit(absl::string_view(token.data(), token.size()), ' ');
  uint32_t scopes = 0;
  int64_t t = 0;
  if (fields.size() != kFields || fields[0] != kVersion || !absl::SimpleAtoi(fields[4], &scopes) ||
      !absl::SimpleAtoi(fields[5], &t)) {
    return absl::UnauthenticatedError("malformed tenant metadata");
  }
  // Signed for another method or another service: a replay.
  if (fields[1] != Absl(method)) {
    return absl::UnauthenticatedError("tenant metadata signed for another method");
  }
  // Bounds around now rather than now - t, which overflows for a t near
  // INT64_MIN (tests/fuzz/tenant/regression_time_overflow).
  const int64_t now_s = absl::ToUnixSeconds(now);
  const int64_t lifetime = absl::ToInt64Seconds(kTenantHeaderLifetime);
  if (t < now_s - lifetime || t > now_s + lifetime) {
    return absl::UnauthenticatedError("stale tenant metadata");
  }
  TenantContext ctx;
  ctx.org_id = std::string(fields[2]);
  ctx.user_id = std::string(fields[3]);
  ctx.scopes = scopes;
  ctx.request_id = std::string(fields[6]);
  ctx.key_id = std::string(fields[7]);
  ctx.client_address = std::string(fields[8]);
  auto idem = md.find(grpc::string_ref(kIdempotencyHeader));
  if (idem != md.end()) ctx.idempotency_key.assign(idem->second.data(), idem->second.size());
  return ctx;
}

Scope RequiredScope(const google::protobuf::MethodDescriptor* m) {
  if (m == nullptr || !m->options().HasExtension(api::v1::http)) return api::v1::PLATFORM;
  return m->options().GetExtension(api::v1::http).scope();
}

absl::StatusOr<TenantContext> Authorize(const TenantSigner& signer, const grpc::CallbackServerContext& ctx,
                                        std::string_view method, Scope needed) {
  absl::StatusOr<TenantContext> tenant = signer.Verify(ctx.client_metadata(), method);
  if (!tenant.ok()) return tenant.status();
  if (!tenant->Has(needed)) {
    return absl::PermissionDeniedError(absl::StrCat("credentials lack the ", api::v1::Scope_Name(needed), " scope"));
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

absl::StatusOr<TenantContext> Authorize(const TenantSigner& signer, const grpc::CallbackServerContext& ctx,
                                        const google::protobuf::ServiceDescriptor* service, std::string_view method) {
  return Authorize(signer, ctx, FullMethod(service->full_name(), method),
                   RequiredScope(service->FindMethodByName(std::string(method))));
}

}  // namespace rapport
