#include "tests/testing/stack.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "services/common/ids.h"
#include "services/common/http_client.h"

namespace rapport::testing {
namespace {

struct ServiceInfo {
  const char* addr_env;
  const char* health;
};

const std::map<std::string, ServiceInfo>& Services() {
  static const std::map<std::string, ServiceInfo> kServices = {
      {"profiles", {"PROFILES_SERVICE_ADDR", "rapport.profiles.v1.ProfilesService"}},
      {"interactions", {"INTERACTIONS_SERVICE_ADDR", "rapport.interactions.v1.InteractionsService"}},
      {"notifications", {"NOTIFICATIONS_SERVICE_ADDR", "rapport.notifications.v1.NotificationsService"}},
      {"recommendations", {"RECOMMENDATIONS_SERVICE_ADDR", "rapport.recommendations.v1.RecommendationsService"}},
  };
  return kServices;
}

}  // namespace

Stack::Stack() : data_dir_(TempDir("rapport_stack")) {
  for (const auto& [name, info] : Services()) ports_[name] = FreePort();
  ports_["gateway"] = FreePort();
}

Stack::~Stack() {
  for (auto& [name, process] : processes_) {
    if (process) process->Stop(SIGTERM, std::chrono::seconds(5));
  }
}

std::string Stack::Addr(const std::string& service) {
  if (unix_sockets_.count(service) > 0) return absl::StrCat("unix:", data_dir_, "/", service, ".sock");
  return absl::StrCat("127.0.0.1:", ports_.at(service));
}

absl::Status Stack::Start(const std::string& service, const std::map<std::string, std::string>& extra_env) {
  auto info = Services().find(service);
  if (info == Services().end()) return absl::InvalidArgumentError("unknown service " + service);
  std::map<std::string, std::string> env = {
      {"RAPPORT_INTERNAL_KEY", kTestInternalKey},
      {"RAPPORT_DATA_DIR", data_dir_},
      {"RAPPORT_REDIS_ADDR", redis_.addr()},
  };
  for (const auto& [name, other] : Services()) env[other.addr_env] = Addr(name);
  for (const auto& [k, v] : extra_env) env[k] = v;
  auto process = Process::Start(BinDir() + "/" + service, {}, env, data_dir_ + "/" + service + ".log");
  if (!process.ok()) return process.status();
  processes_[service] = std::move(*process);
  if (!WaitForGrpcServing(Addr(service), info->second.health, std::chrono::seconds(20))) {
    return absl::UnavailableError(absl::StrCat(service, " did not become healthy; see ", data_dir_, "/", service, ".log"));
  }
  return absl::OkStatus();
}

std::string Stack::GatewayUrl() { return absl::StrCat("http://", Addr("gateway")); }

absl::Status Stack::StartGateway(const std::map<std::string, std::string>& extra_env) {
  std::map<std::string, std::string> env = {
      {"RAPPORT_INTERNAL_KEY", kTestInternalKey},
      {"RAPPORT_DATA_DIR", data_dir_},
      {"RAPPORT_REDIS_ADDR", redis_.addr()},
      {"RAPPORT_HTTP_ADDR", Addr("gateway")},
      {"RAPPORT_ADMIN_KEY", kTestAdminKey},
      {"RAPPORT_JWT_SECRET", kTestJwtSecret},
      {"RAPPORT_HTTP_THREADS", "2"},
  };
  for (const auto& [name, other] : Services()) env[other.addr_env] = Addr(name);
  for (const auto& [k, v] : extra_env) env[k] = v;
  auto process = Process::Start(BinDir() + "/gateway", {}, env, data_dir_ + "/gateway.log");
  if (!process.ok()) return process.status();
  processes_["gateway"] = std::move(*process);
  const std::string url = GatewayUrl() + "/healthz";
  if (!WaitFor([&] { return HttpCall("GET", url).status == 200; }, std::chrono::seconds(20))) {
    return absl::UnavailableError(absl::StrCat("gateway did not answer /healthz; see ", data_dir_, "/gateway.log"));
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

std::unique_ptr<grpc::ClientContext> Stack::Call(const TenantContext& ctx, const std::string& key) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  TenantSigner(key).Sign(ctx, c.get());
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
