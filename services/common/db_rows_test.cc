#include "services/common/db_rows.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "rapport/api/v1/health.pb.h"
#include "services/common/db.h"

namespace rapport::db {
namespace {

using Message = ::rapport::api::v1::HealthCheckRequest;

class DbRowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rapport_db_rows_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Options options;
    options.path = dir_ + "/rows.db";
    options.migrations = {"CREATE TABLE items (k TEXT PRIMARY KEY, n INTEGER NOT NULL, data BLOB NOT NULL)"};
    absl::StatusOr<std::unique_ptr<Database>> db = Open(options);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(db).value();
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Insert(const std::string& key, int n, const std::string& blob) {
    ASSERT_TRUE(db_->Write([&](Connection& conn) {
                     return conn.Prepare("INSERT INTO items (k, n, data) VALUES (?, ?, ?)")
                         .Bind(1, key)
                         .Bind(2, n)
                         .BindBlob(3, blob)
                         .Run();
                   })
                    .ok());
  }

  std::string dir_;
  std::unique_ptr<Database> db_;
};

Message Named(const std::string& status) {
  Message m;
  m.set_service(status);
  return m;
}

TEST_F(DbRowsTest, ListRowsReadsEveryRowInOrder) {
  Insert("a", 1, "");
  Insert("b", 2, "");
  std::vector<std::pair<std::string, int64_t>> rows;
  ASSERT_TRUE(db_->Read([&](Connection& conn) -> absl::Status {
                   auto st = conn.Prepare("SELECT k, n FROM items ORDER BY k");
                   ASSIGN_OR_RETURN(rows, (ListRows<std::pair<std::string, int64_t>>(st, [](const Statement& r) {
                                      return std::make_pair(r.ColumnText(0), r.ColumnInt(1));
                                    })));
                   return absl::OkStatus();
                 })
                  .ok());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].first, "a");
  EXPECT_EQ(rows[1].second, 2);
}

TEST_F(DbRowsTest, ReadRowIsEmptyWithoutARowAndStopsAtAReaderError) {
  Insert("a", 1, "");
  ASSERT_TRUE(db_->Read([&](Connection& conn) -> absl::Status {
                   auto none = conn.Prepare("SELECT n FROM items WHERE k = ?");
                   none.Bind(1, "zzz");
                   ASSIGN_OR_RETURN(std::optional<int64_t> missing,
                                    ReadRow<int64_t>(none, [](const Statement& r) { return r.ColumnInt(0); }));
                   EXPECT_FALSE(missing.has_value());
                   auto bad = conn.Prepare("SELECT n FROM items");
                   auto failed = ListRows<int64_t>(bad, [](const Statement&) -> absl::StatusOr<int64_t> {
                     return absl::DataLossError("unreadable");
                   });
                   EXPECT_EQ(failed.status().code(), absl::StatusCode::kDataLoss);
                   return absl::OkStatus();
                 })
                  .ok());
}

TEST_F(DbRowsTest, BlobsParseAndACorruptOneIsInternal) {
  Insert("a", 1, Named("one").SerializeAsString());
  Insert("b", 2, Named("two").SerializeAsString());
  ASSERT_TRUE(db_->Read([&](Connection& conn) -> absl::Status {
                   auto all = conn.Prepare("SELECT data FROM items ORDER BY k");
                   ASSIGN_OR_RETURN(std::vector<Message> list, ListBlobs<Message>(all));
                   EXPECT_EQ(list.size(), 2u);
                   EXPECT_EQ(list[1].service(), "two");
                   auto one = conn.Prepare("SELECT data FROM items WHERE k = ?");
                   one.Bind(1, "a");
                   ASSIGN_OR_RETURN(Message a, ReadBlob<Message>(one, "item"));
                   EXPECT_EQ(a.service(), "one");
                   auto missing = conn.Prepare("SELECT data FROM items WHERE k = ?");
                   missing.Bind(1, "nope");
                   absl::StatusOr<Message> none = ReadBlob<Message>(missing, "item");
                   EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
                   EXPECT_EQ(none.status().message(), "item not found");
                   return absl::OkStatus();
                 })
                  .ok());
  Insert("c", 3, std::string("\xff\xff\xff", 3));
  absl::Status corrupt = db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare("SELECT data FROM items WHERE k = 'c'");
    return ReadBlob<Message>(st, "item").status();
  });
  EXPECT_EQ(corrupt.code(), absl::StatusCode::kInternal);
}

TEST_F(DbRowsTest, ForEachRowStopsAtTheFirstError) {
  Insert("a", 1, "");
  Insert("b", 2, "");
  int seen = 0;
  absl::Status status = db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare("SELECT n FROM items ORDER BY k");
    return ForEachRow(st, [&](const Statement&) -> absl::Status {
      ++seen;
      return absl::AbortedError("stop");
    });
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace rapport::db
