#include "tests/testing/stack.h"

#include <grpcpp/support/client_interceptor.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/common/http_client.h"
#include "services/common/ids.h"
#include "services/common/service_registry.h"
#include "services/common/status.h"

namespace rapport::testing {
Stack::Stack(StackOptions options) : options_(std::move(options)), data_dir_(TempDir("rapport_stack")) {
  options_.replicas = std::max(1, options_.replicas);
  for (const registry::ProcessInfo& process : registry::Processes()) {
    for (const std::string& replica : Replicas(process.name)) ports_[replica] = FreePort();
  }
}

std::vector<std::string> Stack::Replicas(const std::string& service) const {
  std::vector<std::string> names = {service};
  for (int r = 2; r <= options_.replicas; ++r) names.push_back(absl::StrCat(service, "-", r));
  return names;
}

const registry::ProcessInfo* Stack::Info(const std::string& process) {
  if (const registry::ProcessInfo* info = registry::Find(process); info != nullptr) return info;
  const size_t dash = process.rfind('-');
  int replica = 0;
  if (dash == std::string::npos || !absl::SimpleAtoi(process.substr(dash + 1), &replica)) return nullptr;
  return registry::Find(process.substr(0, dash));
}

Stack::~Stack() {
  for (auto& [name, process] : processes_) {
    if (process) process->Stop(SIGTERM, std::chrono::seconds(5));
  }
  // A passing test's directory goes (databases and logs, megabytes each, and
  // thousands of runs filled /tmp); a failing test's stays for its logs, and
  // so does a benchmark's (outside any test). RAPPORT_KEEP_TEST_DIRS keeps
  // them all.
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  if (test != nullptr && !::testing::Test::HasFailure() && std::getenv("RAPPORT_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(data_dir_, ignored);
  }
}

std::string Stack::Addr(const std::string& service) {
  if (unix_sockets_.count(service) > 0) return absl::StrCat("unix:", data_dir_, "/", service, ".sock");
  return absl::StrCat("127.0.0.1:", ports_.at(service));
}

std::map<std::string, std::string> Stack::Env(const std::string& name, const registry::ProcessInfo& process,
                                              const std::map<std::string, std::string>& extra_env) {
  std::map<std::string, std::string> env = {
      {"RAPPORT_INTERNAL_KEY", kTestInternalKey},
      {"RAPPORT_SECRETS_KEY", kTestSecretsKey},
      {"RAPPORT_DATA_DIR", data_dir_},
      {"RAPPORT_REDIS_ADDR", redis_.addr()},
  };
  if (name != process.name) {  // a replica ("-2"...): its own files and consumer name (the first is "<name>-1")
    env["RAPPORT_DATA_DIR"] = absl::StrCat(data_dir_, "/", name);
    std::filesystem::create_directories(env["RAPPORT_DATA_DIR"]);
    env["RAPPORT_CONSUMER_NAME"] = name;
  }
  if (!options_.database_url.empty()) env["RAPPORT_DATABASE_URL"] = options_.database_url;
  if (!process.is_grpc_service()) {  // the gateway
    env.insert(
        {{"RAPPORT_ADMIN_KEY", kTestAdminKey}, {"RAPPORT_JWT_SECRET", kTestJwtSecret}, {"RAPPORT_HTTP_THREADS", "2"}});
  }
  // Callers balance over every replica; a process listens on its own address.
  for (const registry::ProcessInfo& other : registry::Processes()) {
    std::vector<std::string> addrs;
    for (const std::string& replica : Replicas(other.name)) addrs.push_back(Addr(replica));
    env[other.addr_env] = absl::StrJoin(addrs, ",");
  }
  env[process.addr_env] = Addr(name);
  for (const auto& [k, v] : extra_env) env[k] = v;
  return env;
}

absl::Status Stack::Launch(const std::string& process, const std::map<std::string, std::string>& extra_env) {
  const registry::ProcessInfo* info = Info(process);
  if (info == nullptr || ports_.count(process) == 0) return absl::InvalidArgumentError("unknown process " + process);
  auto started = Process::Start(BinDir() + "/" + info->binary, {}, Env(process, *info, extra_env), LogPath(process));
  if (!started.ok()) return started.status();
  processes_[process] = std::move(*started);
  return absl::OkStatus();
}

std::string Stack::LogPath(const std::string& process) const { return absl::StrCat(data_dir_, "/", process, ".log"); }

absl::Status Stack::Start(const std::string& service, const std::map<std::string, std::string>& extra_env) {
  const registry::ProcessInfo* info = Info(service);
  if (info == nullptr || !info->is_grpc_service()) return absl::InvalidArgumentError("unknown service " + service);
  RETURN_IF_ERROR(Launch(service, extra_env));
  if (!WaitForGrpcServing(Addr(service), info->health_service, std::chrono::seconds(20))) {
    return absl::UnavailableError(
        absl::StrCat(service, " did not become healthy; see ", data_dir_, "/", service, ".log"));
  }
  return absl::OkStatus();
}

std::string Stack::GatewayUrl(const std::string& gateway) { return absl::StrCat("http://", Addr(gateway)); }

absl::Status Stack::StartGateway(const std::map<std::string, std::string>& extra_env, const std::string& gateway) {
  RETURN_IF_ERROR(Launch(gateway, extra_env));
  const std::string url = GatewayUrl(gateway) + "/healthz";
  if (!WaitFor([&] { return HttpCall("GET", url).status == 200; }, std::chrono::seconds(20))) {
    return absl::UnavailableError(absl::StrCat(gateway, " did not answer /healthz; see ", LogPath(gateway)));
  }
  return absl::OkStatus();
}

void Stack::Kill9(const std::string& service) {
  if (processes_[service]) processes_[service]->Kill9();
}

namespace {

// True when every thread of pid is stopped (state T in /proc/<pid>/task/*/stat).
// A SIGSTOP is delivered to one thread first, which then stops the others: until
// then the rest of the process keeps serving.
bool AllThreadsStopped(pid_t pid) {
  std::error_code ec;
  std::filesystem::directory_iterator tasks(absl::StrCat("/proc/", pid, "/task"), ec);
  if (ec) return false;
  for (const auto& task : tasks) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t end_of_name = stat.rfind(") ");
    if (end_of_name == std::string::npos || end_of_name + 2 >= stat.size()) return false;
    if (stat[end_of_name + 2] != 'T') return false;
  }
  return true;
}

}  // namespace

void Stack::Signal(const std::string& service, int sig) {
  if (!processes_[service]) return;
  const pid_t pid = processes_[service]->pid();
  ::kill(pid, sig);
  if (sig == SIGSTOP) WaitFor([&] { return AllThreadsStopped(pid); }, std::chrono::seconds(5));
}

void Stack::Stop(const std::string& service) {
  if (processes_[service]) processes_[service]->Stop(SIGTERM);
}

bool Stack::Terminate(const std::string& process, std::chrono::milliseconds deadline) {
  if (!processes_[process]) return true;
  return processes_[process]->Stop(SIGTERM, deadline);
}

bool Stack::Running(const std::string& process) {
  return processes_[process] != nullptr && processes_[process]->running();
}

namespace {

// Stack::Call does not know which method its context will call, and a
// signature must name it (services/common/tenant.h). So Call leaves the
// tenant and the key in this header, and a client interceptor, which sees
// the method gRPC is about to call, swaps it for the header signed for that
// method just before the call goes out. Nothing of it reaches the server.
constexpr char kPendingHeader[] = "x-rapport-test-sign";

class SignOnSend : public grpc::experimental::Interceptor {
 public:
  explicit SignOnSend(grpc::experimental::ClientRpcInfo* info) : method_(info->method()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      std::multimap<std::string, std::string>* md = methods->GetSendInitialMetadata();
      auto it = md->find(kPendingHeader);
      if (it != md->end()) {
        // <hex key> <org> <user> <scopes> <request id>
        std::vector<std::string> f = absl::StrSplit(it->second, ' ');
        md->erase(it);
        TenantContext t;
        std::string key;
        if (f.size() == 5 && absl::SimpleAtoi(f[3], &t.scopes)) {
          key = absl::HexStringToBytes(f[0]);
          t.org_id = f[1];
          t.user_id = f[2];
          t.request_id = f[4];
          md->emplace(kTenantHeader, TenantSigner(key).Token(t, method_));
        }
      }
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
};

class SignOnSendFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo* info) override {
    return new SignOnSend(info);
  }
};

// Global, because the tests' stubs are made on plain channels (it acts only
// on contexts made by Call). gRPC wants it registered before any call is
// made, so at static initialization: it is linked in with Call.
[[maybe_unused]] const bool kSignOnSendRegistered = [] {
  grpc::experimental::RegisterGlobalClientInterceptorFactory(new SignOnSendFactory());
  return true;
}();

}  // namespace

std::unique_ptr<grpc::ClientContext> Stack::Call(const TenantContext& ctx, const std::string& key) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  c->AddMetadata(kPendingHeader, absl::StrCat(absl::BytesToHexString(key), " ", ctx.org_id, " ", ctx.user_id, " ",
                                              ctx.scopes, " ", ctx.request_id));
  if (!ctx.idempotency_key.empty()) c->AddMetadata(kIdempotencyHeader, ctx.idempotency_key);
  return c;
}

TenantContext Stack::Platform() {
  TenantContext t;
  t.Add(api::v1::PLATFORM);
  t.request_id = NewId();
  return t;
}

TenantContext Stack::Admin(const std::string& org) {
  TenantContext t;
  t.org_id = org;
  t.Add(api::v1::ADMIN);
  t.request_id = NewId();
  return t;
}

TenantContext Stack::User(const std::string& org, const std::string& user) {
  TenantContext t;
  t.org_id = org;
  t.user_id = user;
  t.Add(api::v1::READ);
  t.Add(api::v1::WRITE);
  t.request_id = NewId();
  return t;
}

}  // namespace rapport::testing
