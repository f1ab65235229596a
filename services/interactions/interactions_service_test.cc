// In-process tests of the interactions gRPC adapter: the real service on the
// real store (a temporary SQLite file) with the real profiles service beside
// it (its own store, cache off), each on an in-process channel, called with
// signed tenant metadata as the gateway signs it. No Redis: events stay in
// the outboxes, and contact events are what tests/interactions_integration_test
// covers. An interceptor on profiles counts the calls interactions makes.
#include "services/interactions/interactions_service.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/ids.h"
#include "services/common/redis_client.h"
#include "services/common/tenant.h"
#include "services/interactions/interactions_logic.h"
#include "services/interactions/interactions_store.h"
#include "services/profiles/contact_client.h"
#include "services/profiles/profiles_service.h"
#include "services/profiles/profiles_store.h"
#include "tests/testing/stack.h"

namespace rapport::interactions {
namespace {

namespace ppb = ::rapport::profiles::v1;
using ::rapport::testing::Stack;

// Calls per full method name ("/rapport.profiles.v1.ProfilesService/GetContact").
class CallCounts {
 public:
  void Add(const std::string& method) {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_[method];
  }
  int Of(const std::string& method) {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_[method];
  }
  int Total() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [method, count] : counts_) n += count;
    return n;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> counts_;
};

class CountingInterceptor : public grpc::experimental::Interceptor {
 public:
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override { methods->Proceed(); }
};

class CountingFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingFactory(CallCounts* counts) : counts_(counts) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    counts_->Add(info->method());
    return new CountingInterceptor();
  }

 private:
  CallCounts* counts_;
};

constexpr char kGetContact[] = "/rapport.profiles.v1.ProfilesService/GetContact";
constexpr char kBatchGetContacts[] = "/rapport.profiles.v1.ProfilesService/BatchGetContacts";

class InteractionsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("interactions_service_test_" + NewId());
    std::filesystem::create_directories(dir_);

    // Profiles, in-process, with the cache off (the client names no server).
    auto profiles_store = profiles::ProfilesStore::Open((dir_ / "profiles.db").string());
    ASSERT_TRUE(profiles_store.ok()) << profiles_store.status();
    profiles_store_ = std::move(*profiles_store);
    redis::ClientOptions redis_options;
    redis_options.addr = "127.0.0.1:1";
    redis_ = std::make_unique<redis::Client>(redis_options);
    cache_ = std::make_unique<redis::EntityCache>(redis_.get(), redis::CacheOptions{});
    profiles_service_ = std::make_unique<profiles::ProfilesServiceImpl>(profiles_store_.get(), cache_.get(), &signer_);
    grpc::ServerBuilder profiles_builder;
    profiles_builder.RegisterService(profiles_service_.get());
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
    interceptors.push_back(std::make_unique<CountingFactory>(&profiles_calls_));
    profiles_builder.experimental().SetInterceptorCreators(std::move(interceptors));
    profiles_server_ = profiles_builder.BuildAndStart();
    ASSERT_NE(profiles_server_, nullptr);
    auto profiles_channel = profiles_server_->InProcessChannel(grpc::ChannelArguments());
    profiles_ = ppb::ProfilesService::NewStub(profiles_channel);

    // Interactions, asking that profiles.
    auto store = InteractionsStore::Open((dir_ / "interactions.db").string());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    contacts_ = std::make_unique<profiles::ContactClient>(profiles_channel, &signer_, std::chrono::seconds(2));
    checker_ = std::make_unique<ContactChecker>(store_.get(), contacts_.get());
    service_ = std::make_unique<InteractionsServiceImpl>(store_.get(), checker_.get(), &signer_);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = pb::InteractionsService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override {
    server_->Shutdown();
    profiles_server_->Shutdown();
    server_.reset();
    profiles_server_.reset();
    service_.reset();
    checker_.reset();
    contacts_.reset();
    store_.reset();
    profiles_service_.reset();
    cache_.reset();
    profiles_store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A user of a new org, as that user's tenant context.
  TenantContext NewUser(const std::string& org_name) {
    ppb::CreateOrgRequest oreq;
    oreq.set_display_name(org_name);
    ppb::CreateOrgResponse org;
    EXPECT_TRUE(profiles_->CreateOrg(Stack::Call(Stack::Platform()).get(), oreq, &org).ok());
    ppb::CreateUserRequest ureq;
    ureq.set_display_name("alice");
    ureq.set_email("alice@" + org_name + ".test");
    ppb::User user;
    EXPECT_TRUE(profiles_->CreateUser(Stack::Call(Stack::Admin(org.org().id())).get(), ureq, &user).ok());
    return Stack::User(org.org().id(), user.id());
  }

  std::string NewContact(const TenantContext& who, const std::string& name, ppb::Tier tier = ppb::NETWORK) {
    ppb::CreateContactRequest req;
    req.mutable_contact()->set_display_name(name);
    req.mutable_contact()->set_tier(tier);
    ppb::Contact out;
    grpc::Status s = profiles_->CreateContact(Stack::Call(who).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.id();
  }

  grpc::Status Log(const TenantContext& who, const std::vector<std::string>& contacts, pb::Interaction* out) {
    pb::CreateInteractionRequest req;
    req.mutable_interaction()->set_kind(pb::MEETING);
    req.mutable_interaction()->set_direction(pb::GAVE);
    for (const std::string& c : contacts) req.mutable_interaction()->add_contact_ids(c);
    return stub_->CreateInteraction(Stack::Call(who).get(), req, out);
  }

  grpc::Status Ledger(const TenantContext& who, const std::string& contact, pb::LedgerEntry* out) {
    pb::GetLedgerRequest req;
    req.set_contact_id(contact);
    return stub_->GetLedger(Stack::Call(who).get(), req, out);
  }

  static std::unique_ptr<grpc::ClientContext> Unsigned() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return c;
  }

  std::filesystem::path dir_;
  TenantSigner signer_{::rapport::testing::kTestInternalKey};
  std::unique_ptr<profiles::ProfilesStore> profiles_store_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<redis::EntityCache> cache_;
  std::unique_ptr<profiles::ProfilesServiceImpl> profiles_service_;
  CallCounts profiles_calls_;
  std::unique_ptr<grpc::Server> profiles_server_;
  std::unique_ptr<ppb::ProfilesService::Stub> profiles_;
  std::unique_ptr<InteractionsStore> store_;
  std::unique_ptr<profiles::ContactClient> contacts_;
  std::unique_ptr<ContactChecker> checker_;
  std::unique_ptr<InteractionsServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pb::InteractionsService::Stub> stub_;
};

TEST_F(InteractionsServiceTest, InteractionLifecycleWithTheCadenceFromProfiles) {
  TenantContext alice = NewUser("acme");
  std::string bob = NewContact(alice, "Bob", ppb::INNER);
  pb::Interaction met;
  ASSERT_TRUE(Log(alice, {bob}, &met).ok());
  EXPECT_TRUE(IsWellFormedId(met.id()));
  EXPECT_TRUE(met.has_occurred_at());  // defaulted to now

  pb::GetInteractionRequest get;
  get.set_interaction_id(met.id());
  pb::Interaction got;
  ASSERT_TRUE(stub_->GetInteraction(Stack::Call(alice).get(), get, &got).ok());
  EXPECT_EQ(got.SerializeAsString(), met.SerializeAsString());

  pb::LedgerEntry ledger;
  ASSERT_TRUE(Ledger(alice, bob, &ledger).ok());
  EXPECT_EQ(ledger.cadence_days(), 14);  // INNER, as profiles knows it
  EXPECT_EQ(ledger.interaction_count(), 1);
  EXPECT_DOUBLE_EQ(ledger.given(), 3.0);

  pb::UpdateInteractionRequest upd;
  upd.set_interaction_id(met.id());
  upd.mutable_interaction()->set_direction(pb::RECEIVED);
  upd.mutable_update_mask()->add_paths("direction");
  pb::Interaction updated;
  ASSERT_TRUE(stub_->UpdateInteraction(Stack::Call(alice).get(), upd, &updated).ok());
  ASSERT_TRUE(Ledger(alice, bob, &ledger).ok());
  EXPECT_DOUBLE_EQ(ledger.balance(), -3.0);

  pb::ListInteractionsRequest list;
  list.set_contact_id(bob);
  pb::ListInteractionsResponse listed;
  ASSERT_TRUE(stub_->ListInteractions(Stack::Call(alice).get(), list, &listed).ok());
  ASSERT_EQ(listed.interactions_size(), 1);
  EXPECT_EQ(listed.interactions(0).id(), met.id());

  pb::DeleteInteractionRequest del;
  del.set_interaction_id(met.id());
  pb::DeleteInteractionResponse deleted;
  ASSERT_TRUE(stub_->DeleteInteraction(Stack::Call(alice).get(), del, &deleted).ok());
  EXPECT_EQ(stub_->GetInteraction(Stack::Call(alice).get(), get, &got).error_code(), grpc::NOT_FOUND);
  ASSERT_TRUE(Ledger(alice, bob, &ledger).ok());
  EXPECT_EQ(ledger.interaction_count(), 0);
}

// The contacts an interaction names are confirmed with one BatchGetContacts
// call, however many they are; a contact confirmed once has a ledger row, and
// naming it again asks profiles nothing.
TEST_F(InteractionsServiceTest, ContactsAreConfirmedInOneCallAndOnlyOnce) {
  TenantContext alice = NewUser("acme");
  std::vector<std::string> contacts;
  for (int i = 0; i < 5; ++i) contacts.push_back(NewContact(alice, absl::StrCat("Contact ", i)));
  pb::Interaction out;
  const int before = profiles_calls_.Total();
  ASSERT_TRUE(Log(alice, contacts, &out).ok());
  EXPECT_EQ(profiles_calls_.Of(kBatchGetContacts), 1);
  EXPECT_EQ(profiles_calls_.Of(kGetContact), 0);
  EXPECT_EQ(profiles_calls_.Total(), before + 1);

  ASSERT_TRUE(Log(alice, {contacts[3], contacts[0]}, &out).ok());
  EXPECT_EQ(profiles_calls_.Total(), before + 1);

  // A new contact beside known ones: profiles is asked about the new one only.
  std::string fresh = NewContact(alice, "Fresh");
  const int before_fresh = profiles_calls_.Total();
  ASSERT_TRUE(Log(alice, {contacts[1], fresh}, &out).ok());
  EXPECT_EQ(profiles_calls_.Of(kBatchGetContacts), 2);
  EXPECT_EQ(profiles_calls_.Total(), before_fresh + 1);
}

TEST_F(InteractionsServiceTest, IntroductionMadeCreditsBothContacts) {
  TenantContext alice = NewUser("acme");
  std::string a = NewContact(alice, "Judy");
  std::string b = NewContact(alice, "Ken");
  pb::CreateIntroductionRequest create;
  create.set_mode(pb::CONNECT);
  create.set_contact_a_id(a);
  create.set_contact_b_id(b);
  pb::Introduction intro;
  ASSERT_TRUE(stub_->CreateIntroduction(Stack::Call(alice).get(), create, &intro).ok());
  for (pb::Party party : {pb::A, pb::B}) {
    pb::RespondIntroductionRequest respond;
    respond.set_id(intro.id());
    respond.set_party(party);
    respond.set_accept(true);
    ASSERT_TRUE(stub_->RespondIntroduction(Stack::Call(alice).get(), respond, &intro).ok());
  }
  pb::MakeIntroductionRequest make;
  make.set_id(intro.id());
  ASSERT_TRUE(stub_->MakeIntroduction(Stack::Call(alice).get(), make, &intro).ok());
  EXPECT_EQ(intro.state(), pb::MADE);
  for (const std::string& contact : {a, b}) {
    pb::LedgerEntry ledger;
    ASSERT_TRUE(Ledger(alice, contact, &ledger).ok());
    EXPECT_DOUBLE_EQ(ledger.given(), 5.0);
  }
}

TEST_F(InteractionsServiceTest, CallsWithoutMetadataAreUnauthenticated) {
  TenantContext alice = NewUser("acme");
  std::string bob = NewContact(alice, "Bob");
  pb::Interaction met;
  ASSERT_TRUE(Log(alice, {bob}, &met).ok());
  pb::CreateInteractionRequest create;
  create.mutable_interaction()->set_kind(pb::CALL);
  create.mutable_interaction()->set_direction(pb::GAVE);
  create.mutable_interaction()->add_contact_ids(bob);
  pb::Interaction out;
  EXPECT_EQ(stub_->CreateInteraction(Unsigned().get(), create, &out).error_code(), grpc::UNAUTHENTICATED);
  pb::GetInteractionRequest get;
  get.set_interaction_id(met.id());
  EXPECT_EQ(stub_->GetInteraction(Unsigned().get(), get, &out).error_code(), grpc::UNAUTHENTICATED);
  pb::ListInteractionsResponse listed;
  EXPECT_EQ(stub_->ListInteractions(Unsigned().get(), pb::ListInteractionsRequest(), &listed).error_code(),
            grpc::UNAUTHENTICATED);
  pb::GetLedgerRequest ledger;
  ledger.set_contact_id(bob);
  pb::LedgerEntry entry;
  EXPECT_EQ(stub_->GetLedger(Unsigned().get(), ledger, &entry).error_code(), grpc::UNAUTHENTICATED);
  pb::ListLedgerResponse entries;
  EXPECT_EQ(stub_->ListLedger(Unsigned().get(), pb::ListLedgerRequest(), &entries).error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(stub_->CreateInteraction(Stack::Call(alice, "another-internal-key").get(), create, &out).error_code(),
            grpc::UNAUTHENTICATED);
  // The refused create changed nothing.
  ASSERT_TRUE(stub_->ListInteractions(Stack::Call(alice).get(), pb::ListInteractionsRequest(), &listed).ok());
  EXPECT_EQ(listed.interactions_size(), 1);
}

// Another org's interaction or ledger answers like a missing one; another
// org's contact is no contact of the caller's, so naming it is a bad field.
TEST_F(InteractionsServiceTest, AnotherOrgsIdsAreNotFound) {
  TenantContext alice = NewUser("acme");
  TenantContext zed = NewUser("globex");
  std::string bob = NewContact(alice, "Bob");
  pb::Interaction met;
  ASSERT_TRUE(Log(alice, {bob}, &met).ok());

  pb::GetInteractionRequest get;
  get.set_interaction_id(met.id());
  pb::Interaction out;
  EXPECT_EQ(stub_->GetInteraction(Stack::Call(zed).get(), get, &out).error_code(), grpc::NOT_FOUND);
  pb::UpdateInteractionRequest upd;
  upd.set_interaction_id(met.id());
  upd.mutable_interaction()->set_summary("mine now");
  upd.mutable_update_mask()->add_paths("summary");
  EXPECT_EQ(stub_->UpdateInteraction(Stack::Call(zed).get(), upd, &out).error_code(), grpc::NOT_FOUND);
  pb::DeleteInteractionRequest del;
  del.set_interaction_id(met.id());
  pb::DeleteInteractionResponse deleted;
  EXPECT_EQ(stub_->DeleteInteraction(Stack::Call(zed).get(), del, &deleted).error_code(), grpc::NOT_FOUND);
  pb::LedgerEntry ledger;
  EXPECT_EQ(Ledger(zed, bob, &ledger).error_code(), grpc::NOT_FOUND);
  EXPECT_EQ(Ledger(alice, NewId(), &ledger).error_code(), grpc::NOT_FOUND);  // the same as a missing contact

  grpc::Status s = Log(zed, {bob}, &out);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "interaction.contactIds[0]: no such contact");

  ASSERT_TRUE(stub_->GetInteraction(Stack::Call(alice).get(), get, &out).ok());
  EXPECT_EQ(out.summary(), "");
  ASSERT_TRUE(Ledger(alice, bob, &ledger).ok());
  EXPECT_EQ(ledger.interaction_count(), 1);
}

TEST_F(InteractionsServiceTest, BadInputIsInvalidArgument) {
  TenantContext alice = NewUser("acme");
  std::string bob = NewContact(alice, "Bob");
  struct Case {
    const char* name;
    std::function<grpc::Status()> call;
  };
  const std::vector<Case> cases = {
      {"no contacts",
       [&] {
         pb::Interaction out;
         return Log(alice, {}, &out);
       }},
      {"repeated contact",
       [&] {
         pb::Interaction out;
         return Log(alice, {bob, bob}, &out);
       }},
      {"malformed contact id",
       [&] {
         pb::Interaction out;
         return Log(alice, {"Not An Id!"}, &out);
       }},
      {"unknown contact",
       [&] {
         pb::Interaction out;
         return Log(alice, {NewId()}, &out);
       }},
      {"no kind",
       [&] {
         pb::CreateInteractionRequest req;
         req.mutable_interaction()->set_direction(pb::GAVE);
         req.mutable_interaction()->add_contact_ids(bob);
         pb::Interaction out;
         return stub_->CreateInteraction(Stack::Call(alice).get(), req, &out);
       }},
      {"empty interaction id",
       [&] {
         pb::Interaction out;
         return stub_->GetInteraction(Stack::Call(alice).get(), pb::GetInteractionRequest(), &out);
       }},
      {"unknown ledger order",
       [&] {
         pb::ListLedgerRequest req;
         req.set_order_by("height");
         pb::ListLedgerResponse out;
         return stub_->ListLedger(Stack::Call(alice).get(), req, &out);
       }},
      {"introduction of a contact to themselves",
       [&] {
         pb::CreateIntroductionRequest req;
         req.set_mode(pb::CONNECT);
         req.set_contact_a_id(bob);
         req.set_contact_b_id(bob);
         pb::Introduction out;
         return stub_->CreateIntroduction(Stack::Call(alice).get(), req, &out);
       }},
  };
  for (const Case& c : cases) {
    grpc::Status s = c.call();
    EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << c.name << ": " << s.error_message();
  }
}

}  // namespace
}  // namespace rapport::interactions
