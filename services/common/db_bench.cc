// Group commit against the disk's own limit: BM_Fdatasync is how many
// durable 4 KiB writes the file system holding the database takes per second;
// BM_Write is Database::Write throughput with 1 and 32 concurrent writers,
// each Write one INSERT. With one writer every Write pays a full fsync, so
// BM_Write/threads:1 should sit near BM_Fdatasync; with 32 the writes share
// commits and should go well beyond it (writes_per_commit says by how much).
//
// Files go to a fresh directory under $RAPPORT_BENCH_DIR (default /tmp), so
// point that at the file system the services will use.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "services/common/db.h"

namespace rapport::db {
namespace {

std::string MakeBenchDir() {
  const char* base = getenv("RAPPORT_BENCH_DIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/rapport_sqlite_bench_XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return std::string();
  return pattern;
}

void BM_Fdatasync(benchmark::State& state) {
  const std::string dir = MakeBenchDir();
  if (dir.empty()) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  const std::string path = dir + "/fdatasync.bin";
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    state.SkipWithError("open failed");
    return;
  }
  // append:0 rewrites one block, as a WAL does once a checkpoint has let it
  // wrap; append:1 grows the file, as a fresh WAL does, which makes every sync
  // carry the file's new size too.
  const bool append = state.range(0) != 0;
  std::string block(4096, 'x');
  off_t offset = 0;
  for (auto _ : state) {
    if (pwrite(fd, block.data(), block.size(), offset) != static_cast<ssize_t>(block.size()) || fdatasync(fd) != 0) {
      state.SkipWithError("pwrite/fdatasync failed");
      break;
    }
    if (append) offset += static_cast<off_t>(block.size());
  }
  close(fd);
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Fdatasync)->ArgName("append")->Arg(0)->Arg(1)->UseRealTime();

// Shared by the threads of one BM_Write run; Setup and Teardown run once per
// run, outside the threads.
std::string write_dir;
std::unique_ptr<Database> write_db;

void OpenWriteDb(const benchmark::State&) {
  write_dir = MakeBenchDir();
  Options options;
  options.path = write_dir + "/bench.db";
  options.migrations = {"CREATE TABLE events(id INTEGER PRIMARY KEY, payload TEXT NOT NULL)"};
  absl::StatusOr<std::unique_ptr<Database>> db = Open(options);
  if (!db.ok()) return;
  write_db = std::move(db).value();
  // A fresh WAL grows with every commit, and syncing a growing file costs
  // about three times an overwrite (see BM_Fdatasync/append). A running
  // service's WAL has long since wrapped after a checkpoint, so measure that:
  // one commit larger than the 1000-page auto-checkpoint, then the WAL
  // restarts from its beginning and later commits overwrite it.
  absl::Status status = write_db->Write([](Connection& c) {
    return c.Prepare("INSERT INTO events(id, payload) VALUES (-1, zeroblob(6 * 1024 * 1024))").Run();
  });
  if (status.ok()) {
    status = write_db->Write([](Connection& c) { return c.Prepare("DELETE FROM events WHERE id = -1").Run(); });
  }
  if (!status.ok()) write_db.reset();
}

void CloseWriteDb(const benchmark::State&) {
  write_db.reset();
  if (!write_dir.empty()) std::filesystem::remove_all(write_dir);
}

void BM_Write(benchmark::State& state) {
  if (write_db == nullptr) {
    state.SkipWithError("Database::Open failed");
    return;
  }
  const std::string payload(100, 'p');
  // Read before the start barrier and after the stop barrier of the timed
  // loop, so the difference covers exactly this run's writes.
  const int64_t batches_before = write_db->batches_committed();
  const int64_t transactions_before = write_db->transactions_committed();
  for (auto _ : state) {
    absl::Status status = write_db->Write([&payload](Connection& c) {
      return c.Prepare("INSERT INTO events(payload) VALUES (?)").Bind(1, payload).Run();
    });
    if (!status.ok()) {
      state.SkipWithError(std::string(status.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    const int64_t batches = write_db->batches_committed() - batches_before;
    const int64_t transactions = write_db->transactions_committed() - transactions_before;
    if (batches > 0) {
      state.counters["writes_per_commit"] = static_cast<double>(transactions) / static_cast<double>(batches);
    }
  }
}
BENCHMARK(BM_Write)->Setup(OpenWriteDb)->Teardown(CloseWriteDb)->UseRealTime()->Threads(1)->Threads(32);

}  // namespace
}  // namespace rapport::db

BENCHMARK_MAIN();
