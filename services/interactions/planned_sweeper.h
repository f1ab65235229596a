// The sweep that makes planned interactions happen: every interval it claims
// (with a lease, see InteractionsStore::ClaimDuePlanned) the planned
// interactions whose time came, across orgs, and applies each one
// (InteractionsStore::HappenPlanned: ledger, state HAPPENED and
// interaction.created in one transaction, once). A replica killed mid-way
// leaves its claims to lapse; another replica, or this one restarted, takes
// them over. Several replicas may sweep at once.
//
// Thread-safety: Start/Stop from one thread; RunOnce may be called from any
// thread (tests call it with their own clock).
#ifndef RAPPORT_SERVICES_INTERACTIONS_PLANNED_SWEEPER_H_
#define RAPPORT_SERVICES_INTERACTIONS_PLANNED_SWEEPER_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/interactions/interactions_store.h"

namespace rapport::interactions {

struct PlannedSweepOptions {
  std::string runner;  // this replica's name in the leases; unique per process
  std::chrono::milliseconds interval{5000};
  std::chrono::milliseconds lease{30000};  // how long a claim holds before others take it over
  int batch = 100;
};

class PlannedSweeper {
 public:
  // store must outlive the sweeper.
  PlannedSweeper(InteractionsStore* store, PlannedSweepOptions options) : store_(store), options_(options) {}
  ~PlannedSweeper() { Stop(); }
  PlannedSweeper(const PlannedSweeper&) = delete;
  PlannedSweeper& operator=(const PlannedSweeper&) = delete;

  void Start();
  // Waits for the pass under way, if any.
  void Stop();
  // One pass as of now_us: how many interactions it claimed and applied.
  absl::StatusOr<int> RunOnce(int64_t now_us);

 private:
  void Loop();

  InteractionsStore* store_;
  const PlannedSweepOptions options_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace rapport::interactions

#endif  // RAPPORT_SERVICES_INTERACTIONS_PLANNED_SWEEPER_H_
