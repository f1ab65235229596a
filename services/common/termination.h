// Termination on SIGTERM or SIGINT, the same in every process (the four
// services, the gateway): WatchTerminationSignals, which InitProcess calls
// first thing in main before any other thread exists, blocks both signals in
// every thread and starts one thread that waits for them. The rest of the
// process asks whether one has arrived or waits for it, so a process answers
// SIGTERM in every state: serving (ServeUntilSignal drains and returns) and
// starting up (a retry loop waiting on a dependency that is down waits with
// WaitForTerminationSignalFor and gives up when the signal comes).
//
// Thread-safety: every function may be called from any thread.
#ifndef RAPPORT_SERVICES_COMMON_TERMINATION_H_
#define RAPPORT_SERVICES_COMMON_TERMINATION_H_

#include <chrono>
#include <functional>

namespace rapport {

// Blocks SIGTERM and SIGINT in the calling thread (and so in every thread it
// starts later) and starts the watcher thread. Idempotent; call it before
// any other thread starts, or a thread that does not block the signals may
// receive one and die of it.
void WatchTerminationSignals();

// True once SIGTERM or SIGINT has arrived.
bool TerminationRequested();

// Blocks until SIGTERM or SIGINT has arrived (at once if it already has) and
// returns its number.
int WaitForTerminationSignal();

// Waits up to timeout for SIGTERM or SIGINT; true when it has arrived. The
// interruptible sleep of start-up retry loops.
bool WaitForTerminationSignalFor(std::chrono::milliseconds timeout);

// The end of every process's main: waits for SIGTERM or SIGINT, logs
// "draining", runs drain (stop accepting, let calls in flight finish within
// the grace period), logs "stopped".
void ServeUntilSignal(const std::function<void()>& drain);

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_TERMINATION_H_
