#include "services/common/db.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/postgres_driver.h"
#include "services/common/sqlite_driver.h"
#include "services/common/status.h"

namespace rapport::db {

Statement::Statement(Statement&& other) noexcept
    : impl_(std::exchange(other.impl_, nullptr)), status_(std::move(other.status_)) {}

Statement::~Statement() {
  if (impl_ != nullptr) impl_->Release();
}

Statement& Statement::Bind(int index, int64_t value) {
  if (impl_ != nullptr && status_.ok()) Keep(impl_->BindInt(index, value));
  return *this;
}

Statement& Statement::Bind(int index, double value) {
  if (impl_ != nullptr && status_.ok()) Keep(impl_->BindDouble(index, value));
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  if (impl_ != nullptr && status_.ok()) Keep(impl_->BindText(index, text));
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  if (impl_ != nullptr && status_.ok()) Keep(impl_->BindBlob(index, bytes));
  return *this;
}

Statement& Statement::BindNull(int index) {
  if (impl_ != nullptr && status_.ok()) Keep(impl_->BindNull(index));
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  if (!status_.ok()) return status_;
  if (impl_ == nullptr) return absl::FailedPreconditionError("step on a moved-from statement");
  absl::StatusOr<bool> row = impl_->Step();
  if (!row.ok()) status_ = row.status();
  return row;
}

absl::Status Statement::Run() {
  for (;;) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

absl::Status Statement::RunLater() {
  if (!status_.ok()) return status_;
  if (impl_ == nullptr) return absl::FailedPreconditionError("run on a moved-from statement");
  absl::Status status = impl_->RunLater();
  if (!status.ok()) status_ = status;
  return status;
}

absl::Status CallFn(const Database::Fn& fn, Connection& conn) {
  try {
    return fn(conn);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("transaction threw: ", e.what()));
  } catch (...) {
    return absl::InternalError("transaction threw a non-standard exception");
  }
}

void CallDone(const Database::Done& done, absl::Status status) {
  if (!done) return;
  try {
    done(std::move(status));
  } catch (const std::exception& e) {
    log::Error("database write completion threw", {{"error", e.what()}});
  } catch (...) {
    log::Error("database write completion threw a non-standard exception");
  }
}

absl::StatusOr<std::unique_ptr<Database>> Open(const Options& options) {
  if (!options.url.empty()) return OpenPostgres(options);
  return OpenSqlite(options);
}

absl::StatusOr<bool> DeleteOldest(Database& db, const std::string& table, const std::string& key,
                                  const std::string& time_column, int64_t before, int limit) {
  const std::string sql = absl::StrCat("DELETE FROM ", table, " WHERE (", key, ") IN (SELECT ", key, " FROM ", table,
                                       " WHERE ", time_column, " < ? ORDER BY ", time_column, " LIMIT ?)");
  int64_t deleted = 0;
  RETURN_IF_ERROR(db.Write([&](Connection& conn) -> absl::Status {
    RETURN_IF_ERROR(conn.Prepare(sql).Bind(1, before).Bind(2, limit).Run());
    deleted = conn.Changes();
    return absl::OkStatus();
  }));
  return deleted >= limit;
}

}  // namespace rapport::db
