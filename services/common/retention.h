// Background retention for a service's SQLite tables: each rule deletes the
// rows of one table whose time column is older than the rule keeps them,
// oldest first, a chunk per write transaction (db::DeleteOldest), then
// waits a minute. Rows with a NULL time (e.g. still pending) are never
// deleted. The outbox relay and the event consumer prune their own tables
// inside their loops (the consumer's cutoff depends on the stream), with the
// same constants; this is for the rest.
//
// Thread-safety: Start and Stop from the owner; PruneOnce from anywhere.
#ifndef RAPPORT_SERVICES_COMMON_RETENTION_H_
#define RAPPORT_SERVICES_COMMON_RETENTION_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/db.h"
#include "services/common/polling_loop.h"

namespace rapport {

// How often and how much every retention loop deletes (this pruner, the
// outbox relay's and the event consumer's): a chunk of rows per write
// transaction, chunk after chunk while they come back full, then a pause.
inline constexpr std::chrono::minutes kRetentionEvery{1};
inline constexpr int kRetentionChunk = 5000;

struct RetentionRule {
  std::string table;
  std::string key;          // primary key columns, e.g. "org_id, user_id, key"
  std::string time_column;  // microseconds since the epoch; should be indexed
  std::chrono::microseconds keep;
};

class RetentionPruner {
 public:
  RetentionPruner(db::Database* db, std::vector<RetentionRule> rules);
  ~RetentionPruner();  // stops
  void Start();
  void Stop();
  // One chunk of every rule now; true when some rule's chunk was full (more
  // are probably waiting).
  absl::StatusOr<bool> PruneOnce();

 private:
  db::Database* db_;
  const std::vector<RetentionRule> rules_;
  PollingLoop loop_;
};

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_RETENTION_H_
