// What --help shows. Abseil's --help lists only the flags defined in files
// named after the program (profiles.cc or profiles_main.cc for `profiles`),
// which no Rapport binary has, so every binary answered "No flags matched".
// SetUsage makes --help and --helpshort list every flag defined in the
// project's own files (services/, gateway/, tools/) that the binary links,
// each file named by its path in the repository; --helpfull still adds
// Abseil's and gRPC's. config::ParseFlags calls it; a binary that parses
// flags without config.cc's shared flags (rapport-healthcheck) calls it
// itself.
//
// Thread-safety: call SetUsage once, first thing in main, before parsing.
#ifndef RAPPORT_SERVICES_COMMON_FLAGS_USAGE_H_
#define RAPPORT_SERVICES_COMMON_FLAGS_USAGE_H_

#include <string>
#include <string_view>
#include <vector>

namespace rapport::config {

// Sets the program's usage line (the first line of --help) and the filters
// above.
void SetUsage(const std::string& usage);

// The path of a source file relative to the repository root, e.g.
// "services/common/config.cc", however the compiler spelled it (absolute, or
// relative to the build directory as under ccache's base_dir); empty when
// the file is not one of the project's.
std::string ProjectPath(std::string_view file);

// What --help shows instead of a secret flag's value.
inline constexpr char kRedacted[] = "<redacted>";

// A flag whose value is a secret or may carry one: its name ends in "_key",
// "_secret", "_password" or "_url" (URLs carry credentials). Such a flag must
// default to "" (help_test checks), and --help shows its value as kRedacted.
bool IsSecretFlag(std::string_view name);

// Whether argv asks for usage (--help, --helpfull, --helpshort, --helppackage,
// --helpon=, --helpmatch=, with one dash or two), which absl answers inside
// ParseCommandLine, printing each set flag's current value.
bool IsUsageRequest(int argc, char** argv);

// argv with the value of every secret flag replaced by kRedacted and the
// flag-file options (--flagfile, --fromenv, --tryfromenv) dropped, for a
// usage request only.
std::vector<std::string> RedactSecretArgs(int argc, char** argv);

}  // namespace rapport::config

#endif  // RAPPORT_SERVICES_COMMON_FLAGS_USAGE_H_
