// The PostgreSQL driver of the database layer (services/common/db.h), on
// libpq. Selected by db::Options::url (postgresql://user:password@host:port/
// dbname?sslmode=...). Each service keeps its tables in its own schema
// (Options::schema), created by its migrations; every connection has
// search_path set to it and synchronous_commit on, so a write is
// acknowledged only after its commit is durable.
//
// - A pool of connections (Options::pool_size). Read runs in a REPEATABLE READ
//   READ ONLY transaction (one snapshot). Write runs in a SERIALIZABLE
//   transaction, so stores written for SQLite's single writer keep their
//   read-then-write logic; a serialization failure or deadlock re-runs the
//   function (a few times) before answering ABORTED. WriteAsync runs on a
//   small pool of worker threads (Options::write_workers) that group-commit
//   what is queued, like the SQLite writer: up to Options::max_batch writes
//   in one transaction, a savepoint each, one commit (one WAL flush) for all;
//   should the database abort the batch, each write runs again alone. done
//   is called after the commit. A write function must therefore not use
//   transaction-level commands (SET TRANSACTION): only Write's are its own.
// - Statements are prepared once per connection (PQprepare) and cached by
//   SQL text; `?` and `?N` placeholders become `$N`.
// - A lost connection answers UNAVAILABLE for the call that needed it and is
//   re-established on its next use; the process never crashes on it.
// - Migrations run under a session advisory lock named after the schema, so
//   replicas starting together migrate once.
//
// The dialect differences the driver translates, by name (stores write the
// SQLite-compatible form once): in migrations, `INTEGER PRIMARY KEY
// AUTOINCREMENT` → identity column, `INTEGER` → BIGINT, `REAL` → DOUBLE
// PRECISION, `BLOB` → BYTEA, `WITHOUT ROWID` dropped; in queries, `instr(` →
// `strpos(`.
//
// Thread-safety: as db::Database.
#ifndef RAPPORT_SERVICES_COMMON_POSTGRES_DRIVER_H_
#define RAPPORT_SERVICES_COMMON_POSTGRES_DRIVER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "services/common/db.h"

namespace rapport::db {

// Opens the database at options.url. UNAVAILABLE (naming the host, never the
// password) when it cannot be reached; INVALID_ARGUMENT for a malformed URL
// or an invalid schema name.
absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(const Options& options);

// `?` → `$1, $2, ...` and `?N` → `$N`, outside quotes and comments; and the
// query-level dialect differences above.
std::string PostgresQuery(std::string_view sql);

// A migration written for SQLite, in PostgreSQL's dialect (see above).
std::string PostgresDdl(std::string_view sql);

// The URL without its password, for messages and logs.
std::string RedactUrl(std::string_view url);

}  // namespace rapport::db

#endif  // RAPPORT_SERVICES_COMMON_POSTGRES_DRIVER_H_
