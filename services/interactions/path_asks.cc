#include "services/interactions/path_asks.h"

#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"

namespace rapport::interactions {
namespace {

namespace ppb = ::rapport::profiles::v1;

const std::string kGetUser = FullMethod(ppb::ProfilesService::service_full_name(), "GetUser");
const std::string kBatchGetContacts = FullMethod(ppb::ProfilesService::service_full_name(), "BatchGetContacts");

bool IsUnavailable(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

const ppb::Contact* FindIn(const std::vector<ppb::Contact>& contacts, const std::string& id) {
  for (const ppb::Contact& c : contacts) {
    if (c.id() == id) return &c;
  }
  return nullptr;
}

}  // namespace

absl::Status ValidateAskPath(const pb::AskPathRequest& r) {
  Violations v;
  v.Id("via", r.via(), true);
  const bool by_contact = !r.target_contact_id().empty();
  const bool by_text = !r.target().empty();
  if (!by_contact && !by_text) v.Add("targetContactId", "name the person to meet (or give target)");
  if (by_contact && by_text) v.Add("target", "give either targetContactId or target, not both");
  if (by_contact) v.Id("targetContactId", r.target_contact_id(), true);
  if (by_contact && r.target_contact_id() == r.via()) v.Add("via", "must differ from targetContactId");
  v.Text("target", r.target(), 200);
  v.Text("ask", r.ask(), 2000);
  return v.ToStatus();
}

PathAskDirectory::PathAskDirectory(std::shared_ptr<grpc::Channel> profiles, const TenantSigner* signer,
                                   std::chrono::milliseconds deadline)
    : stub_(ppb::ProfilesService::NewStub(profiles)), signer_(signer), deadline_(deadline) {}

void PathAskDirectory::Contacts(const TenantContext& as, const std::vector<std::string>& ids,
                                std::function<void(absl::StatusOr<std::vector<ppb::Contact>>)> done) {
  struct Call {
    grpc::ClientContext context;
    ppb::BatchGetContactsRequest request;
    ppb::BatchGetContactsResponse response;
  };
  auto call = std::make_shared<Call>();
  call->context.set_deadline(std::chrono::system_clock::now() + deadline_);
  signer_->Sign(as, kBatchGetContacts, &call->context);
  for (const std::string& id : ids) call->request.add_contact_ids(id);
  stub_->async()->BatchGetContacts(
      &call->context, &call->request, &call->response, [call, done = std::move(done)](grpc::Status s) {
        if (s.ok()) {
          return done(std::vector<ppb::Contact>(std::make_move_iterator(call->response.mutable_contacts()->begin()),
                                                std::make_move_iterator(call->response.mutable_contacts()->end())));
        }
        if (IsUnavailable(s)) return done(absl::UnavailableError("profiles is unavailable; try again"));
        done(FromGrpcStatus(s));
      });
}

void PathAskDirectory::User(const TenantContext& caller, const std::string& user_id,
                            std::function<void(absl::StatusOr<std::optional<ppb::User>>)> done) {
  struct Call {
    grpc::ClientContext context;
    ppb::GetUserRequest request;
    ppb::User response;
  };
  auto call = std::make_shared<Call>();
  call->context.set_deadline(std::chrono::system_clock::now() + deadline_);
  // An internal look-up of the caller's own org's directory: the org stays
  // the caller's, so another org's user is NOT_FOUND like a missing one.
  TenantContext admin;
  admin.org_id = caller.org_id;
  admin.request_id = caller.request_id;
  admin.Add(api::v1::ADMIN);
  signer_->Sign(admin, kGetUser, &call->context);
  call->request.set_user_id(user_id);
  stub_->async()->GetUser(
      &call->context, &call->request, &call->response, [call, done = std::move(done)](grpc::Status s) {
        if (s.ok()) return done(std::optional<ppb::User>(std::move(call->response)));
        if (s.error_code() == grpc::StatusCode::NOT_FOUND || s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
          return done(std::optional<ppb::User>());
        }
        if (IsUnavailable(s)) return done(absl::UnavailableError("profiles is unavailable; try again"));
        done(FromGrpcStatus(s));
      });
}

void PathAskDirectory::Resolve(const TenantContext& caller, const pb::AskPathRequest& request,
                               std::function<void(absl::StatusOr<ResolvedAsk>)> done) {
  TenantContext reader = caller;
  reader.Add(api::v1::READ);
  reader.idempotency_key.clear();
  std::vector<std::string> ids = {request.via()};
  if (!request.target_contact_id().empty()) ids.push_back(request.target_contact_id());
  Contacts(
      reader, ids,
      [this, caller, reader, request, done = std::move(done)](absl::StatusOr<std::vector<ppb::Contact>> mine) mutable {
        if (!mine.ok()) return done(mine.status());
        ResolvedAsk out;
        out.target_name = request.target();
        const ppb::Contact* target =
            request.target_contact_id().empty() ? nullptr : FindIn(*mine, request.target_contact_id());
        if (target != nullptr) out.target_name = target->display_name();
        if (const ppb::Contact* via = FindIn(*mine, request.via()); via != nullptr) {
          // An outside connector: the target must be the caller's own record.
          if (!request.target_contact_id().empty() && target == nullptr) {
            return done(absl::NotFoundError("targetContactId: no such contact of yours"));
          }
          out.via_name = via->display_name();
          return done(out);
        }
        const bool need_theirs = !request.target_contact_id().empty() && target == nullptr;
        User(caller, request.via(),
             [this, caller, reader, request, out, need_theirs,
              done = std::move(done)](absl::StatusOr<std::optional<ppb::User>> user) mutable {
               if (!user.ok()) return done(user.status());
               if (!user->has_value() || (*user)->id() == caller.user_id || (*user)->state() == ppb::DEACTIVATED) {
                 return done(absl::NotFoundError("via: neither a contact of yours nor an active teammate"));
               }
               out.teammate = true;
               out.via_name = (*user)->display_name();
               if (!need_theirs) return done(out);
               // The teammate's ORG-visible record of the target (a 2-hop path).
               TenantContext as_teammate = reader;
               as_teammate.user_id = request.via();
               Contacts(
                   as_teammate, {request.target_contact_id()},
                   [request, out, done = std::move(done)](absl::StatusOr<std::vector<ppb::Contact>> theirs) mutable {
                     if (!theirs.ok()) return done(theirs.status());
                     const ppb::Contact* t = FindIn(*theirs, request.target_contact_id());
                     if (t == nullptr || t->visibility() != ppb::ORG) {
                       return done(absl::NotFoundError("targetContactId: no such contact of yours or of via"));
                     }
                     out.target_name = t->display_name();
                     done(out);
                   });
             });
      });
}

pb::Introduction NewAskIntroduction(const pb::AskPathRequest& request, const ResolvedAsk& resolved,
                                    const std::string& asker_user_id, const std::string& id, int64_t now_us) {
  pb::Introduction intro;
  intro.set_id(id);
  intro.set_mode(pb::REQUEST);
  if (resolved.teammate) {
    intro.set_via_user_id(request.via());
  } else {
    intro.set_contact_a_id(request.via());
  }
  intro.set_asker_user_id(asker_user_id);
  intro.set_contact_b_id(request.target_contact_id());
  intro.set_target(resolved.target_name);
  intro.set_reason(request.ask().empty() ? absl::StrCat("Hi ", resolved.via_name, ", could you introduce me to ",
                                                        resolved.target_name, "?")
                                         : request.ask());
  intro.set_state(pb::REQUESTED);
  *intro.mutable_create_time() = ToTimestamp(now_us);
  *intro.mutable_update_time() = ToTimestamp(now_us);
  return intro;
}

absl::Status AnswerAsk(pb::Introduction& intro, const std::string& caller_user_id, bool accept, int64_t now_us) {
  if (intro.via_user_id().empty() || intro.via_user_id() != caller_user_id) {
    return absl::NotFoundError("introduction not found");
  }
  if (intro.state() != pb::REQUESTED) {
    return absl::FailedPreconditionError(absl::StrCat("introduction is ", pb::IntroductionState_Name(intro.state()),
                                                      "; only REQUESTED ones are answered"));
  }
  intro.set_a_accepted(accept);
  intro.set_state(accept ? pb::ACCEPTED : pb::DECLINED);
  *intro.mutable_update_time() = ToTimestamp(now_us);
  return absl::OkStatus();
}

absl::Status AskerMayAnswer(const pb::Introduction& intro) {
  if (intro.via_user_id().empty()) return absl::OkStatus();
  return absl::PermissionDeniedError(
      "this request was made through a teammate: only they accept or decline it (:accept / :decline)");
}

}  // namespace rapport::interactions
