#include "services/common/sqlite_driver.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/connection_pool.h"
#include "services/common/log.h"
#include "services/common/status.h"

namespace rapport::db {

namespace {

// Debian's Abseil has its own string_view type, which does not convert from
// std::string_view implicitly.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status StatusFromCode(int code, std::string message) {
  switch (code) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_ROWID:
      return absl::AlreadyExistsError(message);
    default:
      break;
  }
  switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
      return absl::FailedPreconditionError(message);
    case SQLITE_BUSY:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

// SQLite ignores trailing whitespace after a statement but keeps it in
// sqlite3_sql() when there is no semicolon; cache keys compare without it.
std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r' || s.back() == '\f')) {
    s.remove_suffix(1);
  }
  return s;
}

// Write transactions run inside the batch's transaction, so one that ran
// COMMIT or ROLLBACK would commit or discard its batch mates' work. The writer
// connection refuses to prepare such statements while a write fn (or a
// migration) runs; savepoints stay allowed.
int AuthorizeWriter(void* in_user_code, int action, const char*, const char*, const char*, const char*) {
  if (action == SQLITE_TRANSACTION && *static_cast<const bool*>(in_user_code)) return SQLITE_DENY;
  return SQLITE_OK;
}

absl::StatusOr<sqlite3*> OpenHandle(const Options& options, int flags) {
  sqlite3* db = nullptr;
  // Each connection is used by one thread at a time, handed over under a
  // mutex, so SQLite's per-connection mutex would only cost time.
  int rc = sqlite3_open_v2(options.path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = StatusFromCode(
        rc, absl::StrCat("open ", options.path, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close(db);
    return status;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  return db;
}

class SqliteConnection;

// A statement of one SQLite connection. The connection's cache holds idle
// statements only: Prepare takes one out and Release puts it back, so two
// live Statements never share a sqlite3_stmt.
class SqliteStatement final : public StatementImpl {
 public:
  SqliteStatement(SqliteConnection* conn, sqlite3_stmt* stmt) : conn_(conn), stmt_(stmt) {}
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }

  absl::Status BindInt(int index, int64_t value) override {
    return Check(sqlite3_bind_int64(stmt_, index, value), index);
  }
  absl::Status BindDouble(int index, double value) override {
    return Check(sqlite3_bind_double(stmt_, index, value), index);
  }
  absl::Status BindText(int index, std::string_view text) override {
    // A null pointer would bind NULL; an empty string is not NULL.
    const char* data = text.empty() ? "" : text.data();
    return Check(sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8), index);
  }
  absl::Status BindBlob(int index, std::string_view bytes) override {
    // Same as above: a null pointer would bind NULL, not an empty blob.
    return Check(bytes.empty() ? sqlite3_bind_zeroblob(stmt_, index, 0)
                               : sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT),
                 index);
  }
  absl::Status BindNull(int index) override { return Check(sqlite3_bind_null(stmt_, index), index); }
  absl::StatusOr<bool> Step() override;
  int64_t ColumnInt(int col) const override { return sqlite3_column_int64(stmt_, col); }
  double ColumnDouble(int col) const override { return sqlite3_column_double(stmt_, col); }
  std::string ColumnText(int col) const override {
    // The pointer first, then the size: sqlite3_column_bytes refers to the
    // representation the previous call produced.
    const unsigned char* text = sqlite3_column_text(stmt_, col);
    if (text == nullptr) return std::string();
    return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  std::string ColumnBlob(int col) const override {
    const void* blob = sqlite3_column_blob(stmt_, col);
    if (blob == nullptr) return std::string();
    return std::string(static_cast<const char*>(blob), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  bool ColumnIsNull(int col) const override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  void Release() override;

  std::string_view sql() const { return TrimRight(sqlite3_sql(stmt_)); }

 private:
  absl::Status Check(int rc, int index);
  SqliteConnection* conn_;
  sqlite3_stmt* stmt_;
};

// One open SQLite connection; prepared statements are cached by SQL text.
class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override {
    cache_.clear();
    sqlite3_close_v2(db_);
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Statement Prepare(std::string_view sql) override;
  absl::Status Exec(std::string_view sql) override;
  int64_t Changes() const override { return sqlite3_changes64(db_); }

  absl::Status Error(std::string_view what) const {
    return StatusFromCode(sqlite3_extended_errcode(db_), absl::StrCat(Av(what), ": ", sqlite3_errmsg(db_)));
  }
  sqlite3* raw() { return db_; }
  // Takes back a statement Prepare lent out (already reset).
  void Return(SqliteStatement* stmt) {
    for (auto& owned : live_) {
      if (owned.get() == stmt) {
        cache_.push_back(std::move(owned));
        owned = std::move(live_.back());
        live_.pop_back();
        return;
      }
    }
  }

 private:
  sqlite3* db_;
  std::vector<std::unique_ptr<SqliteStatement>> cache_;  // idle
  std::vector<std::unique_ptr<SqliteStatement>> live_;   // lent out
};

absl::StatusOr<std::string> QueryText(Connection& conn, std::string_view sql) {
  Statement stmt = conn.Prepare(sql);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError(absl::StrCat("no row from [", Av(sql), "]"));
  return stmt.ColumnText(0);
}

// Applies the first pending migration, if any, inside the caller's
// transaction; *done is set when none was pending. The version is read inside
// the (IMMEDIATE) transaction so two processes opening the same file cannot
// both apply one migration.
absl::Status ApplyNextMigration(SqliteConnection& conn, const std::vector<std::string>& migrations, bool* in_user_code,
                                bool* done) {
  Statement max = conn.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  ASSIGN_OR_RETURN(bool row, max.Step());
  if (!row) return absl::InternalError("no row from MAX(version)");
  const int64_t applied = max.ColumnInt(0);
  const int64_t known = static_cast<int64_t>(migrations.size());
  if (applied > known) {
    // An older binary must not write to a schema it does not know.
    return absl::FailedPreconditionError(
        absl::StrCat("database schema is at version ", applied, " but only ", known, " migrations are known"));
  }
  if (applied == known) {
    *done = true;
    return absl::OkStatus();
  }
  const int64_t version = applied + 1;
  *in_user_code = true;
  absl::Status status = conn.Exec(migrations[version - 1]);
  *in_user_code = false;
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat("migration ", version, ": ", status.message()));
  }
  return conn.Prepare("INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)")
      .Bind(1, version)
      .Bind(2, absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()))
      .Run();
}

absl::Status Migrate(SqliteConnection& conn, const std::vector<std::string>& migrations, bool* in_user_code) {
  RETURN_IF_ERROR(
      conn.Exec("CREATE TABLE IF NOT EXISTS schema_migrations("
                "version INTEGER PRIMARY KEY, applied_at TEXT)"));
  for (bool done = false; !done;) {
    RETURN_IF_ERROR(conn.Exec("BEGIN IMMEDIATE"));
    absl::Status status = ApplyNextMigration(conn, migrations, in_user_code, &done);
    if (status.ok()) status = conn.Exec("COMMIT");
    if (!status.ok()) {
      if (!sqlite3_get_autocommit(conn.raw())) conn.Exec("ROLLBACK").IgnoreError();
      return status;
    }
  }
  return absl::OkStatus();
}

// Which Database's writer thread this is, if any: Write() called from a done
// callback must not wait for the thread it runs on.
thread_local const void* current_writer = nullptr;

// ---------------------------------------------------------------------------
// Statement and connection

absl::Status SqliteStatement::Check(int rc, int index) {
  if (rc == SQLITE_OK) return absl::OkStatus();
  return conn_->Error(absl::StrCat("bind ", index, " [", sqlite3_sql(stmt_), "]"));
}

absl::StatusOr<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return conn_->Error(absl::StrCat("step [", sqlite3_sql(stmt_), "]"));
}

void SqliteStatement::Release() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  conn_->Return(this);
}

Statement SqliteConnection::Prepare(std::string_view sql) {
  const std::string_view key = TrimRight(sql);
  for (size_t i = 0; i < cache_.size(); ++i) {
    if (cache_[i]->sql() == key) {
      live_.push_back(std::move(cache_[i]));
      cache_[i] = std::move(cache_.back());
      cache_.pop_back();
      return Statement(live_.back().get());
    }
  }
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) return Statement(Error(absl::StrCat("prepare [", Av(sql), "]")));
  if (stmt == nullptr) return Statement(absl::InvalidArgumentError(absl::StrCat("no statement in [", Av(sql), "]")));
  // Anything after the first statement would be silently ignored (and would
  // defeat the cache key); scripts go through Exec.
  const std::string_view rest = sql.substr(static_cast<size_t>(tail - sql.data()));
  if (!TrimRight(rest).empty()) {
    sqlite3_finalize(stmt);
    return Statement(
        absl::InvalidArgumentError(absl::StrCat("Prepare takes one statement; text follows it in [", Av(sql), "]")));
  }
  live_.push_back(std::make_unique<SqliteStatement>(this, stmt));
  return Statement(live_.back().get());
}

absl::Status SqliteConnection::Exec(std::string_view sql) {
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return Error(absl::StrCat("exec [", text, "]"));
  }
  return absl::OkStatus();
}

}  // namespace

sqlite3* RawSqliteHandle(Connection& conn) { return static_cast<SqliteConnection&>(conn).raw(); }

namespace {

// ---------------------------------------------------------------------------
// Database

class SqliteDatabase final : public Database {
 public:
  struct Item {
    Fn fn;
    Done done;
  };

  explicit SqliteDatabase(Options opts) : options(std::move(opts)) {}
  ~SqliteDatabase() override;

  absl::Status Read(const Fn& fn) override;
  void WriteAsync(Fn fn, Done done) override;
  absl::Status Write(Fn fn) override;
  Dialect dialect() const override { return Dialect::kSqlite; }
  int64_t batches_committed() const override { return batches.load(std::memory_order_relaxed); }
  int64_t transactions_committed() const override { return transactions.load(std::memory_order_relaxed); }

  void RunWriter();
  void CommitBatch(std::vector<Item>& batch);
  // Runs fn in a savepoint of the open batch transaction and returns its
  // outcome; sets *abandoned when that transaction no longer exists.
  absl::Status RunInSavepoint(const Fn& fn, bool* abandoned);
  absl::Status WriteOnWriterThread(Fn fn);
  absl::Status ReadOn(SqliteConnection& conn, const Fn& fn);

  Options options;
  // Declared first so it is closed last, after the readers: the last
  // connection to close checkpoints the WAL.
  std::unique_ptr<SqliteConnection> writer;
  std::vector<std::unique_ptr<SqliteConnection>> readers;

  ConnectionPool<SqliteConnection> idle_readers;

  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<Item> queue;
  bool closing = false;

  // True while user code (a write fn or a migration) runs on the writer
  // connection; read by AuthorizeWriter. Touched only by the thread that owns
  // the writer connection.
  bool in_user_code = false;

  std::atomic<int64_t> batches{0};
  std::atomic<int64_t> transactions{0};

  std::thread writer_thread;
};

void SqliteDatabase::RunWriter() {
  current_writer = this;
  std::vector<Item> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mu);
      queue_cv.wait(lock, [this] { return closing || !queue.empty(); });
      if (queue.empty()) return;  // closing, and everything queued is done
      const size_t n = std::min(queue.size(), static_cast<size_t>(options.max_batch));
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    CommitBatch(batch);
    batch.clear();
  }
}

void SqliteDatabase::CommitBatch(std::vector<Item>& batch) {
  // A batch that holds the writer this long delays every write queued
  // behind it (timer claims, deliveries, API calls): say which part was slow.
  constexpr absl::Duration kSlowBatch = absl::Milliseconds(250);
  const absl::Time started = absl::Now();
  absl::Duration slowest_write;
  std::vector<absl::Status> results(batch.size());
  std::vector<size_t> in_transaction;  // items whose changes the open transaction holds
  bool open = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!open) {
      absl::Status begin = writer->Prepare("BEGIN IMMEDIATE").Run();
      if (!begin.ok()) {
        // busy_timeout has already been waited out; waiting again for each
        // remaining item would only multiply the delay.
        for (size_t j = i; j < batch.size(); ++j) results[j] = begin;
        break;
      }
      open = true;
    }
    bool abandoned = false;
    const absl::Time write_started = absl::Now();
    results[i] = RunInSavepoint(batch[i].fn, &abandoned);
    slowest_write = std::max(slowest_write, absl::Now() - write_started);
    if (abandoned) {
      // The whole transaction is gone: SQLite may roll it back itself on
      // IOERR/FULL/NOMEM, and RunInSavepoint does when it cannot undo one
      // item alone. Its batch mates were sound; they may retry.
      open = false;
      absl::Status aborted = absl::AbortedError(
          absl::StrCat("write batch rolled back: ", results[i].ok() ? "a transaction ended it" : results[i].message()));
      for (size_t j : in_transaction) results[j] = aborted;
      in_transaction.clear();
      if (results[i].ok()) results[i] = aborted;
    } else if (results[i].ok()) {
      in_transaction.push_back(i);
    }
  }
  const absl::Time commit_started = absl::Now();
  if (open) {
    absl::Status commit = writer->Prepare("COMMIT").Run();
    if (!commit.ok()) {
      if (!sqlite3_get_autocommit(writer->raw())) writer->Prepare("ROLLBACK").Run().IgnoreError();
      for (size_t j : in_transaction) results[j] = commit;
    } else if (!in_transaction.empty()) {
      batches.fetch_add(1, std::memory_order_relaxed);
      transactions.fetch_add(static_cast<int64_t>(in_transaction.size()), std::memory_order_relaxed);
    }
  }
  const absl::Time finished = absl::Now();
  if (finished - started >= kSlowBatch) {
    log::Warn("slow write batch", {{"db", options.path},
                                   {"writes", absl::StrCat(batch.size())},
                                   {"ms", absl::StrCat(absl::ToInt64Milliseconds(finished - started))},
                                   {"slowest_write_ms", absl::StrCat(absl::ToInt64Milliseconds(slowest_write))},
                                   {"commit_ms", absl::StrCat(absl::ToInt64Milliseconds(finished - commit_started))}});
  }
  for (size_t i = 0; i < batch.size(); ++i) CallDone(batch[i].done, std::move(results[i]));
}

absl::Status SqliteDatabase::RunInSavepoint(const Fn& fn, bool* abandoned) {
  RETURN_IF_ERROR(writer->Prepare("SAVEPOINT rapport_write").Run());
  in_user_code = true;
  absl::Status status = CallFn(fn, *writer);
  in_user_code = false;
  if (sqlite3_get_autocommit(writer->raw())) {
    *abandoned = true;
    return status;
  }
  if (status.ok()) {
    status = writer->Prepare("RELEASE rapport_write").Run();
    if (status.ok()) return status;
  }
  absl::Status undo = writer->Prepare("ROLLBACK TO rapport_write").Run();
  if (undo.ok()) undo = writer->Prepare("RELEASE rapport_write").Run();
  if (!undo.ok()) {
    // fn's partial changes must never commit: give up the whole transaction.
    // Should even ROLLBACK fail, the next BEGIN fails too, so nothing of it
    // can commit later either.
    log::Error("sqlite writer could not undo a failed write transaction", {{"error", std::string(undo.message())}});
    writer->Prepare("ROLLBACK").Run().IgnoreError();
    *abandoned = true;
  }
  return status;
}

absl::Status SqliteDatabase::WriteOnWriterThread(Fn fn) {
  if (in_user_code) {
    return absl::FailedPreconditionError(
        "Write called inside a write transaction would wait for itself; use WriteAsync");
  }
  {
    std::lock_guard<std::mutex> lock(queue_mu);
    if (closing) return absl::UnavailableError("database is closing");
  }
  // Called from a done callback: the batch is committed and the writer
  // connection idle, so this write can commit as a batch of its own now.
  absl::Status result;
  std::vector<Item> one;
  one.push_back(Item{std::move(fn), [&result](absl::Status s) { result = std::move(s); }});
  CommitBatch(one);
  return result;
}

absl::Status SqliteDatabase::ReadOn(SqliteConnection& conn, const Fn& fn) {
  RETURN_IF_ERROR(conn.Prepare("BEGIN").Run());
  absl::Status status = CallFn(fn, conn);
  if (status.ok()) status = conn.Prepare("COMMIT").Run();
  if (!sqlite3_get_autocommit(conn.raw())) conn.Prepare("ROLLBACK").Run().IgnoreError();
  return status;
}

SqliteDatabase::~SqliteDatabase() {
  {
    std::lock_guard<std::mutex> lock(queue_mu);
    closing = true;
  }
  queue_cv.notify_all();
  if (writer_thread.joinable()) writer_thread.join();
}

absl::Status SqliteDatabase::Read(const Fn& fn) {
  ConnectionPool<SqliteConnection>::Lease reader(idle_readers);
  return ReadOn(*reader, fn);
}

void SqliteDatabase::WriteAsync(Fn fn, Done done) {
  if (options.read_only) {
    CallDone(done, absl::FailedPreconditionError(absl::StrCat("sqlite: ", options.path, " is open read-only")));
    return;
  }
  bool accepted = false;
  {
    std::lock_guard<std::mutex> lock(queue_mu);
    if (!closing) {
      queue.push_back(Item{std::move(fn), std::move(done)});
      accepted = true;
    }
  }
  if (accepted) {
    queue_cv.notify_one();
    return;
  }
  // Only a done callback running during shutdown can get here legitimately.
  CallDone(done, absl::UnavailableError("database is closing"));
}

absl::Status SqliteDatabase::Write(Fn fn) {
  if (current_writer == this) return WriteOnWriterThread(std::move(fn));
  // Shared, so the promise outlives set_value even after the waiter returns.
  auto promise = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> future = promise->get_future();
  WriteAsync(std::move(fn), [promise](absl::Status s) { promise->set_value(std::move(s)); });
  return future.get();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> OpenSqlite(const Options& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("sqlite: empty database path");
  if (options.read_connections < 1 || options.max_batch < 1 || options.busy_timeout_ms < 0) {
    return absl::InvalidArgumentError(
        "sqlite: read_connections and max_batch must be positive, busy_timeout_ms not negative");
  }
  auto impl = std::make_unique<SqliteDatabase>(options);
  if (!options.read_only) {
    ASSIGN_OR_RETURN(sqlite3 * writer_db, OpenHandle(options, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
    impl->writer.reset(new SqliteConnection(writer_db));
    SqliteConnection& writer = *impl->writer;
    ASSIGN_OR_RETURN(std::string mode, QueryText(writer, "PRAGMA journal_mode=WAL"));
    if (mode != "wal") {
      // Readers on their own connections need a shared file in WAL mode; an
      // in-memory or otherwise special database would not be shared.
      return absl::FailedPreconditionError(
          absl::StrCat("sqlite: ", options.path, " cannot use WAL (journal_mode is ", mode, ")"));
    }
    RETURN_IF_ERROR(writer.Exec("PRAGMA synchronous=FULL"));
    RETURN_IF_ERROR(writer.Exec("PRAGMA foreign_keys=ON"));
    // A 64 MiB page cache keeps index pages hot across batches, and a larger
    // WAL between checkpoints (16 MiB instead of 4 MiB) makes the
    // checkpoint's own fsyncs rarer.
    RETURN_IF_ERROR(writer.Exec("PRAGMA cache_size=-65536"));
    RETURN_IF_ERROR(writer.Exec("PRAGMA wal_autocheckpoint=4000"));
    sqlite3_set_authorizer(writer_db, &AuthorizeWriter, &impl->in_user_code);
    RETURN_IF_ERROR(Migrate(writer, options.migrations, &impl->in_user_code));
  }

  // Read-only, so that a write slipped into Read fails instead of bypassing
  // the writer (and its group commit).
  for (int i = 0; i < options.read_connections; ++i) {
    ASSIGN_OR_RETURN(sqlite3 * reader_db, OpenHandle(options, SQLITE_OPEN_READONLY));
    impl->readers.emplace_back(new SqliteConnection(reader_db));
    impl->idle_readers.Add(impl->readers.back().get());
  }

  SqliteDatabase* raw = impl.get();
  if (!options.read_only) impl->writer_thread = std::thread([raw] { raw->RunWriter(); });
  return std::unique_ptr<Database>(std::move(impl));
}

}  // namespace rapport::db
