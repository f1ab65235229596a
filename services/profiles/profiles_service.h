// The gRPC adapter of the profiles service (callback API): each handler
// decodes the request, calls the rules in profiles_logic.h and the store, and
// encodes the answer. It also keeps the entity cache (when enabled) coherent
// by deleting keys after each committed write. Authorization from signed
// tenant metadata is RpcHandler's (services/common/rpc.h). No SQL and no
// business rule here.
//
// Thread-safety: handlers run concurrently; the service's only mutable state
// is the key-use recorder's (thread-safe).
#ifndef RAPPORT_SERVICES_PROFILES_PROFILES_SERVICE_H_
#define RAPPORT_SERVICES_PROFILES_PROFILES_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "rapport/backfill/v1/backfill.grpc.pb.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/redis_client.h"
#include "services/common/rpc.h"
#include "services/common/tenant.h"
#include "services/profiles/account_export.h"
#include "services/profiles/jwt_keys_logic.h"
#include "services/profiles/jwt_keys_store.h"
#include "services/profiles/key_use.h"
#include "services/profiles/profiles_store.h"

namespace rapport::profiles {
class ImportStore;
class ImportRunner;
}  // namespace rapport::profiles

namespace rapport::profiles {

class ProfilesServiceImpl final : public pb::ProfilesService::CallbackService {
 public:
  // store, cache and signer must outlive the service.
  ProfilesServiceImpl(ProfilesStore* store, redis::EntityCache* cache, const TenantSigner* signer,
                      ProfilesQuotas quotas = {}, JwtKeyOptions jwt_keys = {});

  using Ctx = grpc::CallbackServerContext;
  using R = grpc::ServerUnaryReactor;

  R* CreateOrg(Ctx* ctx, const pb::CreateOrgRequest* req, pb::CreateOrgResponse* resp) override;
  R* CreateUser(Ctx* ctx, const pb::CreateUserRequest* req, pb::User* resp) override;
  R* GetUser(Ctx* ctx, const pb::GetUserRequest* req, pb::User* resp) override;
  R* ListUsers(Ctx* ctx, const pb::ListUsersRequest* req, pb::ListUsersResponse* resp) override;
  R* CreateApiKey(Ctx* ctx, const pb::CreateApiKeyRequest* req, pb::ApiKeySecret* resp) override;
  R* ListApiKeys(Ctx* ctx, const pb::ListApiKeysRequest* req, pb::ListApiKeysResponse* resp) override;
  R* RevokeApiKey(Ctx* ctx, const pb::RevokeApiKeyRequest* req, pb::RevokeApiKeyResponse* resp) override;
  R* UpdateUser(Ctx* ctx, const pb::UpdateUserRequest* req, pb::User* resp) override;
  R* UpdateApiKey(Ctx* ctx, const pb::UpdateApiKeyRequest* req, pb::ApiKey* resp) override;
  R* ListAuditEntries(Ctx* ctx, const pb::ListAuditEntriesRequest* req, pb::ListAuditEntriesResponse* resp) override;
  R* ListPlatformAuditEntries(Ctx* ctx, const pb::ListAuditEntriesRequest* req,
                              pb::ListAuditEntriesResponse* resp) override;
  R* VerifyApiKey(Ctx* ctx, const pb::VerifyApiKeyRequest* req, pb::VerifyApiKeyResponse* resp) override;
  R* GetUsage(Ctx* ctx, const pb::GetUsageRequest* req, pb::GetUsageResponse* resp) override;
  // JWT signing keys: jwt_keys_service.cc.
  R* RotateJwtKey(Ctx* ctx, const pb::RotateJwtKeyRequest* req, pb::JwtKeySecret* resp) override;
  R* ListJwtKeys(Ctx* ctx, const pb::ListJwtKeysRequest* req, pb::ListJwtKeysResponse* resp) override;
  R* ResolveJwtKey(Ctx* ctx, const pb::ResolveJwtKeyRequest* req, pb::ResolveJwtKeyResponse* resp) override;
  R* GetMe(Ctx* ctx, const pb::GetMeRequest* req, pb::Profile* resp) override;
  R* UpdateMe(Ctx* ctx, const pb::UpdateMeRequest* req, pb::Profile* resp) override;
  R* GetCompleteness(Ctx* ctx, const pb::GetCompletenessRequest* req, pb::GetCompletenessResponse* resp) override;
  R* CreateContact(Ctx* ctx, const pb::CreateContactRequest* req, pb::Contact* resp) override;
  R* GetContact(Ctx* ctx, const pb::GetContactRequest* req, pb::Contact* resp) override;
  R* BatchGetContacts(Ctx* ctx, const pb::BatchGetContactsRequest* req, pb::BatchGetContactsResponse* resp) override;
  R* UpdateContact(Ctx* ctx, const pb::UpdateContactRequest* req, pb::Contact* resp) override;
  R* DeleteContact(Ctx* ctx, const pb::DeleteContactRequest* req, pb::DeleteContactResponse* resp) override;
  R* ListContacts(Ctx* ctx, const pb::ListContactsRequest* req, pb::ListContactsResponse* resp) override;
  R* ListBirthdays(Ctx* ctx, const pb::ListBirthdaysRequest* req, pb::ListBirthdaysResponse* resp) override;
  R* ListContactGroups(Ctx* ctx, const pb::ListContactGroupsRequest* req, pb::ListContactGroupsResponse* resp) override;
  R* CreateGroup(Ctx* ctx, const pb::CreateGroupRequest* req, pb::Group* resp) override;
  R* GetGroup(Ctx* ctx, const pb::GetGroupRequest* req, pb::Group* resp) override;
  R* UpdateGroup(Ctx* ctx, const pb::UpdateGroupRequest* req, pb::Group* resp) override;
  R* DeleteGroup(Ctx* ctx, const pb::DeleteGroupRequest* req, pb::DeleteGroupResponse* resp) override;
  R* ListGroups(Ctx* ctx, const pb::ListGroupsRequest* req, pb::ListGroupsResponse* resp) override;
  R* PutMember(Ctx* ctx, const pb::PutMemberRequest* req, pb::GroupMember* resp) override;
  R* RemoveMember(Ctx* ctx, const pb::RemoveMemberRequest* req, pb::RemoveMemberResponse* resp) override;
  R* ListMembers(Ctx* ctx, const pb::ListMembersRequest* req, pb::ListMembersResponse* resp) override;
  R* ListDuplicateContacts(Ctx* ctx, const pb::ListDuplicateContactsRequest* req,
                           pb::ListDuplicateContactsResponse* resp) override;
  R* MergeContacts(Ctx* ctx, const pb::MergeContactsRequest* req, pb::MergeContactsResponse* resp) override;
  // Imports (import_service.cc).
  R* CreateImport(Ctx* ctx, const pb::CreateImportRequest* req, pb::Import* resp) override;
  R* GetImport(Ctx* ctx, const pb::GetImportRequest* req, pb::Import* resp) override;
  R* ListImports(Ctx* ctx, const pb::ListImportsRequest* req, pb::ListImportsResponse* resp) override;
  // Serves the import RPCs from store, waking runner after each new job;
  // without this call they answer UNAVAILABLE. Both must outlive the service.
  void ServeImports(ImportStore* store, ImportRunner* runner);
  // GET /v1/contacts:export: streamed by contact_export.h.
  grpc::ServerWriteReactor<api::v1::HttpBody>* ExportContacts(Ctx* ctx, const pb::ExportContactsRequest* req) override;
  // Whole-account export (account_export.h).
  R* ExportAccount(Ctx* ctx, const pb::ExportAccountRequest* req, pb::AccountExport* resp) override;
  R* GetAccountExport(Ctx* ctx, const pb::GetAccountExportRequest* req, pb::AccountExport* resp) override;
  grpc::ServerWriteReactor<api::v1::HttpBody>* DownloadAccountExport(
      Ctx* ctx, const pb::DownloadAccountExportRequest* req) override;
  // Erasure (profiles_erasure.cc); every other service follows the event.
  R* DeleteUser(Ctx* ctx, const pb::DeleteUserRequest* req, pb::DeleteUserResponse* resp) override;
  R* DeleteOrg(Ctx* ctx, const pb::DeleteOrgRequest* req, pb::DeleteOrgResponse* resp) override;

  // Where account export jobs are kept and who runs them; both must outlive
  // the service. Without them ExportAccount answers UNAVAILABLE.
  void SetAccountExports(AccountExportStore* store, AccountExporter* exporter) {
    exports_ = store;
    exporter_ = exporter;
  }

 private:
  absl::StatusOr<pb::Contact> CachedContact(const Owner& owner, const std::string& id);
  absl::StatusOr<pb::Profile> CachedProfile(const Owner& owner);
  // A page of org's audit log (an org's, or audit::kPlatformOrg).
  absl::StatusOr<pb::ListAuditEntriesResponse> ListAudit(const std::string& org,
                                                         const pb::ListAuditEntriesRequest& req);
  std::string ContactKey(const Owner& owner, const std::string& id) const;
  std::string ProfileKey(const Owner& owner) const;
  void InvalidateContacts(const Owner& owner, std::vector<std::string> ids, std::function<void()> then);

  ProfilesStore* store_;
  redis::EntityCache* cache_;
  ProfilesQuotas quotas_;
  JwtKeysStore jwt_keys_;
  JwtKeyOptions jwt_key_options_;
  RpcHandler rpc_;
  ImportStore* import_store_ = nullptr;
  ImportRunner* import_runner_ = nullptr;
  const TenantSigner* signer_;  // for the streaming RPC, which RpcHandler does not serve
  AccountExportStore* exports_ = nullptr;
  AccountExporter* exporter_ = nullptr;
  KeyUseRecorder key_use_;  // last use of keys VerifyApiKey accepts
};

// The internal export of every org's users, contacts and memberships for
// read models' backfill (rapport.backfill.v1.ProfilesBackfill). No HTTP
// rules: only platform-signed callers (other services) are authorized.
class ProfilesBackfillImpl final : public backfill::v1::ProfilesBackfill::CallbackService {
 public:
  // store and signer must outlive the service.
  ProfilesBackfillImpl(ProfilesStore* store, const TenantSigner* signer);

  using Ctx = grpc::CallbackServerContext;
  using R = grpc::ServerUnaryReactor;
  using Req = backfill::v1::ExportRequest;
  using Resp = backfill::v1::ExportResponse;

  R* ExportUsers(Ctx* ctx, const Req* req, Resp* resp) override;
  R* ExportContacts(Ctx* ctx, const Req* req, Resp* resp) override;
  R* ExportMemberships(Ctx* ctx, const Req* req, Resp* resp) override;
  R* ListOrgs(Ctx* ctx, const backfill::v1::ListOrgsRequest* req, backfill::v1::ListOrgsResponse* resp) override;

 private:
  ProfilesStore* store_;
  RpcHandler rpc_;
};

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_PROFILES_SERVICE_H_
