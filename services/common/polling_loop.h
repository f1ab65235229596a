// A background thread that runs one step of work over and over until
// stopped, the shape shared by the outbox relay and the event consumer:
// again at once when the step says more work is waiting, after `idle` when it
// found nothing more, after `retry` when it failed. Failures are logged once
// when they start and once when they end, not at every retry. Wake() cuts the
// current or next wait short.
//
// Thread-safety: Start, Stop and Wake may be called from any thread; Start and
// Stop are idempotent; the destructor stops. The step runs on the loop's
// thread only.
#ifndef RAPPORT_SERVICES_COMMON_POLLING_LOOP_H_
#define RAPPORT_SERVICES_COMMON_POLLING_LOOP_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "services/common/log.h"

namespace rapport {

class PollingLoop {
 public:
  struct Options {
    std::string what;    // e.g. "outbox relay", for the failure log lines
    log::Fields fields;  // context on those lines, e.g. the stream
    std::chrono::milliseconds idle{50};
    std::chrono::milliseconds retry{500};
  };
  // step returns true when more work is probably waiting (run again now),
  // false when it is idle, or an error (wait `retry`).
  using Step = std::function<absl::StatusOr<bool>()>;

  PollingLoop(Options options, Step step);
  ~PollingLoop();

  void Start();
  void Stop();
  void Wake();

 private:
  void Run();
  // Waits up to timeout, or until Wake or Stop; false when stopping.
  bool Wait(std::chrono::milliseconds timeout);

  const Options options_;
  const Step step_;
  std::mutex lifecycle_mu_;  // orders Start and Stop
  std::thread thread_;       // guarded by lifecycle_mu_
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
};

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_POLLING_LOOP_H_
