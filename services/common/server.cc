#include "services/common/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "services/common/config.h"
#include "services/common/crypto.h"
#include "services/common/log.h"
#include "services/common/tenant.h"
#include "services/common/termination.h"

namespace rapport {
namespace {

// Reflection on or off for one server. Linking gRPC's reflection library
// registers its plugin for every server the process builds (a static
// initializer), so "off" has to take it out again.
class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool on) : on_(on) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    const std::string name = grpc::reflection::ProtoServerReflectionPlugin().name();
    std::erase_if(*plugins, [&](const auto& plugin) { return plugin->name() == name; });
    if (on_) plugins->push_back(std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
  }

 private:
  const bool on_;
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
  startup.database.path = startup.db_path;
  startup.database.url = absl::GetFlag(FLAGS_database_url);
  startup.database.schema = name;
  redis::ClientOptions redis_options;
  redis_options.addr = config::RedisAddress();
  if (absl::Status bad = redis::ParseAddress(redis_options.addr).status(); !bad.ok()) {
    log::Error("bad --redis_url (RAPPORT_REDIS_URL) or --redis_addr", {{"error", bad.ToString()}});
    std::exit(2);
  }
  startup.redis = std::make_unique<redis::Client>(redis_options);
  startup.signer = std::make_unique<TenantSigner>(internal_key);
  startup.internal_key = internal_key;
  return startup;
}

void RequireSecretsKey() {
  if (ProcessSecretBox() == nullptr) {
    log::Error("--secrets_key (RAPPORT_SECRETS_KEY) is required: 32 bytes as 64 hex digits or as base64");
    std::exit(2);
  }
}

void InitProcess() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  WatchTerminationSignals();
  // Every connection is a descriptor: take all the system allows (the soft
  // limit is often 1024 against a hard limit in the hundreds of thousands).
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &files);
  }
}

absl::StatusOr<std::unique_ptr<RunningServer>> RunningServer::Start(const ServerOptions& options,
                                                                    const std::vector<grpc::Service*>& services) {
  grpc::EnableDefaultHealthCheckService(true);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentials(options.tls.has_value() ? *options.tls : ProcessTls());
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<RunningServer> running(new RunningServer());
  running->options_ = options;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.addr, *credentials, &running->port_);
  builder.SetOption(
      std::make_unique<ReflectionOption>(options.reflection.value_or(absl::GetFlag(FLAGS_grpc_reflection))));
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  for (grpc::Service* service : services) builder.RegisterService(service);
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
  if (TerminationRequested()) {
    log::Info("stopped before serving");
    return absl::OkStatus();
  }
  auto running = RunningServer::Start(options, services);
  if (!running.ok()) return running.status();
  log::Info("listening", {{"addr", options.addr}, {"grpc_service", options.health_service}});
  ServeUntilSignal([&running] { (*running)->Shutdown(); });
  return absl::OkStatus();
}

}  // namespace rapport
