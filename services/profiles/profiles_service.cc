#include "services/profiles/profiles_service.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/export_page.h"
#include "services/common/field_mask.h"
#include "services/common/ids.h"
#include "services/common/pagination.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"
#include "services/profiles/admin_logic.h"
#include "services/profiles/audit_store.h"
#include "services/profiles/contact_export.h"
#include "services/profiles/contact_merge.h"
#include "services/profiles/profiles_logic.h"

namespace rapport::profiles {
namespace {

const std::set<std::string>& ContactReadOnly() {
  static const std::set<std::string> kFields = {"id", "create_time", "update_time", "effective_cadence_days"};
  return kFields;
}

// Cache-aside read of one entity: load() is the store's read. With the cache
// off, that is all (no serialize-and-parse round trip on the read path).
template <typename Msg, typename Key, typename Load>
absl::StatusOr<Msg> ReadThrough(redis::EntityCache& cache, Key key, Load load) {
  if (!cache.enabled()) return load();
  ASSIGN_OR_RETURN(std::string bytes, cache.GetOrLoad(key(), [&]() -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(Msg m, load());
    return m.SerializeAsString();
  }));
  Msg m;
  if (!m.ParseFromString(bytes)) return load();  // a bad entry: trust the store
  return m;
}

}  // namespace

ProfilesServiceImpl::ProfilesServiceImpl(ProfilesStore* store, redis::EntityCache* cache, const TenantSigner* signer,
                                         ProfilesQuotas quotas, JwtKeyOptions jwt_keys)
    : store_(store),
      cache_(cache),
      quotas_(quotas),
      jwt_keys_(&store->db()),
      jwt_key_options_(jwt_keys),
      rpc_(signer, google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
                       pb::ProfilesService::service_full_name())),
      signer_(signer),
      key_use_(store) {}

std::string ProfilesServiceImpl::ContactKey(const Owner& owner, const std::string& id) const {
  return cache_->Key(owner.org, "contact", absl::StrCat(owner.user, ":", id));
}

std::string ProfilesServiceImpl::ProfileKey(const Owner& owner) const {
  return cache_->Key(owner.org, "profile", owner.user);
}

absl::StatusOr<pb::Contact> ProfilesServiceImpl::CachedContact(const Owner& owner, const std::string& id) {
  return ReadThrough<pb::Contact>(
      *cache_, [&] { return ContactKey(owner, id); }, [&] { return store_->GetContact(owner, id); });
}

absl::StatusOr<pb::Profile> ProfilesServiceImpl::CachedProfile(const Owner& owner) {
  return ReadThrough<pb::Profile>(
      *cache_, [&] { return ProfileKey(owner); }, [&] { return store_->GetProfile(owner); });
}

// --- platform and org administration ---

grpc::ServerUnaryReactor* ProfilesServiceImpl::CreateOrg(Ctx* ctx, const pb::CreateOrgRequest* req,
                                                         pb::CreateOrgResponse* resp) {
  return rpc_.Handle(ctx, "CreateOrg", resp, [=, this](const TenantContext& t, Reply<pb::CreateOrgResponse> reply) {
    Violations v;
    v.Text("displayName", req->display_name(), kMaxNameChars, true);
    if (!v.empty()) return reply(v.ToStatus());
    int64_t now = NowMicros();
    pb::CreateOrgResponse out;
    pb::Org* org = out.mutable_org();
    org->set_id(NewId());
    org->set_display_name(req->display_name());
    *org->mutable_create_time() = ToTimestamp(now);
    NewApiKey key = MakeOrgAdminKey(org->id(), NewId(), now);
    *out.mutable_admin_key()->mutable_api_key() = key.stored.key;
    out.mutable_admin_key()->set_secret(key.secret);
    StoredJwtKey jwt_key = NewJwtKey(org->id(), NewId(), now);
    *out.mutable_jwt_key()->mutable_jwt_key() = jwt_key.key;
    out.mutable_jwt_key()->set_secret(jwt_key.secret);
    store_->CreateOrg(
        *org, key.stored, t,
        [reply, out](absl::Status s) {
          if (!s.ok()) return reply(s);
          reply(out);
        },
        std::move(jwt_key));
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::CreateUser(Ctx* ctx, const pb::CreateUserRequest* req, pb::User* resp) {
  return rpc_.Handle(ctx, "CreateUser", resp, [=, this](const TenantContext& t, Reply<pb::User> reply) {
    absl::Status valid = ValidateNewUser(*req);
    if (!valid.ok()) return reply(valid);
    pb::User user;
    user.set_id(NewId());
    user.set_display_name(req->display_name());
    user.set_email(req->email());
    user.set_timezone(req->timezone().empty() ? "UTC" : req->timezone());
    *user.mutable_create_time() = ToTimestamp(NowMicros());
    user.set_state(pb::ACTIVE);
    store_->CreateUser(t.org_id, user, IdempotencyOf(t, "CreateUser"), *req, t, reply);
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::GetUser(Ctx* ctx, const pb::GetUserRequest* req, pb::User* resp) {
  return rpc_.Handle(ctx, "GetUser", resp, [=, this](const TenantContext& t, Reply<pb::User> reply) {
    absl::Status id = RequireId("userId", req->user_id());
    if (!id.ok()) return reply(id);
    reply(store_->GetUser(t.org_id, req->user_id()));
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::ListUsers(Ctx* ctx, const pb::ListUsersRequest* req,
                                                         pb::ListUsersResponse* resp) {
  return rpc_.Handle(ctx, "ListUsers", resp, [=, this](const TenantContext& t, Reply<pb::ListUsersResponse> reply) {
    absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
    if (!page.ok()) return reply(page.status());
    absl::StatusOr<std::vector<pb::User>> users = store_->ListUsers(t.org_id, page->after, page->size + 1);
    if (!users.ok()) return reply(users.status());
    pb::ListUsersResponse out;
    out.set_next_page_token(TrimToPage(*users, page->size, [](const pb::User& u) { return u.id(); }));
    for (auto& u : *users) *out.add_users() = std::move(u);
    reply(std::move(out));
  });
}

// --- API keys ---

grpc::ServerUnaryReactor* ProfilesServiceImpl::CreateApiKey(Ctx* ctx, const pb::CreateApiKeyRequest* req,
                                                            pb::ApiKeySecret* resp) {
  return rpc_.Handle(ctx, "CreateApiKey", resp, [=, this](const TenantContext& t, Reply<pb::ApiKeySecret> reply) {
    absl::StatusOr<NewApiKey> key = MakeApiKey(t.org_id, NewId(), *req, NowMicros());
    if (!key.ok()) return reply(key.status());
    pb::ApiKeySecret out;
    out.set_secret(key->secret);
    *out.mutable_api_key() = key->stored.key;
    store_->CreateApiKey(key->stored, quotas_.api_keys_per_org, t, [reply, out](absl::Status s) {
      if (!s.ok()) return reply(s);
      reply(out);
    });
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::ListApiKeys(Ctx* ctx, const pb::ListApiKeysRequest* req,
                                                           pb::ListApiKeysResponse* resp) {
  return rpc_.Handle(ctx, "ListApiKeys", resp, [=, this](const TenantContext& t, Reply<pb::ListApiKeysResponse> reply) {
    absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
    if (!page.ok()) return reply(page.status());
    absl::StatusOr<std::vector<pb::ApiKey>> keys = store_->ListApiKeys(t.org_id, page->after, page->size + 1);
    if (!keys.ok()) return reply(keys.status());
    pb::ListApiKeysResponse out;
    out.set_next_page_token(TrimToPage(*keys, page->size, [](const pb::ApiKey& k) { return k.id(); }));
    for (auto& k : *keys) *out.add_api_keys() = std::move(k);
    reply(std::move(out));
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::RevokeApiKey(Ctx* ctx, const pb::RevokeApiKeyRequest* req,
                                                            pb::RevokeApiKeyResponse* resp) {
  return rpc_.Handle(
      ctx, "RevokeApiKey", resp, [=, this](const TenantContext& t, Reply<pb::RevokeApiKeyResponse> reply) {
        absl::Status id = RequireId("keyId", req->key_id());
        if (!id.ok()) return reply(id);
        store_->RevokeApiKey(t.org_id, req->key_id(), NowMicros(), t, Then<pb::ApiKey>(reply, [](pb::ApiKey key) {
                               pb::RevokeApiKeyResponse out;
                               *out.mutable_api_key() = std::move(key);
                               return out;
                             }));
      });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::UpdateUser(Ctx* ctx, const pb::UpdateUserRequest* req, pb::User* resp) {
  return rpc_.Handle(ctx, "UpdateUser", resp, [=, this](const TenantContext& t, Reply<pb::User> reply) {
    absl::Status id = RequireId("userId", req->user_id());
    if (!id.ok()) return reply(id);
    pb::UpdateUserRequest request = *req;
    store_->UpdateUser(
        t.org_id, req->user_id(), [request](pb::User& user) { return ApplyUserUpdate(request, user); }, NowMicros(), t,
        reply);
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::UpdateApiKey(Ctx* ctx, const pb::UpdateApiKeyRequest* req,
                                                            pb::ApiKey* resp) {
  return rpc_.Handle(ctx, "UpdateApiKey", resp, [=, this](const TenantContext& t, Reply<pb::ApiKey> reply) {
    absl::Status id = RequireId("keyId", req->key_id());
    if (!id.ok()) return reply(id);
    pb::UpdateApiKeyRequest request = *req;
    store_->UpdateApiKey(
        t.org_id, req->key_id(), [request](pb::ApiKey& key) { return ApplyApiKeyUpdate(request, key); }, t, reply);
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::ListAuditEntries(Ctx* ctx, const pb::ListAuditEntriesRequest* req,
                                                                pb::ListAuditEntriesResponse* resp) {
  return rpc_.Handle(ctx, "ListAuditEntries", resp,
                     [=, this](const TenantContext& t, Reply<pb::ListAuditEntriesResponse> reply) {
                       reply(ListAudit(t.org_id, *req));
                     });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::ListPlatformAuditEntries(Ctx* ctx,
                                                                        const pb::ListAuditEntriesRequest* req,
                                                                        pb::ListAuditEntriesResponse* resp) {
  return rpc_.Handle(ctx, "ListPlatformAuditEntries", resp,
                     [=, this](const TenantContext&, Reply<pb::ListAuditEntriesResponse> reply) {
                       reply(ListAudit(audit::kPlatformOrg, *req));
                     });
}

absl::StatusOr<pb::ListAuditEntriesResponse> ProfilesServiceImpl::ListAudit(const std::string& org,
                                                                            const pb::ListAuditEntriesRequest& req) {
  ASSIGN_OR_RETURN(Page page, ParsePage(req.page_size(), req.page_token()));
  ASSIGN_OR_RETURN(AuditFilter filter, AuditFilterOf(req));
  ASSIGN_OR_RETURN(std::vector<pb::AuditEntry> entries,
                   store_->ListAuditEntries(org, filter, page.after, page.size + 1));
  pb::ListAuditEntriesResponse out;
  out.set_next_page_token(TrimToPage(entries, page.size, AuditPageKey));
  for (auto& e : entries) *out.add_entries() = std::move(e);
  return out;
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::VerifyApiKey(Ctx* ctx, const pb::VerifyApiKeyRequest* req,
                                                            pb::VerifyApiKeyResponse* resp) {
  return rpc_.Handle(ctx, "VerifyApiKey", resp, [=, this](const TenantContext&, Reply<pb::VerifyApiKeyResponse> reply) {
    const int64_t now = NowMicros();
    absl::StatusOr<pb::VerifyApiKeyResponse> verdict = VerifyApiKeySecret(
        req->secret(),
        [this](const std::string& org_id, const std::string& key_id) { return store_->GetApiKey(org_id, key_id); },
        now);
    if (verdict.ok() && !verdict->user_id().empty()) {
      // A personal key is refused while its user is deactivated (or gone).
      absl::StatusOr<pb::User> user = store_->GetUser(verdict->org_id(), verdict->user_id());
      if (absl::IsNotFound(user.status()) || (user.ok() && user->state() == pb::DEACTIVATED)) {
        return reply(absl::UnauthenticatedError("invalid API key"));
      }
      if (!user.ok()) return reply(user.status());
    }
    if (verdict.ok()) key_use_.Used(verdict->org_id(), verdict->key_id(), now);
    reply(std::move(verdict));
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::GetUsage(Ctx* ctx, const pb::GetUsageRequest*,
                                                        pb::GetUsageResponse* resp) {
  return rpc_.Handle(ctx, "GetUsage", resp, [=, this](const TenantContext& t, Reply<pb::GetUsageResponse> reply) {
    if (t.org_id.empty()) return reply(absl::InvalidArgumentError("org: the call names no org"));
    absl::StatusOr<std::vector<pb::QuotaUsage>> usage = store_->Usage(t.org_id, quotas_);
    if (!usage.ok()) return reply(usage.status());
    pb::GetUsageResponse out;
    for (pb::QuotaUsage& q : *usage) *out.add_quotas() = std::move(q);
    reply(std::move(out));
  });
}

// --- own profile ---

grpc::ServerUnaryReactor* ProfilesServiceImpl::GetMe(Ctx* ctx, const pb::GetMeRequest*, pb::Profile* resp) {
  return rpc_.Handle(ctx, "GetMe", resp,
                     [=, this](const TenantContext& t, Reply<pb::Profile> reply) { reply(CachedProfile(OwnerOf(t))); });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::UpdateMe(Ctx* ctx, const pb::UpdateMeRequest* req, pb::Profile* resp) {
  return rpc_.Handle(ctx, "UpdateMe", resp, [=, this](const TenantContext& t, Reply<pb::Profile> reply) {
    Owner owner = OwnerOf(t);
    pb::UpdateMeRequest request = *req;
    int64_t now = NowMicros();
    store_->UpdateProfile(
        owner,
        [request, now](pb::Profile& profile) -> absl::Status {
          static const std::set<std::string> kReadOnly = {"user_id", "update_time"};
          RETURN_IF_ERROR(ApplyFieldMask(request.profile(), request.update_mask(), kReadOnly, "", &profile));
          RETURN_IF_ERROR(ValidateProfile(profile));
          *profile.mutable_update_time() = ToTimestamp(now);
          return absl::OkStatus();
        },
        [this, owner, reply](absl::StatusOr<pb::Profile> result) {
          if (!result.ok()) return reply(result.status());
          cache_->InvalidateThen(ProfileKey(owner), [reply, result] { reply(result); });
        });
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::GetCompleteness(Ctx* ctx, const pb::GetCompletenessRequest*,
                                                               pb::GetCompletenessResponse* resp) {
  return rpc_.Handle(ctx, "GetCompleteness", resp,
                     [=, this](const TenantContext& t, Reply<pb::GetCompletenessResponse> reply) {
                       absl::StatusOr<pb::Profile> profile = CachedProfile(OwnerOf(t));
                       if (!profile.ok()) return reply(profile.status());
                       reply(Completeness(*profile));
                     });
}

// --- contacts ---

grpc::ServerUnaryReactor* ProfilesServiceImpl::CreateContact(Ctx* ctx, const pb::CreateContactRequest* req,
                                                             pb::Contact* resp) {
  return rpc_.Handle(ctx, "CreateContact", resp, [=, this](const TenantContext& t, Reply<pb::Contact> reply) {
    pb::Contact contact = req->contact();
    Violations v;
    if (!contact.id().empty()) v.Add("contact.id", "is assigned by the server");
    if (contact.has_create_time() || contact.has_update_time())
      v.Add("contact.createTime", "is assigned by the server");
    if (!v.empty()) return reply(v.ToStatus());
    contact.set_id(NewId());
    NormalizeContact(&contact);
    absl::Status valid = ValidateContact(contact);
    if (!valid.ok()) return reply(valid);
    int64_t now = NowMicros();
    *contact.mutable_create_time() = ToTimestamp(now);
    *contact.mutable_update_time() = ToTimestamp(now);
    store_->CreateContact(OwnerOf(t), contact, IdempotencyOf(t, "CreateContact"), *req, quotas_.contacts_per_user,
                          reply);
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::GetContact(Ctx* ctx, const pb::GetContactRequest* req,
                                                          pb::Contact* resp) {
  return rpc_.Handle(ctx, "GetContact", resp, [=, this](const TenantContext& t, Reply<pb::Contact> reply) {
    absl::Status id = RequireId("contactId", req->contact_id());
    if (!id.ok()) return reply(id);
    reply(CachedContact(OwnerOf(t), req->contact_id()));
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::BatchGetContacts(Ctx* ctx, const pb::BatchGetContactsRequest* req,
                                                                pb::BatchGetContactsResponse* resp) {
  return rpc_.Handle(ctx, "BatchGetContacts", resp,
                     [=, this](const TenantContext& t, Reply<pb::BatchGetContactsResponse> reply) {
                       absl::Status valid = ValidateBatchGetContacts(*req);
                       if (!valid.ok()) return reply(valid);
                       // From the store even with the entity cache on: one
                       // indexed query costs less than a cache round trip per
                       // id, and the store is never stale.
                       absl::StatusOr<std::vector<pb::Contact>> contacts = store_->GetContacts(
                           OwnerOf(t), std::vector<std::string>(req->contact_ids().begin(), req->contact_ids().end()));
                       if (!contacts.ok()) return reply(contacts.status());
                       pb::BatchGetContactsResponse out;
                       for (auto& c : *contacts) *out.add_contacts() = std::move(c);
                       reply(std::move(out));
                     });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::UpdateContact(Ctx* ctx, const pb::UpdateContactRequest* req,
                                                             pb::Contact* resp) {
  return rpc_.Handle(ctx, "UpdateContact", resp, [=, this](const TenantContext& t, Reply<pb::Contact> reply) {
    absl::Status id = RequireId("contactId", req->contact_id());
    if (!id.ok()) return reply(id);
    Owner owner = OwnerOf(t);
    pb::UpdateContactRequest request = *req;
    int64_t now = NowMicros();
    store_->UpdateContact(
        owner, req->contact_id(),
        [request, now](pb::Contact& contact) -> absl::Status {
          RETURN_IF_ERROR(
              ApplyFieldMask(request.contact(), request.update_mask(), ContactReadOnly(), "contact", &contact));
          NormalizeContact(&contact);
          RETURN_IF_ERROR(ValidateContact(contact));
          *contact.mutable_update_time() = ToTimestamp(now);
          return absl::OkStatus();
        },
        [this, owner, reply, contact_id = req->contact_id()](absl::StatusOr<pb::Contact> result) {
          if (!result.ok()) return reply(result.status());
          cache_->InvalidateThen(ContactKey(owner, contact_id), [reply, result] { reply(result); });
        });
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::DeleteContact(Ctx* ctx, const pb::DeleteContactRequest* req,
                                                             pb::DeleteContactResponse* resp) {
  return rpc_.Handle(
      ctx, "DeleteContact", resp, [=, this](const TenantContext& t, Reply<pb::DeleteContactResponse> reply) {
        absl::Status id = RequireId("contactId", req->contact_id());
        if (!id.ok()) return reply(id);
        Owner owner = OwnerOf(t);
        store_->DeleteContact(
            owner, req->contact_id(), [this, owner, reply, contact_id = req->contact_id()](absl::Status s) {
              if (!s.ok()) return reply(s);
              cache_->InvalidateThen(ContactKey(owner, contact_id), [reply] { reply(pb::DeleteContactResponse()); });
            });
      });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::ListContacts(Ctx* ctx, const pb::ListContactsRequest* req,
                                                            pb::ListContactsResponse* resp) {
  return rpc_.Handle(
      ctx, "ListContacts", resp, [=, this](const TenantContext& t, Reply<pb::ListContactsResponse> reply) {
        absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
        if (!page.ok()) return reply(page.status());
        Violations v;
        v.Text("query", req->query(), kMaxNameChars);
        v.Text("tag", req->tag(), 50);
        if (!pb::Tier_IsValid(req->tier())) v.Add("tier", "is not INNER, CLOSE, NETWORK or ACQUAINTANCE");
        v.Id("groupId", req->group_id(), /*required=*/false);
        if (!v.empty()) return reply(v.ToStatus());
        ContactFilter filter{req->query(), req->tag(), req->tier(), req->group_id()};
        absl::StatusOr<std::vector<pb::Contact>> contacts =
            store_->ListContacts(OwnerOf(t), filter, page->after, page->size + 1);
        if (!contacts.ok()) return reply(contacts.status());
        pb::ListContactsResponse out;
        out.set_next_page_token(TrimToPage(*contacts, page->size, [](const pb::Contact& c) { return c.id(); }));
        for (auto& c : *contacts) *out.add_contacts() = std::move(c);
        reply(std::move(out));
      });
}

grpc::ServerWriteReactor<api::v1::HttpBody>* ProfilesServiceImpl::ExportContacts(Ctx* ctx,
                                                                                 const pb::ExportContactsRequest* req) {
  static const google::protobuf::ServiceDescriptor* const kService =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(pb::ProfilesService::service_full_name());
  absl::StatusOr<TenantContext> t = Authorize(*signer_, *ctx, kService, "ExportContacts");
  if (!t.ok()) return RefuseContactExport(ToGrpcStatus(t.status()));
  absl::StatusOr<ContactExportFormat> format = ParseContactExportFormat(req->format());
  if (!format.ok()) return RefuseContactExport(ToGrpcStatus(format.status()));
  log::Info("contact export", {{"org", t->org_id}, {"user", t->user_id}, {"format", req->format()}});
  // No export without its audit entry (a short write, before the first page).
  absl::Status audited =
      store_->RecordAudit(*t, {.action = "contacts.exported",
                               .target_id = t->user_id,
                               .detail = *format == ContactExportFormat::kCsv ? "format: csv" : "format: vcard"});
  if (!audited.ok()) return RefuseContactExport(ToGrpcStatus(audited));
  return StartContactExport(store_, OwnerOf(*t), *format);
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::ExportAccount(Ctx* ctx, const pb::ExportAccountRequest*,
                                                             pb::AccountExport* resp) {
  return rpc_.Handle(ctx, "ExportAccount", resp, [=, this](const TenantContext& t, Reply<pb::AccountExport> reply) {
    if (exports_ == nullptr) return reply(absl::UnavailableError("account exports are not served here"));
    pb::AccountExport job;
    job.set_id(NewId());
    job.set_state(pb::AccountExport::PENDING);
    *job.mutable_create_time() = ToTimestamp(NowMicros());
    log::Info("account export requested", {{"org", t.org_id}, {"user", t.user_id}, {"export", job.id()}});
    exports_->Create(
        OwnerOf(t), job,
        [this, job, reply](absl::Status s) {
          if (!s.ok()) return reply(s);
          if (exporter_ != nullptr) exporter_->Kick();
          reply(job);
        },
        t);
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::GetAccountExport(Ctx* ctx, const pb::GetAccountExportRequest* req,
                                                                pb::AccountExport* resp) {
  return rpc_.Handle(ctx, "GetAccountExport", resp, [=, this](const TenantContext& t, Reply<pb::AccountExport> reply) {
    absl::Status id = RequireId("exportId", req->export_id());
    if (!id.ok()) return reply(id);
    if (exports_ == nullptr) return reply(absl::NotFoundError("export not found"));
    reply(exports_->Get(OwnerOf(t), req->export_id()));
  });
}

grpc::ServerWriteReactor<api::v1::HttpBody>* ProfilesServiceImpl::DownloadAccountExport(
    Ctx* ctx, const pb::DownloadAccountExportRequest* req) {
  static const google::protobuf::ServiceDescriptor* const kService =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(pb::ProfilesService::service_full_name());
  absl::StatusOr<TenantContext> t = Authorize(*signer_, *ctx, kService, "DownloadAccountExport");
  if (!t.ok()) return RefuseContactExport(ToGrpcStatus(t.status()));
  absl::Status id = RequireId("exportId", req->export_id());
  if (!id.ok()) return RefuseContactExport(ToGrpcStatus(id));
  if (exports_ == nullptr) return RefuseContactExport(grpc::Status(grpc::StatusCode::NOT_FOUND, "export not found"));
  return StartAccountExportDownload(exports_, OwnerOf(*t), req->export_id());
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::DeleteUser(Ctx* ctx, const pb::DeleteUserRequest* req,
                                                          pb::DeleteUserResponse* resp) {
  return rpc_.Handle(ctx, "DeleteUser", resp, [=, this](const TenantContext& t, Reply<pb::DeleteUserResponse> reply) {
    absl::Status id = RequireId("userId", req->user_id());
    if (!id.ok()) return reply(id);
    // Only the admin's own org: another org's user answers NOT_FOUND.
    const Owner owner{t.org_id, req->user_id()};
    log::Info("erasing user", {{"org", t.org_id}, {"user", req->user_id()}});
    store_->DeleteUser(t.org_id, req->user_id(), t, [this, owner, reply](absl::Status s) {
      if (!s.ok()) return reply(s);
      cache_->InvalidateThen(ProfileKey(owner), [reply] { reply(pb::DeleteUserResponse()); });
    });
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::DeleteOrg(Ctx* ctx, const pb::DeleteOrgRequest* req,
                                                         pb::DeleteOrgResponse* resp) {
  return rpc_.Handle(ctx, "DeleteOrg", resp, [=, this](const TenantContext& t, Reply<pb::DeleteOrgResponse> reply) {
    absl::Status id = RequireId("orgId", req->org_id());
    if (!id.ok()) return reply(id);
    log::Info("erasing org", {{"org", req->org_id()}});
    store_->DeleteOrg(req->org_id(), t, Acknowledge(reply));
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::ListBirthdays(Ctx* ctx, const pb::ListBirthdaysRequest* req,
                                                             pb::ListBirthdaysResponse* resp) {
  return rpc_.Handle(ctx, "ListBirthdays", resp,
                     [=, this](const TenantContext& t, Reply<pb::ListBirthdaysResponse> reply) {
                       int within = req->within_days() == 0 ? 30 : req->within_days();
                       if (within < 0 || within > 366)
                         return reply(absl::InvalidArgumentError("withinDays: must be 0..366"));
                       Owner owner = OwnerOf(t);
                       absl::StatusOr<pb::Profile> profile = CachedProfile(owner);
                       if (!profile.ok()) return reply(profile.status());
                       absl::TimeZone tz = absl::UTCTimeZone();
                       absl::LoadTimeZone(profile->timezone(), &tz);  // validated on write; UTC if the zone vanished
                       absl::CivilDay today = absl::ToCivilDay(absl::Now(), tz);
                       absl::StatusOr<std::vector<pb::Contact>> contacts = store_->ListContactsWithBirthday(owner);
                       if (!contacts.ok()) return reply(contacts.status());
                       pb::ListBirthdaysResponse out;
                       for (auto& b : UpcomingBirthdays(*contacts, today, within)) *out.add_birthdays() = std::move(b);
                       reply(std::move(out));
                     });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::ListContactGroups(Ctx* ctx, const pb::ListContactGroupsRequest* req,
                                                                 pb::ListContactGroupsResponse* resp) {
  return rpc_.Handle(
      ctx, "ListContactGroups", resp, [=, this](const TenantContext& t, Reply<pb::ListContactGroupsResponse> reply) {
        absl::Status id = RequireId("contactId", req->contact_id());
        if (!id.ok()) return reply(id);
        absl::StatusOr<std::vector<pb::ContactGroup>> groups = store_->ListMemberGroups(OwnerOf(t), req->contact_id());
        if (!groups.ok()) return reply(groups.status());
        pb::ListContactGroupsResponse out;
        for (auto& g : *groups) *out.add_groups() = std::move(g);
        reply(std::move(out));
      });
}

// --- groups and memberships ---

grpc::ServerUnaryReactor* ProfilesServiceImpl::CreateGroup(Ctx* ctx, const pb::CreateGroupRequest* req,
                                                           pb::Group* resp) {
  return rpc_.Handle(ctx, "CreateGroup", resp, [=, this](const TenantContext& t, Reply<pb::Group> reply) {
    pb::Group group = req->group();
    if (!group.id().empty()) return reply(absl::InvalidArgumentError("group.id: is assigned by the server"));
    if (group.kind() == pb::GROUP_KIND_UNSPECIFIED) group.set_kind(pb::OTHER);
    absl::Status valid = ValidateGroup(group);
    if (!valid.ok()) return reply(valid);
    group.set_id(NewId());
    int64_t now = NowMicros();
    *group.mutable_create_time() = ToTimestamp(now);
    *group.mutable_update_time() = ToTimestamp(now);
    store_->CreateGroup(OwnerOf(t), group, IdempotencyOf(t, "CreateGroup"), *req, reply);
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::GetGroup(Ctx* ctx, const pb::GetGroupRequest* req, pb::Group* resp) {
  return rpc_.Handle(ctx, "GetGroup", resp, [=, this](const TenantContext& t, Reply<pb::Group> reply) {
    absl::Status id = RequireId("groupId", req->group_id());
    if (!id.ok()) return reply(id);
    reply(store_->GetGroup(OwnerOf(t), req->group_id()));
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::UpdateGroup(Ctx* ctx, const pb::UpdateGroupRequest* req,
                                                           pb::Group* resp) {
  return rpc_.Handle(ctx, "UpdateGroup", resp, [=, this](const TenantContext& t, Reply<pb::Group> reply) {
    absl::Status id = RequireId("groupId", req->group_id());
    if (!id.ok()) return reply(id);
    pb::UpdateGroupRequest request = *req;
    int64_t now = NowMicros();
    store_->UpdateGroup(
        OwnerOf(t), req->group_id(),
        [request, now](pb::Group& group) -> absl::Status {
          static const std::set<std::string> kReadOnly = {"id", "create_time", "update_time"};
          RETURN_IF_ERROR(ApplyFieldMask(request.group(), request.update_mask(), kReadOnly, "group", &group));
          RETURN_IF_ERROR(ValidateGroup(group));
          *group.mutable_update_time() = ToTimestamp(now);
          return absl::OkStatus();
        },
        reply);
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::DeleteGroup(Ctx* ctx, const pb::DeleteGroupRequest* req,
                                                           pb::DeleteGroupResponse* resp) {
  return rpc_.Handle(ctx, "DeleteGroup", resp, [=, this](const TenantContext& t, Reply<pb::DeleteGroupResponse> reply) {
    absl::Status id = RequireId("groupId", req->group_id());
    if (!id.ok()) return reply(id);
    store_->DeleteGroup(OwnerOf(t), req->group_id(), Acknowledge(reply));
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::ListGroups(Ctx* ctx, const pb::ListGroupsRequest* req,
                                                          pb::ListGroupsResponse* resp) {
  return rpc_.Handle(ctx, "ListGroups", resp, [=, this](const TenantContext& t, Reply<pb::ListGroupsResponse> reply) {
    absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
    if (!page.ok()) return reply(page.status());
    absl::StatusOr<std::vector<pb::Group>> groups = store_->ListGroups(OwnerOf(t), page->after, page->size + 1);
    if (!groups.ok()) return reply(groups.status());
    pb::ListGroupsResponse out;
    out.set_next_page_token(TrimToPage(*groups, page->size, [](const pb::Group& g) { return g.id(); }));
    for (auto& g : *groups) *out.add_groups() = std::move(g);
    reply(std::move(out));
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::PutMember(Ctx* ctx, const pb::PutMemberRequest* req,
                                                         pb::GroupMember* resp) {
  return rpc_.Handle(ctx, "PutMember", resp, [=, this](const TenantContext& t, Reply<pb::GroupMember> reply) {
    Violations v;
    v.Id("groupId", req->group_id(), true);
    v.Id("memberId", req->member_id(), true);
    if (!pb::MemberRole_IsValid(req->role())) v.Add("role", "is not MEMBER, LEADER or ORGANIZER");
    if (!v.empty()) return reply(v.ToStatus());
    pb::MemberRole role = req->role() == pb::MEMBER_ROLE_UNSPECIFIED ? pb::MEMBER : req->role();
    store_->PutMember(OwnerOf(t), req->group_id(), req->member_id(), role, NowMicros(), reply);
  });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::RemoveMember(Ctx* ctx, const pb::RemoveMemberRequest* req,
                                                            pb::RemoveMemberResponse* resp) {
  return rpc_.Handle(ctx, "RemoveMember", resp,
                     [=, this](const TenantContext& t, Reply<pb::RemoveMemberResponse> reply) {
                       Violations v;
                       v.Id("groupId", req->group_id(), true);
                       v.Id("memberId", req->member_id(), true);
                       if (!v.empty()) return reply(v.ToStatus());
                       store_->RemoveMember(OwnerOf(t), req->group_id(), req->member_id(), Acknowledge(reply));
                     });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::ListMembers(Ctx* ctx, const pb::ListMembersRequest* req,
                                                           pb::ListMembersResponse* resp) {
  return rpc_.Handle(ctx, "ListMembers", resp, [=, this](const TenantContext& t, Reply<pb::ListMembersResponse> reply) {
    absl::Status id = RequireId("groupId", req->group_id());
    if (!id.ok()) return reply(id);
    absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
    if (!page.ok()) return reply(page.status());
    absl::StatusOr<std::vector<pb::GroupMember>> members =
        store_->ListMembers(OwnerOf(t), req->group_id(), page->after, page->size + 1);
    if (!members.ok()) return reply(members.status());
    pb::ListMembersResponse out;
    out.set_next_page_token(TrimToPage(*members, page->size, [](const pb::GroupMember& m) { return m.member_id(); }));
    for (auto& m : *members) *out.add_members() = std::move(m);
    reply(std::move(out));
  });
}

// --- internal export for backfills ---

ProfilesBackfillImpl::ProfilesBackfillImpl(ProfilesStore* store, const TenantSigner* signer)
    : store_(store),
      rpc_(signer, google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
                       backfill::v1::ProfilesBackfill::service_full_name())) {}

grpc::ServerUnaryReactor* ProfilesBackfillImpl::ExportUsers(Ctx* ctx, const Req* req, Resp* resp) {
  return rpc_.Handle(ctx, "ExportUsers", resp, [=, this](const TenantContext&, Reply<Resp> reply) {
    reply(ExportPage(*req, 2, [this](const auto& after, int limit) { return store_->ExportUsers(after, limit); }));
  });
}

grpc::ServerUnaryReactor* ProfilesBackfillImpl::ExportContacts(Ctx* ctx, const Req* req, Resp* resp) {
  return rpc_.Handle(ctx, "ExportContacts", resp, [=, this](const TenantContext&, Reply<Resp> reply) {
    reply(ExportPage(*req, 3, [this](const auto& after, int limit) { return store_->ExportContacts(after, limit); }));
  });
}

grpc::ServerUnaryReactor* ProfilesBackfillImpl::ExportMemberships(Ctx* ctx, const Req* req, Resp* resp) {
  return rpc_.Handle(ctx, "ExportMemberships", resp, [=, this](const TenantContext&, Reply<Resp> reply) {
    reply(
        ExportPage(*req, 4, [this](const auto& after, int limit) { return store_->ExportMemberships(after, limit); }));
  });
}

// --- duplicates and merge ---

grpc::ServerUnaryReactor* ProfilesServiceImpl::ListDuplicateContacts(Ctx* ctx,
                                                                     const pb::ListDuplicateContactsRequest* req,
                                                                     pb::ListDuplicateContactsResponse* resp) {
  return rpc_.Handle(ctx, "ListDuplicateContacts", resp,
                     [=, this](const TenantContext& t, Reply<pb::ListDuplicateContactsResponse> reply) {
                       absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
                       if (!page.ok()) return reply(page.status());
                       Owner owner = OwnerOf(t);
                       // From the store, not the entity cache: one read of the key index.
                       store_->EnsureContactKeys(owner, [this, owner, page = *page, reply](absl::Status ready) {
                         if (!ready.ok()) return reply(ready);
                         absl::StatusOr<std::vector<pb::DuplicateSet>> sets =
                             store_->ListDuplicates(owner, page.after, page.size + 1);
                         if (!sets.ok()) return reply(sets.status());
                         pb::ListDuplicateContactsResponse out;
                         out.set_next_page_token(TrimToPage(
                             *sets, page.size, [](const pb::DuplicateSet& s) { return s.contacts(0).id(); }));
                         for (auto& s : *sets) *out.add_sets() = std::move(s);
                         reply(std::move(out));
                       });
                     });
}

grpc::ServerUnaryReactor* ProfilesServiceImpl::MergeContacts(Ctx* ctx, const pb::MergeContactsRequest* req,
                                                             pb::MergeContactsResponse* resp) {
  return rpc_.Handle(
      ctx, "MergeContacts", resp, [=, this](const TenantContext& t, Reply<pb::MergeContactsResponse> reply) {
        absl::Status valid = ValidateMergeContacts(*req);
        if (!valid.ok()) return reply(valid);
        Owner owner = OwnerOf(t);
        int64_t now = NowMicros();
        auto combine = [now](const pb::Contact& survivor,
                             const std::vector<pb::Contact>& others) -> absl::StatusOr<pb::Contact> {
          pb::Contact merged = CombineContacts(survivor, others);
          NormalizeContact(&merged);
          // United lists or joined notes over a contact's limits: the merge
          // would lose data, so it is refused and the user trims first.
          absl::Status valid = ValidateContact(merged);
          if (!valid.ok()) {
            return absl::FailedPreconditionError(
                absl::StrCat("the merged contact would exceed a limit: ", valid.message()));
          }
          *merged.mutable_update_time() = ToTimestamp(now);
          return merged;
        };
        std::vector<std::string> ids = {req->contact_id()};
        ids.insert(ids.end(), req->other_ids().begin(), req->other_ids().end());
        store_->MergeContacts(owner, *req, IdempotencyOf(t, "MergeContacts"), std::move(combine),
                              [this, owner, ids, reply](absl::StatusOr<pb::MergeContactsResponse> result) {
                                if (!result.ok()) return reply(result.status());
                                InvalidateContacts(owner, ids, [reply, result] { reply(result); });
                              });
      });
}

// Invalidates the cached entries of ids, one after the other, then calls then.
void ProfilesServiceImpl::InvalidateContacts(const Owner& owner, std::vector<std::string> ids,
                                             std::function<void()> then) {
  if (ids.empty()) return then();
  std::string key = ContactKey(owner, ids.back());
  ids.pop_back();
  cache_->InvalidateThen(key, [this, owner, ids = std::move(ids), then = std::move(then)]() mutable {
    InvalidateContacts(owner, std::move(ids), std::move(then));
  });
}

grpc::ServerUnaryReactor* ProfilesBackfillImpl::ListOrgs(Ctx* ctx, const backfill::v1::ListOrgsRequest* req,
                                                         backfill::v1::ListOrgsResponse* resp) {
  using Out = backfill::v1::ListOrgsResponse;
  return rpc_.Handle(ctx, "ListOrgs", resp, [=, this](const TenantContext&, Reply<Out> reply) {
    absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
    if (!page.ok()) return reply(page.status());
    absl::StatusOr<std::vector<std::string>> ids = store_->ListOrgIds(page->after, page->size + 1);
    if (!ids.ok()) return reply(ids.status());
    Out out;
    out.set_next_page_token(TrimToPage(*ids, page->size, [](const std::string& id) { return id; }));
    for (auto& id : *ids) out.add_org_ids(std::move(id));
    reply(std::move(out));
  });
}

}  // namespace rapport::profiles
