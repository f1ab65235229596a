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

#include <string>

#include "rapport/backfill/v1/backfill.grpc.pb.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/redis_client.h"
#include "services/common/rpc.h"
#include "services/common/tenant.h"
#include "services/profiles/key_use.h"
#include "services/profiles/profiles_store.h"

namespace rapport::profiles {

class ProfilesServiceImpl final : public pb::ProfilesService::CallbackService {
 public:
  // store, cache and signer must outlive the service.
  ProfilesServiceImpl(ProfilesStore* store, redis::EntityCache* cache, const TenantSigner* signer,
                      ProfilesQuotas quotas = {});

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
  R* VerifyApiKey(Ctx* ctx, const pb::VerifyApiKeyRequest* req, pb::VerifyApiKeyResponse* resp) override;
  R* GetUsage(Ctx* ctx, const pb::GetUsageRequest* req, pb::GetUsageResponse* resp) override;
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

 private:
  absl::StatusOr<pb::Contact> CachedContact(const Owner& owner, const std::string& id);
  absl::StatusOr<pb::Profile> CachedProfile(const Owner& owner);
  std::string ContactKey(const Owner& owner, const std::string& id) const;
  std::string ProfileKey(const Owner& owner) const;

  ProfilesStore* store_;
  redis::EntityCache* cache_;
  ProfilesQuotas quotas_;
  RpcHandler rpc_;
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

 private:
  ProfilesStore* store_;
  RpcHandler rpc_;
};

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_PROFILES_SERVICE_H_
