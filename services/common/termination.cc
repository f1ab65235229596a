#include "services/common/termination.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/log.h"

namespace rapport {
namespace {

struct Termination {
  absl::Mutex mu;
  int signal ABSL_GUARDED_BY(mu) = 0;  // 0 until one arrived
};

Termination& State() {
  static Termination* state = new Termination();  // never destroyed: the watcher may outlive main
  return *state;
}

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

bool Arrived(int* signal) { return *signal != 0; }

}  // namespace

void WatchTerminationSignals() {
  static std::once_flag once;
  std::call_once(once, [] {
    const sigset_t set = TerminationSignals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    // Signals are blocked everywhere, so they stay pending until this
    // thread takes one: nothing can interrupt the process half-way, and the
    // process learns of it through State() whatever it is doing.
    std::thread([set] {
      int sig = 0;
      while (sigwait(&set, &sig) != 0) {
      }
      Termination& state = State();
      absl::MutexLock lock(&state.mu);
      state.signal = sig;
    }).detach();
  });
}

bool TerminationRequested() {
  Termination& state = State();
  absl::MutexLock lock(&state.mu);
  return state.signal != 0;
}

int WaitForTerminationSignal() {
  WatchTerminationSignals();
  Termination& state = State();
  absl::MutexLock lock(&state.mu);
  state.mu.Await(absl::Condition(&Arrived, &state.signal));
  return state.signal;
}

bool WaitForTerminationSignalFor(std::chrono::milliseconds timeout) {
  WatchTerminationSignals();
  Termination& state = State();
  absl::MutexLock lock(&state.mu);
  return state.mu.AwaitWithTimeout(absl::Condition(&Arrived, &state.signal), absl::FromChrono(timeout));
}

void ServeUntilSignal(const std::function<void()>& drain) {
  const int sig = WaitForTerminationSignal();
  log::Info("draining", {{"signal", absl::StrCat(sig)}});
  drain();
  log::Info("stopped");
}

}  // namespace rapport
