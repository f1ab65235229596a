// SQLite storage for one service's database file.
//
// A Database owns one writer connection and a small pool of reader
// connections on the same file (WAL mode, synchronous=FULL, busy_timeout).
// Numbered migrations are applied at Open. Writes are group-committed: the
// single writer thread takes every write transaction queued while the previous
// batch was committing, runs each inside its own SAVEPOINT (a failing one is
// rolled back alone), commits the batch once (one fsync), and only then calls
// each caller's completion. Reads run on reader connections inside a read
// transaction, so each Read sees one consistent snapshot.
//
// Thread-safety: Database is safe to use from any thread. A Connection and the
// Statements prepared from it belong to the callback they were handed to and
// must not escape it.
#ifndef RAPPORT_SERVICES_COMMON_SQLITE_H_
#define RAPPORT_SERVICES_COMMON_SQLITE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace rapport::sqlite {

class Connection;

// A prepared statement borrowed from its connection's cache. Bindings are
// 1-based like SQLite's. An error while preparing or binding is kept and
// returned by Step/Run, so call sites stay linear. On destruction the
// statement is reset and its bindings cleared.
class Statement {
 public:
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

  // Column accessors for the current row (0-based like SQLite's).
  int64_t ColumnInt(int col) const;
  double ColumnDouble(int col) const;
  std::string ColumnText(int col) const;
  std::string ColumnBlob(int col) const;
  bool ColumnIsNull(int col) const;

 private:
  friend class Connection;
  Statement(Connection* conn, sqlite3_stmt* stmt, absl::Status status);
  Connection* conn_;
  sqlite3_stmt* stmt_;
  absl::Status status_;
};

// One open connection. Prepared statements are cached by SQL text.
class Connection {
 public:
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Statement Prepare(std::string_view sql);
  // Runs one or more statements without results (DDL, pragmas, BEGIN...).
  absl::Status Exec(std::string_view sql);
  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int64_t Changes() const;
  sqlite3* raw() { return db_; }

 private:
  friend class Database;
  friend class Statement;
  explicit Connection(sqlite3* db);
  absl::Status Error(std::string_view what) const;
  sqlite3* db_;
  std::vector<std::pair<std::string, sqlite3_stmt*>> cache_;
};

struct Options {
  std::string path;                     // database file; created if missing
  std::vector<std::string> migrations;  // migration i (1-based) is migrations[i-1]
  int read_connections = 4;
  int busy_timeout_ms = 5000;
  int max_batch = 512;  // write transactions committed together at most
};

class Database {
 public:
  using Fn = std::function<absl::Status(Connection&)>;
  using Done = std::function<void(absl::Status)>;

  // Opens (creating) the file, sets the pragmas and applies pending migrations
  // in order, each in its own transaction, recorded in schema_migrations.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const Options& options);
  ~Database();  // finishes queued writes, then closes

  // Runs fn on a reader connection inside BEGIN ... COMMIT (one snapshot).
  absl::Status Read(const Fn& fn);

  // Queues fn as one write transaction (a savepoint in the next batch). done is
  // called exactly once, on the writer thread, after the batch is durable (with
  // fn's own error if fn failed, which undid only fn's changes, or the commit
  // error). done must not block for long; it may call Write/WriteAsync.
  void WriteAsync(Fn fn, Done done);
  // WriteAsync and wait for the outcome.
  absl::Status Write(Fn fn);

  // Counters for tests and benchmarks.
  int64_t batches_committed() const;
  int64_t transactions_committed() const;

 private:
  struct Impl;
  explicit Database(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Retention, a chunk at a time: deletes up to `limit` rows of `table` whose
// `time_column` is below `before`, oldest first, in one write transaction,
// and returns true when it deleted `limit` (more are probably waiting), so a
// large backlog never holds the writer long. `key` lists the primary key
// columns ("seq", "org_id, event_id"); `time_column` should be indexed.
absl::StatusOr<bool> DeleteOldest(Database& db, const std::string& table, const std::string& key,
                                  const std::string& time_column, int64_t before, int limit);

}  // namespace rapport::sqlite

#endif  // RAPPORT_SERVICES_COMMON_SQLITE_H_
