// rapport-healthcheck ADDR SERVICE [SECONDS]: waits until the gRPC health
// check of SERVICE at ADDR answers SERVING; exits 0 then, 1 on time-out.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "services/common/health.h"

int main(int argc, char** argv) {
  if (argc < 3 || std::string(argv[1]) == "--help") {
    std::fprintf(stderr, "usage: rapport-healthcheck ADDR SERVICE [SECONDS]\n");
    return 2;
  }
  int seconds = argc > 3 ? std::atoi(argv[3]) : 10;
  return rapport::WaitForServing(argv[1], argv[2], std::chrono::seconds(seconds)) ? 0 : 1;
}
