#include "tests/testing/test_database.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "tests/testing/harness.h"
#include "tests/testing/postgres.h"

namespace rapport::testing {
namespace {

std::mutex server_mu;
PostgresServer* server = nullptr;  // one per test process, ended at exit
absl::Status server_status;

// Stops the server and removes its data directory (the destructor's), so
// test runs do not leave a cluster of PostgreSQL files each in /tmp.
void StopServerAtExit() {
  if (server == nullptr) return;
  server->Stop();
  delete server;
  server = nullptr;
}

}  // namespace

std::vector<std::string> Drivers() { return {"sqlite", "postgres"}; }

std::string DriverName(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

absl::StatusOr<db::Options> TestDatabase(const std::string& driver, const std::string& name) {
  static std::atomic<int> counter{0};
  const int n = counter.fetch_add(1);
  db::Options options;
  if (driver == "sqlite") {
    const std::string dir = TempDir("rapport-store-" + name);
    if (dir.empty()) return absl::InternalError("mkdtemp failed");
    options.path = dir + "/" + name + ".db";
    return options;
  }
  if (driver != "postgres") return absl::InvalidArgumentError("unknown driver " + driver);
  if (!PostgresServer::Available()) {
    return absl::FailedPreconditionError("PostgreSQL 15 is not installed (tools/deps installs postgresql-15)");
  }
  {
    std::lock_guard<std::mutex> lock(server_mu);
    if (server == nullptr) {
      server = new PostgresServer();
      server_status = server->Start();
      std::atexit(StopServerAtExit);
    }
    if (!server_status.ok()) return server_status;
  }
  options.url = server->url();
  // A schema of its own per call: tests never see each other's rows.
  options.schema = absl::StrCat(name, "_", getpid(), "_", n);
  options.pool_size = 4;
  options.write_workers = 2;
  return options;
}

}  // namespace rapport::testing
