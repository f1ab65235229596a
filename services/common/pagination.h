// List pagination shared by every service: page sizes per API.md (0 or unset
// means 50, values above 500 are clamped, negative ones refused) and opaque
// keyset page tokens carrying the last key of the previous page.
#ifndef RAPPORT_SERVICES_COMMON_PAGINATION_H_
#define RAPPORT_SERVICES_COMMON_PAGINATION_H_

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rapport {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 500;

// INVALID_ARGUMENT "pageSize: ..." when negative.
absl::StatusOr<int> PageSize(int requested);

std::string EncodePageToken(std::string_view last_key);
// The last key, or "" for an empty token; INVALID_ARGUMENT "pageToken: ..."
// when the token was not made by EncodePageToken.
absl::StatusOr<std::string> DecodePageToken(std::string_view token);

// Keyset keys over several columns (e.g. org, user, id when an export spans
// every org): the parts joined with a separator that ids never contain.
// SplitKeyParts returns exactly n parts, padding with "" (an empty key, the
// first page, compares below every row) and INVALID_ARGUMENT "pageToken: ..."
// when the key has more parts.
std::string JoinKeyParts(const std::vector<std::string>& parts);
absl::StatusOr<std::vector<std::string>> SplitKeyParts(std::string_view key, size_t n);

// A list request's page: its size (validated and clamped) and the key after
// which it starts ("" for the first page).
struct Page {
  int size = kDefaultPageSize;
  std::string after;
};
absl::StatusOr<Page> ParsePage(int page_size, const std::string& page_token);

// Lists read one row more than the page (limit + 1) to learn whether another
// page follows. Trims items to limit and returns the next page's token, or ""
// on the last page.
template <typename T, typename KeyFn>
std::string TrimToPage(std::vector<T>& items, int limit, KeyFn key) {
  if (static_cast<int>(items.size()) <= limit) return std::string();
  items.resize(limit);
  return EncodePageToken(key(items.back()));
}

// TrimToPage that also bounds the page by bytes: items are kept while their
// bytes(item) add up to at most max_bytes (the first is always kept: a single
// row is bounded by its own input limits), so that a page of large rows
// stays under a message limit (gRPC's 4 MiB) whatever the page size asks.
// Returns the token after the last kept item, or "" when nothing follows.
template <typename T, typename BytesFn, typename KeyFn>
std::string TrimToPageBytes(std::vector<T>& items, int limit, size_t max_bytes, BytesFn bytes, KeyFn key) {
  const size_t rows = std::min(items.size(), static_cast<size_t>(std::max(limit, 0)));
  size_t kept = 0;
  size_t total = 0;
  for (; kept < rows; ++kept) {
    const size_t b = bytes(items[kept]);
    if (kept > 0 && total + b > max_bytes) break;
    total += b;
  }
  if (kept == items.size()) return std::string();
  items.resize(kept);
  if (items.empty()) return std::string();
  return EncodePageToken(key(items.back()));
}

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_PAGINATION_H_
