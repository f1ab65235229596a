// Create-interaction throughput through the real interactions service
// (synchronous=FULL, group commit), next to this machine's raw fdatasync rate
// measured in the same run and directory; and ledger-list latency for a user
// with 10,000 contacts. Starts its own redis-server, profiles and
// interactions on free loopback ports and stops them after.
//
//   build/bin/interactions_bench
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "rapport/interactions/v1/interactions.grpc.pb.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/ids.h"
#include "services/common/time_util.h"
#include "services/interactions/interactions_store.h"
#include "tests/testing/stack.h"

namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
using ::rapport::TenantContext;
using ::rapport::testing::Stack;

constexpr int kLedgerContacts = 10000;

struct Fixture {
  Stack stack;
  std::unique_ptr<ppb::ProfilesService::Stub> profiles;
  std::unique_ptr<ipb::InteractionsService::Stub> interactions;
  TenantContext writer;  // a user with one contact, for create throughput
  std::string contact;
  TenantContext big;  // a user with 10,000 contacts, each with an interaction
};

TenantContext NewUser(Fixture* f, const std::string& org_id, const std::string& email) {
  ppb::CreateUserRequest ureq;
  ureq.set_display_name(email);
  ureq.set_email(email);
  ppb::User user;
  f->profiles->CreateUser(Stack::Call(Stack::Admin(org_id)).get(), ureq, &user);
  return Stack::User(org_id, user.id());
}

std::string NewContact(Fixture* f, const TenantContext& who, int i) {
  ppb::CreateContactRequest req;
  req.mutable_contact()->set_display_name(absl::StrCat("Contact ", i));
  req.mutable_contact()->set_tier(static_cast<ppb::Tier>(1 + i % 4));
  ppb::Contact c;
  f->profiles->CreateContact(Stack::Call(who).get(), req, &c);
  return c.id();
}

Fixture* Get() {
  static Fixture* f = [] {
    auto* f = new Fixture();
    if (!f->stack.redis().Start().ok() || !f->stack.Start("profiles").ok() || !f->stack.Start("interactions").ok()) {
      std::fprintf(stderr, "cannot start the stack\n");
      std::exit(1);
    }
    f->profiles = ppb::ProfilesService::NewStub(
        grpc::CreateChannel(f->stack.Addr("profiles"), grpc::InsecureChannelCredentials()));
    f->interactions = ipb::InteractionsService::NewStub(
        grpc::CreateChannel(f->stack.Addr("interactions"), grpc::InsecureChannelCredentials()));
    ppb::CreateOrgRequest oreq;
    oreq.set_display_name("bench");
    ppb::CreateOrgResponse org;
    f->profiles->CreateOrg(Stack::Call(Stack::Platform()).get(), oreq, &org);
    f->writer = NewUser(f, org.org().id(), "writer@bench.test");
    f->contact = NewContact(f, f->writer, 0);
    f->big = NewUser(f, org.org().id(), "big@bench.test");
    // Seed 10,000 contacts with one interaction each, 16 callers at a time.
    std::atomic<int> next{0};
    std::vector<std::thread> seeders;
    for (int t = 0; t < 16; ++t) {
      seeders.emplace_back([f, &next] {
        for (int i = next++; i < kLedgerContacts; i = next++) {
          std::string c = NewContact(f, f->big, i);
          ipb::CreateInteractionRequest req;
          req.mutable_interaction()->set_kind(static_cast<ipb::InteractionKind>(1 + i % 16));
          req.mutable_interaction()->set_direction(static_cast<ipb::Direction>(1 + i % 3));
          req.mutable_interaction()->add_contact_ids(c);
          req.mutable_interaction()->mutable_occurred_at()->set_seconds(1700000000 + i * 3600);
          ipb::Interaction out;
          f->interactions->CreateInteraction(Stack::Call(f->big).get(), req, &out);
        }
      });
    }
    for (auto& s : seeders) s.join();
    return f;
  }();
  return f;
}

// The baseline: one 4 KiB write and one fdatasync, as a commit without group
// commit would cost, in the directory the services write to.
void BM_RawFdatasync(benchmark::State& state) {
  std::string path = Get()->stack.data_dir() + "/fdatasync.bench";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  std::string block(4096, 'x');
  for (auto _ : state) {
    if (::pwrite(fd, block.data(), block.size(), 0) != static_cast<ssize_t>(block.size()) || ::fdatasync(fd) != 0) {
      state.SkipWithError("write failed");
    }
  }
  ::close(fd);
  ::unlink(path.c_str());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawFdatasync)->UseRealTime()->MinTime(3.0);

// Each thread is one client calling CreateInteraction back to back; each call
// is acknowledged only after its transaction is durable.
void BM_CreateInteraction(benchmark::State& state) {
  Fixture* f = Get();
  ipb::CreateInteractionRequest req;
  req.mutable_interaction()->set_kind(ipb::MESSAGE);
  req.mutable_interaction()->set_direction(ipb::GAVE);
  req.mutable_interaction()->add_contact_ids(f->contact);
  req.mutable_interaction()->set_summary("benchmark");
  for (auto _ : state) {
    ipb::Interaction out;
    grpc::Status s = f->interactions->CreateInteraction(Stack::Call(f->writer).get(), req, &out);
    if (!s.ok()) state.SkipWithError(s.error_message().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CreateInteraction)->Threads(1)->Threads(16)->Threads(64)->UseRealTime()->MinTime(3.0);

// The same creates from one client thread keeping `in_flight` calls
// outstanding with the callback API: the client costs far less CPU than 64
// blocking threads, which matters when client and services share 2 cores.
void BM_CreateInteractionAsync(benchmark::State& state) {
  Fixture* f = Get();
  const int in_flight = static_cast<int>(state.range(0));
  ipb::CreateInteractionRequest req;
  req.mutable_interaction()->set_kind(ipb::MESSAGE);
  req.mutable_interaction()->set_direction(ipb::GAVE);
  req.mutable_interaction()->add_contact_ids(f->contact);
  req.mutable_interaction()->set_summary("benchmark");
  struct Call {
    std::unique_ptr<grpc::ClientContext> context;
    ipb::Interaction response;
  };
  int64_t done_total = 0;
  for (auto _ : state) {
    // One iteration: 1000 creates with at most in_flight outstanding.
    constexpr int kPerIteration = 1000;
    std::mutex mu;
    std::condition_variable cv;
    int started = 0, finished = 0, failed = 0;
    std::function<void()> start_one;
    start_one = [&] {
      auto call = std::make_shared<Call>();
      call->context = Stack::Call(f->writer);
      f->interactions->async()->CreateInteraction(call->context.get(), &req, &call->response,
                                                  [&, call](grpc::Status s) {
                                                    bool more = false;
                                                    {
                                                      std::lock_guard<std::mutex> lock(mu);
                                                      ++finished;
                                                      if (!s.ok()) ++failed;
                                                      if (started < kPerIteration) {
                                                        ++started;
                                                        more = true;
                                                      }
                                                    }
                                                    cv.notify_one();
                                                    if (more) start_one();
                                                  });
    };
    {
      std::lock_guard<std::mutex> lock(mu);
      started = std::min(in_flight, kPerIteration);
    }
    for (int i = 0; i < std::min(in_flight, kPerIteration); ++i) start_one();
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return finished == kPerIteration; });
    if (failed > 0) state.SkipWithError("some creates failed");
    done_total += kPerIteration;
  }
  state.SetItemsProcessed(done_total);
}
BENCHMARK(BM_CreateInteractionAsync)->Arg(64)->Arg(256)->UseRealTime()->MinTime(3.0);

// The same create through the store in-process (no gRPC, no contact check):
// what group commit gives once the RPC overhead, which on this 2-core
// machine shares the CPU with the client, is out of the way. Each iteration
// submits `concurrency` creates at once and waits until all are durable.
void BM_StoreCreateInteraction(benchmark::State& state) {
  static auto* store = [] {
    std::string dir = Get()->stack.data_dir() + "/store_bench";
    std::filesystem::create_directories(dir);
    return rapport::interactions::InteractionsStore::Open(dir + "/interactions.db")->release();
  }();
  const int concurrency = static_cast<int>(state.range(0));
  rapport::Owner owner{"bench-org", "bench-user"};
  ipb::CreateInteractionRequest request;
  int64_t created = 0;
  const int64_t batches_before = store->db().batches_committed();
  const int64_t transactions_before = store->db().transactions_committed();
  for (auto _ : state) {
    std::atomic<int> left{concurrency};
    std::promise<void> all;
    for (int i = 0; i < concurrency; ++i) {
      ipb::Interaction interaction;
      interaction.set_id(rapport::NewId());
      interaction.set_kind(ipb::MESSAGE);
      interaction.set_direction(ipb::GAVE);
      interaction.add_contact_ids(absl::StrCat("c", i % 100));
      *interaction.mutable_occurred_at() = rapport::ToTimestamp(rapport::ToMicros(absl::Now()));
      store->CreateInteraction(owner, interaction, {}, rapport::IdempotencyScope{}, request,
                               [&](absl::StatusOr<ipb::Interaction> r) {
                                 if (!r.ok()) std::abort();
                                 if (--left == 0) all.set_value();
                               });
    }
    all.get_future().wait();
    created += concurrency;
  }
  state.SetItemsProcessed(created);
  state.counters["creates_per_commit"] =
      static_cast<double>(store->db().transactions_committed() - transactions_before) /
      std::max<int64_t>(1, store->db().batches_committed() - batches_before);
}
BENCHMARK(BM_StoreCreateInteraction)->Arg(1)->Arg(16)->Arg(64)->Arg(256)->UseRealTime()->MinTime(3.0);

// One page of the ledger of a user with 10,000 contacts, in each order.
void BM_ListLedgerPage(benchmark::State& state) {
  Fixture* f = Get();
  static const char* kOrders[] = {"balance", "strength", "nextDue", "lastInteraction"};
  ipb::ListLedgerRequest req;
  req.set_order_by(kOrders[state.range(0)]);
  req.set_page_size(static_cast<int>(state.range(1)));
  for (auto _ : state) {
    ipb::ListLedgerResponse resp;
    grpc::Status s = f->interactions->ListLedger(Stack::Call(f->big).get(), req, &resp);
    if (!s.ok() || resp.entries_size() != req.page_size()) state.SkipWithError("short page");
  }
  state.SetLabel(std::string("orderBy=") + kOrders[state.range(0)]);
}
BENCHMARK(BM_ListLedgerPage)->ArgsProduct({{0, 1, 2, 3}, {50}})->Args({0, 500})->UseRealTime()->MinTime(1.0);

// The whole 10,000-entry ledger, page by page (500 a page).
void BM_ListLedgerAll(benchmark::State& state) {
  Fixture* f = Get();
  for (auto _ : state) {
    std::string token;
    int n = 0;
    do {
      ipb::ListLedgerRequest req;
      req.set_order_by("strength");
      req.set_page_size(500);
      req.set_page_token(token);
      ipb::ListLedgerResponse resp;
      if (!f->interactions->ListLedger(Stack::Call(f->big).get(), req, &resp).ok()) break;
      n += resp.entries_size();
      token = resp.next_page_token();
    } while (!token.empty());
    if (n != kLedgerContacts) state.SkipWithError("incomplete ledger");
  }
}
BENCHMARK(BM_ListLedgerAll)->UseRealTime()->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
