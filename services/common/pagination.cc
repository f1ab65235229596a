#include "services/common/pagination.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace rapport {
namespace {
constexpr char kTokenPrefix[] = "k1:";
constexpr size_t kTokenPrefixLen = 3;
}  // namespace

absl::StatusOr<Page> ParsePage(int page_size, const std::string& page_token) {
  absl::StatusOr<int> size = PageSize(page_size);
  if (!size.ok()) return size.status();
  absl::StatusOr<std::string> after = DecodePageToken(page_token);
  if (!after.ok()) return after.status();
  return Page{*size, *std::move(after)};
}

absl::StatusOr<int> PageSize(int requested) {
  if (requested < 0) return absl::InvalidArgumentError("pageSize: must not be negative");
  if (requested == 0) return kDefaultPageSize;
  return requested > kMaxPageSize ? kMaxPageSize : requested;
}

std::string EncodePageToken(std::string_view last_key) {
  return absl::WebSafeBase64Escape(kTokenPrefix + std::string(last_key));
}

absl::StatusOr<std::string> DecodePageToken(std::string_view token) {
  if (token.empty()) return std::string();
  std::string raw;
  if (token.size() > 1024 || !absl::WebSafeBase64Unescape(std::string(token), &raw) ||
      raw.compare(0, kTokenPrefixLen, kTokenPrefix) != 0 || raw.size() == kTokenPrefixLen) {
    return absl::InvalidArgumentError("pageToken: is not a token from a previous page");
  }
  return raw.substr(kTokenPrefixLen);
}

std::string JoinKeyParts(const std::vector<std::string>& parts) { return absl::StrJoin(parts, "\x1f"); }

absl::StatusOr<std::vector<std::string>> SplitKeyParts(std::string_view key, size_t n) {
  std::vector<std::string> parts;
  if (!key.empty()) parts = absl::StrSplit(absl::string_view(key.data(), key.size()), '\x1f');
  if (parts.size() > n) return absl::InvalidArgumentError("pageToken: is not a token from a previous page");
  parts.resize(n);
  return parts;
}

}  // namespace rapport
