// Test harness for multi-process tests: free loopback ports, child processes
// started from the build's bin/ directory and stopped by PID, a real
// redis-server per test, and deadline-based waiting (never fixed sleeps).
//
// Thread-safety: none; use from the test's thread.
#ifndef RAPPORT_TESTS_TESTING_HARNESS_H_
#define RAPPORT_TESTS_TESTING_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rapport::testing {

// A free TCP port on 127.0.0.1, reserved for the rest of the process: a
// socket stays bound to it (SO_REUSEADDR, never listening), so the kernel
// gives it to no other bind(0) or outgoing connection, while a server that
// sets SO_REUSEADDR may listen on it (and again after a restart).
int FreePort();

// Directory of the built binaries: $RAPPORT_BIN_DIR, else the directory of
// the running test binary.
std::string BinDir();

// A fresh temporary directory, removed by the caller or left for debugging.
std::string TempDir(const std::string& prefix);

// Polls cond every few milliseconds until it is true or the deadline passes.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds deadline);

// A child process. Its stdout and stderr go to log_path (appended).
class Process {
 public:
  static absl::StatusOr<std::unique_ptr<Process>> Start(const std::string& path, const std::vector<std::string>& args,
                                                        const std::map<std::string, std::string>& env,
                                                        const std::string& log_path);
  ~Process();  // SIGKILL and reap if still running

  pid_t pid() const { return pid_; }
  bool running();
  // Sends sig and waits (up to timeout) for the process to exit. Returns true
  // when it exited.
  bool Stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void Kill9() { Stop(9); }

 private:
  explicit Process(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
};

// Runs path with args and env (added to this process's environment) to its
// end and returns what it wrote to stdout and stderr; DEADLINE_EXCEEDED (the
// process killed) when it runs longer than timeout.
absl::StatusOr<std::string> RunToExit(const std::string& path, const std::vector<std::string>& args,
                                      const std::map<std::string, std::string>& env,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A real redis-server on 127.0.0.1:<port>, without persistence, in its own
// temp dir. Start waits until it answers PING.
class RedisServer {
 public:
  explicit RedisServer(int port = FreePort());
  ~RedisServer();
  absl::Status Start();
  void Kill9();  // SIGKILL: data is gone
  void Stop();   // SIGTERM and wait
  int port() const { return port_; }
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  bool Ping();

 private:
  int port_;
  std::string dir_;
  std::unique_ptr<Process> process_;
};

// True once a gRPC health check naming service answers SERVING at addr.
bool WaitForGrpcServing(const std::string& addr, const std::string& service, std::chrono::milliseconds deadline);

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_HARNESS_H_
