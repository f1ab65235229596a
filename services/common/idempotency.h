// Idempotent creates, the same way in every service. A create that carries an
// Idempotency-Key (forwarded by the gateway as x-idempotency-key metadata)
// looks the key up inside its write transaction:
// - unseen: the create runs and its response is recorded with the key;
// - seen with the same request: the recorded response is replayed, nothing
//   is created again;
// - seen with a different request: FAILED_PRECONDITION whose message starts
//   with kIdempotencyMismatch (the gateway answers 422).
// Keys are scoped per org and user, and kept for 24 hours; each service's
// RetentionPruner deletes them after that (IdempotencyRetention).
#ifndef RAPPORT_SERVICES_COMMON_IDEMPOTENCY_H_
#define RAPPORT_SERVICES_COMMON_IDEMPOTENCY_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "services/common/db.h"
#include "services/common/retention.h"

namespace rapport {

extern const char kIdempotencyMigration[];
// The index the pruner deletes by; a migration of its own, after the table's.
extern const char kIdempotencyByTimeMigration[];
inline constexpr char kIdempotencyMismatch[] = "Idempotency-Key was already used with a different request";

struct IdempotencyScope {
  std::string org;
  std::string user;
  std::string key;  // empty: the call is not idempotent
  std::string method;
};

// The recorded response for this key and request, nullopt when the key is new
// (or empty). conn must be inside a write transaction.
absl::StatusOr<std::optional<std::string>> LookupIdempotent(db::Connection& conn, const IdempotencyScope& scope,
                                                            const google::protobuf::Message& request);
// Records response for the key (no-op for an empty key), in the same transaction as the create.
absl::Status RecordIdempotent(db::Connection& conn, const IdempotencyScope& scope,
                              const google::protobuf::Message& request, const google::protobuf::Message& response);
// Validates a key: up to 255 printable ASCII characters.
bool IsValidIdempotencyKey(const std::string& key);

// The rule that deletes keys past their 24 hours (LookupIdempotent already
// treats them as new; this bounds the table).
RetentionRule IdempotencyRetention();

// A copy of request that a queued write transaction can own.
inline std::shared_ptr<google::protobuf::Message> CopyMessage(const google::protobuf::Message& request) {
  std::shared_ptr<google::protobuf::Message> copy(request.New());
  copy->CopyFrom(request);
  return copy;
}

// The whole pattern inside one write transaction: replay the recorded
// response of this key, or run create and record its result.
template <typename T>
absl::StatusOr<T> IdempotentCreate(db::Connection& conn, const IdempotencyScope& scope,
                                   const google::protobuf::Message& request,
                                   const std::function<absl::StatusOr<T>()>& create) {
  absl::StatusOr<std::optional<std::string>> replay = LookupIdempotent(conn, scope, request);
  if (!replay.ok()) return replay.status();
  if (replay->has_value()) {
    T first;
    if (!first.ParseFromString(**replay)) return absl::InternalError("corrupt idempotency record");
    return first;
  }
  absl::StatusOr<T> created = create();
  if (!created.ok()) return created.status();
  absl::Status recorded = RecordIdempotent(conn, scope, request, *created);
  if (!recorded.ok()) return recorded;
  return created;
}

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_IDEMPOTENCY_H_
