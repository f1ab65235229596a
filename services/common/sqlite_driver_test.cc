#include "services/common/sqlite_driver.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <future>
#include <latch>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/retention.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport::db {
namespace {

using ::testing::HasSubstr;

constexpr char kSchema[] =
    "CREATE TABLE items(k TEXT PRIMARY KEY, v INTEGER);"
    "CREATE TABLE audit(k TEXT)";

std::string Message(const absl::Status& s) { return std::string(s.message()); }

Database::Fn InsertItem(std::string key, int64_t value = 1) {
  return [key, value](Connection& c) {
    return c.Prepare("INSERT INTO items(k, v) VALUES (?, ?)").Bind(1, key).Bind(2, value).Run();
  };
}

// Holds the writer thread inside a write transaction, so that everything
// queued meanwhile is known to form the next batch.
class WriterBlocker {
 public:
  explicit WriterBlocker(Database& db) {
    std::shared_future<void> release = release_.get_future().share();
    db.WriteAsync(
        [this, release](Connection&) {
          entered_.set_value();
          release.wait();
          return absl::OkStatus();
        },
        [this](absl::Status s) { done_.set_value(std::move(s)); });
    entered_.get_future().wait();
  }
  // A test that bailed out early must still let the writer go, or closing the
  // database would wait forever.
  ~WriterBlocker() {
    if (!released_) Release().IgnoreError();
  }
  // Lets the blocked batch commit; returns its outcome.
  absl::Status Release() {
    released_ = true;
    release_.set_value();
    return done_.get_future().get();
  }

 private:
  bool released_ = false;
  std::promise<void> entered_;
  std::promise<void> release_;
  std::promise<absl::Status> done_;
};

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/rapport_sqlite_test_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Options MakeOptions(std::vector<std::string> migrations = {kSchema}) const {
    Options o;
    o.path = dir_ + "/test.db";
    o.migrations = std::move(migrations);
    return o;
  }

  std::unique_ptr<Database> OpenDb(const Options& o) {
    absl::StatusOr<std::unique_ptr<Database>> db = Open(o);
    if (!db.ok()) {
      ADD_FAILURE() << "Open: " << db.status();
      return nullptr;
    }
    return std::move(db).value();
  }
  std::unique_ptr<Database> OpenDb() { return OpenDb(MakeOptions()); }

  static int64_t QueryInt(Database& db, const std::string& sql) {
    int64_t value = -1;
    absl::Status s = db.Read([&](Connection& c) {
      Statement stmt = c.Prepare(sql);
      absl::StatusOr<bool> row = stmt.Step();
      if (!row.ok()) return row.status();
      if (!*row) return absl::NotFoundError("no row");
      value = stmt.ColumnInt(0);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return value;
  }

  static std::set<std::string> QueryStrings(Database& db, const std::string& sql) {
    std::set<std::string> out;
    absl::Status s = db.Read([&](Connection& c) {
      Statement stmt = c.Prepare(sql);
      for (;;) {
        absl::StatusOr<bool> row = stmt.Step();
        if (!row.ok()) return row.status();
        if (!*row) return absl::OkStatus();
        out.insert(stmt.ColumnText(0));
      }
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  std::string dir_;
};

// ---------------------------------------------------------------------------
// Open and migrations

TEST_F(SqliteTest, MigrationsAreAppliedOnceAndInOrder) {
  // Each migration depends on the one before it, and the INSERTs would show a
  // second application as an extra row.
  std::vector<std::string> migrations = {
      "CREATE TABLE log(step INTEGER)",
      "ALTER TABLE log ADD COLUMN note TEXT; INSERT INTO log(step, note) VALUES (2, 'second')",
      "INSERT INTO log(step) SELECT MAX(step) + 1 FROM log",
  };
  {
    std::unique_ptr<Database> db = OpenDb(MakeOptions(migrations));
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(QueryStrings(*db,
                           "SELECT group_concat(version) FROM "
                           "(SELECT version FROM schema_migrations ORDER BY version)"),
              std::set<std::string>{"1,2,3"});
    EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM schema_migrations WHERE applied_at LIKE '20%Z'"), 3);
    EXPECT_EQ(QueryStrings(*db, "SELECT group_concat(step) FROM (SELECT step FROM log ORDER BY 1)"),
              std::set<std::string>{"2,3"});
  }
  {
    std::unique_ptr<Database> db = OpenDb(MakeOptions(migrations));
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM log"), 2);
  }
  migrations.push_back("INSERT INTO log(step) SELECT MAX(step) + 1 FROM log");
  {
    std::unique_ptr<Database> db = OpenDb(MakeOptions(migrations));
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(QueryStrings(*db, "SELECT group_concat(step) FROM (SELECT step FROM log ORDER BY 1)"),
              std::set<std::string>{"2,3,4"});
    EXPECT_EQ(QueryInt(*db, "SELECT MAX(version) FROM schema_migrations"), 4);
  }
}

TEST_F(SqliteTest, FailingMigrationIsRolledBackAndStopsOpen) {
  absl::StatusOr<std::unique_ptr<Database>> failed =
      Open(MakeOptions({"CREATE TABLE a(x)", "CREATE TABLE b(x); INSERT INTO no_such_table VALUES (1)"}));
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(Message(failed.status()), HasSubstr("migration 2"));
  EXPECT_THAT(Message(failed.status()), HasSubstr("no_such_table"));

  std::unique_ptr<Database> db = OpenDb(MakeOptions({"CREATE TABLE a(x)"}));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(QueryInt(*db, "SELECT MAX(version) FROM schema_migrations"), 1);
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'"), 0);
}

TEST_F(SqliteTest, SchemaNewerThanMigrationsIsRefused) {
  ASSERT_NE(OpenDb(MakeOptions({"CREATE TABLE a(x)", "CREATE TABLE b(x)"})), nullptr);
  absl::StatusOr<std::unique_ptr<Database>> db = Open(MakeOptions({"CREATE TABLE a(x)"}));
  EXPECT_EQ(db.status().code(), absl::StatusCode::kFailedPrecondition) << db.status();
}

TEST_F(SqliteTest, MigrationCannotEndItsOwnTransaction) {
  absl::StatusOr<std::unique_ptr<Database>> db = Open(MakeOptions({"CREATE TABLE a(x); COMMIT"}));
  EXPECT_FALSE(db.ok());
  std::unique_ptr<Database> reopened = OpenDb(MakeOptions({}));
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(QueryInt(*reopened, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'a'"), 0);
}

TEST_F(SqliteTest, OpenRejectsBadOptions) {
  Options o = MakeOptions();
  o.read_connections = 0;
  EXPECT_EQ(Open(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = MakeOptions();
  o.path = "";
  EXPECT_EQ(Open(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = MakeOptions();
  o.path = ":memory:";
  EXPECT_EQ(Open(o).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(SqliteTest, OpenSetsPragmas) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  std::string journal;
  int64_t synchronous = -1;
  int64_t foreign_keys = -1;
  ASSERT_TRUE(db->Write([&](Connection& c) {
                  Statement j = c.Prepare("PRAGMA journal_mode");
                  if (absl::StatusOr<bool> r = j.Step(); !r.ok() || !*r) return r.status();
                  journal = j.ColumnText(0);
                  Statement s = c.Prepare("PRAGMA synchronous");
                  if (absl::StatusOr<bool> r = s.Step(); !r.ok() || !*r) return r.status();
                  synchronous = s.ColumnInt(0);
                  Statement f = c.Prepare("PRAGMA foreign_keys");
                  if (absl::StatusOr<bool> r = f.Step(); !r.ok() || !*r) return r.status();
                  foreign_keys = f.ColumnInt(0);
                  return absl::OkStatus();
                }).ok());
  EXPECT_EQ(journal, "wal");
  EXPECT_EQ(synchronous, 2);  // FULL
  EXPECT_EQ(foreign_keys, 1);
}

// ---------------------------------------------------------------------------
// Statements

TEST_F(SqliteTest, RoundTripsEveryColumnType) {
  std::unique_ptr<Database> db =
      OpenDb(MakeOptions({"CREATE TABLE t(id INTEGER PRIMARY KEY, i INTEGER, d REAL, s TEXT, b BLOB)"}));
  ASSERT_NE(db, nullptr);
  const std::string blob("\0a\0\xff\0", 5);
  const std::string utf8 = "Zoë Ångström — 日本語 🚀";
  constexpr int64_t kBig = std::numeric_limits<int64_t>::max();
  constexpr int64_t kSmall = std::numeric_limits<int64_t>::min();

  ASSERT_TRUE(db->Write([&](Connection& c) {
                  const char* sql = "INSERT INTO t(id, i, d, s, b) VALUES (?, ?, ?, ?, ?)";
                  RETURN_IF_ERROR(
                      c.Prepare(sql).Bind(1, 1).Bind(2, kBig).Bind(3, 2.5).Bind(4, utf8).BindBlob(5, blob).Run());
                  RETURN_IF_ERROR(c.Prepare(sql)
                                      .Bind(1, 2)
                                      .Bind(2, kSmall)
                                      .Bind(3, -1e300)
                                      .Bind(4, "")
                                      .BindBlob(5, std::string_view())
                                      .Run());
                  RETURN_IF_ERROR(c.Prepare(sql).Bind(1, 3).BindNull(2).BindNull(3).BindNull(4).BindNull(5).Run());
                  // Empty views with a null data pointer are still empty values.
                  return c.Prepare(sql).Bind(1, 4).Bind(4, std::string_view()).BindBlob(5, std::string_view()).Run();
                }).ok());

  ASSERT_TRUE(db->Read([&](Connection& c) {
                  Statement stmt = c.Prepare("SELECT i, d, s, b, typeof(b) FROM t ORDER BY id");
                  absl::StatusOr<bool> row = stmt.Step();
                  EXPECT_TRUE(row.ok() && *row);
                  EXPECT_EQ(stmt.ColumnInt(0), kBig);
                  EXPECT_EQ(stmt.ColumnDouble(1), 2.5);
                  EXPECT_EQ(stmt.ColumnText(2), utf8);
                  EXPECT_EQ(stmt.ColumnBlob(3), blob);
                  EXPECT_EQ(stmt.ColumnText(4), "blob");
                  for (int col = 0; col < 4; ++col) EXPECT_FALSE(stmt.ColumnIsNull(col)) << col;

                  row = stmt.Step();
                  EXPECT_TRUE(row.ok() && *row);
                  EXPECT_EQ(stmt.ColumnInt(0), kSmall);
                  EXPECT_EQ(stmt.ColumnDouble(1), -1e300);
                  // Empty text and empty blobs are values, not NULL.
                  EXPECT_FALSE(stmt.ColumnIsNull(2));
                  EXPECT_FALSE(stmt.ColumnIsNull(3));
                  EXPECT_EQ(stmt.ColumnText(2), "");
                  EXPECT_EQ(stmt.ColumnBlob(3), "");
                  EXPECT_EQ(stmt.ColumnText(4), "blob");

                  row = stmt.Step();
                  EXPECT_TRUE(row.ok() && *row);
                  for (int col = 0; col < 4; ++col) EXPECT_TRUE(stmt.ColumnIsNull(col)) << col;

                  row = stmt.Step();
                  EXPECT_TRUE(row.ok() && *row);
                  EXPECT_TRUE(stmt.ColumnIsNull(0));
                  EXPECT_FALSE(stmt.ColumnIsNull(2));
                  EXPECT_FALSE(stmt.ColumnIsNull(3));
                  EXPECT_EQ(stmt.ColumnText(4), "blob");

                  row = stmt.Step();
                  EXPECT_TRUE(row.ok() && !*row);
                  return absl::OkStatus();
                }).ok());
}

TEST_F(SqliteTest, ConstraintViolationsMapToStatusCodes) {
  std::unique_ptr<Database> db =
      OpenDb(MakeOptions({"CREATE TABLE parent(id INTEGER PRIMARY KEY, email TEXT UNIQUE);"
                          "CREATE TABLE child(id TEXT PRIMARY KEY, parent INTEGER NOT NULL REFERENCES parent(id),"
                          " n INTEGER CHECK (n >= 0));"
                          "INSERT INTO parent VALUES (1, 'a@example.com');"
                          "INSERT INTO child VALUES ('c1', 1, 0)"}));
  ASSERT_NE(db, nullptr);
  struct Case {
    const char* sql;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {"INSERT INTO parent VALUES (1, 'b@example.com')", absl::StatusCode::kAlreadyExists},
      {"INSERT INTO parent VALUES (2, 'a@example.com')", absl::StatusCode::kAlreadyExists},
      {"INSERT INTO child VALUES ('c1', 1, 0)", absl::StatusCode::kAlreadyExists},
      {"INSERT INTO child VALUES ('c2', 99, 0)", absl::StatusCode::kFailedPrecondition},
      {"INSERT INTO child VALUES ('c2', NULL, 0)", absl::StatusCode::kFailedPrecondition},
      {"INSERT INTO child VALUES ('c2', 1, -1)", absl::StatusCode::kFailedPrecondition},
      {"INSERT INTO child VALUES ('c2', 1, 5)", absl::StatusCode::kOk},
  };
  for (const Case& tc : cases) {
    absl::Status s = db->Write([&](Connection& c) { return c.Prepare(tc.sql).Run(); });
    EXPECT_EQ(s.code(), tc.code) << tc.sql << ": " << s;
    if (!s.ok()) {
      EXPECT_THAT(Message(s), HasSubstr(tc.sql));
    }
  }
  // Step reports the same codes as Run.
  absl::Status s = db->Write([](Connection& c) {
    Statement stmt = c.Prepare("INSERT INTO parent VALUES (1, 'x') RETURNING id");
    return stmt.Step().status();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM child"), 2);
}

TEST_F(SqliteTest, PrepareAndBindErrorsSurfaceFromRunWithTheSql) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Write([](Connection& c) {
                  absl::Status syntax = c.Prepare("INSERT INTO items VALUE (1)").Bind(1, 2).Run();
                  EXPECT_EQ(syntax.code(), absl::StatusCode::kInternal);
                  EXPECT_THAT(Message(syntax), HasSubstr("INSERT INTO items VALUE (1)"));
                  EXPECT_THAT(Message(syntax), HasSubstr("syntax error"));

                  absl::Status range = c.Prepare("INSERT INTO items(k) VALUES (?)").Bind(1, "a").Bind(2, 3).Run();
                  EXPECT_FALSE(range.ok());
                  EXPECT_THAT(Message(range), HasSubstr("INSERT INTO items(k) VALUES (?)"));
                  EXPECT_THAT(Message(range), HasSubstr("out of range"));

                  absl::StatusOr<bool> two = c.Prepare("SELECT 1; SELECT 2").Step();
                  EXPECT_EQ(two.status().code(), absl::StatusCode::kInvalidArgument);
                  absl::Status none = c.Prepare("  -- nothing").Run();
                  EXPECT_EQ(none.code(), absl::StatusCode::kInvalidArgument);
                  return absl::OkStatus();
                }).ok());
  // The failed bind kept the row from being inserted.
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM items"), 0);
}

TEST_F(SqliteTest, CachedStatementsAreIndependentAndStartUnbound) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Write([](Connection& c) {
                  for (int i = 1; i <= 3; ++i) {
                    RETURN_IF_ERROR(InsertItem(absl::StrCat("k", i), i)(c));
                  }
                  RETURN_IF_ERROR(c.Prepare("UPDATE items SET v = v * 10 WHERE v >= 2").Run());
                  EXPECT_EQ(c.Changes(), 2);
                  return absl::OkStatus();
                }).ok());
  ASSERT_TRUE(db->Read([](Connection& c) {
                  constexpr char kSql[] = "SELECT v FROM items WHERE v >= ? ORDER BY v";
                  // Two live statements with one SQL text must not share state.
                  Statement outer = c.Prepare(kSql);
                  outer.Bind(1, 1);
                  Statement inner = c.Prepare(kSql);
                  inner.Bind(1, 30);
                  absl::StatusOr<bool> row = outer.Step();
                  EXPECT_TRUE(row.ok() && *row);
                  EXPECT_EQ(outer.ColumnInt(0), 1);
                  row = inner.Step();
                  EXPECT_TRUE(row.ok() && *row);
                  EXPECT_EQ(inner.ColumnInt(0), 30);
                  row = outer.Step();
                  EXPECT_TRUE(row.ok() && *row);
                  EXPECT_EQ(outer.ColumnInt(0), 20);
                  return absl::OkStatus();
                }).ok());
  ASSERT_TRUE(db->Read([](Connection& c) {
                  // Reused from the cache: reset, and its old binding cleared,
                  // so the parameter is NULL and nothing matches.
                  Statement again = c.Prepare("SELECT v FROM items WHERE v >= ? ORDER BY v\n");
                  absl::StatusOr<bool> row = again.Step();
                  EXPECT_TRUE(row.ok());
                  EXPECT_FALSE(row.value_or(true));
                  return absl::OkStatus();
                }).ok());
}

// ---------------------------------------------------------------------------
// Group-committed writes

TEST_F(SqliteTest, FailingTransactionDoesNotUndoItsBatchMates) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  constexpr int kThreads = 50;
  auto key = [](int i) { return absl::StrCat("k", i); };
  auto duplicate = [](int i) { return i % 5 == 0; };
  ASSERT_TRUE(db->Write([&](Connection& c) {
                  for (int i = 0; i < kThreads; i += 5) RETURN_IF_ERROR(InsertItem(key(i), -1)(c));
                  return absl::OkStatus();
                }).ok());

  WriterBlocker blocker(*db);
  const int64_t batches_before = db->batches_committed() + 1;  // + the blocker's
  std::vector<std::promise<absl::Status>> results(kThreads);
  std::latch queued(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      // Two statements each, so a failure must undo the first one too.
      db->WriteAsync(
          [&, i](Connection& c) {
            RETURN_IF_ERROR(c.Prepare("INSERT INTO audit(k) VALUES (?)").Bind(1, key(i)).Run());
            return InsertItem(key(i), i)(c);
          },
          [&results, i](absl::Status s) { results[i].set_value(std::move(s)); });
      queued.count_down();
    });
  }
  queued.wait();
  ASSERT_TRUE(blocker.Release().ok());
  for (std::thread& t : threads) t.join();

  std::set<std::string> expected_audit;
  for (int i = 0; i < kThreads; ++i) {
    absl::Status s = results[i].get_future().get();
    if (duplicate(i)) {
      EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << i << ": " << s;
    } else {
      EXPECT_TRUE(s.ok()) << i << ": " << s;
      expected_audit.insert(key(i));
    }
  }
  EXPECT_EQ(db->batches_committed() - batches_before, 1) << "all 50 were to share one batch";
  EXPECT_EQ(QueryStrings(*db, "SELECT k FROM audit"), expected_audit);
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM items WHERE v >= 0"), 40);
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM items WHERE v = -1"), 10);
}

TEST_F(SqliteTest, ConcurrentWritersShareOneCommit) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  constexpr int kWriters = 64;
  WriterBlocker blocker(*db);
  std::vector<std::promise<absl::Status>> results(kWriters);
  std::latch queued(kWriters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      db->WriteAsync(InsertItem(absl::StrCat("w", i)),
                     [&results, i](absl::Status s) { results[i].set_value(std::move(s)); });
      queued.count_down();
      EXPECT_TRUE(results[i].get_future().get().ok());
    });
  }
  queued.wait();
  ASSERT_TRUE(blocker.Release().ok());
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(db->transactions_committed(), kWriters + 1);
  EXPECT_EQ(db->batches_committed(), 2);  // the blocker's, then all 64 together
  EXPECT_LT(db->batches_committed(), db->transactions_committed());
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM items"), kWriters);
}

TEST_F(SqliteTest, ConcurrentBlockingWritesAllLand) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  constexpr int kWriters = 64;
  constexpr int kWritesEach = 5;
  std::latch start(kWriters);
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kWritesEach; ++i) {
        absl::Status s = db->Write(InsertItem(absl::StrCat(t, "/", i)));
        EXPECT_TRUE(s.ok()) << s;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(db->transactions_committed(), kWriters * kWritesEach);
  EXPECT_LE(db->batches_committed(), db->transactions_committed());
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM items"), kWriters * kWritesEach);
}

TEST_F(SqliteTest, BatchesAreCappedAtMaxBatch) {
  Options o = MakeOptions();
  o.max_batch = 4;
  std::unique_ptr<Database> db = OpenDb(o);
  ASSERT_NE(db, nullptr);
  WriterBlocker blocker(*db);
  std::vector<std::promise<absl::Status>> results(10);
  for (int i = 0; i < 10; ++i) {
    db->WriteAsync(InsertItem(absl::StrCat("m", i)),
                   [&results, i](absl::Status s) { results[i].set_value(std::move(s)); });
  }
  ASSERT_TRUE(blocker.Release().ok());
  for (auto& r : results) EXPECT_TRUE(r.get_future().get().ok());
  EXPECT_EQ(db->batches_committed(), 1 + 3);  // the blocker, then 4 + 4 + 2
  EXPECT_EQ(db->transactions_committed(), 11);
}

TEST_F(SqliteTest, DoneRunsOnlyAfterTheBatchIsCommitted) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  constexpr int kWrites = 8;
  WriterBlocker blocker(*db);
  std::vector<std::promise<int64_t>> seen(kWrites);
  for (int i = 0; i < kWrites; ++i) {
    db->WriteAsync(InsertItem(absl::StrCat("d", i)), [&, i](absl::Status s) {
      EXPECT_TRUE(s.ok()) << s;
      // A reader connection only sees committed data; since the batch holds
      // all kWrites, each done must see every one of them.
      seen[i].set_value(QueryInt(*db, "SELECT COUNT(*) FROM items"));
    });
  }
  ASSERT_TRUE(blocker.Release().ok());
  for (int i = 0; i < kWrites; ++i) EXPECT_EQ(seen[i].get_future().get(), kWrites) << i;
}

TEST_F(SqliteTest, DoneMayWriteAgain) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  std::promise<absl::Status> nested_async;
  absl::Status nested_sync = absl::UnknownError("not run");
  absl::Status first = db->Write(InsertItem("first"));
  ASSERT_TRUE(first.ok()) << first;
  std::promise<void> outer_done;
  db->WriteAsync(InsertItem("outer"), [&](absl::Status s) {
    EXPECT_TRUE(s.ok()) << s;
    db->WriteAsync(InsertItem("async"), [&](absl::Status s2) { nested_async.set_value(std::move(s2)); });
    nested_sync = db->Write(InsertItem("sync"));
    outer_done.set_value();
  });
  outer_done.get_future().wait();
  EXPECT_TRUE(nested_sync.ok()) << nested_sync;
  EXPECT_TRUE(nested_async.get_future().get().ok());
  EXPECT_EQ(QueryStrings(*db, "SELECT k FROM items"), (std::set<std::string>{"first", "outer", "async", "sync"}));
}

TEST_F(SqliteTest, WriteInsideAWriteTransactionIsRefused) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  absl::Status inner;
  absl::Status outer = db->Write([&](Connection& c) {
    inner = db->Write(InsertItem("inner"));
    return InsertItem("outer")(c);
  });
  EXPECT_TRUE(outer.ok()) << outer;
  EXPECT_EQ(inner.code(), absl::StatusCode::kFailedPrecondition) << inner;
  EXPECT_EQ(QueryStrings(*db, "SELECT k FROM items"), std::set<std::string>{"outer"});
}

TEST_F(SqliteTest, ExceptionsBecomeInternalAndUndoTheTransaction) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  absl::Status thrown = db->Write([](Connection& c) -> absl::Status {
    RETURN_IF_ERROR(InsertItem("half")(c));
    throw std::runtime_error("boom");
  });
  EXPECT_EQ(thrown.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Message(thrown), HasSubstr("boom"));

  absl::Status odd = db->Write([](Connection&) -> absl::Status { throw 42; });
  EXPECT_EQ(odd.code(), absl::StatusCode::kInternal);

  std::promise<void> threw;
  db->WriteAsync(InsertItem("done-throws"), [&](absl::Status) {
    threw.set_value();
    throw std::runtime_error("done failed");
  });
  threw.get_future().wait();

  absl::Status read = db->Read([](Connection&) -> absl::Status { throw std::runtime_error("r"); });
  EXPECT_EQ(read.code(), absl::StatusCode::kInternal);

  // The writer survived all of it.
  EXPECT_TRUE(db->Write(InsertItem("after")).ok());
  EXPECT_EQ(QueryStrings(*db, "SELECT k FROM items"), (std::set<std::string>{"done-throws", "after"}));
}

TEST_F(SqliteTest, WriteCannotEndTheBatchTransaction) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  WriterBlocker blocker(*db);
  std::promise<absl::Status> a, b, c;
  db->WriteAsync(InsertItem("a"), [&](absl::Status s) { a.set_value(s); });
  db->WriteAsync(
      [](Connection& conn) {
        RETURN_IF_ERROR(InsertItem("b")(conn));
        return conn.Exec("COMMIT");
      },
      [&](absl::Status s) { b.set_value(s); });
  db->WriteAsync(InsertItem("c"), [&](absl::Status s) { c.set_value(s); });
  ASSERT_TRUE(blocker.Release().ok());
  EXPECT_TRUE(a.get_future().get().ok());
  EXPECT_FALSE(b.get_future().get().ok());
  EXPECT_TRUE(c.get_future().get().ok());
  EXPECT_EQ(QueryStrings(*db, "SELECT k FROM items"), (std::set<std::string>{"a", "c"}));
}

// White-box: the writer refuses COMMIT/ROLLBACK from write fns, so to see how
// it copes with a transaction that vanished (as SQLite may do on I/O errors)
// this test goes around that guard with the raw handle.
TEST_F(SqliteTest, VanishedTransactionAbortsItsBatchMates) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  WriterBlocker blocker(*db);
  std::promise<absl::Status> a, b, c;
  db->WriteAsync(InsertItem("a"), [&](absl::Status s) { a.set_value(s); });
  db->WriteAsync(
      [](Connection& conn) {
        RETURN_IF_ERROR(InsertItem("b")(conn));
        sqlite3_set_authorizer(RawSqliteHandle(conn), nullptr, nullptr);
        sqlite3_exec(RawSqliteHandle(conn), "ROLLBACK", nullptr, nullptr, nullptr);
        return absl::OkStatus();
      },
      [&](absl::Status s) { b.set_value(s); });
  db->WriteAsync(InsertItem("c"), [&](absl::Status s) { c.set_value(s); });
  ASSERT_TRUE(blocker.Release().ok());
  EXPECT_EQ(a.get_future().get().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(b.get_future().get().code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(c.get_future().get().ok());
  EXPECT_EQ(QueryStrings(*db, "SELECT k FROM items"), std::set<std::string>{"c"});
}

// ---------------------------------------------------------------------------
// Reads

TEST_F(SqliteTest, ReadSeesOneSnapshot) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Write(InsertItem("before")).ok());
  int64_t first = -1, second = -1;
  absl::Status written;
  auto count = [](Connection& c, int64_t* out) {
    Statement stmt = c.Prepare("SELECT COUNT(*) FROM items");
    absl::StatusOr<bool> row = stmt.Step();
    if (!row.ok()) return row.status();
    *out = stmt.ColumnInt(0);
    return absl::OkStatus();
  };
  ASSERT_TRUE(db->Read([&](Connection& c) {
                  RETURN_IF_ERROR(count(c, &first));
                  written = db->Write(InsertItem("during"));  // committed when it returns
                  return count(c, &second);
                }).ok());
  EXPECT_TRUE(written.ok()) << written;
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM items"), 2);
}

TEST_F(SqliteTest, ReadErrorsPropagateAndLeaveTheReaderUsable) {
  Options o = MakeOptions();
  o.read_connections = 1;  // every Read below reuses the same connection
  std::unique_ptr<Database> db = OpenDb(o);
  ASSERT_NE(db, nullptr);
  absl::Status s = db->Read([](Connection& c) {
    RETURN_IF_ERROR(c.Prepare("SELECT COUNT(*) FROM items").Run());
    return absl::NotFoundError("contact 42");
  });
  EXPECT_EQ(s, absl::NotFoundError("contact 42"));

  s = db->Read([](Connection& c) { return c.Prepare("SELECT * FROM no_such_table").Run(); });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Message(s), HasSubstr("no_such_table"));

  // Reads are read-only: writes go through the writer.
  s = db->Read([](Connection& c) { return InsertItem("sneaky")(c); });
  EXPECT_FALSE(s.ok());

  // Had a failed Read left its transaction open, this one would not see the
  // new row (or could not BEGIN at all).
  ASSERT_TRUE(db->Write(InsertItem("later")).ok());
  EXPECT_EQ(QueryStrings(*db, "SELECT k FROM items"), std::set<std::string>{"later"});
}

TEST_F(SqliteTest, ReadsRunInParallelOnSeparateConnections) {
  Options o = MakeOptions();
  o.read_connections = 2;
  std::unique_ptr<Database> db = OpenDb(o);
  ASSERT_NE(db, nullptr);
  // Each Read waits inside its transaction for the other to be inside too;
  // with one connection the second would never get in. The timeout only turns
  // that hang into a failure.
  std::promise<Connection*> in_a, in_b;
  std::shared_future<Connection*> a = in_a.get_future().share();
  std::shared_future<Connection*> b = in_b.get_future().share();
  auto read = [&](std::promise<Connection*>& mine, std::shared_future<Connection*> other) {
    return db->Read([&](Connection& c) {
      mine.set_value(&c);
      if (other.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        return absl::DeadlineExceededError("the other Read never started");
      }
      return absl::OkStatus();
    });
  };
  absl::Status status_b;
  std::thread t([&] { status_b = read(in_b, a); });
  absl::Status status_a = read(in_a, b);
  t.join();
  EXPECT_TRUE(status_a.ok()) << status_a;
  EXPECT_TRUE(status_b.ok()) << status_b;
  EXPECT_NE(a.get(), b.get());
}

// ---------------------------------------------------------------------------
// Durability and shutdown

TEST_F(SqliteTest, CommittedWritesSurviveCloseAndReopen) {
  constexpr int kRows = 100;
  constexpr int kQueuedAtClose = 200;
  std::atomic<int> ok_dones{0};
  {
    std::unique_ptr<Database> db = OpenDb();
    ASSERT_NE(db, nullptr);
    for (int i = 0; i < kRows; ++i) {
      ASSERT_TRUE(db->Write(InsertItem(absl::StrCat("r", i), i)).ok());
    }
    // Queued but likely not yet committed when the destructor starts; it
    // must finish them all.
    for (int i = 0; i < kQueuedAtClose; ++i) {
      db->WriteAsync(InsertItem(absl::StrCat("q", i), i), [&](absl::Status s) {
        if (s.ok()) ok_dones.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(ok_dones.load(), kQueuedAtClose);
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM items WHERE k LIKE 'r%'"), kRows);
  EXPECT_EQ(QueryInt(*db, "SELECT SUM(v) FROM items WHERE k LIKE 'r%'"), kRows * (kRows - 1) / 2);
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM items WHERE k LIKE 'q%'"), kQueuedAtClose);
  EXPECT_EQ(QueryInt(*db, "SELECT MAX(version) FROM schema_migrations"), 1);
}

// ---------------------------------------------------------------------------
// Retention

// Oldest first, a chunk at a time, by a composite key, never a row at or
// after the cutoff.
TEST_F(SqliteTest, DeleteOldestDeletesAChunkOfTheRowsBeforeTheCutoff) {
  std::unique_ptr<Database> db = OpenDb(MakeOptions(
      {"CREATE TABLE seen (org TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (org, id)) "
       "WITHOUT ROWID; CREATE INDEX seen_by_time ON seen (at);"}));
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Write([](Connection& c) -> absl::Status {
                  // Same id in two orgs: the key is the pair.
                  for (int i = 0; i < 10; ++i) {
                    for (const char* org : {"a", "b"}) {
                      RETURN_IF_ERROR(c.Prepare("INSERT INTO seen (org, id, at) VALUES (?, ?, ?)")
                                          .Bind(1, org)
                                          .Bind(2, absl::StrCat("e", i))
                                          .Bind(3, i * 10 + (org[0] == 'b'))
                                          .Run());
                    }
                  }
                  return absl::OkStatus();
                }).ok());
  // 13 rows are before 61 (at 0, 1, 10, ..., 60): 5 + 5 + 3.
  absl::StatusOr<bool> full = DeleteOldest(*db, "seen", "org, id", "at", 61, 5);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_TRUE(*full);
  EXPECT_EQ(QueryInt(*db, "SELECT MIN(at) FROM seen"), 21);  // the 5 oldest went: 0, 1, 10, 11, 20
  EXPECT_TRUE(DeleteOldest(*db, "seen", "org, id", "at", 61, 5).value_or(false));
  full = DeleteOldest(*db, "seen", "org, id", "at", 61, 5);
  ASSERT_TRUE(full.ok());
  EXPECT_FALSE(*full);  // the last 3
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM seen"), 7);
  EXPECT_EQ(QueryInt(*db, "SELECT MIN(at) FROM seen"), 61);
  EXPECT_FALSE(DeleteOldest(*db, "seen", "org, id", "at", 61, 5).value_or(true));
}

// Each rule's table loses its rows older than the rule keeps them; rows
// without a time (pending) stay whatever their age.
TEST_F(SqliteTest, RetentionPrunerAppliesEveryRuleAndKeepsRowsWithoutATime) {
  std::unique_ptr<Database> db = OpenDb(
      MakeOptions({"CREATE TABLE a (id TEXT PRIMARY KEY, at INTEGER) WITHOUT ROWID; "
                   "CREATE TABLE b (org TEXT, id TEXT, done_us INTEGER, PRIMARY KEY (org, id)) WITHOUT ROWID;"}));
  ASSERT_NE(db, nullptr);
  const int64_t now = ToMicros(absl::Now());
  const int64_t hour = int64_t{3600} * 1000000;
  ASSERT_TRUE(db->Write([&](Connection& c) -> absl::Status {
                  RETURN_IF_ERROR(c.Prepare("INSERT INTO a VALUES ('old', ?), ('new', ?)")
                                      .Bind(1, now - 3 * hour)
                                      .Bind(2, now - hour / 2)
                                      .Run());
                  return c.Prepare("INSERT INTO b VALUES ('o', 'old', ?), ('o', 'pending', NULL), ('o', 'new', ?)")
                      .Bind(1, now - 50 * hour)
                      .Bind(2, now - 47 * hour)
                      .Run();
                }).ok());
  rapport::RetentionPruner pruner(
      db.get(), {{"a", "id", "at", std::chrono::hours(1)}, {"b", "org, id", "done_us", std::chrono::hours(48)}});
  absl::StatusOr<bool> more = pruner.PruneOnce();
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_FALSE(*more);
  EXPECT_EQ(QueryStrings(*db, "SELECT id FROM a"), (std::set<std::string>{"new"}));
  EXPECT_EQ(QueryStrings(*db, "SELECT id FROM b"), (std::set<std::string>{"new", "pending"}));
}

}  // namespace
}  // namespace rapport::db
