#include "services/profiles/contact_client.h"

#include "absl/strings/str_cat.h"
#include "services/common/status.h"

namespace rapport::profiles {

ContactClient::ContactClient(std::shared_ptr<grpc::Channel> profiles, const TenantSigner* signer,
                             std::chrono::milliseconds deadline)
    : stub_(v1::ProfilesService::NewStub(profiles)), signer_(signer), deadline_(deadline) {}

void ContactClient::Find(const TenantContext& caller, const std::string& contact_id, const std::string& field,
                         std::function<void(absl::StatusOr<v1::Contact>)> done) {
  struct Call {
    grpc::ClientContext context;
    v1::GetContactRequest request;
    v1::Contact response;
  };
  // Asked on the caller's behalf: same org and user, read access.
  TenantContext as_reader = caller;
  as_reader.Add(api::v1::READ);
  as_reader.idempotency_key.clear();
  auto call = std::make_shared<Call>();
  call->context.set_deadline(std::chrono::system_clock::now() + deadline_);
  signer_->Sign(as_reader, &call->context);
  call->request.set_contact_id(contact_id);
  stub_->async()->GetContact(
      &call->context, &call->request, &call->response, [call, field, done = std::move(done)](grpc::Status s) {
        if (s.ok()) return done(std::move(call->response));
        if (s.error_code() == grpc::StatusCode::NOT_FOUND || s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
          return done(absl::InvalidArgumentError(absl::StrCat(field, ": no such contact")));
        }
        if (s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
          return done(absl::UnavailableError("profiles is unavailable; try again"));
        }
        done(FromGrpcStatus(s));
      });
}

}  // namespace rapport::profiles
