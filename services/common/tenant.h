// The tenant context of a call (org, acting user, scopes, request id) and its
// transport between processes as gRPC metadata signed with HMAC-SHA256 under
// the internal key. The gateway (and a service calling another service)
// signs; every service verifies, and trusts nothing else: a call without a
// valid, fresh signature for the very method it calls is UNAUTHENTICATED.
//
// One metadata entry carries it all (one header to encode and to parse per
// call, not six):
//   x-rapport-tenant: v4 <method> <org> <user> <scopes> <unix seconds> <request id> <key id> <client> <mac>
// fields separated by single spaces, <method> the full gRPC method path
// "/<package>.<Service>/<Method>" (so it names the target service as well as
// the method), scopes as the decimal bit mask, <key id> the API key that
// authenticated the call (empty for a token or the platform key) and <client>
// the client's IP address as the gateway saw it (both for the audit log,
// services/common/audit.h), <mac> the hex HMAC of everything before its
// separating space. A field is never allowed a space (method paths, ids,
// request ids and addresses are tokens), so a value splits into exactly ten
// fields or is refused. A header is good for the one method it
// names, and for 60 seconds either side of its time: one captured from a call
// cannot be replayed on another method or service (an export, a platform
// call), nor kept for later. The Idempotency-Key travels apart
// (x-idempotency-key), unsigned: it is scoped by org and user.
//
// The signer keeps the key's HMAC pad states (HmacKey), so a signature or a
// check costs two small SHA-256 digests.
//
// Thread-safety: TenantSigner is immutable after construction.
#ifndef RAPPORT_SERVICES_COMMON_TENANT_H_
#define RAPPORT_SERVICES_COMMON_TENANT_H_

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "rapport/api/v1/annotations.pb.h"
#include "services/common/crypto.h"

namespace rapport {

using api::v1::Scope;

struct TenantContext {
  std::string org_id;   // empty only for platform calls
  std::string user_id;  // the acting user; empty for org-level keys
  uint32_t scopes = 0;  // bit (1 << Scope) per scope held
  std::string request_id;
  std::string idempotency_key;  // from Idempotency-Key, not signed (scoped by org and user)
  std::string key_id;           // the API key that authenticated the call; empty for a token or the platform key
  std::string client_address;   // the client's IP address (the gateway's view); empty when unknown
  // The gateway only (never signed or sent): the key's own requests a minute,
  // 0 for the deployment's default (gateway/pipeline.cc).
  int rate_limit_per_minute = 0;

  bool Has(Scope scope) const { return (scopes >> static_cast<int>(scope)) & 1u; }
  void Add(Scope scope) { scopes |= 1u << static_cast<int>(scope); }
};

// Metadata keys.
inline constexpr char kTenantHeader[] = "x-rapport-tenant";
inline constexpr char kIdempotencyHeader[] = "x-idempotency-key";

// How long a signed header is good for, either side of its time.
inline constexpr absl::Duration kTenantHeaderLifetime = absl::Seconds(60);

// The full gRPC method path of service's method, "/<service>/<method>" (what
// gRPC sends as :path, and what a signature names), e.g.
// FullMethod("rapport.profiles.v1.ProfilesService", "GetContact").
std::string FullMethod(std::string_view service, std::string_view method);

class TenantSigner {
 public:
  // key must be non-empty; callers check configuration before building one.
  explicit TenantSigner(std::string key);

  // The x-rapport-tenant value for ctx calling method (a full path, see
  // FullMethod) signed at `now`. Empty when a field holds a space or the
  // method is not a path (never the case for ids, the gateway's request ids
  // and generated method names); a call without the header is refused.
  std::string Token(const TenantContext& ctx, std::string_view method, absl::Time now = absl::Now()) const;

  // The metadata pairs for ctx calling method, signed at `now`.
  std::multimap<std::string, std::string> Metadata(const TenantContext& ctx, std::string_view method,
                                                   absl::Time now = absl::Now()) const;
  // Adds the signed metadata for method (a full path) to an outgoing call.
  void Sign(const TenantContext& ctx, std::string_view method, grpc::ClientContext* client) const;

  // Checks the signature, the method it names (the full path of the method
  // being served) and the freshness of incoming metadata. UNAUTHENTICATED
  // when anything is missing, malformed, stale, signed for another method or
  // does not match.
  absl::StatusOr<TenantContext> Verify(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                                       std::string_view method, absl::Time now = absl::Now()) const;

 private:
  std::string Mac(std::string_view message) const;
  HmacKey mac_;
};

// The scope the method's HTTP rule (rapport.api.v1.http) names; PLATFORM for
// a method without a rule, or for nullptr.
Scope RequiredScope(const google::protobuf::MethodDescriptor* method);

// Verifies the call's metadata for method (the full path being served) and
// checks the scope `needed`. PERMISSION_DENIED when the scope is missing, or
// when it is a user scope (READ or WRITE) and the credentials name no acting
// user.
absl::StatusOr<TenantContext> Authorize(const TenantSigner& signer, const grpc::CallbackServerContext& ctx,
                                        std::string_view method, Scope needed);
// The same with the scope of the HTTP rule of `service`'s `method` (RequiredScope).
absl::StatusOr<TenantContext> Authorize(const TenantSigner& signer, const grpc::CallbackServerContext& ctx,
                                        const google::protobuf::ServiceDescriptor* service, std::string_view method);

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_TENANT_H_
