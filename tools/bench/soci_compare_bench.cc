// Our database layer (services/common/db.h on the SQLite driver) against
// SOCI 4.0 (Debian libsoci-dev) doing the same work on the same SQLite file
// settings (WAL, synchronous=FULL), to decide issue 14's "build the layer on
// SOCI unless it costs more than 5 %".
//
// - BM_GetContact_*: GET contact's store read, one point SELECT of a ~600 B
//   blob by (org_id, user_id, contact_id) inside a read transaction, random
//   keys over 10 000 rows of a table shaped like profiles' contacts. Only the
//   store's part: the blob is copied out but not parsed (parsing is the same
//   protobuf call whichever layer read it).
// - BM_CreateInteraction_*: create interaction's write transaction: the
//   idempotency-key lookup, the interaction row (~400 B blob), the ledger
//   upsert (INSERT ... ON CONFLICT DO UPDATE), the outbox row and the
//   idempotency record, committed durably. Our layer with 1 and 32 callers
//   (the 32 share commits: group commit); SOCI with 1 session, and with 32
//   threads each on its own session (SQLite serializes them; each commit is
//   its own fsync, since SOCI has no group commit).
//
// SOCI variants, fastest honest first:
// - Prepared: one session, every statement (BEGIN and COMMIT too) prepared
//   once and re-executed with fresh values in the bound variables, a read
//   statement stepped to its end (DrainOne says why).
// - PreparedBlob (reads): the same reading into soci::blob, SOCI's BLOB type.
// - PreparedTxn: the same with soci::transaction (SOCI's BEGIN/COMMIT run
//   through sqlite3_exec, parsed each time).
// - Pool: a soci::connection_pool of 4 read-only sessions leased per call,
//   each with its own prepared statement, the shape of db::Database::Read (a
//   reader pool; SOCI has no statement cache of its own, so this is the cache
//   a SOCI-based layer would have to write).
// - Naive: `sql << "..."` (prepares the statement on every call), for reference.
// - Savepoint (writes): Prepared plus the SAVEPOINT/RELEASE our writer puts
//   around each write of a batch: what a SOCI-based layer with our group
//   commit would run per write.
// - PreparedStale (reads): Prepared without ending the statement; wrong (it
//   reads a stale snapshot), kept to show why it looks faster.
//
// Compare reads by CPU time (one thread; on a busy machine the wall time is
// mostly waiting for a core) and writes by wall time (the fsync), with
// user_cpu_us for the layers' own work. Interleave the variants in one
// process to cancel the machine's drift:
//   soci_compare_bench --benchmark_repetitions=15 --benchmark_enable_random_interleaving=true
//     --benchmark_report_aggregates_only=true
//
// SOCI reports errors by throwing; a throw ends the run with SkipWithError.
// Files go to a fresh directory under $RAPPORT_BENCH_DIR (default /tmp).
// Figures and the decision: docs/benchmarks.md, "Database layer: SOCI or our own".
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/common/status.h"
#include "soci/blob-exchange.h"
#include "soci/blob.h"
#include "soci/connection-pool.h"
#include "soci/into.h"
#include "soci/session.h"
#include "soci/sqlite3/soci-sqlite3.h"
#include "soci/statement.h"
#include "soci/transaction.h"
#include "soci/use.h"

namespace rapport {
namespace {

constexpr int kUsers = 10;
constexpr int kContactsPerUser = 1000;  // 10 000 contacts in all
constexpr size_t kContactBytes = 600;
constexpr size_t kInteractionBytes = 400;
constexpr int kReaders = 4;  // db::Options::read_connections' default
const char kOrg[] = "01hv6x3q0m9v7c2k5t8r4n6b1a";

// The tables as profiles and interactions create them (profiles_store.cc,
// interactions_store.cc, idempotency.cc, outbox.cc), trimmed to what the two
// operations touch.
const char kSchema[] = R"sql(
CREATE TABLE contacts (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  search TEXT NOT NULL,
  tier INTEGER NOT NULL,
  has_birthday INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (org_id, user_id, contact_id)
) WITHOUT ROWID;
CREATE TABLE interactions (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  interaction_id TEXT NOT NULL,
  occurred_us INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (org_id, user_id, interaction_id)
) WITHOUT ROWID;
CREATE INDEX interactions_by_time ON interactions (org_id, user_id, occurred_us, interaction_id);
CREATE TABLE ledger (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  given_milli INTEGER NOT NULL,
  count INTEGER NOT NULL,
  last_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, contact_id)
) WITHOUT ROWID;
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  org_id TEXT NOT NULL,
  type TEXT NOT NULL,
  data BLOB NOT NULL,
  created_us INTEGER NOT NULL,
  sent_us INTEGER
);
CREATE INDEX outbox_unsent ON outbox (sent_us, seq);
CREATE TABLE idempotency_keys (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  key TEXT NOT NULL,
  request_sha256 BLOB NOT NULL,
  response BLOB NOT NULL,
  create_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, key)
) WITHOUT ROWID;
)sql";

const char kGetContact[] = "SELECT data FROM contacts WHERE org_id = ? AND user_id = ? AND contact_id = ?";
const char kInsertContact[] =
    "INSERT INTO contacts (org_id, user_id, contact_id, display_name, search, tier, has_birthday, data) "
    "VALUES (?, ?, ?, ?, ?, 1, 0, ?)";
const char kLookupKey[] =
    "SELECT request_sha256, response, create_us FROM idempotency_keys "
    "WHERE org_id = ? AND user_id = ? AND key = ?";
const char kInsertInteraction[] =
    "INSERT INTO interactions (org_id, user_id, interaction_id, occurred_us, kind, data) VALUES (?, ?, ?, ?, ?, ?)";
const char kUpsertLedger[] =
    "INSERT INTO ledger (org_id, user_id, contact_id, given_milli, count, last_us) VALUES (?, ?, ?, ?, 1, ?) "
    "ON CONFLICT (org_id, user_id, contact_id) DO UPDATE SET given_milli = given_milli + excluded.given_milli, "
    "count = count + 1, last_us = excluded.last_us";
const char kInsertOutbox[] = "INSERT INTO outbox (event_id, org_id, type, data, created_us) VALUES (?, ?, ?, ?, ?)";
const char kRecordKey[] =
    "INSERT INTO idempotency_keys (org_id, user_id, key, request_sha256, response, create_us) "
    "VALUES (?, ?, ?, ?, ?, ?)";

std::string UserId(int u) { return absl::StrFormat("01hv6x3q0m9v7c2k5t8r4u%04d", u); }
std::string ContactId(int c) { return absl::StrFormat("01hv6x3q0m9v7c2k5t8%07d", c); }

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

std::string MakeBenchDir() {
  const char* base = getenv("RAPPORT_BENCH_DIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/rapport_soci_bench_XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return std::string();
  return pattern;
}

db::Options DbOptions(const std::string& path) {
  db::Options options;
  options.path = path;
  options.migrations = {kSchema};
  options.read_connections = kReaders;
  return options;
}

// The pragmas the SQLite driver sets on its writer (sqlite_driver.cc), so that
// a SOCI writer commits under the same rules; busy_timeout comes from the
// connect string. journal_mode=WAL is a property of the file, already set.
void SetWriterPragmas(soci::session& sql) {
  sql << "PRAGMA synchronous=FULL";
  sql << "PRAGMA foreign_keys=ON";
  sql << "PRAGMA cache_size=-65536";
  sql << "PRAGMA wal_autocheckpoint=4000";
}

// ---------------------------------------------------------------------------
// (a) GET contact
// ---------------------------------------------------------------------------

struct ContactKey {
  std::string user;
  std::string id;
};

// One database of 10 000 contacts for every read benchmark, made on first use
// and removed at exit.
struct ReadFixture {
  std::string dir;
  std::string path;
  std::unique_ptr<db::Database> db;
  std::vector<ContactKey> keys;  // random order
  std::string error;

  ReadFixture() {
    dir = MakeBenchDir();
    if (dir.empty()) {
      error = "mkdtemp failed";
      return;
    }
    path = dir + "/contacts.db";
    absl::StatusOr<std::unique_ptr<db::Database>> opened = db::Open(DbOptions(path));
    if (!opened.ok()) {
      error = opened.status().ToString();
      return;
    }
    db = std::move(opened).value();
    std::mt19937_64 rng(14);
    absl::Status status = db->Write([&](db::Connection& c) -> absl::Status {
      for (int u = 0; u < kUsers; ++u) {
        for (int i = 0; i < kContactsPerUser; ++i) {
          const std::string name = absl::StrCat("Contact ", i);
          RETURN_IF_ERROR(c.Prepare(kInsertContact)
                              .Bind(1, kOrg)
                              .Bind(2, UserId(u))
                              .Bind(3, ContactId(i))
                              .Bind(4, name)
                              .Bind(5, name)
                              .BindBlob(6, RandomBytes(rng, kContactBytes))
                              .Run());
        }
      }
      return absl::OkStatus();
    });
    if (!status.ok()) {
      error = status.ToString();
      return;
    }
    // Move the rows from the WAL into the database file, where a running
    // service's rows mostly are (db::Connection has no checkpoint call).
    try {
      soci::session sql(soci::sqlite3, absl::StrCat("db=", path, " timeout=5"));
      sql << "PRAGMA wal_checkpoint(TRUNCATE)";
    } catch (const std::exception& e) {
      error = e.what();
      return;
    }
    for (int u = 0; u < kUsers; ++u) {
      for (int i = 0; i < kContactsPerUser; ++i) keys.push_back(ContactKey{UserId(u), ContactId(i)});
    }
    std::shuffle(keys.begin(), keys.end(), rng);
  }
  ~ReadFixture() {
    db.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

ReadFixture& Contacts() {
  static ReadFixture* fixture = new ReadFixture();
  static struct Remover {
    ~Remover() { delete fixture; }
  } remover;
  return *fixture;
}

std::string SociReadConnect(const std::string& path) { return absl::StrCat("db=", path, " timeout=5 readonly=1"); }

// Ends a run whose work failed; the blob size check keeps the read from being
// optimized into nothing and catches a layer that returns the wrong row.
bool CheckContact(benchmark::State& state, bool found, size_t bytes) {
  if (found && bytes == kContactBytes) return true;
  state.SkipWithError(found ? "contact has the wrong size" : "contact not found");
  return false;
}

void BM_GetContact_Rapport(benchmark::State& state) {
  ReadFixture& f = Contacts();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  size_t next = 0;
  for (auto _ : state) {
    const ContactKey& key = f.keys[next++ % f.keys.size()];
    std::optional<std::string> data;
    absl::Status status = f.db->Read([&](db::Connection& c) -> absl::Status {
      db::Statement st = c.Prepare(kGetContact);
      st.Bind(1, kOrg).Bind(2, key.user).Bind(3, key.id);
      ASSIGN_OR_RETURN(data, db::ReadRow<std::string>(st, [](const db::Statement& row) { return row.ColumnBlob(0); }));
      return absl::OkStatus();
    });
    if (!status.ok()) return state.SkipWithError(status.ToString().c_str());
    if (!CheckContact(state, data.has_value(), data ? data->size() : 0)) return;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetContact_Rapport);

// Ends a reused statement that has just returned its row. SOCI's
// execute(true) steps a prepared statement once and leaves it there; on
// SQLite an unfinished statement keeps its read transaction open past COMMIT,
// so the next BEGIN on that session reads the same old snapshot (a stale
// read; shown in docs/benchmarks.md), and checkpoints cannot pass it. One
// more fetch() steps the statement to its end (the key is unique, so no
// second row can come and overwrite the first).
void DrainOne(soci::statement& st) {
  if (st.fetch()) throw std::logic_error("a point read returned two rows");
}

// Statements of one SOCI session for the point read, bound once to the
// variables they read from and write to.
struct SociContactReader {
  explicit SociContactReader(soci::session& s)
      : sql(s),
        begin(sql.prepare << "BEGIN"),
        commit(sql.prepare << "COMMIT"),
        get((sql.prepare << kGetContact, soci::into(data), soci::use(org), soci::use(user), soci::use(id))) {}
  // Reads the row of (user, id) into data; false when there is none.
  bool Get() {
    if (!get.execute(true)) return false;
    DrainOne(get);
    return true;
  }

  soci::session& sql;
  std::string org = kOrg;
  std::string user;
  std::string id;
  std::string data;
  soci::statement begin;
  soci::statement commit;
  soci::statement get;
};

void BM_GetContact_SociPrepared(benchmark::State& state) {
  ReadFixture& f = Contacts();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  try {
    soci::session sql(soci::sqlite3, SociReadConnect(f.path));
    SociContactReader r(sql);
    size_t next = 0;
    for (auto _ : state) {
      const ContactKey& key = f.keys[next++ % f.keys.size()];
      r.user = key.user;
      r.id = key.id;
      r.begin.execute(true);
      const bool found = r.Get();
      r.commit.execute(true);
      if (!CheckContact(state, found, r.data.size())) return;
    }
  } catch (const std::exception& e) {
    return state.SkipWithError(e.what());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetContact_SociPrepared);

void BM_GetContact_SociPreparedTxn(benchmark::State& state) {
  ReadFixture& f = Contacts();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  try {
    soci::session sql(soci::sqlite3, SociReadConnect(f.path));
    SociContactReader r(sql);
    size_t next = 0;
    for (auto _ : state) {
      const ContactKey& key = f.keys[next++ % f.keys.size()];
      r.user = key.user;
      r.id = key.id;
      soci::transaction tr(sql);
      const bool found = r.Get();
      tr.commit();
      if (!CheckContact(state, found, r.data.size())) return;
    }
  } catch (const std::exception& e) {
    return state.SkipWithError(e.what());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetContact_SociPreparedTxn);

// For reference only, because it is wrong: SociPrepared without DrainOne,
// the way SOCI's documentation shows a reused statement. Every read after the
// first sees the first one's snapshot, so it skips the per-transaction WAL
// locking that the correct variants pay, and looks faster for that.
void BM_GetContact_SociPreparedStale(benchmark::State& state) {
  ReadFixture& f = Contacts();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  try {
    soci::session sql(soci::sqlite3, SociReadConnect(f.path));
    SociContactReader r(sql);
    size_t next = 0;
    for (auto _ : state) {
      const ContactKey& key = f.keys[next++ % f.keys.size()];
      r.user = key.user;
      r.id = key.id;
      r.begin.execute(true);
      const bool found = r.get.execute(true);
      r.commit.execute(true);
      if (!CheckContact(state, found, r.data.size())) return;
    }
  } catch (const std::exception& e) {
    return state.SkipWithError(e.what());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetContact_SociPreparedStale);

// into(soci::blob), SOCI's type for a BLOB column, then out into a string
// as the store needs it.
void BM_GetContact_SociPreparedBlob(benchmark::State& state) {
  ReadFixture& f = Contacts();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  try {
    soci::session sql(soci::sqlite3, SociReadConnect(f.path));
    const std::string org = kOrg;
    std::string user, id, data;
    soci::blob blob(sql);
    soci::statement begin = (sql.prepare << "BEGIN");
    soci::statement commit = (sql.prepare << "COMMIT");
    soci::statement get =
        (sql.prepare << kGetContact, soci::into(blob), soci::use(org), soci::use(user), soci::use(id));
    size_t next = 0;
    for (auto _ : state) {
      const ContactKey& key = f.keys[next++ % f.keys.size()];
      user = key.user;
      id = key.id;
      begin.execute(true);
      const bool found = get.execute(true);
      if (found) DrainOne(get);
      commit.execute(true);
      if (found) {
        data.resize(blob.get_len());
        blob.read(0, data.data(), data.size());
      }
      if (!CheckContact(state, found, data.size())) return;
    }
  } catch (const std::exception& e) {
    return state.SkipWithError(e.what());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetContact_SociPreparedBlob);

void BM_GetContact_SociPool(benchmark::State& state) {
  ReadFixture& f = Contacts();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  try {
    soci::connection_pool pool(kReaders);
    std::vector<std::unique_ptr<SociContactReader>> readers;
    for (int i = 0; i < kReaders; ++i) {
      pool.at(i).open(soci::sqlite3, SociReadConnect(f.path));
      readers.push_back(std::make_unique<SociContactReader>(pool.at(i)));
    }
    size_t next = 0;
    for (auto _ : state) {
      const ContactKey& key = f.keys[next++ % f.keys.size()];
      const size_t slot = pool.lease();
      SociContactReader& r = *readers[slot];
      r.user = key.user;
      r.id = key.id;
      bool found = false;
      try {
        r.begin.execute(true);
        found = r.Get();
        r.commit.execute(true);
      } catch (...) {
        pool.give_back(slot);
        throw;
      }
      const size_t bytes = r.data.size();
      pool.give_back(slot);
      if (!CheckContact(state, found, bytes)) return;
    }
  } catch (const std::exception& e) {
    return state.SkipWithError(e.what());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetContact_SociPool);

void BM_GetContact_SociNaive(benchmark::State& state) {
  ReadFixture& f = Contacts();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  try {
    soci::session sql(soci::sqlite3, SociReadConnect(f.path));
    const std::string org = kOrg;
    std::string data;
    size_t next = 0;
    for (auto _ : state) {
      const ContactKey& key = f.keys[next++ % f.keys.size()];
      soci::transaction tr(sql);
      sql << kGetContact, soci::into(data), soci::use(org), soci::use(key.user), soci::use(key.id);
      const bool found = sql.got_data();
      tr.commit();
      if (!CheckContact(state, found, data.size())) return;
    }
  } catch (const std::exception& e) {
    return state.SkipWithError(e.what());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetContact_SociNaive);

// ---------------------------------------------------------------------------
// (b) create interaction
// ---------------------------------------------------------------------------

// CPU time of the whole process (every thread, so our writer thread's work
// counts), in seconds: user, and user + system (each fsync's kernel time).
struct ProcessCpu {
  double user = 0;
  double total = 0;
};
ProcessCpu ProcessCpuNow() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return ProcessCpu{seconds(usage.ru_utime), seconds(usage.ru_utime) + seconds(usage.ru_stime)};
}

// With one thread the wall time is mostly the disk's fsync, noisy on a shared
// machine; the CPU per create interaction compares the layers' own work
// (ours is split between the caller and the writer thread, which the
// benchmark's own CPU column does not see). user_cpu_us leaves out the
// kernel's share (writing and syncing the WAL), the same for both layers.
class ProcessCpuCounter {
 public:
  explicit ProcessCpuCounter(const benchmark::State& state)
      : single_(state.threads() == 1), start_(single_ ? ProcessCpuNow() : ProcessCpu{}) {}
  void Report(benchmark::State& state) const {
    if (!single_ || state.iterations() == 0) return;
    const ProcessCpu end = ProcessCpuNow();
    const double n = static_cast<double>(state.iterations());
    state.counters["process_cpu_us"] = (end.total - start_.total) * 1e6 / n;
    state.counters["user_cpu_us"] = (end.user - start_.user) * 1e6 / n;
  }

 private:
  bool single_;
  ProcessCpu start_;
};

// One fresh database per write run (Setup/Teardown run once, outside the
// threads). Our layer keeps it open in write_db; a SOCI run opens its own
// sessions on write_path.
std::string write_dir;
std::string write_path;
std::unique_ptr<db::Database> write_db;
std::atomic<bool> write_setup_failed{false};

// A fresh WAL grows with every commit, and syncing a growing file costs
// several times an overwrite (services/common/db_bench.cc, BM_Fdatasync). A
// running service's WAL has long since wrapped after a checkpoint, so measure
// that: one commit larger than the 4000-page auto-checkpoint, after which the
// WAL restarts from its beginning and later commits overwrite it.
const char kWrapWal[] =
    "INSERT INTO outbox (event_id, org_id, type, data, created_us) VALUES ('wrap', '', '', zeroblob(24 * 1024 * 1024), "
    "0)";
const char kUnwrapWal[] = "DELETE FROM outbox WHERE event_id = 'wrap'";

void OpenWriteDb(bool keep_open) {
  write_setup_failed = true;
  write_dir = MakeBenchDir();
  if (write_dir.empty()) return;
  write_path = write_dir + "/interactions.db";
  absl::StatusOr<std::unique_ptr<db::Database>> opened = db::Open(DbOptions(write_path));
  if (!opened.ok()) return;
  write_db = std::move(opened).value();
  if (keep_open) {
    absl::Status status = write_db->Write([](db::Connection& c) { return c.Prepare(kWrapWal).Run(); });
    if (status.ok()) status = write_db->Write([](db::Connection& c) { return c.Prepare(kUnwrapWal).Run(); });
    if (!status.ok()) return;
  } else {
    write_db.reset();  // the schema is in place; SOCI takes over the file
  }
  write_setup_failed = false;
}

void SetupRapport(const benchmark::State&) { OpenWriteDb(true); }
void SetupSoci(const benchmark::State&) { OpenWriteDb(false); }
void TeardownWrite(const benchmark::State&) {
  write_db.reset();
  if (!write_dir.empty()) std::filesystem::remove_all(write_dir);
  write_dir.clear();
}

// The values of one create interaction; every thread makes its own, with keys
// that never collide across threads or runs.
struct Interaction {
  std::string org = kOrg;
  std::string user;
  std::string interaction_id;
  std::string contact_id;
  std::string idempotency_key;
  std::string event_id;
  std::string event_type = "interaction.created";
  long long occurred_us = 0;
  long long kind = 1;
  long long given_milli = 0;
  long long now_us = 0;
  std::string data;          // the Interaction message, ~400 B
  std::string event;         // the outbox Event, ~450 B
  std::string request_hash;  // 32 B
};

class InteractionMaker {
 public:
  explicit InteractionMaker(int thread) : thread_(thread), rng_(1400 + thread) {
    v_.data = RandomBytes(rng_, kInteractionBytes);
    v_.event = RandomBytes(rng_, kInteractionBytes + 50);
    v_.request_hash = RandomBytes(rng_, 32);
  }
  Interaction& Next() {
    ++n_;
    static std::atomic<int64_t> run{0};
    if (n_ == 1) run_ = run.fetch_add(1);
    v_.user = UserId(static_cast<int>(rng_() % kUsers));
    v_.contact_id = ContactId(static_cast<int>(rng_() % kContactsPerUser));
    v_.interaction_id = absl::StrFormat("i%06d%03d%016d", run_, thread_, n_);
    v_.idempotency_key = absl::StrFormat("k%06d%03d%016d", run_, thread_, n_);
    v_.event_id = absl::StrFormat("e%06d%03d%016d", run_, thread_, n_);
    v_.occurred_us = 1700000000000000LL + n_;
    v_.now_us = v_.occurred_us;
    v_.given_milli = static_cast<long long>(rng_() % 5000);
    v_.data[0] = static_cast<char>(n_);  // a different row each time
    return v_;
  }

 private:
  int thread_;
  std::mt19937_64 rng_;
  int64_t n_ = 0;
  int64_t run_ = 0;
  Interaction v_;
};

absl::Status CreateInteraction(db::Connection& c, const Interaction& v) {
  {
    db::Statement lookup = c.Prepare(kLookupKey);
    lookup.Bind(1, v.org).Bind(2, v.user).Bind(3, v.idempotency_key);
    ASSIGN_OR_RETURN(bool seen, lookup.Step());
    if (seen) return absl::AlreadyExistsError("idempotency key seen");
  }
  RETURN_IF_ERROR(c.Prepare(kInsertInteraction)
                      .Bind(1, v.org)
                      .Bind(2, v.user)
                      .Bind(3, v.interaction_id)
                      .Bind(4, static_cast<int64_t>(v.occurred_us))
                      .Bind(5, static_cast<int64_t>(v.kind))
                      .BindBlob(6, v.data)
                      .Run());
  RETURN_IF_ERROR(c.Prepare(kUpsertLedger)
                      .Bind(1, v.org)
                      .Bind(2, v.user)
                      .Bind(3, v.contact_id)
                      .Bind(4, static_cast<int64_t>(v.given_milli))
                      .Bind(5, static_cast<int64_t>(v.occurred_us))
                      .Run());
  RETURN_IF_ERROR(c.Prepare(kInsertOutbox)
                      .Bind(1, v.event_id)
                      .Bind(2, v.org)
                      .Bind(3, v.event_type)
                      .BindBlob(4, v.event)
                      .Bind(5, static_cast<int64_t>(v.now_us))
                      .Run());
  return c.Prepare(kRecordKey)
      .Bind(1, v.org)
      .Bind(2, v.user)
      .Bind(3, v.idempotency_key)
      .BindBlob(4, v.request_hash)
      .BindBlob(5, v.data)
      .Bind(6, static_cast<int64_t>(v.now_us))
      .Run();
}

void BM_CreateInteraction_Rapport(benchmark::State& state) {
  if (write_setup_failed || write_db == nullptr) return state.SkipWithError("write database setup failed");
  InteractionMaker maker(state.thread_index());
  const int64_t batches_before = write_db->batches_committed();
  const int64_t transactions_before = write_db->transactions_committed();
  const ProcessCpuCounter cpu(state);
  for (auto _ : state) {
    const Interaction& v = maker.Next();
    absl::Status status = write_db->Write([&v](db::Connection& c) { return CreateInteraction(c, v); });
    if (!status.ok()) return state.SkipWithError(status.ToString().c_str());
  }
  cpu.Report(state);
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    const int64_t batches = write_db->batches_committed() - batches_before;
    const int64_t transactions = write_db->transactions_committed() - transactions_before;
    if (batches > 0) state.counters["writes_per_commit"] = static_cast<double>(transactions) / batches;
  }
}
BENCHMARK(BM_CreateInteraction_Rapport)
    ->Setup(SetupRapport)
    ->Teardown(TeardownWrite)
    ->UseRealTime()
    ->Threads(1)
    ->Threads(32);

// One SOCI writer session with the five statements prepared once. Blob
// parameters go through soci::blob (a std::string would bind as TEXT here
// and as text on PostgreSQL too, wrong for bytea).
struct SociInteractionWriter {
  // savepoint: also wrap the work in SAVEPOINT ... RELEASE, as our writer
  // wraps each write transaction of a group-committed batch (so that a
  // failing one is undone alone); a SOCI-based layer with group commit would
  // run exactly this.
  SociInteractionWriter(soci::session& s, bool savepoint)
      : sql(s),
        use_savepoint(savepoint),
        data_blob(sql),
        event_blob(sql),
        hash_blob(sql),
        response_blob(sql),
        // BEGIN IMMEDIATE, as our writer does: with several writer sessions a
        // deferred BEGIN would fail with SQLITE_BUSY when the idempotency
        // lookup's read snapshot tries to become a write.
        begin(sql.prepare << "BEGIN IMMEDIATE"),
        commit(sql.prepare << "COMMIT"),
        savepoint(sql.prepare << "SAVEPOINT rapport_write"),
        release(sql.prepare << "RELEASE rapport_write"),
        lookup((sql.prepare << kLookupKey, soci::into(seen_hash), soci::into(seen_response), soci::into(seen_us),
                soci::use(v.org), soci::use(v.user), soci::use(v.idempotency_key))),
        insert_interaction((sql.prepare << kInsertInteraction, soci::use(v.org), soci::use(v.user),
                            soci::use(v.interaction_id), soci::use(v.occurred_us), soci::use(v.kind),
                            soci::use(data_blob))),
        upsert_ledger((sql.prepare << kUpsertLedger, soci::use(v.org), soci::use(v.user), soci::use(v.contact_id),
                       soci::use(v.given_milli), soci::use(v.occurred_us))),
        insert_outbox((sql.prepare << kInsertOutbox, soci::use(v.event_id), soci::use(v.org), soci::use(v.event_type),
                       soci::use(event_blob), soci::use(v.now_us))),
        record_key((sql.prepare << kRecordKey, soci::use(v.org), soci::use(v.user), soci::use(v.idempotency_key),
                    soci::use(hash_blob), soci::use(response_blob), soci::use(v.now_us))) {}

  // Copies the values in (the statements are bound to v and the blobs) and
  // runs the transaction; false when the key had been seen.
  bool Run(const Interaction& in) {
    v = in;
    data_blob.write(0, v.data.data(), v.data.size());
    event_blob.write(0, v.event.data(), v.event.size());
    hash_blob.write(0, v.request_hash.data(), v.request_hash.size());
    response_blob.write(0, v.data.data(), v.data.size());
    begin.execute(true);
    try {
      if (use_savepoint) savepoint.execute(true);
      if (lookup.execute(true)) {
        DrainOne(lookup);
        sql << "ROLLBACK";
        return false;
      }
      insert_interaction.execute(true);
      upsert_ledger.execute(true);
      insert_outbox.execute(true);
      record_key.execute(true);
      if (use_savepoint) release.execute(true);
      commit.execute(true);
    } catch (...) {
      sql << "ROLLBACK";
      throw;
    }
    return true;
  }

  soci::session& sql;
  bool use_savepoint;
  Interaction v;
  std::string seen_hash;
  std::string seen_response;
  long long seen_us = 0;
  soci::blob data_blob;
  soci::blob event_blob;
  soci::blob hash_blob;
  soci::blob response_blob;
  soci::statement begin;
  soci::statement commit;
  soci::statement savepoint;
  soci::statement release;
  soci::statement lookup;
  soci::statement insert_interaction;
  soci::statement upsert_ledger;
  soci::statement insert_outbox;
  soci::statement record_key;
};

std::string SociWriteConnect() {
  // 60 s: 32 sessions queue for SQLite's one write lock, each holding it for
  // an fsync, and SQLite's busy handler polls with sleeps up to 100 ms.
  return absl::StrCat("db=", write_path, " timeout=60");
}

// Runs the wrap once per run, on the first thread's session (the others wait
// at the timed loop's start barrier).
void WrapWalOnce(benchmark::State& state, soci::session& sql) {
  if (state.thread_index() != 0) return;
  sql << kWrapWal;
  sql << kUnwrapWal;
}

void RunSociWriter(benchmark::State& state, bool savepoint) {
  if (write_setup_failed) return state.SkipWithError("write database setup failed");
  try {
    soci::session sql(soci::sqlite3, SociWriteConnect());
    SetWriterPragmas(sql);
    WrapWalOnce(state, sql);
    SociInteractionWriter writer(sql, savepoint);
    InteractionMaker maker(state.thread_index());
    const ProcessCpuCounter cpu(state);
    for (auto _ : state) {
      if (!writer.Run(maker.Next())) return state.SkipWithError("idempotency key seen");
    }
    cpu.Report(state);
  } catch (const std::exception& e) {
    return state.SkipWithError(e.what());
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_CreateInteraction_SociPrepared(benchmark::State& state) { RunSociWriter(state, false); }
BENCHMARK(BM_CreateInteraction_SociPrepared)
    ->Setup(SetupSoci)
    ->Teardown(TeardownWrite)
    ->UseRealTime()
    ->Threads(1)
    ->Threads(32);

void BM_CreateInteraction_SociSavepoint(benchmark::State& state) { RunSociWriter(state, true); }
BENCHMARK(BM_CreateInteraction_SociSavepoint)->Setup(SetupSoci)->Teardown(TeardownWrite)->UseRealTime()->Threads(1);

void BM_CreateInteraction_SociNaive(benchmark::State& state) {
  if (write_setup_failed) return state.SkipWithError("write database setup failed");
  try {
    soci::session sql(soci::sqlite3, SociWriteConnect());
    SetWriterPragmas(sql);
    WrapWalOnce(state, sql);
    InteractionMaker maker(state.thread_index());
    std::string seen_hash, seen_response;
    long long seen_us = 0;
    const ProcessCpuCounter cpu(state);
    for (auto _ : state) {
      const Interaction& v = maker.Next();
      soci::blob data_blob(sql), event_blob(sql), hash_blob(sql), response_blob(sql);
      data_blob.write(0, v.data.data(), v.data.size());
      event_blob.write(0, v.event.data(), v.event.size());
      hash_blob.write(0, v.request_hash.data(), v.request_hash.size());
      response_blob.write(0, v.data.data(), v.data.size());
      soci::transaction tr(sql);
      sql << kLookupKey, soci::into(seen_hash), soci::into(seen_response), soci::into(seen_us), soci::use(v.org),
          soci::use(v.user), soci::use(v.idempotency_key);
      if (sql.got_data()) return state.SkipWithError("idempotency key seen");
      sql << kInsertInteraction, soci::use(v.org), soci::use(v.user), soci::use(v.interaction_id),
          soci::use(v.occurred_us), soci::use(v.kind), soci::use(data_blob);
      sql << kUpsertLedger, soci::use(v.org), soci::use(v.user), soci::use(v.contact_id), soci::use(v.given_milli),
          soci::use(v.occurred_us);
      sql << kInsertOutbox, soci::use(v.event_id), soci::use(v.org), soci::use(v.event_type), soci::use(event_blob),
          soci::use(v.now_us);
      sql << kRecordKey, soci::use(v.org), soci::use(v.user), soci::use(v.idempotency_key), soci::use(hash_blob),
          soci::use(response_blob), soci::use(v.now_us);
      tr.commit();
    }
    cpu.Report(state);
  } catch (const std::exception& e) {
    return state.SkipWithError(e.what());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CreateInteraction_SociNaive)->Setup(SetupSoci)->Teardown(TeardownWrite)->UseRealTime()->Threads(1);

}  // namespace
}  // namespace rapport

BENCHMARK_MAIN();
