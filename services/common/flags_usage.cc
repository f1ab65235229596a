#include "services/common/flags_usage.h"

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/string_view.h"

namespace rapport::config {
namespace {

// The top-level directories that hold flag definitions.
constexpr std::string_view kProjectDirs[] = {"services/", "gateway/", "tools/"};

bool IsProjectFile(absl::string_view file) { return !ProjectPath(std::string_view(file.data(), file.size())).empty(); }

}  // namespace

std::string ProjectPath(std::string_view file) {
  // The last project directory in the path starts the repository-relative
  // part: the checkout itself may sit under a directory named like one.
  size_t best = std::string_view::npos;
  for (std::string_view dir : kProjectDirs) {
    for (size_t at = file.find(dir); at != std::string_view::npos; at = file.find(dir, at + 1)) {
      if ((at == 0 || file[at - 1] == '/') && (best == std::string_view::npos || at > best)) best = at;
    }
  }
  if (best == std::string_view::npos) return "";
  return std::string(file.substr(best));
}

void SetUsage(const std::string& usage) {
  absl::SetProgramUsageMessage(usage);
  absl::FlagsUsageConfig config;
  config.contains_help_flags = &IsProjectFile;
  config.contains_helpshort_flags = &IsProjectFile;
  config.normalize_filename = [](absl::string_view file) -> std::string {
    std::string path = ProjectPath(std::string_view(file.data(), file.size()));
    return path.empty() ? std::string(file) : path;
  };
  absl::SetFlagsUsageConfig(config);
}

}  // namespace rapport::config
