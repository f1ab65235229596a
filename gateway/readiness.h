// /readyz from a cached check: the backends' health is checked on this
// class's own thread, at most once per `min_interval` (a second), and never
// on the pool that serves rate-limit leases and other blocking work, so a
// flood of /readyz costs neither backend calls nor pool threads. A request
// finding a result younger than min_interval is answered from it at once;
// otherwise it waits for the next check (started at once when the last one
// began at least min_interval ago), which every request waiting meanwhile
// shares. The thread sleeps while nobody asks.
//
// Thread-safety: Get may be called from any thread; the callbacks run on the
// checking thread (or the caller's, for a fresh result). Stop (also run by
// the destructor) ends the thread after the check in progress and answers
// whoever still waits with the last result, or an empty map (not ready)
// when there is none.
#ifndef RAPPORT_GATEWAY_READINESS_H_
#define RAPPORT_GATEWAY_READINESS_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rapport::gateway {

class ReadinessCache {
 public:
  // Serving-or-not by backend name; blocks (bounded by its own timeouts).
  using Check = std::function<std::map<std::string, bool>()>;
  using Done = std::function<void(const std::map<std::string, bool>&)>;

  explicit ReadinessCache(Check check, std::chrono::milliseconds min_interval = std::chrono::seconds(1));
  ~ReadinessCache();
  ReadinessCache(const ReadinessCache&) = delete;
  ReadinessCache& operator=(const ReadinessCache&) = delete;

  // Calls done once with a result at most min_interval (plus one check) old.
  void Get(Done done);

  // Checks run so far (for tests and logs).
  int checks();

  // Idempotent; Get after Stop answers from the last result at once.
  void Stop();

 private:
  void Run();

  const Check check_;
  const std::chrono::milliseconds min_interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, bool> result_;               // guarded by mu_
  bool have_result_ = false;                         // guarded by mu_
  std::chrono::steady_clock::time_point result_at_;  // start of the check that gave result_; guarded by mu_
  std::vector<Done> waiters_;                        // guarded by mu_
  int checks_ = 0;                                   // guarded by mu_
  bool stopping_ = false;                            // guarded by mu_
  std::thread thread_;                               // last: starts once the rest is built
};

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_READINESS_H_
