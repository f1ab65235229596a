#include "services/profiles/contact_client.h"

#include <mutex>
#include <optional>
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

bool IsUnavailable(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// Joins the answers of one FindMany: one GetContact per id.
struct Pending {
  std::mutex mu;
  int remaining = 0;
  std::vector<std::optional<v1::Contact>> found;  // by position in ids
  absl::Status error;
  std::function<void(absl::StatusOr<std::vector<v1::Contact>>)> done;
};

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
  signer_->Sign(AsReader(caller), &call->context);
  call->request.set_contact_id(contact_id);
  stub_->async()->GetContact(&call->context, &call->request, &call->response,
                             [call, field, done = std::move(done)](grpc::Status s) {
                               if (s.ok()) return done(std::move(call->response));
                               if (s.error_code() == grpc::StatusCode::NOT_FOUND ||
                                   s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
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
  auto pending = std::make_shared<Pending>();
  pending->remaining = static_cast<int>(ids.size());
  pending->found.resize(ids.size());
  pending->done = std::move(done);
  for (size_t i = 0; i < ids.size(); ++i) {
    Find(caller, ids[i], ids[i], [pending, i](absl::StatusOr<v1::Contact> contact) {
      std::function<void(absl::StatusOr<std::vector<v1::Contact>>)> finish;
      absl::StatusOr<std::vector<v1::Contact>> result;
      {
        std::lock_guard<std::mutex> lock(pending->mu);
        if (contact.ok()) {
          pending->found[i] = *std::move(contact);
        } else if (!absl::IsInvalidArgument(contact.status()) && pending->error.ok()) {
          pending->error = contact.status();  // not "no such contact": profiles could not answer
        }
        if (--pending->remaining == 0) {
          finish = std::move(pending->done);
          if (!pending->error.ok()) {
            result = pending->error;
          } else {
            std::vector<v1::Contact> contacts;
            for (auto& c : pending->found) {
              if (c.has_value()) contacts.push_back(*std::move(c));
            }
            result = std::move(contacts);
          }
        }
      }
      if (finish) finish(std::move(result));
    });
  }
}

}  // namespace rapport::profiles
