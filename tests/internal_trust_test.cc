// Internal trust between the real processes: a signed tenant header captured
// from a real process's call (interactions asking profiles, the
// recommendations backfill's platform export) is good for that one method
// only, and for 60 seconds; an event written straight into the Redis stream
// without the internal key's signature is dead-lettered and nothing of it is
// applied; the services work against a Redis that wants a password and an
// ACL user, given as RAPPORT_REDIS_URL.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "rapport/backfill/v1/backfill.grpc.pb.h"
#include "rapport/events/v1/events.pb.h"
#include "rapport/interactions/v1/interactions.grpc.pb.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/ids.h"
#include "services/common/outbox.h"
#include "services/common/redis_client.h"
#include "tests/testing/event_stream.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
namespace bpb = ::rapport::backfill::v1;
using ::rapport::testing::kTestInternalKey;
using ::rapport::testing::ReadEventStream;
using ::rapport::testing::Stack;
using ::rapport::testing::WaitFor;

constexpr auto kWait = std::chrono::seconds(20);

// A gRPC server that answers every call UNAVAILABLE and keeps the tenant
// header and the method of each: it stands where a real process expects one
// of its peers, to capture what that process signs.
class Recorder : public grpc::CallbackGenericService {
 public:
  struct Captured {
    std::string method;
    std::string header;
  };

  Recorder() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterCallbackGenericService(this);
    server_ = builder.BuildAndStart();
  }
  ~Recorder() override { server_->Shutdown(std::chrono::system_clock::now()); }

  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }

  // The first captured call of method, if any yet.
  std::optional<Captured> Find(const std::string& method) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Captured& c : captured_) {
      if (c.method == method) return c;
    }
    return std::nullopt;
  }

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    Captured c;
    c.method = ctx->method();
    auto it = ctx->client_metadata().find(kTenantHeader);
    if (it != ctx->client_metadata().end()) c.header.assign(it->second.data(), it->second.size());
    {
      std::lock_guard<std::mutex> lock(mu_);
      captured_.push_back(std::move(c));
    }
    class Refuse : public grpc::ServerGenericBidiReactor {
     public:
      Refuse() { Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "recorder")); }
      void OnDone() override { delete this; }
    };
    return new Refuse;
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  std::vector<Captured> captured_;
};

// A client context carrying exactly this tenant header, as an attacker who
// captured it would send it.
std::unique_ptr<grpc::ClientContext> Replay(const std::string& header) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ctx->AddMetadata(kTenantHeader, header);
  return ctx;
}

class InternalTrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    ASSERT_TRUE(stack_.Start("profiles").ok());
    auto channel = grpc::CreateChannel(stack_.Addr("profiles"), grpc::InsecureChannelCredentials());
    profiles_ = ppb::ProfilesService::NewStub(channel);
    export_ = bpb::ProfilesBackfill::NewStub(channel);
  }

  TenantContext NewUser(const std::string& org_name) {
    ppb::CreateOrgRequest req;
    req.set_display_name(org_name);
    ppb::CreateOrgResponse org;
    EXPECT_TRUE(profiles_->CreateOrg(Stack::Call(Stack::Platform()).get(), req, &org).ok());
    ppb::CreateUserRequest ureq;
    ureq.set_display_name("user");
    ureq.set_email(NewId() + "@" + org_name + ".test");
    ppb::User user;
    grpc::Status s = profiles_->CreateUser(Stack::Call(Stack::Admin(org.org().id())).get(), ureq, &user);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return Stack::User(org.org().id(), user.id());
  }

  Stack stack_;
  std::unique_ptr<ppb::ProfilesService::Stub> profiles_;
  std::unique_ptr<bpb::ProfilesBackfill::Stub> export_;
};

// The recommendations backfill signs PLATFORM headers for profiles' exports.
// One captured is good for its export, and refused on another export and on
// a platform call such as CreateOrg (under the old header, which named no
// method, it opened every platform RPC for five minutes).
TEST_F(InternalTrustTest, PlatformHeaderOfAnExportIsGoodForThatExportOnly) {
  Recorder recorder;
  ASSERT_TRUE(stack_.Launch("recommendations", {{"PROFILES_SERVICE_ADDR", recorder.addr()}}).ok());
  // The backfill's first platform call lists the orgs (then exports org by org).
  const std::string list = "/rapport.backfill.v1.ProfilesBackfill/ListOrgs";
  ASSERT_TRUE(WaitFor([&] { return recorder.Find(list).has_value(); }, kWait));
  stack_.Stop("recommendations");
  const std::string header = recorder.Find(list)->header;
  ASSERT_FALSE(header.empty());

  bpb::ListOrgsResponse orgs;
  grpc::Status s = export_->ListOrgs(Replay(header).get(), bpb::ListOrgsRequest(), &orgs);
  EXPECT_TRUE(s.ok()) << s.error_message();  // the method it was signed for

  bpb::ExportRequest req;
  bpb::ExportResponse page;

  s = export_->ExportContacts(Replay(header).get(), req, &page);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_EQ(s.error_message(), "tenant metadata signed for another method");

  ppb::CreateOrgRequest org;
  org.set_display_name("planted");
  ppb::CreateOrgResponse created;
  s = profiles_->CreateOrg(Replay(header).get(), org, &created);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
}

// Interactions asks profiles about a user's contacts with a READ header for
// GetContact/BatchGetContacts. Captured, it reads nothing else: not the
// user's contact list, not an export, not another service.
TEST_F(InternalTrustTest, UserHeaderCapturedFromAServiceCallIsRefusedOnAnyOtherMethodOrService) {
  TenantContext alice = NewUser("acme");
  ppb::CreateContactRequest creq;
  creq.mutable_contact()->set_display_name("Bob");
  ppb::Contact bob;
  ASSERT_TRUE(profiles_->CreateContact(Stack::Call(alice).get(), creq, &bob).ok());

  Recorder recorder;
  ASSERT_TRUE(stack_.Start("interactions", {{"PROFILES_SERVICE_ADDR", recorder.addr()}}).ok());
  auto interactions = ipb::InteractionsService::NewStub(
      grpc::CreateChannel(stack_.Addr("interactions"), grpc::InsecureChannelCredentials()));
  ipb::CreateInteractionRequest ireq;
  ireq.mutable_interaction()->set_kind(ipb::CALL);
  ireq.mutable_interaction()->set_direction(ipb::GAVE);
  ireq.mutable_interaction()->add_contact_ids(NewId());  // unknown locally: asked of "profiles"
  ipb::Interaction created;
  EXPECT_FALSE(interactions->CreateInteraction(Stack::Call(alice).get(), ireq, &created).ok());
  const std::string batch = "/rapport.profiles.v1.ProfilesService/BatchGetContacts";
  ASSERT_TRUE(WaitFor([&] { return recorder.Find(batch).has_value(); }, kWait));
  const std::string header = recorder.Find(batch)->header;
  ASSERT_FALSE(header.empty());

  // Good where it was meant to go.
  ppb::BatchGetContactsRequest breq;
  breq.add_contact_ids(bob.id());
  ppb::BatchGetContactsResponse got;
  grpc::Status s = profiles_->BatchGetContacts(Replay(header).get(), breq, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.contacts_size(), 1);

  // Another method of the same service.
  ppb::ListContactsResponse listed;
  s = profiles_->ListContacts(Replay(header).get(), ppb::ListContactsRequest(), &listed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  // An export.
  bpb::ExportResponse page;
  s = export_->ExportContacts(Replay(header).get(), bpb::ExportRequest(), &page);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  // Another service.
  ipb::ListInteractionsResponse interactions_listed;
  s = interactions->ListInteractions(Replay(header).get(), ipb::ListInteractionsRequest(), &interactions_listed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
}

TEST_F(InternalTrustTest, AHeaderOlderThanSixtySecondsIsRefused) {
  TenantContext alice = NewUser("acme");
  const std::string list = FullMethod(ppb::ProfilesService::service_full_name(), "ListContacts");
  TenantSigner signer(kTestInternalKey);
  ppb::ListContactsResponse listed;
  for (auto [age, code] :
       std::vector<std::pair<absl::Duration, grpc::StatusCode>>{{absl::Seconds(61), grpc::StatusCode::UNAUTHENTICATED},
                                                                {-absl::Seconds(61), grpc::StatusCode::UNAUTHENTICATED},
                                                                {absl::Seconds(30), grpc::StatusCode::OK}}) {
    const std::string header = signer.Token(alice, list, absl::Now() - age);
    grpc::Status s = profiles_->ListContacts(Replay(header).get(), ppb::ListContactsRequest(), &listed);
    EXPECT_EQ(s.error_code(), code) << absl::FormatDuration(age) << ": " << s.error_message();
  }
}

// An event XADDed straight into the stream (by anyone who can reach Redis)
// is dead-lettered by the interactions consumer, and nothing of it applies:
// the ledger row it would delete stays; genuine events still flow.
TEST_F(InternalTrustTest, ForgedEventInTheStreamIsDeadLetteredAndNotApplied) {
  ASSERT_TRUE(stack_.Start("interactions").ok());
  auto interactions = ipb::InteractionsService::NewStub(
      grpc::CreateChannel(stack_.Addr("interactions"), grpc::InsecureChannelCredentials()));
  TenantContext alice = NewUser("acme");
  ppb::CreateContactRequest creq;
  creq.mutable_contact()->set_display_name("Leo");
  creq.mutable_contact()->set_tier(ppb::NETWORK);
  ppb::Contact leo;
  ASSERT_TRUE(profiles_->CreateContact(Stack::Call(alice).get(), creq, &leo).ok());
  ipb::CreateInteractionRequest ireq;
  ireq.mutable_interaction()->set_kind(ipb::CALL);
  ireq.mutable_interaction()->set_direction(ipb::GAVE);
  ireq.mutable_interaction()->add_contact_ids(leo.id());
  ipb::Interaction logged;
  ASSERT_TRUE(
      WaitFor([&] { return interactions->CreateInteraction(Stack::Call(alice).get(), ireq, &logged).ok(); }, kWait));
  auto ledger = [&]() -> std::optional<ipb::LedgerEntry> {
    ipb::GetLedgerRequest lreq;
    lreq.set_contact_id(leo.id());
    ipb::LedgerEntry entry;
    if (!interactions->GetLedger(Stack::Call(alice).get(), lreq, &entry).ok()) return std::nullopt;
    return entry;
  };
  ASSERT_TRUE(ledger().has_value());
  EXPECT_EQ(ledger()->cadence_days(), 90);

  // Leo's real contact.created event, turned into a deletion and an update to
  // INNER, written without the internal key (unsigned; signed with a guess).
  std::optional<events::v1::Event> real;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& e : ReadEventStream(stack_.redis().addr())) {
          if (e.type == "contact.created" && e.event.contact().contact().id() == leo.id()) real = e.event;
        }
        return real.has_value();
      },
      kWait));
  events::v1::Event deletion = *real;
  deletion.set_id(NewId());
  deletion.set_type("contact.deleted");
  events::v1::Event update = *real;
  update.set_id(NewId());
  update.set_type("contact.updated");
  update.mutable_contact()->mutable_contact()->set_effective_cadence_days(14);
  redis::ClientOptions ro;
  ro.addr = stack_.redis().addr();
  redis::Client redis(ro);
  ASSERT_TRUE(redis
                  .Command({"XADD", events::kEventStream, "*", "id", deletion.id(), "type", deletion.type(), "org",
                            deletion.org_id(), "data", deletion.SerializeAsString()})
                  .ok());
  std::vector<std::string> xadd = {"XADD", events::kEventStream, "*"};
  for (std::string& f : events::EntryFields(events::EventSigner("a-guessed-key"), update)) xadd.push_back(f);
  ASSERT_TRUE(redis.Command(xadd).ok());

  // Both land in the dead-letter stream, set aside by the interactions group.
  auto dead_for_interactions = [&] {
    std::set<std::string> ids;
    absl::StatusOr<redis::Reply> r = redis.Command({"XRANGE", "rapport:events:dead", "-", "+"});
    if (!r.ok()) return ids;
    for (const redis::Reply& entry : r->elements) {
      std::map<std::string, std::string> f;
      const auto& kv = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < kv.size(); i += 2) f[kv[i].str] = kv[i + 1].str;
      if (f["group"] == "interactions") ids.insert(f["id"]);
    }
    return ids;
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        return dead_for_interactions() == std::set<std::string>{deletion.id(), update.id()};
      },
      kWait));
  std::optional<ipb::LedgerEntry> after = ledger();
  ASSERT_TRUE(after.has_value()) << "the forged deletion was applied";
  EXPECT_EQ(after->cadence_days(), 90) << "the forged update was applied";

  // A genuine change still flows through the same consumer.
  ppb::UpdateContactRequest upd;
  upd.set_contact_id(leo.id());
  upd.mutable_contact()->set_tier(ppb::INNER);
  ppb::Contact updated;
  ASSERT_TRUE(profiles_->UpdateContact(Stack::Call(alice).get(), upd, &updated).ok());
  EXPECT_TRUE(WaitFor([&] { return ledger().has_value() && ledger()->cadence_days() == 14; }, kWait));
}

std::string RedisServerPath() {
  std::vector<std::string> dirs = absl::StrSplit(std::getenv("PATH") != nullptr ? std::getenv("PATH") : "", ':');
  dirs.push_back("/usr/bin");
  for (const std::string& dir : dirs) {
    std::error_code ec;
    if (!dir.empty() && std::filesystem::exists(dir + "/redis-server", ec)) return dir + "/redis-server";
  }
  return "redis-server";
}

// Profiles and interactions on a Redis with requirepass and an ACL user,
// reached only through RAPPORT_REDIS_URL (user, password, database 3; the
// stack's RAPPORT_REDIS_ADDR names a port where nothing listens): signed
// events flow from profiles' outbox to interactions' consumer in database 3.
TEST(InternalTrustRedisTest, ServicesWorkAgainstAPasswordAndAclUserGivenAsAUrl) {
  Stack stack;  // its own Redis is never started
  const std::string dir = ::rapport::testing::TempDir("rapport-redis-acl");
  const int port = ::rapport::testing::FreePort();
  auto redis_process = ::rapport::testing::Process::Start(RedisServerPath(),
                                                          {"--port",
                                                           std::to_string(port),
                                                           "--bind",
                                                           "127.0.0.1",
                                                           "--save",
                                                           "",
                                                           "--appendonly",
                                                           "no",
                                                           "--dir",
                                                           dir,
                                                           "--daemonize",
                                                           "no",
                                                           "--requirepass",
                                                           "default-secret",
                                                           "--user",
                                                           "rapport",
                                                           "on",
                                                           ">app-secret",
                                                           "~*",
                                                           "&*",
                                                           "+@all"},
                                                          {}, dir + "/redis.log");
  ASSERT_TRUE(redis_process.ok()) << redis_process.status();
  const std::string url = "redis://rapport:app-secret@127.0.0.1:" + std::to_string(port) + "/3";
  redis::ClientOptions ro;
  ro.addr = url;
  redis::Client redis(ro);
  ASSERT_TRUE(WaitFor([&] { return redis.Command({"PING"}).ok(); }, kWait));
  redis::ClientOptions wrong;
  wrong.addr = "redis://rapport:not-it@127.0.0.1:" + std::to_string(port) + "/3";
  EXPECT_EQ(redis::Client(wrong).Command({"PING"}).status().code(), absl::StatusCode::kUnavailable);

  ASSERT_TRUE(stack.Start("profiles", {{"RAPPORT_REDIS_URL", url}}).ok());
  ASSERT_TRUE(stack.Start("interactions", {{"RAPPORT_REDIS_URL", url}}).ok());
  auto profiles =
      ppb::ProfilesService::NewStub(grpc::CreateChannel(stack.Addr("profiles"), grpc::InsecureChannelCredentials()));
  auto interactions = ipb::InteractionsService::NewStub(
      grpc::CreateChannel(stack.Addr("interactions"), grpc::InsecureChannelCredentials()));
  ppb::CreateOrgRequest oreq;
  oreq.set_display_name("acme");
  ppb::CreateOrgResponse org;
  ASSERT_TRUE(profiles->CreateOrg(Stack::Call(Stack::Platform()).get(), oreq, &org).ok());
  ppb::CreateUserRequest ureq;
  ureq.set_display_name("user");
  ureq.set_email("user@acme.test");
  ppb::User user;
  ASSERT_TRUE(profiles->CreateUser(Stack::Call(Stack::Admin(org.org().id())).get(), ureq, &user).ok());
  TenantContext alice = Stack::User(org.org().id(), user.id());
  ppb::CreateContactRequest creq;
  creq.mutable_contact()->set_display_name("Leo");
  creq.mutable_contact()->set_tier(ppb::NETWORK);
  ppb::Contact leo;
  ASSERT_TRUE(profiles->CreateContact(Stack::Call(alice).get(), creq, &leo).ok());
  ipb::CreateInteractionRequest ireq;
  ireq.mutable_interaction()->set_kind(ipb::CALL);
  ireq.mutable_interaction()->set_direction(ipb::GAVE);
  ireq.mutable_interaction()->add_contact_ids(leo.id());
  ipb::Interaction logged;
  ASSERT_TRUE(interactions->CreateInteraction(Stack::Call(alice).get(), ireq, &logged).ok());

  // The tier change travels as an event through the authenticated Redis.
  ppb::UpdateContactRequest upd;
  upd.set_contact_id(leo.id());
  upd.mutable_contact()->set_tier(ppb::INNER);
  ppb::Contact updated;
  ASSERT_TRUE(profiles->UpdateContact(Stack::Call(alice).get(), upd, &updated).ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        ipb::GetLedgerRequest lreq;
        lreq.set_contact_id(leo.id());
        ipb::LedgerEntry entry;
        return interactions->GetLedger(Stack::Call(alice).get(), lreq, &entry).ok() && entry.cadence_days() == 14;
      },
      kWait));
  // In database 3, and nowhere else.
  absl::StatusOr<redis::Reply> len = redis.Command({"XLEN", events::kEventStream});
  ASSERT_TRUE(len.ok()) << len.status();
  EXPECT_GT(len->integer, 0);
  redis::ClientOptions db0;
  db0.addr = "redis://rapport:app-secret@127.0.0.1:" + std::to_string(port) + "/0";
  absl::StatusOr<redis::Reply> len0 = redis::Client(db0).Command({"XLEN", events::kEventStream});
  ASSERT_TRUE(len0.ok()) << len0.status();
  EXPECT_EQ(len0->integer, 0);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace rapport
