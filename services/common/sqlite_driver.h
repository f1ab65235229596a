// The SQLite driver of the database layer (services/common/db.h): one file
// per service, WAL, synchronous=FULL, busy_timeout. One writer connection,
// owned by one writer thread, group-commits every write transaction queued
// while the previous batch was committing: each runs inside its own SAVEPOINT
// (a failing one is rolled back alone), the batch commits once (one fsync),
// and only then is each caller's completion called. Reads run on a pool of
// read-only connections inside a read transaction, so each Read sees one
// consistent snapshot. Numbered migrations are applied at open.
//
// This and sqlite_driver.cc are the only files that include sqlite3.h.
//
// Thread-safety: as db::Database.
#ifndef RAPPORT_SERVICES_COMMON_SQLITE_DRIVER_H_
#define RAPPORT_SERVICES_COMMON_SQLITE_DRIVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "services/common/db.h"

struct sqlite3;

namespace rapport::db {

// Opens options.path with the SQLite driver. INVALID_ARGUMENT for an empty
// path or non-positive sizes; FAILED_PRECONDITION when the file cannot use
// WAL or its schema is newer than the migrations.
absl::StatusOr<std::unique_ptr<Database>> OpenSqlite(const Options& options);

// The SQLite handle behind a connection the SQLite driver handed out, for the
// driver's own tests only (they reach past the layer to provoke failures).
sqlite3* RawSqliteHandle(Connection& conn);

}  // namespace rapport::db

#endif  // RAPPORT_SERVICES_COMMON_SQLITE_DRIVER_H_
