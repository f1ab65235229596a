// rapport-healthcheck ADDR SERVICE [SECONDS]: waits until the gRPC health
// check of SERVICE at ADDR answers SERVING; exits 0 then, 1 on time-out.
// rapport-healthcheck --list_services: prints the service registry
// (services/common/service_registry.h), one tab-separated line per process,
// in start order: name, binary, address variable, default address, health
// service ("-" for none). tools/up starts and checks the processes from it.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "services/common/flags_usage.h"
#include "services/common/health.h"
#include "services/common/service_registry.h"

ABSL_FLAG(bool, list_services, false,
          "print every process of the service registry, one tab-separated line each: name, binary, address "
          "variable, default address, gRPC health service (- for none); then exit");

namespace {

constexpr char kUsage[] =
    "rapport-healthcheck ADDR SERVICE [SECONDS]: waits up to SECONDS (default 10) until the gRPC health "
    "check of SERVICE at ADDR answers SERVING; exit status 0 then, 1 on time-out, 2 on bad arguments. "
    "rapport-healthcheck --list_services: prints the service registry";

}  // namespace

int main(int argc, char** argv) {
  rapport::config::SetUsage(kUsage);
  // Only this file's flag: the shared flags of config.cc (an internal key,
  // Redis) mean nothing to a health probe, so they are not linked in.
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_list_services)) {
    for (const rapport::registry::ProcessInfo& p : rapport::registry::Processes()) {
      std::printf("%s\t%s\t%s\t%s\t%s\n", p.name, p.binary, p.addr_env, p.default_addr,
                  p.is_grpc_service() ? p.health_service : "-");
    }
    return 0;
  }
  int seconds = 10;
  if (args.size() < 3 || args.size() > 4 || (args.size() == 4 && !absl::SimpleAtoi(args[3], &seconds))) {
    std::fprintf(stderr, "usage: %s\n", kUsage);
    return 2;
  }
  return rapport::WaitForServing(args[1], args[2], std::chrono::seconds(seconds)) ? 0 : 1;
}
