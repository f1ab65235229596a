// Import benchmark: a LinkedIn export of N rows (default 10 000; argv[1])
// uploaded through the gateway to a real profiles process (SQLite, or
// PostgreSQL with RAPPORT_DATABASE_URL), timed from POST /v1/imports to the
// job's end. Prints rows per second and the profiles process's peak
// resident memory (VmHWM from /proc) before and after the import.
//
//   build/bin/import_bench [ROWS]
//
// Each run starts its own redis-server, profiles and gateway on free
// loopback ports (tests/testing/stack.h).
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/http_client.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
using ::rapport::testing::Stack;

std::string LinkedInRows(int n) {
  std::string out =
      "Notes:\r\n\"When exporting your connection data, you may notice that some of the email addresses are "
      "missing.\"\r\n\r\nFirst Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n";
  const char* first[] = {"Ana", "Béatrice", "Chen", "Dmitri", "Émile", "Fatima", "Grégoire", "Hiroshi"};
  const char* last[] = {"Almeida", "Bauer", "Castillo", "Dubois", "Eriksson", "Fernández", "García", "Smith, Jr."};
  for (int i = 0; i < n; ++i) {
    const std::string email = i % 3 == 0 ? absl::StrCat("person", i, "@example.com") : "";
    absl::StrAppend(&out, first[i % 8], ",\"", last[(i / 8) % 8], "\",https://www.linkedin.com/in/person-", i, ",",
                    email, ",\"Company ", i % 97, ", Inc.\",\"Senior Engineer, Platform\",", 10 + i % 18,
                    " Mar 2024\r\n");
  }
  return out;
}

// The pid of the profiles process whose data directory is data_dir.
pid_t ProfilesPid(const std::string& data_dir) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  pid_t found = 0;
  while (dirent* e = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    char exe[4096];
    ssize_t n = readlink(absl::StrCat("/proc/", pid, "/exe").c_str(), exe, sizeof(exe) - 1);
    if (n <= 0 || !absl::EndsWith(std::string(exe, n), "/profiles")) continue;
    std::ifstream env(absl::StrCat("/proc/", pid, "/environ"), std::ios::binary);
    std::stringstream ss;
    ss << env.rdbuf();
    if (absl::StrContains(ss.str(), data_dir)) {
      found = pid;
      break;
    }
  }
  closedir(proc);
  return found;
}

long StatusKb(pid_t pid, const char* field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, field)) {
      long kb = 0;
      std::string digits;
      for (char c : line) {
        if (c >= '0' && c <= '9') digits.push_back(c);
      }
      (void)absl::SimpleAtoi(digits, &kb);
      return kb;
    }
  }
  return 0;
}

template <typename T>
T Parse(const HttpResponse& r) {
  T out;
  if (!google::protobuf::util::JsonStringToMessage(r.body, &out).ok()) {
    std::fprintf(stderr, "import_bench: unexpected answer %ld: %s\n", r.status, r.body.c_str());
    std::exit(1);
  }
  return out;
}

int Run(int rows) {
  Stack stack;
  if (!stack.redis().Start().ok() || !stack.Start("profiles").ok()) {
    std::fprintf(stderr, "import_bench: cannot start redis and profiles\n");
    return 1;
  }
  if (!stack.StartGateway({{"RAPPORT_RATE_LIMIT_PER_MINUTE", "1000000"}, {"RAPPORT_RATE_LIMIT_BURST", "100000"}})
           .ok()) {
    std::fprintf(stderr, "import_bench: cannot start the gateway\n");
    return 1;
  }
  const std::string url = stack.GatewayUrl();
  const std::string json = "Content-Type: application/json";
  auto org = Parse<ppb::CreateOrgResponse>(HttpCall("POST", url + "/v1/orgs",
                                                    {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), json},
                                                    R"({"displayName":"Bench"})"));
  const std::string admin = "X-Api-Key: " + org.admin_key().secret();
  auto user = Parse<ppb::User>(
      HttpCall("POST", url + "/v1/users", {admin, json}, R"({"displayName":"B","email":"b@bench.test"})"));
  const std::vector<std::string> me = {admin, "X-Rapport-User: " + user.id()};
  const pid_t pid = ProfilesPid(stack.data_dir());
  const long rss_before = pid ? StatusKb(pid, "VmRSS") : 0;
  const long hwm_before = pid ? StatusKb(pid, "VmHWM") : 0;

  const std::string file = LinkedInRows(rows);
  HttpOptions options;
  options.timeout_ms = 120000;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> upload = me;
  upload.push_back("Content-Type: text/csv");
  auto import = Parse<ppb::Import>(HttpCall("POST", url + "/v1/imports", upload, file, options));
  auto accepted = std::chrono::steady_clock::now();
  ppb::Import done;
  do {
    usleep(20000);  // polling the job as a client does
    done = Parse<ppb::Import>(HttpCall("GET", url + "/v1/imports/" + import.id(), me));
  } while (done.state() != ppb::IMPORT_SUCCEEDED && done.state() != ppb::IMPORT_FAILED);
  auto end = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(end - start).count();
  const double accept_ms = std::chrono::duration<double, std::milli>(accepted - start).count();
  std::printf("import_bench: %d LinkedIn rows (%.1f MiB), %s\n", rows, file.size() / 1048576.0,
              std::getenv("RAPPORT_DATABASE_URL") != nullptr ? "PostgreSQL" : "SQLite");
  std::printf("  state %s: %lld created, %lld merged, %lld skipped\n", ppb::ImportState_Name(done.state()).c_str(),
              static_cast<long long>(done.created()), static_cast<long long>(done.merged()),
              static_cast<long long>(done.skipped()));
  std::printf("  accepted (upload, parse, store the file) in %.0f ms; done in %.2f s: %.0f rows/s\n", accept_ms,
              seconds, rows / seconds);
  if (pid != 0) {
    std::printf("  profiles memory: RSS %ld kB before; peak (VmHWM) %ld kB before, %ld kB after (+%ld kB)\n",
                rss_before, hwm_before, StatusKb(pid, "VmHWM"), StatusKb(pid, "VmHWM") - hwm_before);
  }
  return done.state() == ppb::IMPORT_SUCCEEDED && done.created() == rows ? 0 : 1;
}

}  // namespace
}  // namespace rapport

int main(int argc, char** argv) {
  int rows = 10000;
  if (argc > 1 && !absl::SimpleAtoi(argv[1], &rows)) {
    std::fprintf(stderr, "usage: import_bench [ROWS]\n");
    return 2;
  }
  return rapport::Run(rows);
}
