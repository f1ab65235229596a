#include "tests/testing/postgres.h"

#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"

namespace rapport::testing {
namespace {

constexpr char kBin[] = "/usr/lib/postgresql/15/bin";

// Runs argv to completion (as `user` when given), output appended to log.
absl::Status RunToCompletion(const std::vector<std::string>& argv, const std::string& log) {
  auto p = Process::Start(argv[0], std::vector<std::string>(argv.begin() + 1, argv.end()), {}, log);
  if (!p.ok()) return p.status();
  int status = 0;
  pid_t pid = (*p)->pid();
  if (waitpid(pid, &status, 0) != pid) return absl::InternalError(absl::StrCat("waitpid ", argv[0]));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " failed; see ", log));
  }
  return absl::OkStatus();
}

// Prefix that runs a command as the postgres user when we are root.
std::vector<std::string> AsPostgres() {
  if (geteuid() != 0) return {};
  return {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"};
}

bool Accepts(int port) {
  const std::string conninfo =
      absl::StrCat("host=127.0.0.1 port=", port, " user=postgres dbname=postgres connect_timeout=1");
  PGconn* conn = PQconnectdb(conninfo.c_str());
  bool ok = conn != nullptr && PQstatus(conn) == CONNECTION_OK;
  if (conn != nullptr) PQfinish(conn);
  return ok;
}

}  // namespace

PostgresServer::PostgresServer() : port_(FreePort()), dir_(TempDir("rapport-pg")) {}

PostgresServer::~PostgresServer() {
  process_.reset();  // SIGKILL and reap
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

bool PostgresServer::Available() { return access(absl::StrCat(kBin, "/postgres").c_str(), X_OK) == 0; }

std::string PostgresServer::url() const { return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/postgres"); }

absl::Status PostgresServer::Start() {
  if (process_ != nullptr && process_->running()) return absl::OkStatus();
  process_.reset();
  if (dir_.empty()) return absl::InternalError("no temp dir for postgres");
  const std::string data = dir_ + "/data";
  const std::string log = dir_ + "/postgres.log";
  if (!initialized_) {
    if (geteuid() == 0) {
      passwd* pw = getpwnam("postgres");
      if (pw == nullptr) return absl::FailedPreconditionError("no postgres user (install postgresql-15)");
      if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) return absl::InternalError("chown " + dir_);
    }
    std::vector<std::string> initdb = AsPostgres();
    for (const char* a : {"/initdb"}) initdb.push_back(absl::StrCat(kBin, a));
    for (const std::string& a :
         {std::string("-D"), data, std::string("-U"), std::string("postgres"), std::string("--auth=trust"),
          std::string("-E"), std::string("UTF8"), std::string("--no-sync"), std::string("--locale=C")}) {
      initdb.push_back(a);
    }
    absl::Status made = RunToCompletion(initdb, dir_ + "/initdb.log");
    if (!made.ok()) return made;
    initialized_ = true;
  }
  std::vector<std::string> argv = AsPostgres();
  argv.push_back(absl::StrCat(kBin, "/postgres"));
  for (const std::string& a :
       {std::string("-D"), data, std::string("-p"), std::to_string(port_), std::string("-k"), dir_, std::string("-c"),
        std::string("listen_addresses=127.0.0.1"), std::string("-c"), std::string("max_connections=200"),
        std::string("-c"), std::string("shared_buffers=32MB")}) {
    argv.push_back(a);
  }
  auto process = Process::Start(argv[0], std::vector<std::string>(argv.begin() + 1, argv.end()), {}, log);
  if (!process.ok()) return process.status();
  process_ = std::move(process).value();
  bool up = WaitFor([this] { return Accepts(port_) || !process_->running(); }, std::chrono::seconds(30));
  if (up && process_->running()) return absl::OkStatus();
  process_.reset();
  return absl::UnavailableError(absl::StrCat("postgres on port ", port_, " did not start; see ", log));
}

void PostgresServer::Stop() {
  if (process_ != nullptr) process_->Stop(SIGINT, std::chrono::seconds(30));
  process_.reset();
}

void PostgresServer::Kill9() {
  if (process_ != nullptr) process_->Stop(SIGKILL);
  process_.reset();
  // The postmaster's children notice it died and exit; a restart waits for
  // them (the shared memory block is still in use until they do).
}

}  // namespace rapport::testing
