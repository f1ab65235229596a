// Helpers every SQLite store uses on top of services/common/sqlite.h:
// write transactions that produce a value, and protobuf rows stored as blobs.
#ifndef RAPPORT_SERVICES_COMMON_STORE_UTIL_H_
#define RAPPORT_SERVICES_COMMON_STORE_UTIL_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/message.h"
#include "services/common/sqlite.h"

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

namespace rapport::sqlite {

// NOT_FOUND "<what> not found": the answer for a missing row and for another
// tenant's row alike.
inline absl::Status RowNotFound(const char* what) {
  return absl::NotFoundError(absl::StrCat(what, " not found"));
}

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

}  // namespace rapport::sqlite

#endif  // RAPPORT_SERVICES_COMMON_STORE_UTIL_H_
