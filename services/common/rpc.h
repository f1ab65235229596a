// The one way a service implements a unary RPC on the gRPC callback API:
//
//   grpc::ServerUnaryReactor* GetContact(grpc::CallbackServerContext* ctx,
//                                        const GetContactRequest* req, Contact* resp) override {
//     return rpc_.Handle(ctx, "GetContact", resp, [=](const TenantContext& t, Reply<Contact> reply) {
//       reply(logic_->GetContact(t, *req));
//     });
//   }
//
// Handle verifies the signed tenant metadata (signed for this very method:
// the full path of the service's method) and the scope the method's HTTP rule
// names, then runs the body. The body answers through `reply`, either at
// once or later from another thread (e.g. a store's write completion), so
// that no gRPC thread waits on a disk flush. Only the first answer counts (a
// second one is logged and dropped), and exceptions never cross the RPC
// boundary: they become INTERNAL.
#ifndef RAPPORT_SERVICES_COMMON_RPC_H_
#define RAPPORT_SERVICES_COMMON_RPC_H_

#include <grpcpp/server_context.h>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "services/common/db_rows.h"
#include "services/common/idempotency.h"
#include "services/common/log.h"
#include "services/common/status.h"
#include "services/common/tenant.h"

namespace rapport {

template <typename Resp>
using Reply = std::function<void(absl::StatusOr<Resp>)>;

// Whose data a call touches: the caller's org and acting user.
inline Owner OwnerOf(const TenantContext& t) { return Owner{t.org_id, t.user_id}; }

// The idempotency scope of a creating call: its key is the caller's
// Idempotency-Key, scoped by org and user.
inline IdempotencyScope IdempotencyOf(const TenantContext& t, const char* method) {
  return IdempotencyScope{t.org_id, t.user_id, t.idempotency_key, method};
}

// A completion that converts a store result before replying.
template <typename In, typename Out, typename Fn>
std::function<void(absl::StatusOr<In>)> Then(Reply<Out> reply, Fn convert) {
  return [reply = std::move(reply), convert = std::move(convert)](absl::StatusOr<In> in) {
    if (!in.ok()) return reply(in.status());
    reply(convert(*std::move(in)));
  };
}

// A completion for writes whose answer is an empty message (deletes).
template <typename Resp>
std::function<void(absl::Status)> Acknowledge(Reply<Resp> reply) {
  return [reply = std::move(reply)](absl::Status s) {
    if (!s.ok()) return reply(s);
    reply(Resp());
  };
}

// Logs a finished call (the services' access log): debug when OK, info when
// refused, error for INTERNAL and UNKNOWN.
void LogCall(const char* method, const grpc::Status& status, absl::Time start, const TenantContext* tenant);

class RpcHandler {
 public:
  // The scope of every method's HTTP rule, and its full path, are looked up
  // once, here.
  RpcHandler(const TenantSigner* signer, const google::protobuf::ServiceDescriptor* service);

  // method names the RPC; a string literal (it is kept until the answer).
  template <typename Resp, typename Body>
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* ctx, const char* method, Resp* resp,
                                   Body&& body) const {
    const absl::Time start = absl::Now();
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    const MethodInfo& info = InfoOf(method);
    absl::StatusOr<TenantContext> tenant = Authorize(*signer_, *ctx, info.path, info.scope);
    if (!tenant.ok()) {
      grpc::Status status = ToGrpcStatus(tenant.status());
      LogCall(method, status, start, nullptr);
      reactor->Finish(status);
      return reactor;
    }
    // One allocation per call holds what the answer needs; the tenant lives
    // in it, so the body may keep its reference until it replies.
    struct Call {
      std::atomic<bool> answered{false};
      const char* method;
      absl::Time start;
      TenantContext tenant;
    };
    auto call = std::make_shared<Call>();
    call->method = method;
    call->start = start;
    call->tenant = *std::move(tenant);
    Reply<Resp> reply = [reactor, resp, call](absl::StatusOr<Resp> result) {
      if (call->answered.exchange(true)) {
        log::Error("second answer dropped", {{"method", call->method}});
        return;
      }
      grpc::Status status = grpc::Status::OK;
      if (result.ok()) {
        *resp = std::move(result).value();
      } else {
        status = ToGrpcStatus(result.status());
      }
      LogCall(call->method, status, call->start, &call->tenant);
      reactor->Finish(status);
    };
    try {
      body(call->tenant, reply);
    } catch (const std::exception& e) {
      log::Error("handler threw", {{"method", method}, {"what", e.what()}});
      reply(absl::InternalError("internal error"));
    }
    return reactor;
  }

 private:
  struct MethodInfo {
    Scope scope = api::v1::PLATFORM;
    std::string path;  // "/<service>/<method>", what the caller signed
  };
  // A name the service does not have (a misspelt handler) gets the strictest
  // scope and a path no caller signs for: every call to it is refused.
  const MethodInfo& InfoOf(std::string_view method) const;

  const TenantSigner* signer_;
  absl::flat_hash_map<std::string, MethodInfo> methods_;
  MethodInfo unknown_;
};

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_RPC_H_
