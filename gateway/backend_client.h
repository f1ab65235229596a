// The gateway's client of its backend services: one gRPC channel and
// grpc::GenericStub per service, unary calls with the caller's tenant signed
// into the metadata (TenantSigner) and the backend deadline, started
// asynchronously with the callback API so that no io thread waits on a
// backend. The request is serialized straight into the call's buffer and the
// answer handed over as the call's buffer (ParseResponse reads it without a
// flattening copy). Completions run on a gRPC thread: the pipeline's reply
// posts the answer back to the connection's loop. Also the gateway's own
// questions to profiles for the Authenticator (VerifyApiKey, GetUser) and
// the readiness check of every backend.
//
// Owns the channels and stubs; the Metrics passed in (calls in flight,
// backend errors) must outlive it.
//
// Thread-safety: AddBackend before serving, from one thread; everything else
// is safe from any thread.
#ifndef RAPPORT_GATEWAY_BACKEND_CLIENT_H_
#define RAPPORT_GATEWAY_BACKEND_CLIENT_H_

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "gateway/auth.h"
#include "gateway/metrics.h"
#include "google/protobuf/message.h"
#include "services/common/tenant.h"

namespace rapport::gateway {

// The backend that verifies API keys; the gateway needs it.
inline constexpr char kProfilesService[] = "rapport.profiles.v1.ProfilesService";

class BackendClient {
 public:
  // internal_key signs the tenant metadata; every call gets `deadline`.
  BackendClient(const std::string& internal_key, std::chrono::milliseconds deadline, Metrics* metrics);

  // service: the full gRPC service name; addr: host:port.
  void AddBackend(const std::string& service, const std::string& addr);
  bool Has(const std::string& service) const { return backends_.count(service) > 0; }

  // Called exactly once, on a gRPC thread (or before Call returns when the
  // call cannot start); response is the answer's bytes when status is OK.
  using Done = std::function<void(grpc::Status status, grpc::ByteBuffer* response)>;
  // Calls grpc_method ("/pkg.Service/Method") of service as tenant, within
  // deadline (zero: the client's own).
  void Call(const std::string& service, const std::string& grpc_method, const TenantContext& tenant,
            const google::protobuf::Message& request, Done done,
            std::chrono::milliseconds deadline = std::chrono::milliseconds::zero());

  // For server-streaming calls (EventStreams): the service's stub (null when
  // there is no such backend) and the metadata of tenant signed for
  // grpc_method ("/pkg.Service/Method", the only method it is good for).
  grpc::GenericStub* Stub(const std::string& service) const;
  std::multimap<std::string, std::string> Metadata(const TenantContext& tenant, const std::string& grpc_method) const {
    return signer_.Metadata(tenant, grpc_method);
  }

  // Each backend's gRPC health, by service name, each waited for up to
  // timeout. Blocks: never call it on an io thread.
  std::map<std::string, bool> Serving(std::chrono::milliseconds timeout) const;

  // ProfilesService.VerifyApiKey as the platform: the Authenticator's KeyVerifier.
  void VerifyApiKey(const std::string& secret, Callback<VerifiedKey> done);
  // Whether user is an active user of org (false when deactivated), asked of profiles as that org's
  // administrator (the gateway vouches for the question, not the caller's
  // key): the Authenticator's UserChecker.
  void CheckUser(const std::string& org, const std::string& user, Callback<bool> done);
  // ProfilesService.ResolveJwtKey as the platform: the Authenticator's
  // JwtKeyResolver (NOT_FOUND: no such kid, or past its grace period).
  void ResolveJwtKey(const std::string& kid, Callback<JwtKey> done);

 private:
  struct Backend {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<grpc::GenericStub> stub;
  };

  const TenantSigner signer_;
  const std::chrono::milliseconds deadline_;
  Metrics* const metrics_;
  std::map<std::string, Backend> backends_;  // by full service name
};

// Parses a backend's answer straight from the call's buffer (its slices, no
// flattening copy); false when bytes is null or not such a message.
bool ParseResponse(grpc::ByteBuffer* bytes, google::protobuf::Message* out);

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_BACKEND_CLIENT_H_
