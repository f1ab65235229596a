// The bootstrap every service's main.cc uses: a gRPC server on the callback
// API with the standard health service (the named service marked SERVING once
// started), server reflection only when asked for (--grpc_reflection: it
// tells anyone who connects every method), TLS when the process has it
// (channel.h), a maximum message size, and a graceful drain
// on SIGTERM or SIGINT: health turns NOT_SERVING, new calls are refused, calls
// in flight get up to `grace` to finish. The access log is RpcHandler's
// (services/common/rpc.h): a server interceptor costs every call.
#ifndef RAPPORT_SERVICES_COMMON_SERVER_H_
#define RAPPORT_SERVICES_COMMON_SERVER_H_

#include <grpcpp/impl/codegen/service_type.h>
#include <grpcpp/server.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/channel.h"
#include "services/common/db.h"
#include "services/common/redis_client.h"
#include "services/common/tenant.h"

namespace rapport {

struct ServerOptions {
  std::string addr;            // host:port to listen on
  std::string health_service;  // e.g. "rapport.profiles.v1.ProfilesService"
  int max_message_bytes = 4 * 1024 * 1024;
  std::chrono::seconds grace{10};
  // Unset: the process's settings (ProcessTls(), --grpc_reflection).
  std::optional<TlsConfig> tls;
  std::optional<bool> reflection;
};

// Process-wide settings every binary wants, called first thing in main:
// watches for SIGTERM and SIGINT (WatchTerminationSignals in
// services/common/termination.h), raises the open-file limit to
// its hard maximum (a descriptor per connection), turns off absl's mutex
// deadlock detection, which Debian's build leaves on and which costs a few
// percent of CPU on every lock. (The server binaries run on jemalloc: see
// rapport_server in CMakeLists.txt.)
void InitProcess();

// A started server. Shutdown drains as described above.
class RunningServer {
 public:
  static absl::StatusOr<std::unique_ptr<RunningServer>> Start(const ServerOptions& options,
                                                              const std::vector<grpc::Service*>& services);
  ~RunningServer();
  void Shutdown();
  int port() const { return port_; }

 private:
  RunningServer() = default;
  ServerOptions options_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

// What every service process has before it opens its store.
struct ServiceStartup {
  std::string db_path;  // <data_dir>/<name>.db; the directory exists
  // Where the store lives: --database_url (PostgreSQL, schema `name`) when
  // set, else the SQLite file db_path. Stores add their migrations.
  db::Options database;
  std::unique_ptr<redis::Client> redis;  // at --redis_url, else --redis_addr
  std::unique_ptr<TenantSigner> signer;  // under --internal_key
  std::string internal_key;              // --internal_key: also signs events (outbox.h)
};

// The common start of a service's main: InitProcess, reads
// flags and environment (config::ParseFlags), starts JSON logging as `name`,
// and exits with status 2 and a message when the internal key is missing or
// the data directory cannot be made.
ServiceStartup StartService(int argc, char** argv, const std::string& name,
                            const std::map<std::string, std::string>& env_for_flag);

// For a service that keeps secrets at rest (profiles, notifications): exits
// with status 2 and a message when --secrets_key (RAPPORT_SECRETS_KEY) is
// not set. Call after StartService.
void RequireSecretsKey();

// Starts the server, logs where it listens, waits for SIGTERM/SIGINT and
// drains (ServeUntilSignal). Returns at once, without starting, when the
// signal came before: a process stopped during its start-up never serves.
absl::Status RunServer(const ServerOptions& options, const std::vector<grpc::Service*>& services);

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_SERVER_H_
