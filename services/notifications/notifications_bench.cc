// 100 000 timers due in the same minute, fired by the real Scheduler on the
// real clock against a SQLite file or a PostgreSQL database: how long firing
// all of them takes, the share fired within 5 s of its due time, the worst
// lag, and duplicates (notifications beyond one per timer; must be 0).
//
// BM_FireTimers/<spread seconds>/<batch>/<driver>/<replicas>: dues spread
// evenly over that many seconds (60: "in the same minute"; 0: all at the
// same instant, the worst burst); driver 0 is SQLite, 1 PostgreSQL (a real
// PostgreSQL 15 started for the run, a fresh schema per case); replicas
// schedulers, each on its own store (its own connection pool, as separate
// processes would be), claim from the same database. Timers are inserted
// (as reminders) before the first is due. SQLite files go to a fresh
// directory under $RAPPORT_BENCH_DIR (default /tmp).
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/db_rows.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/notifications/notifications_store.h"
#include "services/notifications/scheduler.h"
#include "tests/testing/postgres.h"

namespace rapport::notifications {
namespace {

constexpr int kTimers = 100000;

std::string MakeBenchDir() {
  const char* base = getenv("RAPPORT_BENCH_DIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/rapport_notifications_bench_XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return std::string();
  return pattern;
}

// The PostgreSQL server of the run, started on first use.
testing::PostgresServer* Postgres() {
  static testing::PostgresServer* server = [] {
    auto* s = new testing::PostgresServer();
    if (!testing::PostgresServer::Available() || !s->Start().ok())
      return static_cast<testing::PostgresServer*>(nullptr);
    return s;
  }();
  return server;
}

void BM_FireTimers(benchmark::State& state) {
  const int spread_s = static_cast<int>(state.range(0));
  const bool postgres = state.range(2) == 1;
  const int replicas = static_cast<int>(state.range(3));
  static int cases = 0;
  for (auto _ : state) {
    db::Options options;
    if (postgres) {
      if (Postgres() == nullptr) {
        state.SkipWithError("PostgreSQL 15 is not available (tools/deps installs it)");
        return;
      }
      options.url = Postgres()->url();
      options.schema = absl::StrCat("timers_bench_", ++cases);
    } else {
      options.path = MakeBenchDir() + "/notifications.db";
    }
    std::vector<std::unique_ptr<NotificationsStore>> stores;
    for (int r = 0; r < replicas; ++r) {
      auto store = NotificationsStore::Open(options);
      if (!store.ok()) {
        state.SkipWithError(std::string(store.status().message()).c_str());
        return;
      }
      stores.push_back(*std::move(store));
    }
    auto* store = &stores[0];
    Owner owner{"org-bench", "user-bench"};
    // The first timer is due 15 s from now (60 s on PostgreSQL, whose
    // inserts cross a socket to a server on the same two cores), leaving
    // time to insert them all; lags are measured from the due time, so the
    // lead does not change them.
    const absl::Time insert_start = absl::Now();
    const int64_t first_due = ToMicros(insert_start + absl::Seconds(postgres ? 60 : 15));
    const int64_t step = spread_s == 0 ? 0 : int64_t{spread_s} * 1000000 / kTimers;
    for (int i = 0; i < kTimers; i += 10000) {
      std::vector<int64_t> due;
      for (int j = i; j < i + 10000; ++j) due.push_back(first_due + j * step);
      absl::Status s = (*store)->InsertReminders(owner, due);
      if (!s.ok()) {
        state.SkipWithError(std::string(s.message()).c_str());
        return;
      }
    }
    if (absl::Now() >= FromMicros(first_due)) {
      state.SkipWithError("inserting took longer than the lead");
      return;
    }
    state.counters["s_to_insert"] = absl::ToDoubleSeconds(absl::Now() - insert_start);
    const int64_t last_due = first_due + (kTimers - 1) * step;
    std::vector<std::unique_ptr<Scheduler>> schedulers;
    for (int r = 0; r < replicas; ++r) {
      SchedulerOptions scheduler_options;
      scheduler_options.batch = static_cast<int>(state.range(1));
      scheduler_options.replica = absl::StrCat("replica-", r + 1);
      schedulers.push_back(std::make_unique<Scheduler>(stores[r].get(), scheduler_options));
      if (!schedulers.back()->Start().ok()) {
        state.SkipWithError("scheduler did not start");
        return;
      }
    }
    auto fired = [&] {
      int64_t n = 0;
      for (auto& s : schedulers) n += s->fired();
      return n;
    };
    while (fired() < kTimers) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const int64_t all_fired = ToMicros(absl::Now());
    for (auto& s : schedulers) s->Stop();

    // Lag per notification: its creation time minus its reminder's due time.
    int64_t notifications = 0, within = 0, max_lag = 0, early = 0;
    std::set<std::string> reminders;
    absl::Status read = (*store)->db().Read([&](db::Connection& conn) -> absl::Status {
      std::map<std::string, int64_t> created;
      RETURN_IF_ERROR(db::ForEachRow(conn.Prepare("SELECT data FROM notifications WHERE org_id = ? AND user_id = ?")
                                         .Bind(1, owner.org)
                                         .Bind(2, owner.user),
                                     [&](const db::Statement& row) -> absl::Status {
                                       pb::Notification n;
                                       RETURN_IF_ERROR(db::ParseRow(row.ColumnBlob(0), &n));
                                       ++notifications;
                                       reminders.insert(n.reminder_id());
                                       created[n.reminder_id()] = TimestampToMicros(n.create_time());
                                       return absl::OkStatus();
                                     }));
      RETURN_IF_ERROR(db::ForEachRow(conn.Prepare("SELECT data FROM reminders WHERE org_id = ? AND user_id = ?")
                                         .Bind(1, owner.org)
                                         .Bind(2, owner.user),
                                     [&](const db::Statement& row) -> absl::Status {
                                       pb::Reminder r;
                                       RETURN_IF_ERROR(db::ParseRow(row.ColumnBlob(0), &r));
                                       auto it = created.find(r.id());
                                       if (it == created.end()) return absl::OkStatus();
                                       int64_t lag = it->second - TimestampToMicros(r.due_time());
                                       if (lag < 0) ++early;
                                       if (lag <= 5000000) ++within;
                                       max_lag = std::max(max_lag, lag);
                                       return absl::OkStatus();
                                     }));
      return absl::OkStatus();
    });
    if (!read.ok()) {
      state.SkipWithError(std::string(read.message()).c_str());
      return;
    }
    state.counters["timers"] = kTimers;
    state.counters["fired"] = static_cast<double>(reminders.size());
    state.counters["duplicates"] = static_cast<double>(notifications - static_cast<int64_t>(reminders.size()));
    state.counters["early"] = static_cast<double>(early);
    state.counters["share_within_5s"] = static_cast<double>(within) / kTimers;
    state.counters["max_lag_s"] = static_cast<double>(max_lag) / 1e6;
    state.counters["s_first_due_to_all_fired"] = static_cast<double>(all_fired - first_due) / 1e6;
    state.counters["s_last_due_to_all_fired"] = static_cast<double>(all_fired - last_due) / 1e6;
    state.counters["fired_per_s_in_burst"] =
        spread_s == 0 ? kTimers / (static_cast<double>(all_fired - first_due) / 1e6) : 0;
    int64_t commits = 0;
    for (auto& st : stores) commits += st->db().batches_committed();
    state.counters["commits"] = static_cast<double>(commits);
  }
}
BENCHMARK(BM_FireTimers)
    ->Args({60, 2048, 0, 1})
    ->Args({0, 512, 0, 1})
    ->Args({0, 2048, 0, 1})
    ->Args({0, 2048, 1, 1})
    ->Args({0, 2048, 1, 2})
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace
}  // namespace rapport::notifications

BENCHMARK_MAIN();
