#include "services/common/server.h"

#include <malloc.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_interceptor.h>

#include "absl/flags/flag.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "services/common/config.h"
#include "absl/time/clock.h"
#include "services/common/log.h"
#include "services/common/tenant.h"

namespace rapport {
namespace {

// Logs one line per RPC: method, status code, duration, org and request id
// (as the caller claims them; verification is the handler's job).
class AccessLogInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit AccessLogInterceptor(grpc::experimental::ServerRpcInfo* info)
      : method_(info->method()), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      auto* md = methods->GetRecvInitialMetadata();
      if (md != nullptr) {
        auto org = md->find(kOrgHeader);
        if (org != md->end()) org_.assign(org->second.data(), org->second.size());
        auto rid = md->find(kRequestIdHeader);
        if (rid != md->end()) request_id_.assign(rid->second.data(), rid->second.size());
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      log::Level level = status.ok() ? log::Level::kDebug : log::Level::kInfo;
      if (status.error_code() == grpc::StatusCode::INTERNAL ||
          status.error_code() == grpc::StatusCode::UNKNOWN) {
        level = log::Level::kError;
      }
      if (log::Enabled(level)) log::Write(level, "rpc",
                 {{"method", method_},
                  {"code", absl::StrCat(static_cast<int>(status.error_code()))},
                  {"error", status.error_message()},
                  {"ms", absl::StrCat(absl::ToDoubleMilliseconds(absl::Now() - start_))},
                  {"org", org_},
                  {"request_id", request_id_}});
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  absl::Time start_;
  std::string org_;
  std::string request_id_;
};

class AccessLogFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new AccessLogInterceptor(info);
  }
};

}  // namespace

ServiceStartup StartService(int argc, char** argv, const std::string& name,
                            const std::map<std::string, std::string>& env_for_flag) {
  InitProcess();
  config::ParseFlags(argc, argv, absl::StrCat("rapport ", name, " service"), env_for_flag);
  log::Init(name, absl::GetFlag(FLAGS_log_level));
  ServiceStartup startup;
  const std::string internal_key = absl::GetFlag(FLAGS_internal_key);
  if (internal_key.empty()) {
    log::Error("--internal_key (RAPPORT_INTERNAL_KEY) is required");
    std::exit(2);
  }
  std::filesystem::path dir = absl::GetFlag(FLAGS_data_dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    log::Error("cannot create the data directory", {{"dir", dir.string()}, {"error", ec.message()}});
    std::exit(2);
  }
  startup.db_path = (dir / (name + ".db")).string();
  redis::ClientOptions redis_options;
  redis_options.addr = absl::GetFlag(FLAGS_redis_addr);
  startup.redis = std::make_unique<redis::Client>(redis_options);
  startup.signer = std::make_unique<TenantSigner>(internal_key);
  return startup;
}

void InitProcess() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // glibc's malloc adapts its mmap threshold and trims the heap top as blocks
  // are freed; under a steady request load that means memory handed back to
  // the kernel and faulted in again, and heap consolidation, on every burst.
  // Fixed thresholds keep the freed memory for reuse (bounded by the
  // working set, which is small here).
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_TOP_PAD, 4 << 20);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

absl::StatusOr<std::unique_ptr<RunningServer>> RunningServer::Start(
    const ServerOptions& options, const std::vector<grpc::Service*>& services) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  std::unique_ptr<RunningServer> running(new RunningServer());
  running->options_ = options;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.addr, grpc::InsecureServerCredentials(), &running->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<AccessLogFactory>());
  builder.experimental().SetInterceptorCreators(std::move(creators));
  running->server_ = builder.BuildAndStart();
  if (running->server_ == nullptr || running->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.addr));
  }
  running->server_->GetHealthCheckService()->SetServingStatus(options.health_service, true);
  running->server_->GetHealthCheckService()->SetServingStatus("", true);
  return running;
}

void RunningServer::Shutdown() {
  if (shut_down_ || server_ == nullptr) return;  // never started (e.g. the port was taken)
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(std::chrono::system_clock::now() + options_.grace);
  server_->Wait();
}

RunningServer::~RunningServer() { Shutdown(); }

absl::Status RunServer(const ServerOptions& options, const std::vector<grpc::Service*>& services) {
  auto running = RunningServer::Start(options, services);
  if (!running.ok()) return running.status();
  log::Info("listening", {{"addr", options.addr}, {"grpc_service", options.health_service}});
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  log::Info("draining", {{"signal", absl::StrCat(sig)}});
  (*running)->Shutdown();
  log::Info("stopped");
  return absl::OkStatus();
}

}  // namespace rapport
