// A real PostgreSQL 15 server for tests: initdb into a fresh temporary
// directory (as the unprivileged `postgres` user when the test runs as root,
// since PostgreSQL refuses to run as root), then the server on a free
// loopback port with its socket in that directory, started and stopped by
// PID. Durability settings are PostgreSQL's defaults (fsync and
// synchronous_commit on), so a kill -9 test means what it says.
//
// Available() says whether the binaries are installed (tools/deps installs
// postgresql-15); tests skip with that reason otherwise.
//
// Thread-safety: none; use from the test's thread.
#ifndef RAPPORT_TESTS_TESTING_POSTGRES_H_
#define RAPPORT_TESTS_TESTING_POSTGRES_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "tests/testing/harness.h"

namespace rapport::testing {

class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();  // SIGKILL if running, and removes the directory

  static bool Available();
  // initdb (first time only) and start; waits until it accepts connections.
  absl::Status Start();
  void Stop();   // fast shutdown (SIGINT), waiting for the exit
  void Kill9();  // SIGKILL: only what was committed survives
  int port() const { return port_; }
  // postgresql://postgres@127.0.0.1:<port>/postgres
  std::string url() const;

 private:
  int port_;
  std::string dir_;
  bool initialized_ = false;
  std::unique_ptr<Process> process_;
};

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_POSTGRES_H_
