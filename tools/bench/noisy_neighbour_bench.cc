// Issue 17's noisy neighbour, measured: org B's GET-contact latency through
// the gateway (p50/p99, paced, from each request's due time), reminder
// latency (fire time minus due time) and webhook latency (arrival at a fast
// receiver minus the notification's creation), first with org B alone, then
// while org A holds 500 idle connections and 20 live streams, runs a
// workflow fanning out to 20 webhooks that answer after 5 s, and floods the
// gateway with unauthenticated requests (tests/testing/noisy_neighbour.h).
// Prints both sets of figures and their ratios; exits 1 when org B saw an
// error. One stack for both phases, on 127.0.0.1, stopped after; about a
// minute and a half.
//
//   build/bin/noisy_neighbour_bench
//   NOISY_PHASE_SECONDS=30 NOISY_GETS_PER_SECOND=400 build/bin/noisy_neighbour_bench
//
// NOISY_REMINDER_EVERY_MS sets org B's reminder pace (500); NOISY_IDLE_CONNECTIONS,
// NOISY_STREAM_USERS, NOISY_SLOW_WEBHOOKS and NOISY_FLOOD_CONNECTIONS set
// org A's parts (500, 4, 20, 2; 0 turns one off). NOISY_VERBOSE=1 prints each
// reminder's due time and its two latencies (to stderr), to place a stall.
//
// The machine's load counts: run it on a quiet machine, and compare ratios
// rather than absolute figures between machines.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "tests/testing/harness.h"
#include "tests/testing/noisy_neighbour.h"

namespace {

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  int n = 0;
  return value != nullptr && absl::SimpleAtoi(value, &n) && n >= 0 ? n : fallback;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

int main() {
  using rapport::testing::NoisyNeighbour;
  using rapport::testing::NoisyOptions;
  using rapport::testing::OrgBFigures;
  NoisyOptions options;
  options.phase = std::chrono::seconds(EnvInt("NOISY_PHASE_SECONDS", 20));
  options.get_per_second = EnvInt("NOISY_GETS_PER_SECOND", 200);
  options.reminder_every = std::chrono::milliseconds(EnvInt("NOISY_REMINDER_EVERY_MS", 500));
  // Parts of org A's noise, to find which one costs what (0 turns one off).
  options.idle_connections = EnvInt("NOISY_IDLE_CONNECTIONS", options.idle_connections);
  options.stream_users = EnvInt("NOISY_STREAM_USERS", options.stream_users);
  options.slow_webhooks = EnvInt("NOISY_SLOW_WEBHOOKS", options.slow_webhooks);
  options.flood_connections = EnvInt("NOISY_FLOOD_CONNECTIONS", options.flood_connections);
  NoisyNeighbour scenario(options);
  if (absl::Status s = scenario.Start(); !s.ok()) {
    std::fprintf(stderr, "noisy_neighbour_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("load average before: %s\n", LoadAverage().c_str());
  // A short warm-up (connections, caches, verdicts), not counted.
  auto warmup = scenario.Measure("warmup", std::chrono::seconds(3));
  if (!warmup.ok()) {
    std::fprintf(stderr, "noisy_neighbour_bench: warm-up: %s\n", warmup.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<OrgBFigures> alone = scenario.Measure("alone", options.phase);
  if (!alone.ok()) {
    std::fprintf(stderr, "noisy_neighbour_bench: %s\n", alone.status().ToString().c_str());
    return 1;
  }
  if (absl::Status s = scenario.StartNoise(); !s.ok()) {
    std::fprintf(stderr, "noisy_neighbour_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  // Org A's slow deliveries hold their slots before org B is measured.
  if (options.slow_webhooks > 0) {
    rapport::testing::WaitFor([&] { return scenario.SlowRequests() >= std::min(8, options.slow_webhooks); },
                              std::chrono::seconds(15));
  }
  absl::StatusOr<OrgBFigures> noisy = scenario.Measure("noisy", options.phase);
  rapport::testing::OrgAReport a = scenario.StopNoise();
  if (!noisy.ok()) {
    std::fprintf(stderr, "noisy_neighbour_bench: %s\n", noisy.status().ToString().c_str());
    return 1;
  }
  std::printf("org B: %d GETs/s paced over %d connections, a reminder every %lld ms, %lld s per phase\n",
              options.get_per_second, options.get_connections, static_cast<long long>(options.reminder_every.count()),
              static_cast<long long>(options.phase.count() / 1000));
  std::printf("%s", rapport::testing::FormatComparison(*alone, *noisy, a).c_str());
  std::printf("load average after: %s\n", LoadAverage().c_str());
  std::printf("service up after: %s\n", scenario.ServiceUp() ? "yes" : "NO");
  return alone->errors() == 0 && noisy->errors() == 0 ? 0 : 1;
}
