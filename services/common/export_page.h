// The one way a service answers an internal export RPC (rapport.backfill.v1):
// validates the page, turns the opaque token into the keyset key, asks the
// store for one row more than the page, and returns the events with the next
// token. A page is bounded by rows (page_size) and by bytes
// (kMaxExportPageBytes), so that no page can pass gRPC's message limit
// whatever its rows hold; with org_id set it holds that org's rows only.
// Header-only so that rapport_common does not depend on the export protos;
// only services that export include it. Thread-safe (no state).
#ifndef RAPPORT_SERVICES_COMMON_EXPORT_PAGE_H_
#define RAPPORT_SERVICES_COMMON_EXPORT_PAGE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "rapport/backfill/v1/backfill.pb.h"
#include "services/common/outbox.h"
#include "services/common/pagination.h"
#include "services/common/status.h"

namespace rapport {

// At most this many bytes in one serialized export page (gRPC refuses
// messages over 4 MiB by default; a row is at most 64 KiB, event_size.h).
inline constexpr size_t kMaxExportPageBytes = 1 << 20;

// What a row costs in a page: the event plus its field tag and length
// prefix (at most 1 + 5 bytes). Room is also kept for the page token.
inline size_t ExportRowBytes(const events::v1::Event& e) { return e.ByteSizeLong() + 6; }
inline constexpr size_t kExportTokenRoom = 1024;

// list(after, limit) is a store's Export* method; key_parts is its key width
// (the first part is the org).
template <typename ListFn>
absl::StatusOr<backfill::v1::ExportResponse> ExportPage(const backfill::v1::ExportRequest& req, size_t key_parts,
                                                        ListFn list) {
  ASSIGN_OR_RETURN(Page page, ParsePage(req.page_size(), req.page_token()));
  ASSIGN_OR_RETURN(std::vector<std::string> after, SplitKeyParts(page.after, key_parts));
  const std::string& org = req.org_id();
  if (page.after.empty()) {
    // (org, "", ...) sorts before every row of org and after every row of
    // the orgs before it.
    after.clear();
    if (!org.empty()) {
      after.assign(key_parts, "");
      after[0] = org;
    }
  } else if (!org.empty() && after[0] != org) {
    return absl::InvalidArgumentError(absl::StrCat("pageToken: is not a page of org ", org, "'s export"));
  }
  ASSIGN_OR_RETURN(std::vector<events::ExportedEvent> rows, list(after, page.size + 1));
  if (!org.empty()) {
    // Rows of the orgs after it end org's export (no token when every row
    // before them fits the page).
    size_t i = 0;
    while (i < rows.size() && rows[i].key[0] == org) ++i;
    rows.resize(i);
  }
  backfill::v1::ExportResponse out;
  std::string next = TrimToPageBytes(
      rows, page.size, kMaxExportPageBytes - kExportTokenRoom,
      [](const events::ExportedEvent& e) { return ExportRowBytes(e.event); },
      [](const events::ExportedEvent& e) { return JoinKeyParts(e.key); });
  out.set_next_page_token(std::move(next));
  for (auto& row : rows) *out.add_events() = std::move(row.event);
  return out;
}

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_EXPORT_PAGE_H_
