// The one way a service answers an internal export RPC (rapport.backfill.v1):
// validates the page, turns the opaque token into the keyset key, asks the
// store for one row more than the page, and returns the events with the next
// token. Header-only so that rapport_common does not depend on the export
// protos; only services that export include it.
#ifndef RAPPORT_SERVICES_COMMON_EXPORT_PAGE_H_
#define RAPPORT_SERVICES_COMMON_EXPORT_PAGE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rapport/backfill/v1/backfill.pb.h"
#include "services/common/outbox.h"
#include "services/common/pagination.h"
#include "services/common/status.h"

namespace rapport {

// list(after, limit) is a store's Export* method; key_parts is its key width.
template <typename ListFn>
absl::StatusOr<backfill::v1::ExportResponse> ExportPage(const backfill::v1::ExportRequest& req, size_t key_parts,
                                                        ListFn list) {
  ASSIGN_OR_RETURN(Page page, ParsePage(req.page_size(), req.page_token()));
  ASSIGN_OR_RETURN(std::vector<std::string> after, SplitKeyParts(page.after, key_parts));
  if (page.after.empty()) after.clear();
  ASSIGN_OR_RETURN(std::vector<events::ExportedEvent> rows, list(after, page.size + 1));
  backfill::v1::ExportResponse out;
  out.set_next_page_token(
      TrimToPage(rows, page.size, [](const events::ExportedEvent& e) { return JoinKeyParts(e.key); }));
  for (auto& row : rows) *out.add_events() = std::move(row.event);
  return out;
}

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_EXPORT_PAGE_H_
