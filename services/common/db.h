// The one database layer every store uses. A store writes its SQL once, in a
// portable dialect (positional `?` parameters, `INSERT ... ON CONFLICT`,
// `RETURNING`, no driver-only functions), against these three types:
//
// - Database: one service's database. Read runs a function inside a read-only
//   transaction on a reader connection (one consistent snapshot); Write and
//   WriteAsync run a function as one write transaction and acknowledge it
//   only once it is durable. How writes are made durable is the driver's
//   business: the SQLite driver group-commits every queued write on its single
//   writer (a savepoint each, one fsync per batch).
// - Connection: handed to those functions; prepares statements (cached by
//   SQL text) and runs scripts.
// - Statement: a prepared statement borrowed from its connection. Bindings
//   are 1-based, columns 0-based. An error while preparing or binding is kept
//   and returned by Step/Run, so call sites stay linear.
//
// Drivers live in their own files (sqlite_driver.cc); nothing outside a
// driver includes a database library's header. Where dialects differ the
// driver names the difference (see Dialect). Row-reading helpers on top of
// this are in services/common/db_rows.h.
//
// Thread-safety: Database is safe to use from any thread. A Connection and the
// Statements prepared from it belong to the function they were handed to and
// must not escape it.
#ifndef RAPPORT_SERVICES_COMMON_DB_H_
#define RAPPORT_SERVICES_COMMON_DB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rapport::db {

// The SQL dialects the layer speaks. Stores should not need to ask: drivers
// translate the differences they name (see postgres_driver.h).
enum class Dialect { kSqlite, kPostgres };

// A driver's prepared statement. Drivers implement it; stores use Statement.
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual absl::Status BindInt(int index, int64_t value) = 0;
  virtual absl::Status BindDouble(int index, double value) = 0;
  virtual absl::Status BindText(int index, std::string_view text) = 0;
  virtual absl::Status BindBlob(int index, std::string_view bytes) = 0;
  virtual absl::Status BindNull(int index) = 0;
  virtual absl::StatusOr<bool> Step() = 0;
  // See Statement::RunLater. By default the statement runs now.
  virtual absl::Status RunLater() {
    for (;;) {
      absl::StatusOr<bool> row = Step();
      if (!row.ok()) return row.status();
      if (!*row) return absl::OkStatus();
    }
  }
  virtual int64_t ColumnInt(int col) const = 0;
  virtual double ColumnDouble(int col) const = 0;
  virtual std::string ColumnText(int col) const = 0;
  virtual std::string ColumnBlob(int col) const = 0;
  virtual bool ColumnIsNull(int col) const = 0;
  // Resets the statement and hands it back to its connection's cache.
  virtual void Release() = 0;
};

// A borrowed prepared statement; see the file comment.
class Statement {
 public:
  // A statement that failed to prepare: every call returns `error`.
  explicit Statement(absl::Status error) : impl_(nullptr), status_(std::move(error)) {}
  explicit Statement(StatementImpl* impl) : impl_(impl) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, double value);
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, const std::string& text) { return Bind(index, std::string_view(text)); }
  Statement& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  Statement& BindBlob(int index, std::string_view bytes);
  Statement& BindNull(int index);

  // Advances to the next row: true when a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Steps until done; for INSERT/UPDATE/DELETE. Constraint violations give
  // ALREADY_EXISTS (unique/primary key) or FAILED_PRECONDITION (others).
  absl::Status Run();
  // As Run, for a statement whose outcome the write needs only at its end
  // (an INSERT or upsert whose failure fails the transaction): the driver
  // may send it without waiting. The PostgreSQL driver pipelines it with the
  // transaction's next statements, so a failure is answered by the next
  // Step/Run of the transaction, or by its commit, which then fails; the
  // SQLite driver runs it now. Changes() does not count it. Not for a
  // statement whose failure the caller wants to handle (ALREADY_EXISTS as an
  // answer) or whose Changes() it reads.
  absl::Status RunLater();

  // Column accessors for the current row (0-based).
  int64_t ColumnInt(int col) const { return impl_ != nullptr ? impl_->ColumnInt(col) : 0; }
  double ColumnDouble(int col) const { return impl_ != nullptr ? impl_->ColumnDouble(col) : 0.0; }
  std::string ColumnText(int col) const { return impl_ != nullptr ? impl_->ColumnText(col) : std::string(); }
  std::string ColumnBlob(int col) const { return impl_ != nullptr ? impl_->ColumnBlob(col) : std::string(); }
  bool ColumnIsNull(int col) const { return impl_ == nullptr || impl_->ColumnIsNull(col); }

 private:
  void Keep(absl::Status status) {
    if (status_.ok() && !status.ok()) status_ = std::move(status);
  }
  StatementImpl* impl_;
  absl::Status status_;
};

// One open connection, handed to a Read or Write function.
class Connection {
 public:
  virtual ~Connection() = default;
  // Prepares one statement (cached by SQL text). Text after the first
  // statement is an error: scripts go through Exec.
  virtual Statement Prepare(std::string_view sql) = 0;
  // Runs one or more statements without results (DDL, scripts).
  virtual absl::Status Exec(std::string_view sql) = 0;
  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  virtual int64_t Changes() const = 0;
};

struct Options {
  // PostgreSQL: postgresql://user:password@host:port/dbname?sslmode=...; when
  // set, selects the PostgreSQL driver and `path` is ignored.
  std::string url;
  std::string schema;                   // PostgreSQL: this service's schema ("profiles")
  int pool_size = 8;                    // PostgreSQL: connections
  int write_workers = 1;                // PostgreSQL: threads committing WriteAsync batches
  std::string path;                     // SQLite: the database file; created if missing
  std::vector<std::string> migrations;  // migration i (1-based) is migrations[i-1]
  int read_connections = 4;
  int busy_timeout_ms = 5000;
  int max_batch = 512;  // write transactions committed together at most (group commit)
  // Opens an existing database to inspect it (tools, tests reading a running
  // service's data): no migrations are applied and every write fails with
  // FAILED_PRECONDITION.
  bool read_only = false;
};

class Database {
 public:
  using Fn = std::function<absl::Status(Connection&)>;
  using Done = std::function<void(absl::Status)>;

  virtual ~Database() = default;  // drivers finish queued writes, then close

  // Runs fn on a reader connection inside a read-only transaction (one snapshot).
  virtual absl::Status Read(const Fn& fn) = 0;

  // Queues fn as one write transaction. done is called exactly once, after the
  // transaction is durable (with fn's own error if fn failed, which undid only
  // fn's changes, or the commit's error). done must not block for long; it
  // may call Write/WriteAsync.
  virtual void WriteAsync(Fn fn, Done done) = 0;
  // WriteAsync and wait for the outcome.
  virtual absl::Status Write(Fn fn) = 0;

  virtual Dialect dialect() const = 0;

  // Counters for tests and benchmarks.
  virtual int64_t batches_committed() const = 0;
  virtual int64_t transactions_committed() const = 0;
};

// Opens the database the options name (PostgreSQL when url is set, else the
// SQLite file at path), creating it if missing, and applies
// pending migrations in order, each in its own transaction, recorded in
// schema_migrations. FAILED_PRECONDITION when the schema is newer than the
// migrations this binary knows.
absl::StatusOr<std::unique_ptr<Database>> Open(const Options& options);

// For drivers: runs a transaction's function, an exception becoming INTERNAL
// (one must never cross the driver), and calls a write's completion, logging
// an exception it throws.
absl::Status CallFn(const Database::Fn& fn, Connection& conn);
void CallDone(const Database::Done& done, absl::Status status);

// Retention, a chunk at a time: deletes up to `limit` rows of `table` whose
// `time_column` is below `before`, oldest first, in one write transaction,
// and returns true when it deleted `limit` (more are probably waiting), so a
// large backlog never holds the writer long. `key` lists the primary key
// columns ("seq", "org_id, event_id"); `time_column` should be indexed.
absl::StatusOr<bool> DeleteOldest(Database& db, const std::string& table, const std::string& key,
                                  const std::string& time_column, int64_t before, int limit);

}  // namespace rapport::db

#endif  // RAPPORT_SERVICES_COMMON_DB_H_
