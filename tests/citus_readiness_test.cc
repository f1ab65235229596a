// The schema rules that keep distribution by org_id (Citus) open, checked
// against the real migrations and the stores' SQL (docs/scaling.md):
//
// - every table's primary key, and every unique index, starts with org_id;
// - every other index starts with org_id too, except the named maintenance
//   indexes that serve cross-org background scans;
// - every statement in a store filters on (or, for INSERT, writes) org_id,
//   except the named maintenance statements.
//
// The schema part opens each service's store on SQLite (the same migrations
// run on PostgreSQL, translated by the driver) and reads the result back
// through SQLite's catalogue; the statement part reads the stores' sources.
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/common/db.h"
#include "services/common/status.h"
#include "services/interactions/interactions_store.h"
#include "services/notifications/notifications_store.h"
#include "services/profiles/profiles_store.h"
#include "services/recommendations/recommendations_store.h"
#include "tests/testing/harness.h"

namespace rapport {
namespace {

// Tables that stay local to the coordinator (docs/scaling.md).
const std::set<std::string> kLocalTables = {"outbox", "schema_migrations", "sqlite_sequence"};
// Non-unique indexes of cross-org background scans: retention by time and
// the scheduler's claim of due timers.
const std::set<std::string> kMaintenanceIndexes = {
    "processed_events_by_time",
    "audit_log_by_time",
    "idempotency_keys_by_time",
    "deliveries_by_finish",
    "timers_by_due",
    "processed_events_by_time",
    "idempotency_keys_by_time",
    "deliveries_by_finish",
    "timers_by_due",
    // Account exports: the exporter's claim of the next job, and retention.
    "account_exports_by_state",
    "account_exports_by_finish",
    "account_export_chunks_by_time",
    // GET /v1/sync: retention of tombstones (services/notifications/sync_log.h).
    "sync_objects_by_tombstone",
    // Interactions: the sweep's claim of planned interactions whose time came.
    "planned_interactions_by_due",
};

struct IndexInfo {
  std::string table;
  std::string name;
  bool unique = false;
  std::string first_column;
};

struct Schema {
  std::map<std::string, std::string> pk_first;  // table -> first primary key column
  std::vector<IndexInfo> indexes;
};

absl::StatusOr<Schema> ReadSchema(const std::string& path) {
  db::Options options;
  options.path = path;
  options.read_only = true;
  options.read_connections = 1;
  ASSIGN_OR_RETURN(std::unique_ptr<db::Database> db, db::Open(options));
  Schema schema;
  RETURN_IF_ERROR(db->Read([&](db::Connection& conn) -> absl::Status {
    std::vector<std::string> tables;
    auto t = conn.Prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    for (;;) {
      ASSIGN_OR_RETURN(bool row, t.Step());
      if (!row) break;
      tables.push_back(t.ColumnText(0));
    }
    for (const std::string& table : tables) {
      auto pk = conn.Prepare("SELECT name FROM pragma_table_info(?) WHERE pk = 1");
      pk.Bind(1, table);
      ASSIGN_OR_RETURN(bool row, pk.Step());
      schema.pk_first[table] = row ? pk.ColumnText(0) : "";
      auto idx = conn.Prepare("SELECT name, \"unique\", origin FROM pragma_index_list(?)");
      idx.Bind(1, table);
      std::vector<IndexInfo> mine;
      for (;;) {
        ASSIGN_OR_RETURN(bool more, idx.Step());
        if (!more) break;
        if (idx.ColumnText(2) == "pk") continue;  // the primary key, checked above
        mine.push_back(IndexInfo{table, idx.ColumnText(0), idx.ColumnInt(1) != 0, ""});
      }
      for (IndexInfo& i : mine) {
        auto col = conn.Prepare("SELECT name FROM pragma_index_info(?) WHERE seqno = 0");
        col.Bind(1, i.name);
        ASSIGN_OR_RETURN(bool has, col.Step());
        i.first_column = has ? col.ColumnText(0) : "";
        schema.indexes.push_back(i);
      }
    }
    return absl::OkStatus();
  }));
  return schema;
}

void ExpectDistributable(const std::string& service, const std::string& path) {
  absl::StatusOr<Schema> schema = ReadSchema(path);
  ASSERT_TRUE(schema.ok()) << service << ": " << schema.status();
  EXPECT_GT(schema->pk_first.size(), 3u) << service;
  for (const auto& [table, first] : schema->pk_first) {
    if (kLocalTables.count(table)) continue;
    EXPECT_EQ(first, "org_id") << service << "." << table << ": the primary key must start with org_id";
  }
  for (const IndexInfo& i : schema->indexes) {
    if (kLocalTables.count(i.table)) continue;
    if (i.unique) {
      EXPECT_EQ(i.first_column, "org_id") << service << "." << i.name << ": a unique index must start with org_id";
    } else if (!kMaintenanceIndexes.count(i.name)) {
      EXPECT_EQ(i.first_column, "org_id")
          << service << "." << i.name << ": an index must start with org_id (or be a named maintenance index)";
    }
  }
}

TEST(CitusReadinessTest, EveryKeyAndIndexOfEveryServiceStartsWithOrgId) {
  const std::string dir = testing::TempDir("rapport-citus");
  {
    auto store = profiles::ProfilesStore::Open(dir + "/profiles.db");
    ASSERT_TRUE(store.ok()) << store.status();
  }
  {
    auto store = interactions::InteractionsStore::Open(dir + "/interactions.db");
    ASSERT_TRUE(store.ok()) << store.status();
  }
  {
    auto store = notifications::NotificationsStore::Open(dir + "/notifications.db");
    ASSERT_TRUE(store.ok()) << store.status();
  }
  ExpectDistributable("profiles", dir + "/profiles.db");
  ExpectDistributable("interactions", dir + "/interactions.db");
  ExpectDistributable("notifications", dir + "/notifications.db");
  {
    db::Options options;
    options.path = dir + "/recommendations.db";
    auto store = recommendations::RecommendationsStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  ExpectDistributable("recommendations", dir + "/recommendations.db");
  std::filesystem::remove_all(dir);
}

std::string ReadSource(const std::string& path) {
  std::ifstream in(std::string(RAPPORT_SOURCE_DIR) + "/" + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The SQL statements of a C++ source: its string literals (plain and raw),
// adjacent ones joined as the compiler joins them, that start with a DML
// keyword. Migrations (DDL) are not statements a request runs.
std::vector<std::string> Statements(const std::string& source) {
  std::vector<std::string> out;
  static const std::regex kLiteral(R"lit(R"(\w*)\(([\s\S]*?)\)\1"|"((?:[^"\\\n]|\\.)*)")lit");
  std::string current;
  size_t last_end = std::string::npos;
  auto flush = [&] {
    static const std::regex kDml(R"(^\s*(SELECT|UPDATE|DELETE|INSERT|WITH)\b)", std::regex::icase);
    if (std::regex_search(current, kDml)) out.push_back(current);
    current.clear();
  };
  for (auto it = std::sregex_iterator(source.begin(), source.end(), kLiteral); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    const size_t start = static_cast<size_t>(m.position(0));
    // Adjacent literals, or literals around one StrCat argument
    // ("SELECT ", kColumns, " FROM t WHERE org_id = ?"), form one statement.
    static const std::regex kJoin(R"(^\s*(,\s*[A-Za-z_][\w:.]*\s*,\s*)?$)");
    bool adjacent = last_end != std::string::npos && start >= last_end &&
                    std::regex_match(source.substr(last_end, start - last_end), kJoin);
    if (!adjacent) flush();
    current += m[2].matched ? m[2].str() : m[3].str();
    last_end = start + static_cast<size_t>(m.length(0));
  }
  flush();
  return out;
}

// Statements that run across orgs on purpose (docs/scaling.md): the outbox
// relay, migrations' bookkeeping, the scheduler's claim of due timers and
// lease release, and retention, which deletes by time in chunks.
bool IsMaintenance(const std::string& sql) {
  if (sql == "SELECT COUNT(*) FROM timers") return true;  // the service-wide pending gauge
  for (const char* marker : {"FROM outbox", "UPDATE outbox", "schema_migrations", "FROM timers WHERE due_us",
                             "UPDATE timers SET lease_owner", "claimed_by", "lease_owner", "DELETE FROM \", table",
                             "FROM account_exports WHERE state IN"}) {
    if (absl::StrContains(sql, marker)) return true;
  }
  return false;
}

TEST(CitusReadinessTest, EveryStoreStatementNamesOrgId) {
  std::vector<std::string> files;
  for (const char* dir : {"services/profiles", "services/interactions", "services/notifications", "services/common",
                          "services/recommendations"}) {
    for (const auto& entry : std::filesystem::directory_iterator(std::string(RAPPORT_SOURCE_DIR) + "/" + dir)) {
      const std::string name = entry.path().filename().string();
      if (!absl::EndsWith(name, ".cc") || absl::EndsWith(name, "_test.cc") || absl::EndsWith(name, "_bench.cc")) {
        continue;
      }
      // The database layer itself (drivers, generic retention) and the Redis
      // client (whose SELECT is Redis's) are not stores.
      if (absl::StrContains(name, "driver") || name == "db.cc" || name == "redis_client.cc") continue;
      // recommendations: only its store speaks SQL (the logic's prose would read as statements).
      if (absl::StrContains(dir, "recommendations") && !absl::EndsWith(name, "_store.cc")) continue;
      files.push_back(std::string(dir) + "/" + name);
    }
  }
  int checked = 0;
  for (const std::string& file : files) {
    for (const std::string& sql : Statements(ReadSource(file))) {
      ++checked;
      if (IsMaintenance(sql)) continue;
      EXPECT_TRUE(absl::StrContains(sql, "org_id")) << file << ": a statement that does not name org_id:\n" << sql;
    }
  }
  // The scan found the stores' SQL (a broken scan would pass vacuously).
  EXPECT_GT(checked, 100);
}

}  // namespace
}  // namespace rapport
