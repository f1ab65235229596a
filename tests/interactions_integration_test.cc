// End-to-end tests of the interactions service with a real redis-server and
// the real profiles and interactions binaries.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "rapport/events/v1/events.pb.h"
#include "rapport/interactions/v1/interactions.grpc.pb.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/ids.h"
#include "services/common/redis_client.h"
#include "tests/testing/event_stream.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
using ::rapport::testing::ReadEventStream;
using ::rapport::testing::Stack;
using ::rapport::testing::StreamEntry;
using ::rapport::testing::WaitFor;

class InteractionsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    ASSERT_TRUE(stack_.Start("profiles").ok());
    ASSERT_TRUE(stack_.Start("interactions").ok());
    profiles_ =
        ppb::ProfilesService::NewStub(grpc::CreateChannel(stack_.Addr("profiles"), grpc::InsecureChannelCredentials()));
    interactions_ = ipb::InteractionsService::NewStub(
        grpc::CreateChannel(stack_.Addr("interactions"), grpc::InsecureChannelCredentials()));
  }

  // A new org with one user; returns the user's context.
  TenantContext NewUser(const std::string& org_name, std::string org_id = "") {
    if (org_id.empty()) {
      ppb::CreateOrgRequest req;
      req.set_display_name(org_name);
      ppb::CreateOrgResponse org;
      EXPECT_TRUE(profiles_->CreateOrg(Stack::Call(Stack::Platform()).get(), req, &org).ok());
      org_id = org.org().id();
    }
    ppb::CreateUserRequest ureq;
    ureq.set_display_name("user");
    ureq.set_email(NewId() + "@" + org_name + ".test");
    ppb::User user;
    grpc::Status s = profiles_->CreateUser(Stack::Call(Stack::Admin(org_id)).get(), ureq, &user);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return Stack::User(org_id, user.id());
  }

  std::string NewContact(const TenantContext& who, const std::string& name, ppb::Tier tier = ppb::CLOSE) {
    ppb::CreateContactRequest req;
    req.mutable_contact()->set_display_name(name);
    req.mutable_contact()->set_tier(tier);
    ppb::Contact c;
    grpc::Status s = profiles_->CreateContact(Stack::Call(who).get(), req, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return c.id();
  }

  grpc::Status Log(const TenantContext& who, std::vector<std::string> contacts, ipb::InteractionKind kind,
                   ipb::Direction dir, ipb::Interaction* out, const std::string& idempotency_key = "") {
    ipb::CreateInteractionRequest req;
    req.mutable_interaction()->set_kind(kind);
    req.mutable_interaction()->set_direction(dir);
    req.mutable_interaction()->set_summary("coffee");
    for (auto& c : contacts) req.mutable_interaction()->add_contact_ids(c);
    TenantContext t = who;
    t.idempotency_key = idempotency_key;
    return interactions_->CreateInteraction(Stack::Call(t).get(), req, out);
  }

  std::vector<StreamEntry> Stream() { return ReadEventStream(stack_.redis().addr()); }

  int CountType(const std::string& type, std::set<std::string>* ids = nullptr) {
    int n = 0;
    for (const auto& e : Stream()) {
      if (e.type != type) continue;
      ++n;
      if (ids != nullptr) ids->insert(e.event_id);
    }
    return n;
  }

  Stack stack_;
  std::unique_ptr<ppb::ProfilesService::Stub> profiles_;
  std::unique_ptr<ipb::InteractionsService::Stub> interactions_;
};

TEST_F(InteractionsIntegrationTest, LogsUpdatesAndDeletesWithAnExactLedger) {
  TenantContext alice = NewUser("acme");
  std::string bob = NewContact(alice, "Bob", ppb::INNER);
  ipb::Interaction met;
  ASSERT_TRUE(Log(alice, {bob}, ipb::MEETING, ipb::RECEIVED, &met).ok());
  ipb::GetLedgerRequest lreq;
  lreq.set_contact_id(bob);
  ipb::LedgerEntry ledger;
  ASSERT_TRUE(interactions_->GetLedger(Stack::Call(alice).get(), lreq, &ledger).ok());
  EXPECT_DOUBLE_EQ(ledger.received(), 3.0);
  EXPECT_DOUBLE_EQ(ledger.balance(), -3.0);
  EXPECT_EQ(ledger.cadence_days(), 14);  // INNER, from profiles
  EXPECT_EQ(ledger.interaction_count(), 1);
  EXPECT_NEAR(ledger.strength(), 25.92, 0.05);

  ipb::UpdateInteractionRequest upd;
  upd.set_interaction_id(met.id());
  upd.mutable_interaction()->set_direction(ipb::GAVE);
  ipb::Interaction updated;
  ASSERT_TRUE(interactions_->UpdateInteraction(Stack::Call(alice).get(), upd, &updated).ok());
  ASSERT_TRUE(interactions_->GetLedger(Stack::Call(alice).get(), lreq, &ledger).ok());
  EXPECT_DOUBLE_EQ(ledger.balance(), 3.0);

  ipb::ListInteractionsRequest list;
  list.set_contact_id(bob);
  ipb::ListInteractionsResponse listed;
  ASSERT_TRUE(interactions_->ListInteractions(Stack::Call(alice).get(), list, &listed).ok());
  EXPECT_EQ(listed.interactions_size(), 1);

  ipb::DeleteInteractionRequest del;
  del.set_interaction_id(met.id());
  ipb::DeleteInteractionResponse dr;
  ASSERT_TRUE(interactions_->DeleteInteraction(Stack::Call(alice).get(), del, &dr).ok());
  ASSERT_TRUE(interactions_->GetLedger(Stack::Call(alice).get(), lreq, &ledger).ok());
  EXPECT_EQ(ledger.interaction_count(), 0);
  EXPECT_FALSE(ledger.has_last_interaction_time());

  // A contact with no interaction yet has an empty ledger entry; a stranger's id is NOT_FOUND.
  std::string carol = NewContact(alice, "Carol", ppb::ACQUAINTANCE);
  lreq.set_contact_id(carol);
  ASSERT_TRUE(interactions_->GetLedger(Stack::Call(alice).get(), lreq, &ledger).ok());
  EXPECT_EQ(ledger.cadence_days(), 180);
  lreq.set_contact_id(NewId());
  EXPECT_EQ(interactions_->GetLedger(Stack::Call(alice).get(), lreq, &ledger).error_code(), grpc::NOT_FOUND);
}

TEST_F(InteractionsIntegrationTest, TenantIsolation) {
  TenantContext alice = NewUser("acme");
  TenantContext bob = NewUser("acme", alice.org_id);  // a teammate
  TenantContext mallory = NewUser("evil");
  std::string alices_contact = NewContact(alice, "Dana");
  std::string bobs_contact = NewContact(bob, "Eve");
  ipb::Interaction mine;
  ASSERT_TRUE(Log(alice, {alices_contact}, ipb::CALL, ipb::MUTUAL, &mine).ok());

  for (const TenantContext& other : {bob, mallory}) {
    ipb::GetInteractionRequest get;
    get.set_interaction_id(mine.id());
    ipb::Interaction out;
    EXPECT_EQ(interactions_->GetInteraction(Stack::Call(other).get(), get, &out).error_code(), grpc::NOT_FOUND);
    ipb::GetLedgerRequest lreq;
    lreq.set_contact_id(alices_contact);
    ipb::LedgerEntry ledger;
    EXPECT_EQ(interactions_->GetLedger(Stack::Call(other).get(), lreq, &ledger).error_code(), grpc::NOT_FOUND);
    ipb::DeleteInteractionRequest del;
    del.set_interaction_id(mine.id());
    ipb::DeleteInteractionResponse dr;
    EXPECT_EQ(interactions_->DeleteInteraction(Stack::Call(other).get(), del, &dr).error_code(), grpc::NOT_FOUND);
    ipb::ListLedgerResponse entries;
    ASSERT_TRUE(interactions_->ListLedger(Stack::Call(other).get(), ipb::ListLedgerRequest(), &entries).ok());
    for (const auto& e : entries.entries()) EXPECT_NE(e.contact_id(), alices_contact);
  }
  // An interaction naming another user's contact is rejected, naming the field.
  ipb::Interaction out;
  grpc::Status s = Log(alice, {alices_contact, bobs_contact}, ipb::MEETING, ipb::GAVE, &out);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("contactIds[1]"), std::string::npos) << s.error_message();
}

TEST_F(InteractionsIntegrationTest, IdempotentCreateRetriedFiveTimesMakesOneRow) {
  TenantContext alice = NewUser("acme");
  std::string c = NewContact(alice, "Frank");
  std::set<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ipb::Interaction out;
    grpc::Status s = Log(alice, {c}, ipb::EMAIL, ipb::GAVE, &out, "retry-key-1");
    ASSERT_TRUE(s.ok()) << s.error_message();
    ids.insert(out.id());
  }
  EXPECT_EQ(ids.size(), 1u);
  ipb::ListInteractionsResponse listed;
  ASSERT_TRUE(interactions_->ListInteractions(Stack::Call(alice).get(), ipb::ListInteractionsRequest(), &listed).ok());
  EXPECT_EQ(listed.interactions_size(), 1);
  ipb::Interaction other;
  grpc::Status mismatch = Log(alice, {c}, ipb::MEETING, ipb::GAVE, &other, "retry-key-1");
  EXPECT_EQ(mismatch.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_NE(mismatch.error_message().find("Idempotency-Key"), std::string::npos);
}

TEST_F(InteractionsIntegrationTest, OutboxHoldsEventsWhileRedisIsDownAndPublishesEachOnce) {
  TenantContext alice = NewUser("acme");
  std::string c = NewContact(alice, "Grace");
  stack_.redis().Kill9();
  for (int i = 0; i < 100; ++i) {
    ipb::Interaction out;
    grpc::Status s = Log(alice, {c}, ipb::MESSAGE, ipb::GAVE, &out);
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_message();
  }
  ASSERT_TRUE(stack_.redis().Start().ok());  // an empty Redis: everything must come from the outboxes
  std::set<std::string> ids;
  ASSERT_TRUE(WaitFor([&] { return CountType("interaction.created") >= 100; }, std::chrono::seconds(20)))
      << CountType("interaction.created");
  EXPECT_EQ(CountType("interaction.created", &ids), 100);
  EXPECT_EQ(ids.size(), 100u);
}

TEST_F(InteractionsIntegrationTest, AcknowledgedCreateSurvivesKill9WithItsEvent) {
  TenantContext alice = NewUser("acme");
  std::string c = NewContact(alice, "Heidi");
  ipb::Interaction out;
  ASSERT_TRUE(Log(alice, {c}, ipb::GIFT, ipb::GAVE, &out).ok());
  stack_.Kill9("interactions");
  ASSERT_TRUE(stack_.Start("interactions").ok());
  ipb::GetInteractionRequest get;
  get.set_interaction_id(out.id());
  ipb::Interaction got;
  ASSERT_TRUE(interactions_->GetInteraction(Stack::Call(alice).get(), get, &got).ok());
  EXPECT_EQ(got.kind(), ipb::GIFT);
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& e : Stream()) {
          if (e.type == "interaction.created" && e.event.interaction().id() == out.id()) return true;
        }
        return false;
      },
      std::chrono::seconds(10)));
}

TEST_F(InteractionsIntegrationTest, ProfilesDownGivesUnavailableForContactsNotKnownLocally) {
  TenantContext alice = NewUser("acme");
  std::string known = NewContact(alice, "Ivan");
  ipb::Interaction out;
  ASSERT_TRUE(Log(alice, {known}, ipb::CALL, ipb::GAVE, &out).ok());  // confirmed by profiles once
  // With Redis down, interactions cannot hear of the next contact by event.
  stack_.redis().Kill9();
  std::string fresh = NewContact(alice, "Judy");
  stack_.Kill9("profiles");
  grpc::Status s = Log(alice, {fresh}, ipb::CALL, ipb::GAVE, &out);
  EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE) << s.error_message();
  // A contact already confirmed is still accepted from the local copy.
  EXPECT_TRUE(Log(alice, {known}, ipb::MESSAGE, ipb::GAVE, &out).ok());
  ASSERT_TRUE(stack_.Start("profiles").ok());
  // The channel reconnects by itself within about a second.
  EXPECT_TRUE(WaitFor([&] { return Log(alice, {fresh}, ipb::CALL, ipb::GAVE, &out).ok(); }, std::chrono::seconds(5)));
}

TEST_F(InteractionsIntegrationTest, IntroductionLifecycleCreditsTheConnector) {
  TenantContext alice = NewUser("acme");
  std::string a = NewContact(alice, "Judy");
  std::string b = NewContact(alice, "Ken");
  ipb::CreateIntroductionRequest create;
  create.set_mode(ipb::CONNECT);
  create.set_contact_a_id(a);
  create.set_contact_b_id(b);
  create.set_reason("both into compilers");
  ipb::Introduction intro;
  ASSERT_TRUE(interactions_->CreateIntroduction(Stack::Call(alice).get(), create, &intro).ok());
  EXPECT_EQ(intro.state(), ipb::REQUESTED);

  ipb::MakeIntroductionRequest make;
  make.set_id(intro.id());
  EXPECT_EQ(interactions_->MakeIntroduction(Stack::Call(alice).get(), make, &intro).error_code(),
            grpc::FAILED_PRECONDITION);
  for (ipb::Party party : {ipb::A, ipb::B}) {
    ipb::RespondIntroductionRequest respond;
    respond.set_id(intro.id());
    respond.set_party(party);
    respond.set_accept(true);
    ASSERT_TRUE(interactions_->RespondIntroduction(Stack::Call(alice).get(), respond, &intro).ok());
  }
  EXPECT_EQ(intro.state(), ipb::ACCEPTED);
  ASSERT_TRUE(interactions_->MakeIntroduction(Stack::Call(alice).get(), make, &intro).ok());
  EXPECT_EQ(intro.state(), ipb::MADE);
  EXPECT_FALSE(intro.interaction_id().empty());
  for (const std::string& contact : {a, b}) {
    ipb::GetLedgerRequest lreq;
    lreq.set_contact_id(contact);
    ipb::LedgerEntry ledger;
    ASSERT_TRUE(interactions_->GetLedger(Stack::Call(alice).get(), lreq, &ledger).ok());
    EXPECT_DOUBLE_EQ(ledger.given(), 5.0);  // an introduction given to each side
  }
  ipb::CompleteIntroductionRequest complete;
  complete.set_id(intro.id());
  complete.set_outcome("they are building a compiler together");
  ASSERT_TRUE(interactions_->CompleteIntroduction(Stack::Call(alice).get(), complete, &intro).ok());
  EXPECT_EQ(intro.state(), ipb::COMPLETED);
  ipb::ListIntroductionsRequest list;
  list.set_state(ipb::COMPLETED);
  ipb::ListIntroductionsResponse listed;
  ASSERT_TRUE(interactions_->ListIntroductions(Stack::Call(alice).get(), list, &listed).ok());
  EXPECT_EQ(listed.introductions_size(), 1);
  ASSERT_TRUE(WaitFor([&] { return CountType("introduction.completed") == 1; }, std::chrono::seconds(10)));
}

TEST_F(InteractionsIntegrationTest, ContactTierChangeReachesTheLedgerThroughEvents) {
  TenantContext alice = NewUser("acme");
  std::string c = NewContact(alice, "Leo", ppb::NETWORK);
  ipb::Interaction out;
  ASSERT_TRUE(Log(alice, {c}, ipb::CALL, ipb::GAVE, &out).ok());
  ppb::UpdateContactRequest upd;
  upd.set_contact_id(c);
  upd.mutable_contact()->set_tier(ppb::INNER);
  ppb::Contact updated;
  ASSERT_TRUE(profiles_->UpdateContact(Stack::Call(alice).get(), upd, &updated).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        ipb::GetLedgerRequest lreq;
        lreq.set_contact_id(c);
        ipb::LedgerEntry ledger;
        return interactions_->GetLedger(Stack::Call(alice).get(), lreq, &ledger).ok() && ledger.cadence_days() == 14;
      },
      std::chrono::seconds(10)));
}

// A consumer that read events and died before acknowledging them: the
// interactions process (consumer "interactions-1" of group "interactions")
// processes them once when it comes back.
TEST(InteractionsConsumerTest, EntriesReadButNotAcknowledgedAreProcessedOnceAfterRestart) {
  Stack stack;
  ASSERT_TRUE(stack.redis().Start().ok());
  ASSERT_TRUE(stack.Start("profiles").ok());
  auto profiles =
      ppb::ProfilesService::NewStub(grpc::CreateChannel(stack.Addr("profiles"), grpc::InsecureChannelCredentials()));
  redis::ClientOptions options;
  options.addr = stack.redis().addr();
  redis::Client redis(options);
  // The group as the service creates it, before the service ever ran.
  ASSERT_TRUE(redis.Command({"XGROUP", "CREATE", "rapport:events", "interactions", "0", "MKSTREAM"}).ok());

  ppb::CreateOrgRequest oreq;
  oreq.set_display_name("acme");
  ppb::CreateOrgResponse org;
  ASSERT_TRUE(profiles->CreateOrg(Stack::Call(Stack::Platform()).get(), oreq, &org).ok());
  ppb::CreateUserRequest ureq;
  ureq.set_display_name("alice");
  ureq.set_email("alice@acme.test");
  ppb::User user;
  ASSERT_TRUE(profiles->CreateUser(Stack::Call(Stack::Admin(org.org().id())).get(), ureq, &user).ok());
  TenantContext alice = Stack::User(org.org().id(), user.id());
  ppb::CreateContactRequest creq;
  creq.mutable_contact()->set_display_name("Mallory's friend");
  creq.mutable_contact()->set_tier(ppb::INNER);
  ppb::Contact contact;
  ASSERT_TRUE(profiles->CreateContact(Stack::Call(alice).get(), creq, &contact).ok());

  // Read everything as the service's consumer and "crash" before XACK.
  int read = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = redis.Command({"XREADGROUP", "GROUP", "interactions", "interactions-1", "COUNT", "100", "STREAMS",
                                "rapport:events", ">"});
        if (r.ok() && r->type == redis::Reply::Type::kArray && !r->elements.empty()) {
          read += static_cast<int>(r->elements[0].elements[1].elements.size());
        }
        return read >= 3;  // org.created, user.created, contact.created
      },
      std::chrono::seconds(10)));
  auto pending = redis.Command({"XPENDING", "rapport:events", "interactions"});
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->elements[0].integer, read);

  ASSERT_TRUE(stack.Start("interactions").ok());
  auto interactions = ipb::InteractionsService::NewStub(
      grpc::CreateChannel(stack.Addr("interactions"), grpc::InsecureChannelCredentials()));
  // The contact's ledger row comes only from its contact.created event.
  ASSERT_TRUE(WaitFor(
      [&] {
        ipb::ListLedgerResponse ledger;
        return interactions->ListLedger(Stack::Call(alice).get(), ipb::ListLedgerRequest(), &ledger).ok() &&
               ledger.entries_size() == 1 && ledger.entries(0).contact_id() == contact.id() &&
               ledger.entries(0).cadence_days() == 14;
      },
      std::chrono::seconds(10)));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto p = redis.Command({"XPENDING", "rapport:events", "interactions"});
        return p.ok() && p->elements[0].integer == 0;
      },
      std::chrono::seconds(10)));
  // Processed once, even across another crash. A kill -9 between the relay's
  // XADD and its "sent" mark republishes rows (at-least-once, by design), so
  // the stream may hold the same ledger.changed twice: count distinct event
  // ids, and the effect the consumer applied (the ledger row), not entries.
  stack.Kill9("interactions");
  ASSERT_TRUE(stack.Start("interactions").ok());
  // A second contact, created after the restart: once its ledger.changed is on
  // the stream, the restarted consumer has gone past every older event (the
  // stream is read in order) and the relay has drained every older row (it
  // publishes in commit order), so a duplicate would already be visible.
  creq.mutable_contact()->set_display_name("Mallory's other friend");
  ppb::Contact later;
  ASSERT_TRUE(profiles->CreateContact(Stack::Call(alice).get(), creq, &later).ok());
  auto ledger_event_ids = [&](const std::string& contact_id) {
    std::set<std::string> ids;
    for (const StreamEntry& e : ReadEventStream(stack.redis().addr())) {
      if (e.type == "ledger.changed" && e.event.ledger().contact_id() == contact_id) ids.insert(e.event_id);
    }
    return ids;
  };
  ASSERT_TRUE(WaitFor([&] { return !ledger_event_ids(later.id()).empty(); }, std::chrono::seconds(10)));
  EXPECT_EQ(ledger_event_ids(contact.id()).size(), 1u);
  ipb::ListLedgerResponse ledger;
  ASSERT_TRUE(interactions->ListLedger(Stack::Call(alice).get(), ipb::ListLedgerRequest(), &ledger).ok());
  ASSERT_EQ(ledger.entries_size(), 2);
  for (const ipb::LedgerEntry& entry : ledger.entries()) {
    EXPECT_EQ(entry.cadence_days(), 14) << entry.contact_id();
    EXPECT_EQ(entry.interaction_count(), 0) << entry.contact_id();
  }
}

TEST_F(InteractionsIntegrationTest, BadInputIsInvalidArgument) {
  TenantContext alice = NewUser("acme");
  ipb::Interaction out;
  grpc::Status s = Log(alice, {}, ipb::INTERACTION_KIND_UNSPECIFIED, ipb::GAVE, &out);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("interaction.kind"), std::string::npos);
  EXPECT_NE(s.error_message().find("interaction.contactIds"), std::string::npos);
  ipb::ListLedgerRequest bad_order;
  bad_order.set_order_by("karma");
  ipb::ListLedgerResponse resp;
  EXPECT_EQ(interactions_->ListLedger(Stack::Call(alice).get(), bad_order, &resp).error_code(), grpc::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace rapport
