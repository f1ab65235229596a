#include "services/profiles/contact_client.h"

#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/status.h"

namespace rapport::profiles {
namespace {

// A call on the caller's behalf: same org and user, read access, and no
// idempotency key (reads need none).
TenantContext AsReader(const TenantContext& caller) {
  TenantContext as_reader = caller;
  as_reader.Add(api::v1::READ);
  as_reader.idempotency_key.clear();
  return as_reader;
}

// The methods called, as their signatures name them.
const std::string kGetContact = FullMethod(v1::ProfilesService::service_full_name(), "GetContact");
const std::string kBatchGetContacts = FullMethod(v1::ProfilesService::service_full_name(), "BatchGetContacts");
const std::string kGetUsage = FullMethod(v1::ProfilesService::service_full_name(), "GetUsage");

bool IsUnavailable(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace

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
  auto call = std::make_shared<Call>();
  call->context.set_deadline(std::chrono::system_clock::now() + deadline_);
  signer_->Sign(AsReader(caller), kGetContact, &call->context);
  call->request.set_contact_id(contact_id);
  stub_->async()->GetContact(
      &call->context, &call->request, &call->response, [call, field, done = std::move(done)](grpc::Status s) {
        if (s.ok()) return done(std::move(call->response));
        if (s.error_code() == grpc::StatusCode::NOT_FOUND || s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
          return done(absl::InvalidArgumentError(absl::StrCat(field, ": no such contact")));
        }
        if (IsUnavailable(s)) {
          return done(absl::UnavailableError("profiles is unavailable; try again"));
        }
        done(FromGrpcStatus(s));
      });
}

void ContactClient::FindMany(const TenantContext& caller, const std::vector<std::string>& ids,
                             std::function<void(absl::StatusOr<std::vector<v1::Contact>>)> done) {
  if (ids.empty()) return done(std::vector<v1::Contact>());
  struct Call {
    grpc::ClientContext context;
    v1::BatchGetContactsRequest request;
    v1::BatchGetContactsResponse response;
  };
  auto call = std::make_shared<Call>();
  call->context.set_deadline(std::chrono::system_clock::now() + deadline_);
  signer_->Sign(AsReader(caller), kBatchGetContacts, &call->context);
  for (const std::string& id : ids) call->request.add_contact_ids(id);
  stub_->async()->BatchGetContacts(
      &call->context, &call->request, &call->response, [call, done = std::move(done)](grpc::Status s) {
        if (s.ok()) {
          std::vector<v1::Contact> contacts(std::make_move_iterator(call->response.mutable_contacts()->begin()),
                                            std::make_move_iterator(call->response.mutable_contacts()->end()));
          return done(std::move(contacts));
        }
        if (IsUnavailable(s)) return done(absl::UnavailableError("profiles is unavailable; try again"));
        done(FromGrpcStatus(s));
      });
}

void ContactClient::Usage(const TenantContext& caller,
                          std::function<void(absl::StatusOr<std::vector<v1::QuotaUsage>>)> done) {
  struct Call {
    grpc::ClientContext context;
    v1::GetUsageRequest request;
    v1::GetUsageResponse response;
  };
  auto call = std::make_shared<Call>();
  call->context.set_deadline(std::chrono::system_clock::now() + deadline_);
  // Internal RPCs answer platform calls only; the org stays the caller's.
  TenantContext platform;
  platform.org_id = caller.org_id;
  platform.request_id = caller.request_id;
  platform.Add(api::v1::PLATFORM);
  signer_->Sign(platform, kGetUsage, &call->context);
  stub_->async()->GetUsage(
      &call->context, &call->request, &call->response, [call, done = std::move(done)](grpc::Status s) {
        if (s.ok()) {
          std::vector<v1::QuotaUsage> quotas(std::make_move_iterator(call->response.mutable_quotas()->begin()),
                                             std::make_move_iterator(call->response.mutable_quotas()->end()));
          return done(std::move(quotas));
        }
        if (IsUnavailable(s)) return done(absl::UnavailableError("profiles is unavailable; try again"));
        done(FromGrpcStatus(s));
      });
}

}  // namespace rapport::profiles
