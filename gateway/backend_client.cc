#include "gateway/backend_client.h"

#include <grpcpp/impl/codegen/proto_utils.h>

#include "absl/strings/str_cat.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/channel.h"
#include "services/common/health.h"
#include "services/common/ids.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport::gateway {

bool ParseResponse(grpc::ByteBuffer* bytes, google::protobuf::Message* out) {
  return bytes != nullptr && grpc::SerializationTraits<google::protobuf::Message>::Deserialize(bytes, out).ok();
}

BackendClient::BackendClient(const std::string& internal_key, std::chrono::milliseconds deadline, Metrics* metrics)
    : signer_(internal_key), deadline_(deadline), metrics_(metrics) {}

void BackendClient::AddBackend(const std::string& service, const std::string& addr) {
  Backend backend;
  backend.channel = CreateServiceChannel(addr);
  backend.stub = std::make_unique<grpc::GenericStub>(backend.channel);
  backends_[service] = std::move(backend);
}

grpc::GenericStub* BackendClient::Stub(const std::string& service) const {
  auto it = backends_.find(service);
  return it == backends_.end() ? nullptr : it->second.stub.get();
}

void BackendClient::Call(const std::string& service, const std::string& grpc_method, const TenantContext& tenant,
                         const google::protobuf::Message& request, Done done, std::chrono::milliseconds deadline) {
  auto it = backends_.find(service);
  if (it == backends_.end()) {
    return done(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no backend for " + service), nullptr);
  }
  struct Pending {
    grpc::ClientContext ctx;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
  };
  auto pending = std::make_shared<Pending>();
  pending->ctx.set_deadline(std::chrono::system_clock::now() +
                            (deadline > std::chrono::milliseconds::zero() ? deadline : deadline_));
  signer_.Sign(tenant, grpc_method, &pending->ctx);
  bool own_buffer = false;
  // Serialized straight into the call's buffer (no intermediate string).
  if (!grpc::SerializationTraits<google::protobuf::Message>::Serialize(request, &pending->request, &own_buffer).ok()) {
    return done(grpc::Status(grpc::StatusCode::INTERNAL, "cannot serialize the request"), nullptr);
  }
  metrics_->BackendCallStarted();
  it->second.stub->UnaryCall(&pending->ctx, grpc_method, grpc::StubOptions(), &pending->request, &pending->response,
                             [this, pending, &service = it->first, done = std::move(done)](grpc::Status status) {
                               if (!status.ok()) metrics_->ObserveBackendError(service, FromGrpcStatus(status).code());
                               done(std::move(status), &pending->response);
                               metrics_->BackendCallEnded();
                             });
}

std::map<std::string, bool> BackendClient::Serving(std::chrono::milliseconds timeout) const {
  std::map<std::string, bool> out;
  for (const auto& [name, backend] : backends_) out[name] = CheckServing(backend.channel, name, timeout);
  return out;
}

void BackendClient::VerifyApiKey(const std::string& secret, Callback<VerifiedKey> done) {
  TenantContext platform;
  platform.Add(api::v1::PLATFORM);
  platform.request_id = NewId();
  profiles::v1::VerifyApiKeyRequest request;
  request.set_secret(secret);
  Call(kProfilesService, absl::StrCat("/", kProfilesService, "/VerifyApiKey"), platform, request,
       [done = std::move(done)](grpc::Status status, grpc::ByteBuffer* bytes) {
         if (!status.ok()) return done(FromGrpcStatus(status));
         profiles::v1::VerifyApiKeyResponse response;
         if (!ParseResponse(bytes, &response)) return done(absl::InternalError("unparsable VerifyApiKey answer"));
         VerifiedKey key;
         key.org_id = response.org_id();
         key.key_id = response.key_id();
         for (int s : response.scopes()) {
           if (s != api::v1::PLATFORM && s > 0 && s < 32) key.scopes |= 1u << s;  // never PLATFORM from a key
         }
         key.rate_limit_per_minute = response.rate_limit_per_minute();
         key.user_id = response.user_id();
         done(std::move(key));
       });
}

void BackendClient::CheckUser(const std::string& org, const std::string& user, Callback<bool> done) {
  TenantContext admin;
  admin.org_id = org;
  admin.Add(api::v1::ADMIN);
  admin.request_id = NewId();
  profiles::v1::GetUserRequest request;
  request.set_user_id(user);
  Call(kProfilesService, absl::StrCat("/", kProfilesService, "/GetUser"), admin, request,
       [done = std::move(done)](grpc::Status status, grpc::ByteBuffer* bytes) {
         if (status.ok()) {
           // A deactivated user is refused like an unknown one.
           profiles::v1::User user;
           if (!ParseResponse(bytes, &user)) return done(absl::InternalError("unparsable GetUser answer"));
           return done(user.state() != profiles::v1::DEACTIVATED);
         }
         // A malformed id is as unknown as a missing one.
         if (status.error_code() == grpc::StatusCode::NOT_FOUND ||
             status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
           return done(false);
         }
         done(FromGrpcStatus(status));
       });
}

void BackendClient::ResolveJwtKey(const std::string& kid, Callback<JwtKey> done) {
  TenantContext platform;
  platform.Add(api::v1::PLATFORM);
  platform.request_id = NewId();
  profiles::v1::ResolveJwtKeyRequest request;
  request.set_kid(kid);
  Call(kProfilesService, absl::StrCat("/", kProfilesService, "/ResolveJwtKey"), platform, request,
       [done = std::move(done)](grpc::Status status, grpc::ByteBuffer* bytes) {
         if (!status.ok()) return done(FromGrpcStatus(status));
         profiles::v1::ResolveJwtKeyResponse response;
         if (!ParseResponse(bytes, &response)) return done(absl::InternalError("unparsable ResolveJwtKey answer"));
         JwtKey key;
         key.kid = response.kid();
         key.org_id = response.org_id();
         key.secret = response.secret();
         if (response.has_expire_time()) {
           key.expire_time = absl::FromUnixMicros(TimestampToMicros(response.expire_time()));
         }
         done(std::move(key));
       });
}

}  // namespace rapport::gateway
