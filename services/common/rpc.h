// The one way a service implements a unary RPC on the gRPC callback API:
//
//   grpc::ServerUnaryReactor* GetContact(grpc::CallbackServerContext* ctx,
//                                        const GetContactRequest* req, Contact* resp) override {
//     return rpc_.Handle(ctx, "GetContact", resp, [=](const TenantContext& t, Reply<Contact> reply) {
//       reply(logic_->GetContact(t, *req));
//     });
//   }
//
// Handle verifies the signed tenant metadata and the scope the method's HTTP
// rule names, then runs the body. The body answers through `reply`, either at
// once or later from another thread (e.g. a store's write completion), so
// that no gRPC thread waits on a disk flush. Only the first answer counts (a
// second one is logged and dropped), and exceptions never cross the RPC
// boundary: they become INTERNAL.
#ifndef RAPPORT_SERVICES_COMMON_RPC_H_
#define RAPPORT_SERVICES_COMMON_RPC_H_

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <string_view>

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "services/common/idempotency.h"
#include "services/common/log.h"
#include "services/common/status.h"
#include "services/common/store_util.h"
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

class RpcHandler {
 public:
  RpcHandler(const TenantSigner* signer, const google::protobuf::ServiceDescriptor* service)
      : signer_(signer), service_(service) {}

  template <typename Resp, typename Body>
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* ctx, std::string_view method,
                                   Resp* resp, Body&& body) const {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    absl::StatusOr<TenantContext> tenant = Authorize(*signer_, *ctx, service_, method);
    if (!tenant.ok()) {
      reactor->Finish(ToGrpcStatus(tenant.status()));
      return reactor;
    }
    auto answered = std::make_shared<std::atomic<bool>>(false);
    std::string method_name(method);
    Reply<Resp> reply = [reactor, resp, answered, method_name](absl::StatusOr<Resp> result) {
      if (answered->exchange(true)) {
        log::Error("second answer dropped", {{"method", method_name}});
        return;
      }
      if (result.ok()) {
        *resp = std::move(result).value();
        reactor->Finish(grpc::Status::OK);
      } else {
        reactor->Finish(ToGrpcStatus(result.status()));
      }
    };
    try {
      body(*tenant, reply);
    } catch (const std::exception& e) {
      log::Error("handler threw", {{"method", std::string(method)}, {"what", e.what()}});
      reply(absl::InternalError("internal error"));
    }
    return reactor;
  }

 private:
  const TenantSigner* signer_;
  const google::protobuf::ServiceDescriptor* service_;
};

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_RPC_H_
