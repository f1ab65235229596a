#include "services/interactions/contact_checker.h"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "services/common/status.h"

namespace rapport::interactions {
namespace {

// Joins the answers of one Check.
struct Pending {
  std::mutex mu;
  int remaining = 0;
  Cadences cadences;
  absl::Status first_error;
  std::function<void(absl::StatusOr<Cadences>)> done;
};

struct Call {
  grpc::ClientContext context;
  profiles::v1::GetContactRequest request;
  profiles::v1::Contact response;
};

}  // namespace

ContactChecker::ContactChecker(std::shared_ptr<grpc::Channel> profiles, const TenantSigner* signer,
                               std::chrono::milliseconds deadline)
    : stub_(profiles::v1::ProfilesService::NewStub(profiles)), signer_(signer), deadline_(deadline) {}

void ContactChecker::Check(const TenantContext& caller, const std::vector<std::string>& ids,
                           const std::vector<std::string>& fields,
                           std::function<void(absl::StatusOr<Cadences>)> done) {
  if (ids.empty()) {
    done(Cadences());
    return;
  }
  // The service asks on the caller's behalf: same org and user, read access.
  TenantContext as_reader = caller;
  as_reader.Add(api::v1::READ);
  as_reader.idempotency_key.clear();
  auto pending = std::make_shared<Pending>();
  pending->remaining = static_cast<int>(ids.size());
  pending->done = std::move(done);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto call = std::make_shared<Call>();
    call->context.set_deadline(std::chrono::system_clock::now() + deadline_);
    signer_->Sign(as_reader, &call->context);
    call->request.set_contact_id(ids[i]);
    std::string field = i < fields.size() ? fields[i] : ids[i];
    stub_->async()->GetContact(
        &call->context, &call->request, &call->response, [pending, call, field](grpc::Status s) {
          absl::Status error;
          if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
            error = absl::InvalidArgumentError(absl::StrCat(field, ": no such contact"));
          } else if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                     s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
            error = absl::UnavailableError("profiles is unavailable; try again");
          } else if (!s.ok()) {
            error = FromGrpcStatus(s);
          }
          std::function<void(absl::StatusOr<Cadences>)> finish;
          absl::StatusOr<Cadences> result;
          {
            std::lock_guard<std::mutex> lock(pending->mu);
            if (!error.ok() && pending->first_error.ok()) pending->first_error = error;
            if (error.ok()) pending->cadences[call->request.contact_id()] = call->response.effective_cadence_days();
            if (--pending->remaining == 0) {
              finish = std::move(pending->done);
              if (pending->first_error.ok()) {
                result = std::move(pending->cadences);
              } else {
                result = pending->first_error;
              }
            }
          }
          if (finish) finish(std::move(result));
        });
  }
}

}  // namespace rapport::interactions
