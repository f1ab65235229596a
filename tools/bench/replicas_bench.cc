// SQLite against PostgreSQL, one replica against two, side by side in one
// run on this machine (issue 15, Benchmark):
//   - CreateInteraction through gRPC with 64 and 256 calls in flight from one
//     client thread (the callback API), each acknowledged only once durable:
//     throughput and p50/p99 latency. The second argument is how many
//     contacts the creates go round: 1 (every create updates one ledger row,
//     the hardest case for concurrent writers) or 1000 (as a user's creates
//     spread over their contacts);
//   - GET /v1/contacts/{id} through the gateway with wrk (64 connections, 2
//     threads; the entity cache off, so every read reaches the store).
// Each configuration starts its own stack: redis-server, profiles,
// interactions and the gateway (two replicas of each service with
// replicas=2, callers balancing over them), on SQLite files or on a real
// PostgreSQL 15 started for the run; all on 127.0.0.1, stopped after.
//
//   build/bin/replicas_bench
//   build/bin/replicas_bench --benchmark_filter=postgres
//
// wrk is needed for the gateway case (tools/bench/gateway_wrk.sh installs it);
// without it that case is skipped. WRK_DURATION sets its seconds (10).
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "rapport/interactions/v1/interactions.grpc.pb.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/channel.h"
#include "services/common/http_client.h"
#include "tests/testing/harness.h"
#include "tests/testing/postgres.h"
#include "tests/testing/stack.h"

namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
using ::rapport::TenantContext;
using ::rapport::testing::PostgresServer;
using ::rapport::testing::Stack;
using ::rapport::testing::StackOptions;

struct Config {
  bool postgres = false;
  int replicas = 1;
  std::string Name() const { return absl::StrCat(postgres ? "postgres" : "sqlite", "/replicas:", replicas); }
};

// One configuration's running stack, with an org, a user, a contact.
struct Fixture {
  Config config;
  std::unique_ptr<PostgresServer> pg;
  std::unique_ptr<Stack> stack;
  std::unique_ptr<ppb::ProfilesService::Stub> profiles;
  std::unique_ptr<ipb::InteractionsService::Stub> interactions;
  std::string admin_secret;
  TenantContext user;
  std::string contact;
  std::vector<std::string> contacts;  // contact first; more made on demand (Contacts)
};

void Fail(const std::string& what) {
  std::fprintf(stderr, "replicas_bench: %s\n", what.c_str());
  std::exit(1);
}

std::unique_ptr<Fixture> StartFixture(const Config& config) {
  auto f = std::make_unique<Fixture>();
  f->config = config;
  StackOptions options;
  options.replicas = config.replicas;
  if (config.postgres) {
    if (!PostgresServer::Available()) Fail("PostgreSQL 15 is not installed (tools/deps installs it)");
    f->pg = std::make_unique<PostgresServer>();
    if (!f->pg->Start().ok()) Fail("cannot start PostgreSQL");
    options.database_url = f->pg->url();
  }
  f->stack = std::make_unique<Stack>(options);
  if (!f->stack->redis().Start().ok()) Fail("cannot start redis-server");
  const std::map<std::string, std::string> env = {{"RAPPORT_LOG_LEVEL", "warn"},
                                                  {"RAPPORT_PROFILES_ENTITY_CACHE", "0"},
                                                  {"RAPPORT_RATE_LIMIT_PER_MINUTE", "100000000"},
                                                  {"RAPPORT_RATE_LIMIT_BURST", "10000000"}};
  for (const char* service : {"profiles", "interactions"}) {
    for (const std::string& replica : f->stack->Replicas(service)) {
      if (absl::Status s = f->stack->Start(replica, env); !s.ok()) Fail(s.ToString());
    }
  }
  if (absl::Status s = f->stack->StartGateway(env); !s.ok()) Fail(s.ToString());
  // Clients balance over every replica, as the services' own callers do.
  auto list = [&](const std::string& service) {
    std::vector<std::string> addrs;
    for (const std::string& replica : f->stack->Replicas(service)) addrs.push_back(f->stack->Addr(replica));
    return absl::StrJoin(addrs, ",");
  };
  f->profiles = ppb::ProfilesService::NewStub(rapport::CreateServiceChannel(list("profiles")));
  f->interactions = ipb::InteractionsService::NewStub(rapport::CreateServiceChannel(list("interactions")));
  ppb::CreateOrgRequest oreq;
  oreq.set_display_name("bench");
  ppb::CreateOrgResponse org;
  if (!f->profiles->CreateOrg(Stack::Call(Stack::Platform()).get(), oreq, &org).ok()) Fail("CreateOrg failed");
  f->admin_secret = org.admin_key().secret();
  ppb::CreateUserRequest ureq;
  ureq.set_display_name("writer");
  ureq.set_email("writer@bench.test");
  ppb::User user;
  if (!f->profiles->CreateUser(Stack::Call(Stack::Admin(org.org().id())).get(), ureq, &user).ok()) {
    Fail("CreateUser failed");
  }
  f->user = Stack::User(org.org().id(), user.id());
  ppb::CreateContactRequest creq;
  creq.mutable_contact()->set_display_name("Ada Lovelace");
  creq.mutable_contact()->set_company("Analytical Engines");
  ppb::Contact contact;
  if (!f->profiles->CreateContact(Stack::Call(f->user).get(), creq, &contact).ok()) Fail("CreateContact failed");
  f->contact = contact.id();
  f->contacts.push_back(f->contact);
  return f;
}

// The fixture's first n contacts, made now if missing.
const std::vector<std::string>& Contacts(Fixture* f, size_t n) {
  while (f->contacts.size() < n) {
    ppb::CreateContactRequest creq;
    creq.mutable_contact()->set_display_name(absl::StrCat("Contact ", f->contacts.size()));
    ppb::Contact contact;
    if (!f->profiles->CreateContact(Stack::Call(f->user).get(), creq, &contact).ok()) Fail("CreateContact failed");
    f->contacts.push_back(contact.id());
  }
  return f->contacts;
}

// The running fixture for config; the previous configuration's stack is
// stopped first, so that configurations never share the cores.
Fixture* Get(const Config& config) {
  static std::unique_ptr<Fixture> current;
  if (current == nullptr || current->config.postgres != config.postgres ||
      current->config.replicas != config.replicas) {
    current.reset();
    current = StartFixture(config);
  }
  return current.get();
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// Creates from one client thread keeping `in_flight` calls outstanding.
void BM_CreateInteraction(benchmark::State& state, Config config) {
  Fixture* f = Get(config);
  const int in_flight = static_cast<int>(state.range(0));
  const std::vector<std::string>& contacts = Contacts(f, static_cast<size_t>(state.range(1)));
  const size_t spread = static_cast<size_t>(state.range(1));
  // Random, not round-robin: calls alternate between replicas, and a
  // round-robin pick would give each replica its own contacts.
  std::mt19937 pick(42);
  struct Call {
    std::unique_ptr<grpc::ClientContext> context;
    ipb::CreateInteractionRequest req;
    ipb::Interaction response;
    std::chrono::steady_clock::time_point start;
  };
  std::vector<double> latencies_ms;
  int64_t done_total = 0;
  for (auto _ : state) {
    constexpr int kPerIteration = 2000;
    std::mutex mu;
    std::condition_variable cv;
    int started = 0, finished = 0, failed = 0;
    std::string error;
    std::function<void()> start_one;
    start_one = [&] {
      auto call = std::make_shared<Call>();
      call->req.mutable_interaction()->set_kind(ipb::MESSAGE);
      call->req.mutable_interaction()->set_direction(ipb::GAVE);
      {
        std::lock_guard<std::mutex> lock(mu);
        call->req.mutable_interaction()->add_contact_ids(contacts[pick() % spread]);
      }
      call->req.mutable_interaction()->set_summary("benchmark");
      call->context = Stack::Call(f->user);
      call->context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      call->start = std::chrono::steady_clock::now();
      f->interactions->async()->CreateInteraction(
          call->context.get(), &call->req, &call->response, [&, call](grpc::Status s) {
            const double ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - call->start).count();
            bool more = false;
            {
              std::lock_guard<std::mutex> lock(mu);
              ++finished;
              latencies_ms.push_back(ms);
              if (!s.ok()) {
                ++failed;
                error = s.error_message();
              }
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
    if (failed > 0) state.SkipWithError(absl::StrCat(failed, " creates failed: ", error).c_str());
    done_total += kPerIteration;
  }
  state.SetItemsProcessed(done_total);
  state.counters["p50_ms"] = Percentile(latencies_ms, 0.50);
  state.counters["p99_ms"] = Percentile(latencies_ms, 0.99);
}

// wrk's figures: requests/s and the p99 from --latency, in ms.
struct WrkResult {
  double requests_per_s = 0;
  double p99_ms = 0;
  int64_t errors = 0;
};

double WrkMillis(const std::string& value) {
  double number = 0;
  std::string unit;
  size_t i = 0;
  while (i < value.size() && (std::isdigit(static_cast<unsigned char>(value[i])) || value[i] == '.')) ++i;
  if (!absl::SimpleAtod(value.substr(0, i), &number)) return -1;
  unit = value.substr(i);
  if (unit == "us") return number / 1000;
  if (unit == "s") return number * 1000;
  if (unit == "m") return number * 60000;
  return number;  // ms
}

WrkResult ParseWrk(const std::string& out) {
  WrkResult r;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.size() >= 2 && words[0] == "Requests/sec:") absl::SimpleAtod(words[1], &r.requests_per_s);
    if (words.size() >= 2 && words[0] == "99%") r.p99_ms = WrkMillis(words[1]);
    if (words.size() >= 2 && words[0] == "Non-2xx") absl::SimpleAtoi(words.back(), &r.errors);
    if (!words.empty() && words[0] == "Socket") r.errors += 1;  // connect/read/write/timeout errors
  }
  return r;
}

// GET one contact through the gateway, 64 connections.
void BM_GatewayGetContact(benchmark::State& state, Config config) {
  Fixture* f = Get(config);
  std::string wrk;
  for (const char* dir : {"/usr/bin/", "/usr/local/bin/"}) {
    if (std::FILE* probe = std::fopen((std::string(dir) + "wrk").c_str(), "r")) {
      std::fclose(probe);
      wrk = std::string(dir) + "wrk";
    }
  }
  if (wrk.empty()) {
    state.SkipWithError("wrk is not installed (tools/bench/gateway_wrk.sh installs it)");
    return;
  }
  const char* duration = std::getenv("WRK_DURATION");
  const std::string url = f->stack->GatewayUrl() + "/v1/contacts/" + f->contact;
  const std::vector<std::string> args = {"-t2",
                                         "-c64",
                                         absl::StrCat("-d", duration != nullptr ? duration : "10", "s"),
                                         "--latency",
                                         "-H",
                                         "X-Api-Key: " + f->admin_secret,
                                         "-H",
                                         "X-Rapport-User: " + f->user.user_id,
                                         url};
  rapport::HttpResponse check =
      rapport::HttpCall("GET", url, {"X-Api-Key: " + f->admin_secret, "X-Rapport-User: " + f->user.user_id});
  if (check.status != 200) {
    state.SkipWithError(absl::StrCat("GET contact answered ", check.status, ": ", check.body).c_str());
    return;
  }
  WrkResult result;
  for (auto _ : state) {
    absl::StatusOr<std::string> out = rapport::testing::RunToExit(wrk, args, {}, std::chrono::seconds(120));
    if (!out.ok()) {
      state.SkipWithError(std::string(out.status().message()).c_str());
      return;
    }
    result = ParseWrk(*out);
  }
  state.counters["requests_per_s"] = result.requests_per_s;
  state.counters["p99_ms"] = result.p99_ms;
  state.counters["errors"] = static_cast<double>(result.errors);
}

void Register() {
  for (const Config& config : {Config{false, 1}, Config{true, 1}, Config{true, 2}}) {
    benchmark::RegisterBenchmark(("BM_CreateInteraction/" + config.Name()).c_str(), BM_CreateInteraction, config)
        ->ArgNames({"in_flight", "contacts"})
        ->Args({64, 1})
        ->Args({256, 1})
        ->Args({64, 1000})
        ->Args({256, 1000})
        ->UseRealTime()
        ->MinTime(5.0);
    benchmark::RegisterBenchmark(("BM_GatewayGetContact/" + config.Name()).c_str(), BM_GatewayGetContact, config)
        ->Iterations(1)
        ->UseRealTime()
        ->Unit(benchmark::kSecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Register();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
