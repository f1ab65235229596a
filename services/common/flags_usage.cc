#include "services/common/flags_usage.h"

#include <optional>

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace rapport::config {
namespace {

// The top-level directories that hold flag definitions.
constexpr std::string_view kProjectDirs[] = {"services/", "gateway/", "tools/"};

bool IsProjectFile(absl::string_view file) { return !ProjectPath(std::string_view(file.data(), file.size())).empty(); }

// The name of the flag arg sets ("--name=value", "-name", "--noname"), or
// nullopt when arg is not a flag.
std::optional<std::string> FlagName(absl::string_view arg) {
  if (!absl::ConsumePrefix(&arg, "-")) return std::nullopt;
  absl::ConsumePrefix(&arg, "-");
  if (arg.empty()) return std::nullopt;
  return std::string(arg.substr(0, arg.find('=')));
}

bool IsFlagFileOption(const std::string& name) {
  return name == "flagfile" || name == "fromenv" || name == "tryfromenv";
}

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

bool IsSecretFlag(std::string_view name) {
  const absl::string_view n(name.data(), name.size());
  return absl::EndsWith(n, "_key") || absl::EndsWith(n, "_secret") || absl::EndsWith(n, "_password") ||
         absl::EndsWith(n, "_url");
}

bool IsUsageRequest(int argc, char** argv) {
  static constexpr absl::string_view kUsageFlags[] = {"help",        "helpfull", "helpshort",
                                                      "helppackage", "helpon",   "helpmatch"};
  for (int i = 1; i < argc && argv[i] != nullptr; ++i) {
    if (absl::string_view(argv[i]) == "--") break;  // positional arguments follow
    std::optional<std::string> name = FlagName(argv[i]);
    if (!name.has_value()) continue;
    for (absl::string_view usage : kUsageFlags) {
      if (*name == usage) return true;
    }
  }
  return false;
}

std::vector<std::string> RedactSecretArgs(int argc, char** argv) {
  std::vector<std::string> out;
  for (int i = 0; i < argc && argv[i] != nullptr; ++i) {
    const absl::string_view arg(argv[i]);
    std::optional<std::string> name = i == 0 ? std::nullopt : FlagName(arg);
    if (arg == "--") {  // the rest is positional
      for (; i < argc && argv[i] != nullptr; ++i) out.emplace_back(argv[i]);
      break;
    }
    if (!name.has_value() || !(IsSecretFlag(*name) || IsFlagFileOption(*name))) {
      out.emplace_back(arg);
      continue;
    }
    const bool inline_value = absl::StrContains(arg, '=');
    if (!IsFlagFileOption(*name)) out.push_back(absl::StrCat("--", *name, "=", kRedacted));
    if (!inline_value && i + 1 < argc) ++i;  // "--name value": skip the value
  }
  return out;
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
