// Status helpers shared by every service: early-return macros for
// absl::Status/StatusOr, and the one place where absl::Status becomes
// grpc::Status (codes map one to one; messages pass through).
#ifndef RAPPORT_SERVICES_COMMON_STATUS_H_
#define RAPPORT_SERVICES_COMMON_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rapport {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace rapport

#define RAPPORT_CONCAT_INNER_(a, b) a##b
#define RAPPORT_CONCAT_(a, b) RAPPORT_CONCAT_INNER_(a, b)

// Returns from the enclosing function when expr (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status rapport_status_ = (expr);           \
    if (!rapport_status_.ok()) return rapport_status_; \
  } while (0)

// ASSIGN_OR_RETURN(auto x, StatusOrExpr()); declares/assigns x or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL_(RAPPORT_CONCAT_(rapport_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.status();          \
  lhs = std::move(tmp).value()

#endif  // RAPPORT_SERVICES_COMMON_STATUS_H_
