// Quotas: how a service refuses a create that would take a tenant over one
// of its configured limits. Every refusal is RESOURCE_EXHAUSTED (HTTP 429)
// whose message starts with "quota <name>: ", so that a client (and the
// gateway's problem+json detail) can tell which quota it met. The limits are
// each service's flags (RAPPORT_QUOTA_* in the environment), with defaults a
// real user never meets; GET /v1/org/usage shows the use of each.
//
// Header-only; functions of their arguments, thread-safe.
#ifndef RAPPORT_SERVICES_COMMON_QUOTA_H_
#define RAPPORT_SERVICES_COMMON_QUOTA_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rapport {

// RESOURCE_EXHAUSTED "quota <name>: at most <limit> <what>".
inline absl::Status QuotaExceeded(absl::string_view name, int64_t limit, absl::string_view what) {
  return absl::ResourceExhaustedError(absl::StrCat("quota ", name, ": at most ", limit, " ", what,
                                                   "; delete some, or ask the operator to raise the quota"));
}

// OK while one more stays within limit (used counts what exists now).
inline absl::Status CheckQuota(absl::string_view name, int64_t used, int64_t limit, absl::string_view what) {
  if (used + 1 > limit) return QuotaExceeded(name, limit, what);
  return absl::OkStatus();
}

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_QUOTA_H_
