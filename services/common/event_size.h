// The size bound of every event on the bus: at most kMaxEventBytes
// serialized, so that a Redis stream entry, a consumer's read batch and a
// backfill page stay bounded whatever a tenant writes. Producers check it
// before appending to the outbox (profiles and interactions call it in
// their stores), so that an oversized change fails its own request
// (INVALID_ARGUMENT) instead of reaching consumers. Inputs are bounded well
// below it (a contact is at most 32 KiB as JSON), so meeting it means a
// missing input limit.
//
// Header-only; thread-safe.
#ifndef RAPPORT_SERVICES_COMMON_EVENT_SIZE_H_
#define RAPPORT_SERVICES_COMMON_EVENT_SIZE_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "rapport/events/v1/events.pb.h"

namespace rapport::events {

inline constexpr size_t kMaxEventBytes = 64 * 1024;

// INVALID_ARGUMENT naming the event type when event is over kMaxEventBytes.
inline absl::Status CheckEventSize(const v1::Event& event) {
  const size_t bytes = event.ByteSizeLong();
  if (bytes <= kMaxEventBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("event: a ", event.type(), " event of ", bytes,
                                                 " bytes is over the 64 KiB limit; shorten the change"));
}

}  // namespace rapport::events

#endif  // RAPPORT_SERVICES_COMMON_EVENT_SIZE_H_
