// A Rapport stack for multi-process tests: a real redis-server and the real
// binaries of the service registry (services/common/service_registry.h) on
// free loopback ports, sharing one data directory and internal key, plus
// helpers to call them with signed tenant metadata.
//
// With StackOptions::replicas > 1 every process runs that many times: the
// first keeps the registry's name ("profiles"), the others are "profiles-2",
// ...; each listens on its own port, has its own consumer name and data
// directory, and is given every other service's replicas as one
// comma-separated address. Replicas share state through
// StackOptions::database_url (PostgreSQL) and Redis.
//
// Thread-safety: none; use from the test's thread.
#ifndef RAPPORT_TESTS_TESTING_STACK_H_
#define RAPPORT_TESTS_TESTING_STACK_H_

#include <grpcpp/client_context.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "services/common/service_registry.h"
#include "services/common/tenant.h"
#include "tests/testing/harness.h"

namespace rapport::testing {

inline constexpr char kTestInternalKey[] = "integration-test-internal-key";
// RAPPORT_SECRETS_KEY of the stack's services: 32 bytes as hex.
inline constexpr char kTestSecretsKey[] = "7465737420736563726574732b6b65792d2d33322d62797465732d2d2d2d2121";
inline constexpr char kTestAdminKey[] = "rpa_integration-test-admin-key";
inline constexpr char kTestJwtSecret[] = "integration-test-jwt-secret";

struct StackOptions {
  int replicas = 1;
  std::string database_url;  // RAPPORT_DATABASE_URL for every service; empty: SQLite
};

class Stack {
 public:
  explicit Stack(StackOptions options = {});
  ~Stack();

  RedisServer& redis() { return redis_; }
  const std::string& data_dir() const { return data_dir_; }

  // Starts (or restarts) a gRPC service of the registry ("profiles",
  // "interactions", "recommendations", "notifications"; or a replica,
  // "profiles-2") and waits until its health check answers SERVING. Its address is fixed for the stack's
  // lifetime, so clients survive restarts.
  // extra_env adds or overrides variables (e.g. the entity cache switch).
  absl::Status Start(const std::string& service, const std::map<std::string, std::string>& extra_env = {});
  // Starts (or restarts) any process of the registry, the gateway included,
  // with the stack's environment, without waiting for anything.
  absl::Status Launch(const std::string& process, const std::map<std::string, std::string>& extra_env = {});
  void Kill9(const std::string& service);
  void Stop(const std::string& service);
  // Sends SIGTERM and waits up to deadline for the process to exit; true when
  // it did (or was not running).
  bool Terminate(const std::string& process, std::chrono::milliseconds deadline);
  bool Running(const std::string& process);
  // Where the process's stdout and stderr go.
  std::string LogPath(const std::string& process) const;
  // Sends sig to a running service (e.g. SIGSTOP to make it hang, SIGCONT).
  // SIGSTOP returns once every thread of the service is stopped.
  void Signal(const std::string& service, int sig);
  // "127.0.0.1:<port>", or "unix:<data dir>/<service>.sock" after
  // UseUnixSocket(service) (call it before starting anything).
  std::string Addr(const std::string& service);
  // The process names of service's replicas: {"profiles", "profiles-2", ...}.
  std::vector<std::string> Replicas(const std::string& service) const;
  void UseUnixSocket(const std::string& service) { unix_sockets_.insert(service); }

  // Starts (or restarts) the gateway binary in front of the services, with
  // kTestAdminKey and kTestJwtSecret, and waits until GET /healthz answers 200.
  absl::Status StartGateway(const std::map<std::string, std::string>& extra_env = {},
                            const std::string& gateway = "gateway");
  // "http://127.0.0.1:<port>", fixed for the stack's lifetime (gateway
  // names a replica: "gateway-2").
  std::string GatewayUrl(const std::string& gateway = "gateway");

  // A client context carrying ctx signed with key, and a 5 s deadline. The
  // signature names the method the context is used for: it is made when the
  // call goes out (a client interceptor), so one context serves one call.
  static std::unique_ptr<grpc::ClientContext> Call(const TenantContext& ctx, const std::string& key = kTestInternalKey);
  static TenantContext Platform();
  static TenantContext Admin(const std::string& org);
  static TenantContext User(const std::string& org, const std::string& user);

  // The process id of a running process (benchmarks read /proc/<pid>); -1 when not running.
  int Pid(const std::string& process) const {
    auto it = processes_.find(process);
    return it == processes_.end() || it->second == nullptr ? -1 : static_cast<int>(it->second->pid());
  }

 private:
  // The variables process gets: the internal key, data dir, Redis, every
  // process's address, the gateway's keys for the gateway; then extra_env.
  std::map<std::string, std::string> Env(const std::string& name, const registry::ProcessInfo& process,
                                         const std::map<std::string, std::string>& extra_env);

  // The registry's entry for a process or one of its replicas.
  static const registry::ProcessInfo* Info(const std::string& process);

  StackOptions options_;
  RedisServer redis_;
  std::string data_dir_;
  std::map<std::string, int> ports_;
  std::set<std::string> unix_sockets_;
  std::map<std::string, std::unique_ptr<Process>> processes_;
};

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_STACK_H_
