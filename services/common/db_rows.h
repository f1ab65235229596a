// Helpers every store uses on top of the database layer (services/common/db.h):
// write transactions that produce a value, and typed row access — protobuf
// rows stored as blobs (ReadBlob, ListBlobs) and any row shape (ReadRow,
// ListRows, ForEachRow) — so that no store writes its own Step() loop.
// Stateless; thread-safety is that of the Connection and Statement used.
#ifndef RAPPORT_SERVICES_COMMON_DB_ROWS_H_
#define RAPPORT_SERVICES_COMMON_DB_ROWS_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/message.h"
#include "services/common/db.h"
#include "services/common/status.h"

namespace rapport {

// Whose data a store call touches: the org and, for personal data, the owning user.
struct Owner {
  std::string org;
  std::string user;
};

// Completion callbacks of store writes: called once, after the change is durable.
template <typename T>
using Done = std::function<void(absl::StatusOr<T>)>;
using DoneStatus = std::function<void(absl::Status)>;
// A change applied to the current row inside the write transaction.
template <typename T>
using Mutation = std::function<absl::Status(T&)>;

}  // namespace rapport

namespace rapport::db {

// NOT_FOUND "<what> not found": the answer for a missing row and for another
// tenant's row alike.
inline absl::Status RowNotFound(const char* what) { return absl::NotFoundError(absl::StrCat(what, " not found")); }

// Runs fn as one write transaction and hands its value to done once the
// transaction is durable (or its error, or the commit's error).
template <typename T>
void WriteWithResult(Database& db, std::function<absl::StatusOr<T>(Connection&)> fn,
                     std::function<void(absl::StatusOr<T>)> done) {
  auto result = std::make_shared<T>();
  db.WriteAsync(
      [fn = std::move(fn), result](Connection& conn) -> absl::Status {
        absl::StatusOr<T> value = fn(conn);
        if (!value.ok()) return value.status();
        *result = std::move(value).value();
        return absl::OkStatus();
      },
      [result, done = std::move(done)](absl::Status status) {
        if (status.ok()) {
          done(std::move(*result));
        } else {
          done(status);
        }
      });
}

// Parses a blob column into message; INTERNAL (a corrupt row) when it fails.
inline absl::Status ParseRow(const std::string& blob, google::protobuf::Message* message) {
  if (!message->ParseFromString(blob)) {
    return absl::InternalError(absl::StrCat("corrupt ", message->GetTypeName(), " row"));
  }
  return absl::OkStatus();
}

// Calls fn(statement) for each row until the rows end or fn fails; fn
// returns absl::Status or void.
template <typename Fn>
absl::Status ForEachRow(Statement& st, Fn fn) {
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return absl::OkStatus();
    if constexpr (std::is_void_v<std::invoke_result_t<Fn, const Statement&>>) {
      fn(static_cast<const Statement&>(st));
    } else {
      RETURN_IF_ERROR(fn(static_cast<const Statement&>(st)));
    }
  }
}

// Every row, each turned into a T by read(statement), which returns T or
// absl::StatusOr<T>.
template <typename T, typename ReadFn>
absl::StatusOr<std::vector<T>> ListRows(Statement& st, ReadFn read) {
  std::vector<T> out;
  RETURN_IF_ERROR(ForEachRow(st, [&](const Statement& row) -> absl::Status {
    if constexpr (std::is_same_v<std::invoke_result_t<ReadFn, const Statement&>, T>) {
      out.push_back(read(row));
    } else {
      ASSIGN_OR_RETURN(T value, read(row));
      out.push_back(std::move(value));
    }
    return absl::OkStatus();
  }));
  return out;
}

// The first row turned into a T by read(statement), or nullopt when there
// is none.
template <typename T, typename ReadFn>
absl::StatusOr<std::optional<T>> ReadRow(Statement& st, ReadFn read) {
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<T>();
  if constexpr (std::is_same_v<std::invoke_result_t<ReadFn, const Statement&>, T>) {
    return std::optional<T>(read(static_cast<const Statement&>(st)));
  } else {
    ASSIGN_OR_RETURN(T value, read(static_cast<const Statement&>(st)));
    return std::optional<T>(std::move(value));
  }
}

// Whether the statement yields a row.
inline absl::StatusOr<bool> Exists(Statement& st) { return st.Step(); }

// The message stored as a blob in column `col` of the first row; NOT_FOUND
// "<what> not found" when there is no row.
template <typename T>
absl::StatusOr<T> ReadBlob(Statement& st, const char* what, int col = 0) {
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return RowNotFound(what);
  T out;
  RETURN_IF_ERROR(ParseRow(st.ColumnBlob(col), &out));
  return out;
}

// The messages stored as blobs in column `col` of every row.
template <typename T>
absl::StatusOr<std::vector<T>> ListBlobs(Statement& st, int col = 0) {
  return ListRows<T>(st, [col](const Statement& row) -> absl::StatusOr<T> {
    T item;
    RETURN_IF_ERROR(ParseRow(row.ColumnBlob(col), &item));
    return item;
  });
}

}  // namespace rapport::db

#endif  // RAPPORT_SERVICES_COMMON_DB_ROWS_H_
