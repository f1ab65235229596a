// In-process tests of the profiles gRPC adapter: the real service on the real
// store (a temporary SQLite file), served on an in-process channel, called
// with signed tenant metadata as the gateway signs it. The entity cache is off
// (its default), so no Redis is involved; the multi-process behaviour (Redis,
// events, restarts) is tests/profiles_integration_test.cc's.
#include "services/profiles/profiles_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "services/common/ids.h"
#include "services/common/redis_client.h"
#include "services/common/tenant.h"
#include "services/common/time_util.h"
#include "services/profiles/admin_logic.h"
#include "services/profiles/profiles_logic.h"
#include "services/profiles/profiles_store.h"
#include "tests/testing/harness.h"
#include "tests/testing/stack.h"

namespace rapport::profiles {
namespace {

using ::rapport::testing::Stack;

class ProfilesServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("profiles_service_test_" + NewId());
    std::filesystem::create_directories(dir_);
    auto store = ProfilesStore::Open((dir_ / "profiles.db").string());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    // The cache is off: the client is never used, so it names no server.
    redis::ClientOptions redis_options;
    redis_options.addr = "127.0.0.1:1";
    redis_ = std::make_unique<redis::Client>(redis_options);
    cache_ = std::make_unique<redis::EntityCache>(redis_.get(), redis::CacheOptions{});
    service_ = std::make_unique<ProfilesServiceImpl>(store_.get(), cache_.get(), &signer_);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = pb::ProfilesService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override {
    server_->Shutdown();
    server_.reset();
    service_.reset();
    cache_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A new org; returns its id and sets *secret to its admin key's secret.
  std::string NewOrg(const std::string& name, std::string* secret = nullptr) {
    pb::CreateOrgRequest req;
    req.set_display_name(name);
    pb::CreateOrgResponse out;
    grpc::Status s = stub_->CreateOrg(Stack::Call(Stack::Platform()).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (secret != nullptr) *secret = out.admin_key().secret();
    return out.org().id();
  }

  // A user of org, as that user's tenant context (READ and WRITE).
  TenantContext NewUser(const std::string& org, const std::string& email) {
    pb::CreateUserRequest req;
    req.set_display_name(email.substr(0, email.find('@')));
    req.set_email(email);
    pb::User user;
    grpc::Status s = stub_->CreateUser(Stack::Call(Stack::Admin(org)).get(), req, &user);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return Stack::User(org, user.id());
  }

  pb::Contact NewContact(const TenantContext& who, const std::string& name, pb::Tier tier = pb::NETWORK) {
    pb::CreateContactRequest req;
    req.mutable_contact()->set_display_name(name);
    req.mutable_contact()->set_tier(tier);
    pb::Contact out;
    grpc::Status s = stub_->CreateContact(Stack::Call(who).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  grpc::StatusCode GetContactCode(const TenantContext& who, const std::string& id) {
    pb::GetContactRequest req;
    req.set_contact_id(id);
    pb::Contact out;
    return stub_->GetContact(Stack::Call(who).get(), req, &out).error_code();
  }

  // A context with a deadline and no tenant metadata at all.
  static std::unique_ptr<grpc::ClientContext> Unsigned() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return c;
  }

  std::filesystem::path dir_;
  TenantSigner signer_{::rapport::testing::kTestInternalKey};
  std::unique_ptr<ProfilesStore> store_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<redis::EntityCache> cache_;
  std::unique_ptr<ProfilesServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pb::ProfilesService::Stub> stub_;
};

TEST_F(ProfilesServiceTest, ContactLifecycleThroughTheAdapter) {
  TenantContext alice = NewUser(NewOrg("Acme"), "alice@acme.test");
  pb::Contact bob = NewContact(alice, "  Bob  ", pb::INNER);
  EXPECT_TRUE(IsWellFormedId(bob.id()));
  EXPECT_EQ(bob.effective_cadence_days(), 14);  // from the tier, by the logic
  EXPECT_TRUE(bob.has_create_time());

  pb::GetContactRequest get;
  get.set_contact_id(bob.id());
  pb::Contact got;
  ASSERT_TRUE(stub_->GetContact(Stack::Call(alice).get(), get, &got).ok());
  EXPECT_EQ(got.SerializeAsString(), bob.SerializeAsString());

  pb::UpdateContactRequest upd;
  upd.set_contact_id(bob.id());
  upd.mutable_contact()->set_company("Initech");
  upd.mutable_update_mask()->add_paths("company");
  pb::Contact updated;
  ASSERT_TRUE(stub_->UpdateContact(Stack::Call(alice).get(), upd, &updated).ok());
  EXPECT_EQ(updated.company(), "Initech");
  EXPECT_EQ(updated.display_name(), bob.display_name());

  pb::ListContactsRequest list;
  list.set_query("initech");
  pb::ListContactsResponse listed;
  ASSERT_TRUE(stub_->ListContacts(Stack::Call(alice).get(), list, &listed).ok());
  ASSERT_EQ(listed.contacts_size(), 1);
  EXPECT_EQ(listed.contacts(0).id(), bob.id());

  pb::DeleteContactRequest del;
  del.set_contact_id(bob.id());
  pb::DeleteContactResponse deleted;
  ASSERT_TRUE(stub_->DeleteContact(Stack::Call(alice).get(), del, &deleted).ok());
  EXPECT_EQ(GetContactCode(alice, bob.id()), grpc::NOT_FOUND);
}

TEST_F(ProfilesServiceTest, ApiKeysVerifyUntilRevoked) {
  std::string admin_secret;
  std::string org = NewOrg("Acme", &admin_secret);
  pb::VerifyApiKeyRequest verify;
  verify.set_secret(admin_secret);
  pb::VerifyApiKeyResponse verified;
  ASSERT_TRUE(stub_->VerifyApiKey(Stack::Call(Stack::Platform()).get(), verify, &verified).ok());
  EXPECT_EQ(verified.org_id(), org);
  EXPECT_EQ(verified.scopes_size(), 4);  // the org admin key holds every org scope

  pb::CreateApiKeyRequest create;
  create.set_display_name("ci");
  create.add_scopes(api::v1::READ);
  create.add_scopes(api::v1::READ);
  pb::ApiKeySecret key;
  ASSERT_TRUE(stub_->CreateApiKey(Stack::Call(Stack::Admin(org)).get(), create, &key).ok());
  EXPECT_EQ(key.api_key().scopes_size(), 1);
  verify.set_secret(key.secret());
  ASSERT_TRUE(stub_->VerifyApiKey(Stack::Call(Stack::Platform()).get(), verify, &verified).ok());
  EXPECT_EQ(verified.key_id(), key.api_key().id());

  pb::RevokeApiKeyRequest revoke;
  revoke.set_key_id(key.api_key().id());
  pb::RevokeApiKeyResponse revoked;
  ASSERT_TRUE(stub_->RevokeApiKey(Stack::Call(Stack::Admin(org)).get(), revoke, &revoked).ok());
  EXPECT_TRUE(revoked.api_key().has_revoke_time());
  grpc::Status s = stub_->VerifyApiKey(Stack::Call(Stack::Platform()).get(), verify, &verified);
  EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "invalid API key");
}

// Org administration in-process: deactivating a user refuses their personal
// key at VerifyApiKey; an expired key is refused; a verified key's use is
// recorded; another org's ids are NOT_FOUND; users' scopes lack ADMIN.
TEST_F(ProfilesServiceTest, AdministersUsersAndKeys) {
  const std::string org = NewOrg("Acme");
  const std::string other = NewOrg("Globex");
  TenantContext ann = NewUser(org, "ann@acme.test");
  pb::CreateApiKeyRequest create;
  create.set_display_name("ann's cli");
  create.add_scopes(api::v1::READ);
  create.set_user_id(ann.user_id);
  create.set_rate_limit_per_minute(30);
  pb::ApiKeySecret key;
  ASSERT_TRUE(stub_->CreateApiKey(Stack::Call(Stack::Admin(org)).get(), create, &key).ok());
  pb::VerifyApiKeyRequest verify;
  verify.set_secret(key.secret());
  pb::VerifyApiKeyResponse verified;
  ASSERT_TRUE(stub_->VerifyApiKey(Stack::Call(Stack::Platform()).get(), verify, &verified).ok());
  EXPECT_EQ(verified.user_id(), ann.user_id);
  EXPECT_EQ(verified.rate_limit_per_minute(), 30);

  pb::UpdateUserRequest off;
  off.set_user_id(ann.user_id);
  off.mutable_user()->set_state(pb::DEACTIVATED);
  off.mutable_update_mask()->add_paths("state");
  pb::User user;
  EXPECT_EQ(stub_->UpdateUser(Stack::Call(Stack::Admin(other)).get(), off, &user).error_code(), grpc::NOT_FOUND);
  EXPECT_EQ(stub_->UpdateUser(Stack::Call(ann).get(), off, &user).error_code(), grpc::PERMISSION_DENIED);
  ASSERT_TRUE(stub_->UpdateUser(Stack::Call(Stack::Admin(org)).get(), off, &user).ok());
  EXPECT_EQ(user.state(), pb::DEACTIVATED);
  grpc::Status refused = stub_->VerifyApiKey(Stack::Call(Stack::Platform()).get(), verify, &verified);
  EXPECT_EQ(refused.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(refused.error_message(), "invalid API key");
  off.mutable_user()->set_state(pb::ACTIVE);
  ASSERT_TRUE(stub_->UpdateUser(Stack::Call(Stack::Admin(org)).get(), off, &user).ok());
  ASSERT_TRUE(stub_->VerifyApiKey(Stack::Call(Stack::Platform()).get(), verify, &verified).ok());

  // The use was recorded (asynchronously, once a minute at most).
  auto last_use = [&] {
    pb::ListApiKeysResponse keys;
    EXPECT_TRUE(stub_->ListApiKeys(Stack::Call(Stack::Admin(org)).get(), pb::ListApiKeysRequest(), &keys).ok());
    for (const auto& k : keys.api_keys()) {
      if (k.id() == key.api_key().id()) return k.has_last_use_time();
    }
    return false;
  };
  EXPECT_TRUE(testing::WaitFor(last_use, std::chrono::seconds(5)));

  // Expired at once by an update: refused like any invalid key.
  pb::UpdateApiKeyRequest expire;
  expire.set_key_id(key.api_key().id());
  *expire.mutable_api_key()->mutable_expire_time() = ToTimestamp(NowMicros() - 1);
  expire.mutable_update_mask()->add_paths("expire_time");
  pb::ApiKey updated;
  EXPECT_EQ(stub_->UpdateApiKey(Stack::Call(Stack::Admin(other)).get(), expire, &updated).error_code(),
            grpc::NOT_FOUND);
  ASSERT_TRUE(stub_->UpdateApiKey(Stack::Call(Stack::Admin(org)).get(), expire, &updated).ok());
  EXPECT_EQ(stub_->VerifyApiKey(Stack::Call(Stack::Platform()).get(), verify, &verified).error_code(),
            grpc::UNAUTHENTICATED);

  pb::ListAuditEntriesRequest audit;
  audit.set_action(std::string(kMaxAuditActionChars + 1, 'x'));  // too long
  pb::ListAuditEntriesResponse entries;
  EXPECT_EQ(stub_->ListAuditEntries(Stack::Call(Stack::Admin(org)).get(), audit, &entries).error_code(),
            grpc::INVALID_ARGUMENT);
  EXPECT_EQ(stub_->ListAuditEntries(Stack::Call(ann).get(), pb::ListAuditEntriesRequest(), &entries).error_code(),
            grpc::PERMISSION_DENIED);
  EXPECT_TRUE(
      stub_->ListAuditEntries(Stack::Call(Stack::Admin(org)).get(), pb::ListAuditEntriesRequest(), &entries).ok());
}

// Every RPC refuses a call without tenant metadata, or signed with another key.
TEST_F(ProfilesServiceTest, CallsWithoutValidMetadataAreUnauthenticated) {
  TenantContext alice = NewUser(NewOrg("Acme"), "alice@acme.test");
  pb::Contact bob = NewContact(alice, "Bob");
  auto wrong_key = [&] { return Stack::Call(alice, "another-internal-key"); };
  for (auto make : std::vector<std::function<std::unique_ptr<grpc::ClientContext>()>>{Unsigned, wrong_key}) {
    pb::GetContactRequest get;
    get.set_contact_id(bob.id());
    pb::Contact contact;
    EXPECT_EQ(stub_->GetContact(make().get(), get, &contact).error_code(), grpc::UNAUTHENTICATED);
    pb::CreateContactRequest create;
    create.mutable_contact()->set_display_name("Eve");
    EXPECT_EQ(stub_->CreateContact(make().get(), create, &contact).error_code(), grpc::UNAUTHENTICATED);
    pb::ListContactsResponse listed;
    EXPECT_EQ(stub_->ListContacts(make().get(), pb::ListContactsRequest(), &listed).error_code(),
              grpc::UNAUTHENTICATED);
    pb::Profile me;
    EXPECT_EQ(stub_->GetMe(make().get(), pb::GetMeRequest(), &me).error_code(), grpc::UNAUTHENTICATED);
    pb::CreateOrgRequest org;
    org.set_display_name("Globex");
    pb::CreateOrgResponse created;
    EXPECT_EQ(stub_->CreateOrg(make().get(), org, &created).error_code(), grpc::UNAUTHENTICATED);
  }
  // Nothing was created by the refused calls.
  pb::ListContactsResponse listed;
  ASSERT_TRUE(stub_->ListContacts(Stack::Call(alice).get(), pb::ListContactsRequest(), &listed).ok());
  EXPECT_EQ(listed.contacts_size(), 1);
}

// Another org's (or another user's) contact answers exactly like a missing
// one, for reads and writes alike, and stays as it was.
TEST_F(ProfilesServiceTest, AnotherTenantsContactIsNotFound) {
  std::string acme = NewOrg("Acme");
  TenantContext alice = NewUser(acme, "alice@acme.test");
  TenantContext carol = NewUser(acme, "carol@acme.test");
  TenantContext zed = NewUser(NewOrg("Globex"), "zed@globex.test");
  pb::Contact bob = NewContact(alice, "Bob");
  for (const TenantContext& other : {zed, carol}) {
    EXPECT_EQ(GetContactCode(other, bob.id()), grpc::NOT_FOUND);
    EXPECT_EQ(GetContactCode(other, NewId()), grpc::NOT_FOUND);  // the same answer as a missing id
    pb::UpdateContactRequest upd;
    upd.set_contact_id(bob.id());
    upd.mutable_contact()->set_display_name("Mallory");
    upd.mutable_update_mask()->add_paths("display_name");
    pb::Contact updated;
    EXPECT_EQ(stub_->UpdateContact(Stack::Call(other).get(), upd, &updated).error_code(), grpc::NOT_FOUND);
    pb::DeleteContactRequest del;
    del.set_contact_id(bob.id());
    pb::DeleteContactResponse deleted;
    EXPECT_EQ(stub_->DeleteContact(Stack::Call(other).get(), del, &deleted).error_code(), grpc::NOT_FOUND);
    pb::ListContactGroupsRequest groups;
    groups.set_contact_id(bob.id());
    pb::ListContactGroupsResponse listed;
    EXPECT_EQ(stub_->ListContactGroups(Stack::Call(other).get(), groups, &listed).error_code(), grpc::NOT_FOUND);
  }
  pb::GetContactRequest get;
  get.set_contact_id(bob.id());
  pb::Contact still;
  ASSERT_TRUE(stub_->GetContact(Stack::Call(alice).get(), get, &still).ok());
  EXPECT_EQ(still.display_name(), "Bob");
}

TEST_F(ProfilesServiceTest, BadInputIsInvalidArgument) {
  std::string org = NewOrg("Acme");
  TenantContext alice = NewUser(org, "alice@acme.test");
  struct Case {
    const char* name;
    std::function<grpc::Status()> call;
  };
  const std::vector<Case> cases = {
      {"empty contact id",
       [&] {
         pb::Contact out;
         return stub_->GetContact(Stack::Call(alice).get(), pb::GetContactRequest(), &out);
       }},
      {"malformed contact id",
       [&] {
         pb::GetContactRequest req;
         req.set_contact_id("Not An Id!");
         pb::Contact out;
         return stub_->GetContact(Stack::Call(alice).get(), req, &out);
       }},
      {"contact without a name",
       [&] {
         pb::CreateContactRequest req;
         req.mutable_contact()->set_company("Initech");
         pb::Contact out;
         return stub_->CreateContact(Stack::Call(alice).get(), req, &out);
       }},
      {"contact with a client-chosen id",
       [&] {
         pb::CreateContactRequest req;
         req.mutable_contact()->set_id("mine");
         req.mutable_contact()->set_display_name("Bob");
         pb::Contact out;
         return stub_->CreateContact(Stack::Call(alice).get(), req, &out);
       }},
      {"page size out of range",
       [&] {
         pb::ListContactsRequest req;
         req.set_page_size(-1);
         pb::ListContactsResponse out;
         return stub_->ListContacts(Stack::Call(alice).get(), req, &out);
       }},
      {"birthdays window too long",
       [&] {
         pb::ListBirthdaysRequest req;
         req.set_within_days(400);
         pb::ListBirthdaysResponse out;
         return stub_->ListBirthdays(Stack::Call(alice).get(), req, &out);
       }},
      {"api key with the platform scope",
       [&] {
         pb::CreateApiKeyRequest req;
         req.set_display_name("k");
         req.add_scopes(api::v1::PLATFORM);
         pb::ApiKeySecret out;
         return stub_->CreateApiKey(Stack::Call(Stack::Admin(org)).get(), req, &out);
       }},
      {"user with a bad email",
       [&] {
         pb::CreateUserRequest req;
         req.set_display_name("x");
         req.set_email("not an email");
         pb::User out;
         return stub_->CreateUser(Stack::Call(Stack::Admin(org)).get(), req, &out);
       }},
  };
  for (const Case& c : cases) {
    grpc::Status s = c.call();
    EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << c.name << ": " << s.error_message();
  }
}

// BatchGetContacts is scoped exactly like GetContact: the caller's org and
// user. Ids of another tenant, or of nothing, are absent from the answer.
TEST_F(ProfilesServiceTest, BatchGetContactsAnswersOnlyTheCallersContactsInOrder) {
  std::string acme = NewOrg("Acme");
  TenantContext alice = NewUser(acme, "alice@acme.test");
  TenantContext carol = NewUser(acme, "carol@acme.test");
  TenantContext zed = NewUser(NewOrg("Globex"), "zed@globex.test");
  pb::Contact bob = NewContact(alice, "Bob", pb::INNER);
  pb::Contact dan = NewContact(alice, "Dan");
  pb::Contact carols = NewContact(carol, "Erin");
  pb::Contact zeds = NewContact(zed, "Fay");

  pb::BatchGetContactsRequest req;
  for (const std::string& id : {dan.id(), zeds.id(), NewId(), carols.id(), bob.id()}) req.add_contact_ids(id);
  pb::BatchGetContactsResponse out;
  grpc::Status s = stub_->BatchGetContacts(Stack::Call(alice).get(), req, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(out.contacts_size(), 2);
  EXPECT_EQ(out.contacts(0).SerializeAsString(), dan.SerializeAsString());
  EXPECT_EQ(out.contacts(1).SerializeAsString(), bob.SerializeAsString());  // what GetContact answers

  // Each tenant sees its own only.
  ASSERT_TRUE(stub_->BatchGetContacts(Stack::Call(zed).get(), req, &out).ok());
  ASSERT_EQ(out.contacts_size(), 1);
  EXPECT_EQ(out.contacts(0).id(), zeds.id());
  pb::BatchGetContactsRequest only_alices;
  only_alices.add_contact_ids(bob.id());
  only_alices.add_contact_ids(dan.id());
  ASSERT_TRUE(stub_->BatchGetContacts(Stack::Call(carol).get(), only_alices, &out).ok());
  EXPECT_EQ(out.contacts_size(), 0);
}

TEST_F(ProfilesServiceTest, BatchGetContactsRefusesBadRequests) {
  std::string org = NewOrg("Acme");
  TenantContext alice = NewUser(org, "alice@acme.test");
  pb::Contact bob = NewContact(alice, "Bob");
  auto call = [&](const std::vector<std::string>& ids, std::unique_ptr<grpc::ClientContext> ctx) {
    pb::BatchGetContactsRequest req;
    for (const std::string& id : ids) req.add_contact_ids(id);
    pb::BatchGetContactsResponse out;
    return stub_->BatchGetContacts(ctx.get(), req, &out);
  };
  std::vector<std::string> hundred;
  for (int i = 0; i < 99; ++i) hundred.push_back(NewId());
  hundred.push_back(bob.id());
  std::vector<std::string> hundred_and_one = hundred;
  hundred_and_one.push_back(NewId());
  EXPECT_TRUE(call(hundred, Stack::Call(alice)).ok());
  EXPECT_EQ(call(hundred_and_one, Stack::Call(alice)).error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(call({}, Stack::Call(alice)).error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(call({bob.id(), "Not An Id!"}, Stack::Call(alice)).error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(call({bob.id(), bob.id()}, Stack::Call(alice)).error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(call({bob.id()}, Unsigned()).error_code(), grpc::UNAUTHENTICATED);
  TenantContext writer = alice;
  writer.scopes = 0;
  writer.Add(api::v1::WRITE);
  EXPECT_EQ(call({bob.id()}, Stack::Call(writer)).error_code(), grpc::PERMISSION_DENIED);
  EXPECT_EQ(call({bob.id()}, Stack::Call(Stack::Admin(org))).error_code(), grpc::PERMISSION_DENIED);  // no acting user
}

TEST_F(ProfilesServiceTest, MissingScopeIsPermissionDenied) {
  std::string org = NewOrg("Acme");
  TenantContext alice = NewUser(org, "alice@acme.test");
  TenantContext reader = alice;
  reader.scopes = 0;
  reader.Add(api::v1::READ);
  pb::CreateContactRequest create;
  create.mutable_contact()->set_display_name("Bob");
  pb::Contact out;
  EXPECT_EQ(stub_->CreateContact(Stack::Call(reader).get(), create, &out).error_code(), grpc::PERMISSION_DENIED);
  // An org admin without an acting user reads no contacts.
  pb::ListContactsResponse listed;
  EXPECT_EQ(stub_->ListContacts(Stack::Call(Stack::Admin(org)).get(), pb::ListContactsRequest(), &listed).error_code(),
            grpc::PERMISSION_DENIED);
}

// GetUsage is internal: a platform-signed call for an org answers that
// org's use; an org admin (or anyone else) calling it directly is refused.
TEST_F(ProfilesServiceTest, GetUsageAnswersPlatformCallsForTheirOrg) {
  const std::string org = NewOrg("Acme");
  TenantContext alice = NewUser(org, "alice@acme.test");
  NewContact(alice, "Bob");
  NewContact(alice, "Carol");
  TenantContext platform = Stack::Platform();
  platform.org_id = org;
  pb::GetUsageResponse out;
  grpc::Status s = stub_->GetUsage(Stack::Call(platform).get(), pb::GetUsageRequest(), &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(out.quotas_size(), 2);
  EXPECT_EQ(out.quotas(0).quota(), "contactsPerUser");
  EXPECT_EQ(out.quotas(0).used(), 2);
  EXPECT_EQ(out.quotas(0).limit(), 50000);
  EXPECT_EQ(out.quotas(0).subject_id(), alice.user_id);
  EXPECT_EQ(out.quotas(1).quota(), "apiKeysPerOrg");
  EXPECT_EQ(out.quotas(1).used(), 1);
  EXPECT_EQ(stub_->GetUsage(Stack::Call(Stack::Admin(org)).get(), pb::GetUsageRequest(), &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(stub_->GetUsage(Stack::Call(alice).get(), pb::GetUsageRequest(), &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// Orgs' JWT signing keys: made with the org, rotated and listed by its
// admin, resolved only for platform callers (the gateway).
TEST_F(ProfilesServiceTest, JwtKeysAreMadeWithTheOrgRotatedByItsAdminAndResolvedForThePlatform) {
  pb::CreateOrgRequest create;
  create.set_display_name("Acme");
  pb::CreateOrgResponse org;
  ASSERT_TRUE(stub_->CreateOrg(Stack::Call(Stack::Platform()).get(), create, &org).ok());
  const std::string first_kid = org.jwt_key().jwt_key().kid();
  EXPECT_EQ(first_kid.substr(0, org.org().id().size() + 1), org.org().id() + ".");
  ASSERT_EQ(org.jwt_key().secret().size(), 64u);

  auto resolve = [&](const TenantContext& who, const std::string& kid, pb::ResolveJwtKeyResponse* out) {
    pb::ResolveJwtKeyRequest req;
    req.set_kid(kid);
    return stub_->ResolveJwtKey(Stack::Call(who).get(), req, out).error_code();
  };
  pb::ResolveJwtKeyResponse resolved;
  ASSERT_EQ(resolve(Stack::Platform(), first_kid, &resolved), grpc::OK);
  EXPECT_EQ(resolved.org_id(), org.org().id());
  EXPECT_EQ(resolved.secret(), org.jwt_key().secret());
  EXPECT_FALSE(resolved.has_expire_time());
  // Internal: an org admin (or a caller without metadata) cannot read secrets.
  EXPECT_EQ(resolve(Stack::Admin(org.org().id()), first_kid, &resolved), grpc::PERMISSION_DENIED);
  pb::ResolveJwtKeyRequest anonymous;
  anonymous.set_kid(first_kid);
  EXPECT_EQ(stub_->ResolveJwtKey(Unsigned().get(), anonymous, &resolved).error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(resolve(Stack::Platform(), org.org().id() + ".01jzzzzzzzzzzzzzzzzzzzzzzz", &resolved), grpc::NOT_FOUND);
  EXPECT_EQ(resolve(Stack::Platform(), "garbage", &resolved), grpc::NOT_FOUND);

  // Rotation by the org admin: a new current key; the old one is in its grace period.
  pb::JwtKeySecret rotated;
  ASSERT_TRUE(
      stub_->RotateJwtKey(Stack::Call(Stack::Admin(org.org().id())).get(), pb::RotateJwtKeyRequest(), &rotated).ok());
  EXPECT_NE(rotated.jwt_key().kid(), first_kid);
  EXPECT_NE(rotated.secret(), org.jwt_key().secret());
  ASSERT_EQ(resolve(Stack::Platform(), first_kid, &resolved), grpc::OK);
  EXPECT_TRUE(resolved.has_expire_time());
  ASSERT_EQ(resolve(Stack::Platform(), rotated.jwt_key().kid(), &resolved), grpc::OK);
  EXPECT_EQ(resolved.secret(), rotated.secret());

  pb::ListJwtKeysResponse listed;
  ASSERT_TRUE(
      stub_->ListJwtKeys(Stack::Call(Stack::Admin(org.org().id())).get(), pb::ListJwtKeysRequest(), &listed).ok());
  ASSERT_EQ(listed.jwt_keys_size(), 2);
  EXPECT_EQ(listed.DebugString().find(rotated.secret()), std::string::npos);
  // Paged one at a time.
  pb::ListJwtKeysRequest paged;
  paged.set_page_size(1);
  ASSERT_TRUE(stub_->ListJwtKeys(Stack::Call(Stack::Admin(org.org().id())).get(), paged, &listed).ok());
  ASSERT_EQ(listed.jwt_keys_size(), 1);
  EXPECT_FALSE(listed.next_page_token().empty());

  // Another org's admin sees its own key only; a user cannot rotate or list.
  const std::string other = NewOrg("Other");
  ASSERT_TRUE(stub_->ListJwtKeys(Stack::Call(Stack::Admin(other)).get(), pb::ListJwtKeysRequest(), &listed).ok());
  ASSERT_EQ(listed.jwt_keys_size(), 1);
  EXPECT_NE(listed.jwt_keys(0).kid(), first_kid);
  const TenantContext user = NewUser(org.org().id(), "ann@acme.test");
  EXPECT_EQ(stub_->RotateJwtKey(Stack::Call(user).get(), pb::RotateJwtKeyRequest(), &rotated).error_code(),
            grpc::PERMISSION_DENIED);
  EXPECT_EQ(stub_->ListJwtKeys(Stack::Call(user).get(), pb::ListJwtKeysRequest(), &listed).error_code(),
            grpc::PERMISSION_DENIED);
}

}  // namespace
}  // namespace rapport::profiles
