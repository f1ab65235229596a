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
// rule names, then runs the body. The body answers exactly once through
// `reply`, either at once or later from another thread (e.g. a store's write
// completion), so that no gRPC thread waits on a disk flush. Exceptions never
// cross the RPC boundary: they become INTERNAL.
#ifndef RAPPORT_SERVICES_COMMON_RPC_H_
#define RAPPORT_SERVICES_COMMON_RPC_H_

#include <exception>
#include <functional>
#include <string_view>

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "services/common/log.h"
#include "services/common/status.h"
#include "services/common/tenant.h"

namespace rapport {

template <typename Resp>
using Reply = std::function<void(absl::StatusOr<Resp>)>;

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
    Reply<Resp> reply = [reactor, resp](absl::StatusOr<Resp> result) {
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
