// GetContact and GetMe latency through the real profiles service, with the
// Redis entity cache off and on. Starts its own redis-server and profiles
// binary on free loopback ports (one stack per mode) and stops them after.
//
//   build/bin/profiles_cache_bench --benchmark_repetitions=3
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/ids.h"
#include "tests/testing/stack.h"

namespace {

namespace pb = ::rapport::profiles::v1;
using ::rapport::TenantContext;
using ::rapport::testing::Stack;

struct Fixture {
  std::unique_ptr<Stack> stack;
  std::unique_ptr<pb::ProfilesService::Stub> stub;
  TenantContext user;
  std::string contact_id;
};

Fixture* StartStack(bool cache) {
  auto* f = new Fixture();
  f->stack = std::make_unique<Stack>();
  if (!f->stack->redis().Start().ok() ||
      !f->stack->Start("profiles", {{"RAPPORT_PROFILES_ENTITY_CACHE", cache ? "true" : "false"}}).ok()) {
    std::fprintf(stderr, "cannot start the stack\n");
    std::exit(1);
  }
  f->stub =
      pb::ProfilesService::NewStub(grpc::CreateChannel(f->stack->Addr("profiles"), grpc::InsecureChannelCredentials()));
  pb::CreateOrgRequest oreq;
  oreq.set_display_name("bench");
  pb::CreateOrgResponse org;
  f->stub->CreateOrg(Stack::Call(Stack::Platform()).get(), oreq, &org);
  pb::CreateUserRequest ureq;
  ureq.set_display_name("bench user");
  ureq.set_email("bench@bench.test");
  pb::User user;
  f->stub->CreateUser(Stack::Call(Stack::Admin(org.org().id())).get(), ureq, &user);
  f->user = Stack::User(org.org().id(), user.id());
  // A few hundred contacts so the table is not trivially small.
  for (int i = 0; i < 500; ++i) {
    pb::CreateContactRequest creq;
    creq.mutable_contact()->set_display_name(absl::StrCat("Contact ", i));
    creq.mutable_contact()->set_company("Initech");
    creq.mutable_contact()->set_notes(std::string(500, 'n'));
    pb::Contact c;
    f->stub->CreateContact(Stack::Call(f->user).get(), creq, &c);
    f->contact_id = c.id();
  }
  return f;
}

Fixture* Get(bool cache) {
  static Fixture* off = StartStack(false);
  static Fixture* on = StartStack(true);
  return cache ? on : off;
}

void BM_GetContact(benchmark::State& state) {
  Fixture* f = Get(state.range(0) == 1);
  pb::GetContactRequest req;
  req.set_contact_id(f->contact_id);
  for (auto _ : state) {
    pb::Contact c;
    grpc::Status s = f->stub->GetContact(Stack::Call(f->user).get(), req, &c);
    if (!s.ok()) state.SkipWithError(s.error_message().c_str());
  }
  state.SetLabel(state.range(0) == 1 ? "redis cache on" : "sqlite only");
}
BENCHMARK(BM_GetContact)->Arg(0)->Arg(1)->UseRealTime()->MinTime(2.0);

void BM_GetMe(benchmark::State& state) {
  Fixture* f = Get(state.range(0) == 1);
  for (auto _ : state) {
    pb::Profile p;
    grpc::Status s = f->stub->GetMe(Stack::Call(f->user).get(), pb::GetMeRequest(), &p);
    if (!s.ok()) state.SkipWithError(s.error_message().c_str());
  }
  state.SetLabel(state.range(0) == 1 ? "redis cache on" : "sqlite only");
}
BENCHMARK(BM_GetMe)->Arg(0)->Arg(1)->UseRealTime()->MinTime(2.0);

// The same read with 8 concurrent callers: where a cache would matter most.
void BM_GetContactConcurrent(benchmark::State& state) {
  Fixture* f = Get(state.range(0) == 1);
  pb::GetContactRequest req;
  req.set_contact_id(f->contact_id);
  for (auto _ : state) {
    pb::Contact c;
    grpc::Status s = f->stub->GetContact(Stack::Call(f->user).get(), req, &c);
    if (!s.ok()) state.SkipWithError(s.error_message().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetContactConcurrent)->Arg(0)->Arg(1)->Threads(8)->UseRealTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
