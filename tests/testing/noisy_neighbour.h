// The noisy-neighbour scenario of issue 17, shared by its ctest
// (tests/noisy_neighbour_test.cc: what cannot be flaky, 0 errors for org B and
// org A's refusals) and its benchmark (tools/bench/noisy_neighbour_bench.cc:
// org B's figures without and with org A, side by side).
//
// A real stack (redis-server, profiles, interactions, notifications and the
// gateway on 127.0.0.1) with two orgs. Org B is a well-behaved client: paced
// GET /v1/contacts/{id} through the gateway, reminders due a second after
// they are made, and a webhook to a fast receiver for its notifications.
// Org A is the noisy neighbour: idle connections, live streams from several
// users, a workflow whose WEBHOOK step fans out to 20 receivers that answer
// only after a delay (run again and again), and a flood of unauthenticated
// requests.
//
// Client addresses: every connection comes from the loopback network, org B
// from 127.0.0.1 and org A from 127.0.0.2 (idle connections), 127.0.0.3 (live
// streams and its authenticated calls) and 127.0.0.4 (the flood), as distinct
// clients would; the gateway's shares are per client address, so this is what
// lets them refuse A without refusing B. Nothing listens beyond 127.0.0.1.
//
// Thread-safety: a NoisyNeighbour is driven from one thread; it runs its own
// worker threads inside Measure and between StartNoise and StopNoise.
#ifndef RAPPORT_TESTS_TESTING_NOISY_NEIGHBOUR_H_
#define RAPPORT_TESTS_TESTING_NOISY_NEIGHBOUR_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/testing/http_receiver.h"
#include "tests/testing/stack.h"

namespace rapport::testing {

struct NoisyOptions {
  // Org B, per measured phase.
  std::chrono::milliseconds phase{20000};         // how long org B's load runs in a measured phase
  int get_per_second = 200;                       // paced GETs of one contact, over get_connections
  int get_connections = 4;                        // keep-alive connections, one thread each
  std::chrono::milliseconds reminder_every{500};  // a reminder due reminder_lead after it is made
  std::chrono::milliseconds reminder_lead{1000};
  std::chrono::milliseconds settle{20000};  // after a phase, how long to wait for its reminders and webhooks
  // Org A.
  int idle_connections = 500;
  int stream_users = 4;      // each opens streams_per_user (the notifications' quota, 5)
  int streams_per_user = 5;  // 4 x 5 = 20 live streams
  int slow_webhooks = 20;    // receivers of the workflow's WEBHOOK step
  std::chrono::milliseconds slow_answer{5000};
  std::chrono::milliseconds workflow_every{1000};  // org A runs its fan-out workflow this often
  int flood_connections = 2;                       // unauthenticated requests in a tight loop on each
  // The gateway's connection cap: one address's share is 10 % of it.
  int max_connections = 2000;
};

// Org B's figures for one phase. Latencies in milliseconds.
struct OrgBFigures {
  int64_t gets = 0;
  int64_t get_errors = 0;  // anything but 200, transport failures included
  double get_p50_ms = 0, get_p99_ms = 0, get_max_ms = 0;
  int reminders = 0;        // made (each POST answered 200, else counted in reminder_errors)
  int reminder_errors = 0;  // POSTs refused
  int reminders_fired = 0;  // seen in the inbox within the settle time
  double reminder_p50_ms = 0, reminder_p99_ms = 0, reminder_max_ms = 0;  // fire time - due time
  int webhooks_delivered = 0;                                            // at the fast receiver
  double webhook_p50_ms = 0, webhook_p99_ms = 0, webhook_max_ms = 0;     // arrival - notification's creation
  std::string first_error;                                               // the first failure, for the report
  // CPU each process used during the phase, in cores (CPU seconds a second):
  // "gateway", "profiles", "notifications", ... and "driver" (this process:
  // both orgs' clients, the flood's included, and the receivers).
  std::map<std::string, double> cpu_cores;
  int64_t errors() const {
    return get_errors + reminder_errors + (reminders - reminders_fired) + (reminders - webhooks_delivered);
  }
};

// What org A got while it was noisy.
struct OrgAReport {
  int idle_open = 0;        // connections the gateway kept
  int idle_refused = 0;     // answered 429 at once (the address's share)
  int idle_other = 0;       // anything else (closed, 503, ...)
  int share = 0;            // the share the gateway should give one address
  int streams_open = 0;     // answered 200
  int streams_refused = 0;  // one more per user, each answered 429 (the per-user quota)
  int streams_other = 0;
  int64_t flood_sent = 0, flood_401 = 0, flood_429 = 0, flood_other = 0;
  int workflow_runs = 0, workflow_run_errors = 0;
  int slow_requests = 0;  // requests the slow receivers got
  double seconds = 0;     // how long the noise ran
};

class NoisyNeighbour {
 public:
  explicit NoisyNeighbour(NoisyOptions options = {});
  ~NoisyNeighbour();  // stops the noise and the stack

  // Starts the stack, makes both orgs, their users, contacts, webhooks and
  // org A's workflow; starts the receivers.
  absl::Status Start();

  // Runs org B's load for phase, waits (up to options.settle) for its
  // reminders to fire and their webhooks to arrive, and returns the figures.
  absl::StatusOr<OrgBFigures> Measure(const std::string& phase_name, std::chrono::milliseconds phase);

  // Org A's noise: opens the idle connections and streams (and checks what
  // the gateway answered), then runs the workflow and the flood until
  // StopNoise.
  absl::Status StartNoise();
  OrgAReport StopNoise();

  // Requests org A's slow receivers have got so far.
  int SlowRequests();

  // /healthz answers 200 and every process still runs.
  bool ServiceUp();

  Stack& stack() { return *stack_; }
  int gateway_port() const { return port_; }

 private:
  struct Org {
    std::string id, admin_key;
    std::vector<std::string> users;
    std::string contact;  // of users[0]
  };
  absl::StatusOr<Org> MakeOrg(const std::string& name, int users);
  void FloodLoop();
  void WorkflowLoop();

  NoisyOptions options_;
  std::unique_ptr<Stack> stack_;
  int port_ = 0;
  Org a_, b_;
  std::string workflow_;  // org A's fan-out workflow
  std::unique_ptr<HttpReceiver> fast_;
  std::vector<std::unique_ptr<HttpReceiver>> slow_;
  int phase_count_ = 0;

  // The noise, between StartNoise and StopNoise.
  std::atomic<bool> noisy_{false};
  std::chrono::steady_clock::time_point noise_start_;
  std::vector<int> idle_fds_, stream_fds_;
  std::vector<std::thread> noise_threads_;
  OrgAReport report_;
  std::atomic<int64_t> flood_sent_{0}, flood_401_{0}, flood_429_{0}, flood_other_{0};
  std::atomic<int> runs_{0}, run_errors_{0};
};

// Prints both phases' figures and their ratios (noisy / quiet) as a table.
std::string FormatComparison(const OrgBFigures& quiet, const OrgBFigures& noisy, const OrgAReport& a);

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_NOISY_NEIGHBOUR_H_
