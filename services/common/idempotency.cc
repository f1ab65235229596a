#include "services/common/idempotency.h"

#include "absl/time/clock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "services/common/crypto.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport {
namespace {

constexpr int64_t kRetentionMicros = int64_t{24} * 3600 * 1000000;

// Hash of the method and the request's deterministic serialization, so the
// same request always hashes the same regardless of field order in transit.
std::string RequestHash(const std::string& method, const google::protobuf::Message& request) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  std::string keyed = method;
  keyed.push_back('\0');
  keyed += bytes;
  return Sha256(keyed);
}

// What a recorded response is sealed with: its row, so that a response
// copied into another row does not open there.
std::string RecordContext(const IdempotencyScope& scope) {
  std::string context = "idempotency_keys";
  for (const std::string* part : {&scope.org, &scope.user, &scope.key}) {
    context.push_back('\0');
    context += *part;
  }
  return context;
}

}  // namespace

const char kIdempotencyMigration[] = R"sql(
CREATE TABLE idempotency_keys (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  key TEXT NOT NULL,
  request_sha256 BLOB NOT NULL,
  response BLOB NOT NULL,
  create_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, key)
) WITHOUT ROWID;
)sql";

const char kIdempotencyByTimeMigration[] = R"sql(
CREATE INDEX idempotency_keys_by_time ON idempotency_keys (create_us);
)sql";

bool IsValidIdempotencyKey(const std::string& key) {
  if (key.empty() || key.size() > 255) return false;
  for (char c : key) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

absl::StatusOr<std::optional<std::string>> LookupIdempotent(db::Connection& conn, const IdempotencyScope& scope,
                                                            const google::protobuf::Message& request) {
  if (scope.key.empty()) return std::nullopt;
  if (!IsValidIdempotencyKey(scope.key)) {
    return absl::InvalidArgumentError("Idempotency-Key: must be 1..255 printable ASCII characters");
  }
  auto st = conn.Prepare(
      "SELECT request_sha256, response, create_us FROM idempotency_keys WHERE org_id = ? AND user_id = ? AND key = ?");
  st.Bind(1, scope.org).Bind(2, scope.user).Bind(3, scope.key);
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::nullopt;
  if (st.ColumnInt(2) < ToMicros(absl::Now()) - kRetentionMicros) {
    // Expired: forget it, so the key starts afresh.
    auto del = conn.Prepare("DELETE FROM idempotency_keys WHERE org_id = ? AND user_id = ? AND key = ?");
    del.Bind(1, scope.org).Bind(2, scope.user).Bind(3, scope.key);
    RETURN_IF_ERROR(del.Run());
    return std::nullopt;
  }
  if (!ConstantTimeEquals(st.ColumnBlob(0), RequestHash(scope.method, request))) {
    return absl::FailedPreconditionError(kIdempotencyMismatch);
  }
  // Responses may carry secrets (a webhook's signing secret): they are
  // sealed; rows recorded before sealing are read as they are.
  return OpenFromStorage(st.ColumnBlob(1), RecordContext(scope));
}

absl::Status RecordIdempotent(db::Connection& conn, const IdempotencyScope& scope,
                              const google::protobuf::Message& request, const google::protobuf::Message& response) {
  if (scope.key.empty()) return absl::OkStatus();
  auto st = conn.Prepare(
      "INSERT INTO idempotency_keys (org_id, user_id, key, request_sha256, response, create_us) "
      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, user_id, key) DO UPDATE SET "
      "request_sha256 = excluded.request_sha256, response = excluded.response, create_us = excluded.create_us");
  st.Bind(1, scope.org)
      .Bind(2, scope.user)
      .Bind(3, scope.key)
      .BindBlob(4, RequestHash(scope.method, request))
      .BindBlob(5, SealForStorage(response.SerializeAsString(), RecordContext(scope)))
      .Bind(6, ToMicros(absl::Now()));
  return st.RunLater();  // the last statement of a create: its failure fails the commit
}

RetentionRule IdempotencyRetention() {
  return RetentionRule{"idempotency_keys", "org_id, user_id, key", "create_us",
                       std::chrono::microseconds(kRetentionMicros)};
}

}  // namespace rapport
