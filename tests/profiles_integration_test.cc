// End-to-end tests of the profiles service: a real redis-server and the real
// `profiles` binary on free loopback ports, called over gRPC with signed
// tenant metadata, exactly as the gateway will call it.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "rapport/events/v1/events.pb.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/ids.h"
#include "services/common/redis_client.h"
#include "services/common/tenant.h"
#include "tests/testing/event_stream.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace pb = ::rapport::profiles::v1;
using ::rapport::testing::WaitFor;

using ::rapport::testing::kTestInternalKey;
using ::rapport::testing::Stack;

class ProfilesIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    StartProfiles();
    channel_ = grpc::CreateChannel(stack_.Addr("profiles"), grpc::InsecureChannelCredentials());
    stub_ = pb::ProfilesService::NewStub(channel_);
  }

  virtual bool EntityCache() const { return false; }

  void StartProfiles() {
    absl::Status s = stack_.Start("profiles", {{"RAPPORT_PROFILES_ENTITY_CACHE", EntityCache() ? "true" : "false"}});
    ASSERT_TRUE(s.ok()) << s;
  }

  static std::unique_ptr<grpc::ClientContext> Call(const TenantContext& ctx,
                                                   const std::string& key = kTestInternalKey) {
    return Stack::Call(ctx, key);
  }
  static TenantContext Platform() { return Stack::Platform(); }
  static TenantContext Admin(const std::string& org) { return Stack::Admin(org); }
  static TenantContext UserCtx(const std::string& org, const std::string& user) { return Stack::User(org, user); }

  // Creates an org and a user in it; returns the user's context.
  TenantContext NewOrgAndUser(const std::string& name, pb::CreateOrgResponse* org_out = nullptr) {
    pb::CreateOrgRequest req;
    req.set_display_name(name);
    pb::CreateOrgResponse org;
    grpc::Status s = stub_->CreateOrg(Call(Platform()).get(), req, &org);
    EXPECT_TRUE(s.ok()) << s.error_message();
    pb::CreateUserRequest ureq;
    ureq.set_display_name(name + " user");
    ureq.set_email("user@" + name + ".test");
    ureq.set_timezone("Europe/Paris");
    pb::User user;
    s = stub_->CreateUser(Call(Admin(org.org().id())).get(), ureq, &user);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (org_out != nullptr) *org_out = org;
    return UserCtx(org.org().id(), user.id());
  }

  pb::Contact CreateContact(const TenantContext& who, const std::string& name) {
    pb::CreateContactRequest req;
    req.mutable_contact()->set_display_name(name);
    req.mutable_contact()->set_company("Globex");
    req.mutable_contact()->add_emails(absl::StrCat(NewId(), "@globex.test"));
    pb::Contact out;
    grpc::Status s = stub_->CreateContact(Call(who).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  Stack stack_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::ProfilesService::Stub> stub_;
};

TEST_F(ProfilesIntegrationTest, ContactCrudOverGrpc) {
  TenantContext alice = NewOrgAndUser("acme");
  pb::CreateContactRequest create;
  pb::Contact* c = create.mutable_contact();
  c->set_display_name("Hank Scorpio");
  c->set_company("Globex");
  c->set_title("CEO");
  c->add_tags("Founders");
  c->set_tier(pb::INNER);
  c->mutable_birthday()->set_month(2);
  c->mutable_birthday()->set_day(29);
  pb::Contact created;
  ASSERT_TRUE(stub_->CreateContact(Call(alice).get(), create, &created).ok());
  EXPECT_FALSE(created.id().empty());
  EXPECT_EQ(created.visibility(), pb::PRIVATE);
  EXPECT_EQ(created.effective_cadence_days(), 14);
  EXPECT_TRUE(created.has_create_time());

  pb::GetContactRequest get;
  get.set_contact_id(created.id());
  pb::Contact got;
  ASSERT_TRUE(stub_->GetContact(Call(alice).get(), get, &got).ok());
  EXPECT_EQ(got.title(), "CEO");

  pb::UpdateContactRequest update;
  update.set_contact_id(created.id());
  update.mutable_contact()->set_title("Supervillain");
  update.mutable_contact()->set_display_name("ignored, not in mask");
  update.mutable_update_mask()->add_paths("title");
  pb::Contact updated;
  ASSERT_TRUE(stub_->UpdateContact(Call(alice).get(), update, &updated).ok());
  EXPECT_EQ(updated.title(), "Supervillain");
  EXPECT_EQ(updated.display_name(), "Hank Scorpio");

  // Read-only field in the mask, unknown field, invalid value: INVALID_ARGUMENT naming it.
  update.mutable_update_mask()->set_paths(0, "create_time");
  EXPECT_EQ(stub_->UpdateContact(Call(alice).get(), update, &updated).error_code(), grpc::INVALID_ARGUMENT);
  update.mutable_update_mask()->set_paths(0, "nonsense");
  EXPECT_EQ(stub_->UpdateContact(Call(alice).get(), update, &updated).error_code(), grpc::INVALID_ARGUMENT);
  update.mutable_update_mask()->set_paths(0, "display_name");
  update.mutable_contact()->set_display_name("");
  grpc::Status bad = stub_->UpdateContact(Call(alice).get(), update, &updated);
  EXPECT_EQ(bad.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("displayName"), std::string::npos) << bad.error_message();

  pb::ListContactsRequest list;
  list.set_query("scorp");
  pb::ListContactsResponse listed;
  ASSERT_TRUE(stub_->ListContacts(Call(alice).get(), list, &listed).ok());
  ASSERT_EQ(listed.contacts_size(), 1);
  list.set_query("");
  list.set_tag("founders");
  ASSERT_TRUE(stub_->ListContacts(Call(alice).get(), list, &listed).ok());
  EXPECT_EQ(listed.contacts_size(), 1);

  pb::ListBirthdaysRequest birthdays;
  birthdays.set_within_days(366);
  pb::ListBirthdaysResponse upcoming;
  ASSERT_TRUE(stub_->ListBirthdays(Call(alice).get(), birthdays, &upcoming).ok());
  ASSERT_EQ(upcoming.birthdays_size(), 1);
  EXPECT_TRUE(upcoming.birthdays(0).next_date().find("-02-2") != std::string::npos);

  pb::DeleteContactRequest del;
  del.set_contact_id(created.id());
  pb::DeleteContactResponse deleted;
  ASSERT_TRUE(stub_->DeleteContact(Call(alice).get(), del, &deleted).ok());
  EXPECT_EQ(stub_->GetContact(Call(alice).get(), get, &got).error_code(), grpc::NOT_FOUND);
  EXPECT_EQ(stub_->DeleteContact(Call(alice).get(), del, &deleted).error_code(), grpc::NOT_FOUND);
}

TEST_F(ProfilesIntegrationTest, GroupsAndMembershipsOverGrpc) {
  TenantContext alice = NewOrgAndUser("acme");
  pb::Contact joanna = CreateContact(alice, "Joanna");
  pb::CreateGroupRequest cg;
  cg.mutable_group()->set_display_name("Chotchkie's alumni");
  cg.mutable_group()->set_kind(pb::ALUMNI);
  pb::Group group;
  ASSERT_TRUE(stub_->CreateGroup(Call(alice).get(), cg, &group).ok());

  pb::PutMemberRequest put;
  put.set_group_id(group.id());
  put.set_member_id(joanna.id());
  put.set_role(pb::LEADER);
  pb::GroupMember member;
  ASSERT_TRUE(stub_->PutMember(Call(alice).get(), put, &member).ok());
  EXPECT_EQ(member.display_name(), "Joanna");
  put.set_member_id("me");
  put.set_role(pb::MEMBER_ROLE_UNSPECIFIED);
  ASSERT_TRUE(stub_->PutMember(Call(alice).get(), put, &member).ok());
  EXPECT_EQ(member.role(), pb::MEMBER);

  pb::ListMembersRequest lm;
  lm.set_group_id(group.id());
  pb::ListMembersResponse members;
  ASSERT_TRUE(stub_->ListMembers(Call(alice).get(), lm, &members).ok());
  EXPECT_EQ(members.members_size(), 2);

  pb::ListContactGroupsRequest lcg;
  lcg.set_contact_id(joanna.id());
  pb::ListContactGroupsResponse groups;
  ASSERT_TRUE(stub_->ListContactGroups(Call(alice).get(), lcg, &groups).ok());
  ASSERT_EQ(groups.groups_size(), 1);
  EXPECT_EQ(groups.groups(0).role(), pb::LEADER);

  pb::ListContactsRequest in_group;
  in_group.set_group_id(group.id());
  pb::ListContactsResponse listed;
  ASSERT_TRUE(stub_->ListContacts(Call(alice).get(), in_group, &listed).ok());
  ASSERT_EQ(listed.contacts_size(), 1);

  pb::UpdateGroupRequest ug;
  ug.set_group_id(group.id());
  ug.mutable_group()->set_description("Flair enthusiasts");
  pb::Group updated;
  ASSERT_TRUE(stub_->UpdateGroup(Call(alice).get(), ug, &updated).ok());
  EXPECT_EQ(updated.description(), "Flair enthusiasts");
  EXPECT_EQ(updated.display_name(), "Chotchkie's alumni");

  pb::RemoveMemberRequest rm;
  rm.set_group_id(group.id());
  rm.set_member_id(joanna.id());
  pb::RemoveMemberResponse removed;
  ASSERT_TRUE(stub_->RemoveMember(Call(alice).get(), rm, &removed).ok());
  EXPECT_EQ(stub_->RemoveMember(Call(alice).get(), rm, &removed).error_code(), grpc::NOT_FOUND);

  pb::DeleteGroupRequest dg;
  dg.set_group_id(group.id());
  pb::DeleteGroupResponse dgr;
  ASSERT_TRUE(stub_->DeleteGroup(Call(alice).get(), dg, &dgr).ok());
  pb::GetGroupRequest gg;
  gg.set_group_id(group.id());
  EXPECT_EQ(stub_->GetGroup(Call(alice).get(), gg, &updated).error_code(), grpc::NOT_FOUND);
}

TEST_F(ProfilesIntegrationTest, PaginatesThrough250ContactsWithoutGapsOrDuplicates) {
  TenantContext alice = NewOrgAndUser("acme");
  std::set<std::string> created;
  for (int i = 0; i < 250; ++i) created.insert(CreateContact(alice, absl::StrCat("Contact ", i)).id());
  ASSERT_EQ(created.size(), 250u);

  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    pb::ListContactsRequest req;
    req.set_page_size(100);
    req.set_page_token(token);
    pb::ListContactsResponse resp;
    ASSERT_TRUE(stub_->ListContacts(Call(alice).get(), req, &resp).ok());
    for (const auto& c : resp.contacts()) EXPECT_TRUE(seen.insert(c.id()).second) << "duplicate " << c.id();
    token = resp.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, created);

  pb::ListContactsRequest bad;
  bad.set_page_size(-1);
  pb::ListContactsResponse resp;
  EXPECT_EQ(stub_->ListContacts(Call(alice).get(), bad, &resp).error_code(), grpc::INVALID_ARGUMENT);
  bad.set_page_size(0);
  bad.set_page_token("not-a-token");
  EXPECT_EQ(stub_->ListContacts(Call(alice).get(), bad, &resp).error_code(), grpc::INVALID_ARGUMENT);
  pb::ListContactsRequest huge;
  huge.set_page_size(100000);  // clamped to 500
  ASSERT_TRUE(stub_->ListContacts(Call(alice).get(), huge, &resp).ok());
  EXPECT_EQ(resp.contacts_size(), 250);
}

TEST_F(ProfilesIntegrationTest, AnotherOrgOrUserGetsNotFound) {
  pb::CreateOrgResponse org_a;
  TenantContext alice = NewOrgAndUser("acme", &org_a);
  TenantContext mallory = NewOrgAndUser("evil");
  pb::Contact secret = CreateContact(alice, "Alice's secret contact");

  // A teammate in Alice's own org.
  pb::CreateUserRequest ureq;
  ureq.set_display_name("Bob");
  ureq.set_email("bob@acme.test");
  pb::User bob_user;
  ASSERT_TRUE(stub_->CreateUser(Call(Admin(org_a.org().id())).get(), ureq, &bob_user).ok());
  TenantContext bob = UserCtx(org_a.org().id(), bob_user.id());

  for (const TenantContext& intruder : {mallory, bob}) {
    pb::GetContactRequest get;
    get.set_contact_id(secret.id());
    pb::Contact out;
    EXPECT_EQ(stub_->GetContact(Call(intruder).get(), get, &out).error_code(), grpc::NOT_FOUND);
    pb::UpdateContactRequest upd;
    upd.set_contact_id(secret.id());
    upd.mutable_contact()->set_title("pwned");
    EXPECT_EQ(stub_->UpdateContact(Call(intruder).get(), upd, &out).error_code(), grpc::NOT_FOUND);
    pb::DeleteContactRequest del;
    del.set_contact_id(secret.id());
    pb::DeleteContactResponse dresp;
    EXPECT_EQ(stub_->DeleteContact(Call(intruder).get(), del, &dresp).error_code(), grpc::NOT_FOUND);
    pb::ListContactsRequest list;
    pb::ListContactsResponse listed;
    ASSERT_TRUE(stub_->ListContacts(Call(intruder).get(), list, &listed).ok());
    EXPECT_EQ(listed.contacts_size(), 0);
  }
  // Mallory's admin cannot read Alice's org's users.
  pb::GetUserRequest gu;
  gu.set_user_id(alice.user_id);
  pb::User u;
  EXPECT_EQ(stub_->GetUser(Call(Admin(mallory.org_id)).get(), gu, &u).error_code(), grpc::NOT_FOUND);
  // Still intact for Alice.
  pb::GetContactRequest get;
  get.set_contact_id(secret.id());
  pb::Contact out;
  ASSERT_TRUE(stub_->GetContact(Call(alice).get(), get, &out).ok());
  EXPECT_EQ(out.title(), "");
}

TEST_F(ProfilesIntegrationTest, UnsignedTamperedOrUnscopedCallsAreRefused) {
  TenantContext alice = NewOrgAndUser("acme");
  pb::ListContactsRequest list;
  pb::ListContactsResponse listed;

  grpc::ClientContext unsigned_ctx;
  unsigned_ctx.AddMetadata(kTenantHeader,
                           absl::StrCat("v3 /rapport.profiles.v1.ProfilesService/ListContacts ", alice.org_id, " ",
                                        alice.user_id, " 6 ", absl::ToUnixSeconds(absl::Now()), " req 00"));
  EXPECT_EQ(stub_->ListContacts(&unsigned_ctx, list, &listed).error_code(), grpc::UNAUTHENTICATED);

  EXPECT_EQ(stub_->ListContacts(Call(alice, "wrong-key").get(), list, &listed).error_code(), grpc::UNAUTHENTICATED);

  grpc::ClientContext tampered;
  TenantSigner signer(kTestInternalKey);
  for (auto [k, v] : signer.Metadata(alice, FullMethod(pb::ProfilesService::service_full_name(), "ListContacts"))) {
    if (k == kTenantHeader) v = absl::StrReplaceAll(v, {{alice.org_id, "someone-elses-org"}});
    tampered.AddMetadata(k, v);
  }
  EXPECT_EQ(stub_->ListContacts(&tampered, list, &listed).error_code(), grpc::UNAUTHENTICATED);

  // A user without ADMIN cannot create users; nobody but the platform creates orgs.
  pb::CreateUserRequest ureq;
  ureq.set_display_name("x");
  ureq.set_email("x@acme.test");
  pb::User u;
  EXPECT_EQ(stub_->CreateUser(Call(alice).get(), ureq, &u).error_code(), grpc::PERMISSION_DENIED);
  pb::CreateOrgRequest oreq;
  oreq.set_display_name("mine");
  pb::CreateOrgResponse o;
  EXPECT_EQ(stub_->CreateOrg(Call(Admin(alice.org_id)).get(), oreq, &o).error_code(), grpc::PERMISSION_DENIED);
  // An org admin context without a user cannot use personal routes.
  EXPECT_EQ(stub_->ListContacts(Call(Admin(alice.org_id)).get(), list, &listed).error_code(), grpc::PERMISSION_DENIED);
}

TEST_F(ProfilesIntegrationTest, ApiKeysVerifyAndRevocationTakesEffect) {
  pb::CreateOrgResponse org;
  NewOrgAndUser("acme", &org);
  pb::VerifyApiKeyRequest verify;
  verify.set_secret(org.admin_key().secret());
  pb::VerifyApiKeyResponse verified;
  ASSERT_TRUE(stub_->VerifyApiKey(Call(Platform()).get(), verify, &verified).ok());
  EXPECT_EQ(verified.org_id(), org.org().id());
  EXPECT_EQ(verified.scopes_size(), 4);

  pb::CreateApiKeyRequest ck;
  ck.set_display_name("mobile app");
  ck.add_scopes(api::v1::READ);
  ck.add_scopes(api::v1::ACT_AS_USER);
  pb::ApiKeySecret key;
  ASSERT_TRUE(stub_->CreateApiKey(Call(Admin(org.org().id())).get(), ck, &key).ok());
  EXPECT_FALSE(key.secret().empty());
  verify.set_secret(key.secret());
  ASSERT_TRUE(stub_->VerifyApiKey(Call(Platform()).get(), verify, &verified).ok());

  pb::ListApiKeysRequest lk;
  pb::ListApiKeysResponse keys;
  ASSERT_TRUE(stub_->ListApiKeys(Call(Admin(org.org().id())).get(), lk, &keys).ok());
  EXPECT_EQ(keys.api_keys_size(), 2);
  std::string serialized;
  keys.SerializeToString(&serialized);
  EXPECT_EQ(serialized.find(key.secret()), std::string::npos) << "a listed key carries its secret";

  pb::RevokeApiKeyRequest revoke;
  revoke.set_key_id(key.api_key().id());
  pb::RevokeApiKeyResponse revoked;
  ASSERT_TRUE(stub_->RevokeApiKey(Call(Admin(org.org().id())).get(), revoke, &revoked).ok());
  EXPECT_TRUE(revoked.api_key().has_revoke_time());
  EXPECT_TRUE(WaitFor(
      [&] {
        pb::VerifyApiKeyResponse r;
        return stub_->VerifyApiKey(Call(Platform()).get(), verify, &r).error_code() == grpc::UNAUTHENTICATED;
      },
      std::chrono::seconds(5)));

  // A forged secret with a valid shape but wrong random part.
  std::string forged = org.admin_key().secret();
  forged.back() = forged.back() == 'a' ? 'b' : 'a';
  verify.set_secret(forged);
  EXPECT_EQ(stub_->VerifyApiKey(Call(Platform()).get(), verify, &verified).error_code(), grpc::UNAUTHENTICATED);
  verify.set_secret("garbage");
  EXPECT_EQ(stub_->VerifyApiKey(Call(Platform()).get(), verify, &verified).error_code(), grpc::UNAUTHENTICATED);
  // Only the platform may verify keys.
  EXPECT_EQ(stub_->VerifyApiKey(Call(Admin(org.org().id())).get(), verify, &verified).error_code(),
            grpc::PERMISSION_DENIED);
}

TEST_F(ProfilesIntegrationTest, ProfileUpdateAndCompleteness) {
  TenantContext alice = NewOrgAndUser("acme");
  pb::Profile me;
  ASSERT_TRUE(stub_->GetMe(Call(alice).get(), pb::GetMeRequest(), &me).ok());
  EXPECT_EQ(me.timezone(), "Europe/Paris");
  pb::GetCompletenessResponse before;
  ASSERT_TRUE(stub_->GetCompleteness(Call(alice).get(), pb::GetCompletenessRequest(), &before).ok());

  pb::UpdateMeRequest upd;
  upd.mutable_profile()->set_headline("Builder of networks");
  upd.mutable_profile()->add_skills("C++");
  ASSERT_TRUE(stub_->UpdateMe(Call(alice).get(), upd, &me).ok());
  EXPECT_EQ(me.headline(), "Builder of networks");
  EXPECT_EQ(me.timezone(), "Europe/Paris");
  pb::GetCompletenessResponse after;
  ASSERT_TRUE(stub_->GetCompleteness(Call(alice).get(), pb::GetCompletenessRequest(), &after).ok());
  EXPECT_EQ(after.score(), before.score() + 25);

  pb::UpdateMeRequest bad_tz;
  bad_tz.mutable_profile()->set_timezone("Mars/Base");
  grpc::Status s = stub_->UpdateMe(Call(alice).get(), bad_tz, &me);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("timezone"), std::string::npos);
}

TEST_F(ProfilesIntegrationTest, AcknowledgedCreateSurvivesKill9) {
  TenantContext alice = NewOrgAndUser("acme");
  pb::Contact c = CreateContact(alice, "Survivor");
  ASSERT_FALSE(c.id().empty());
  stack_.Kill9("profiles");
  StartProfiles();
  pb::GetContactRequest get;
  get.set_contact_id(c.id());
  pb::Contact out;
  grpc::Status s = stub_->GetContact(Call(alice).get(), get, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.display_name(), "Survivor");
}

TEST_F(ProfilesIntegrationTest, EveryChangeIsPublishedAsAnEvent) {
  pb::CreateOrgResponse org;
  TenantContext alice = NewOrgAndUser("acme", &org);
  pb::CreateContactRequest create;
  create.mutable_contact()->set_display_name("Eventful");
  create.mutable_contact()->set_notes("private notes");
  create.mutable_contact()->set_tier(pb::INNER);
  create.mutable_contact()->add_seeking("a CTO role");
  pb::Contact c;
  ASSERT_TRUE(stub_->CreateContact(Call(alice).get(), create, &c).ok());
  pb::UpdateContactRequest upd;
  upd.set_contact_id(c.id());
  upd.mutable_contact()->set_title("CTO");
  ASSERT_TRUE(stub_->UpdateContact(Call(alice).get(), upd, &c).ok());
  pb::CreateGroupRequest cg;
  cg.mutable_group()->set_display_name("Rustaceans");
  pb::Group g;
  ASSERT_TRUE(stub_->CreateGroup(Call(alice).get(), cg, &g).ok());
  pb::PutMemberRequest put;
  put.set_group_id(g.id());
  put.set_member_id(c.id());
  pb::GroupMember m;
  ASSERT_TRUE(stub_->PutMember(Call(alice).get(), put, &m).ok());
  pb::UpdateMeRequest me;
  me.mutable_profile()->set_timezone("Asia/Tokyo");
  pb::Profile p;
  ASSERT_TRUE(stub_->UpdateMe(Call(alice).get(), me, &p).ok());
  pb::DeleteContactRequest del;
  del.set_contact_id(c.id());
  pb::DeleteContactResponse dr;
  ASSERT_TRUE(stub_->DeleteContact(Call(alice).get(), del, &dr).ok());

  std::map<std::string, std::vector<events::v1::Event>> by_type;
  const std::vector<std::string> expected = {"org.created",          "user.created",       "contact.created",
                                             "contact.updated",      "group.member_added", "user.updated",
                                             "group.member_removed", "contact.deleted"};
  ASSERT_TRUE(WaitFor(
      [&] {
        by_type.clear();
        for (auto& entry : ::rapport::testing::ReadEventStream(stack_.redis().addr())) {
          by_type[entry.event.type()].push_back(std::move(entry.event));
        }
        for (const auto& type : expected) {
          if (by_type[type].empty()) return false;
        }
        return true;
      },
      std::chrono::seconds(10)));
  const events::v1::Event& created = by_type["contact.created"].front();
  EXPECT_EQ(created.org_id(), alice.org_id);
  EXPECT_EQ(created.user_id(), alice.user_id);
  EXPECT_EQ(created.contact().contact().tier(), pb::INNER);
  EXPECT_EQ(created.contact().contact().seeking(0), "a CTO role");
  EXPECT_TRUE(created.contact().contact().notes().empty()) << "notes must not leave profiles";
  EXPECT_EQ(by_type["contact.updated"].front().contact().contact().title(), "CTO");
  EXPECT_EQ(by_type["user.updated"].front().user().user().timezone(), "Asia/Tokyo");
  EXPECT_EQ(by_type["group.member_added"].front().group_member().member_id(), c.id());
  EXPECT_EQ(by_type["contact.deleted"].front().contact().contact().id(), c.id());
  EXPECT_EQ(by_type["org.created"].front().org().org().id(), org.org().id());
}

class ProfilesCacheIntegrationTest : public ProfilesIntegrationTest {
 protected:
  bool EntityCache() const override { return true; }
};

TEST_F(ProfilesCacheIntegrationTest, RedisDownMidTestThenBackWithoutStaleReads) {
  TenantContext alice = NewOrgAndUser("acme");
  pb::Contact c = CreateContact(alice, "Cached");
  pb::GetContactRequest get;
  get.set_contact_id(c.id());
  pb::Contact out;
  ASSERT_TRUE(stub_->GetContact(Call(alice).get(), get, &out).ok());  // fills the cache
  ASSERT_TRUE(stub_->GetContact(Call(alice).get(), get, &out).ok());

  stack_.redis().Kill9();
  // Every call still succeeds, reads and writes.
  ASSERT_TRUE(stub_->GetContact(Call(alice).get(), get, &out).ok());
  pb::UpdateContactRequest upd;
  upd.set_contact_id(c.id());
  upd.mutable_contact()->set_title("Updated while Redis was down");
  ASSERT_TRUE(stub_->UpdateContact(Call(alice).get(), upd, &out).ok());
  ASSERT_TRUE(stub_->GetContact(Call(alice).get(), get, &out).ok());
  EXPECT_EQ(out.title(), "Updated while Redis was down");
  pb::Contact other = CreateContact(alice, "Created while Redis was down");
  pb::Profile me;
  ASSERT_TRUE(stub_->GetMe(Call(alice).get(), pb::GetMeRequest(), &me).ok());

  ASSERT_TRUE(stack_.redis().Start().ok());
  // After Redis is back, reads are correct and the cache fills again.
  ASSERT_TRUE(WaitFor(
      [&] {
        pb::Contact fresh;
        return stub_->GetContact(Call(alice).get(), get, &fresh).ok() &&
               fresh.title() == "Updated while Redis was down";
      },
      std::chrono::seconds(10)));
  upd.mutable_contact()->set_title("Updated after Redis returned");
  ASSERT_TRUE(stub_->UpdateContact(Call(alice).get(), upd, &out).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(stub_->GetContact(Call(alice).get(), get, &out).ok());
    EXPECT_EQ(out.title(), "Updated after Redis returned");
  }
  pb::DeleteContactRequest del;
  del.set_contact_id(c.id());
  pb::DeleteContactResponse dr;
  ASSERT_TRUE(stub_->DeleteContact(Call(alice).get(), del, &dr).ok());
  EXPECT_EQ(stub_->GetContact(Call(alice).get(), get, &out).error_code(), grpc::NOT_FOUND);
  // The cache is in use again: a read puts the contact in Redis.
  get.set_contact_id(other.id());
  redis::ClientOptions options;
  options.addr = stack_.redis().addr();
  redis::Client client(options);
  const std::string key = absl::StrCat(alice.org_id, ":profiles:contact:", alice.user_id, ":", other.id());
  EXPECT_TRUE(WaitFor(
      [&] {
        if (!stub_->GetContact(Call(alice).get(), get, &out).ok()) return false;
        auto exists = client.Command({"EXISTS", key});
        return exists.ok() && exists->integer == 1;
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(out.display_name(), "Created while Redis was down");
}

}  // namespace
}  // namespace rapport
