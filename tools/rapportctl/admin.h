// rapportctl's org administration commands (`users`, `keys`, `audit`), for
// org admins: they call the gateway through the Caller main.cc gives them
// (credentials, base URL and error reporting are main.cc's) and print plain
// tab-separated lines, one per item, or the JSON answers with --json. Lists
// print one page (--page-size, --page-token; the next token goes to stderr)
// or every page with --all.
//
// Thread-safety: no shared state.
#ifndef RAPPORT_TOOLS_RAPPORTCTL_ADMIN_H_
#define RAPPORT_TOOLS_RAPPORTCTL_ADMIN_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/rapportctl/rapportctl.h"

namespace rapport::ctl {

// Sends method path [body as JSON]; fills *answer with the body and returns
// true on HTTP < 400, else reports the failure to stderr and returns false.
using Caller = std::function<bool(const std::string& method, const std::string& path, const std::string& body,
                                  std::string* answer)>;

// The flags of each command, for the parser and the help.
std::vector<FlagSpec> UsersFlags();
std::vector<FlagSpec> KeysFlags();
std::vector<FlagSpec> AuditFlags();

// Exit status 0 ok, 1 a failed call, 2 bad usage (the message in *usage_error).
int UsersCommand(const ParsedArgs& args, const Caller& call, std::ostream& out, std::string* usage_error);
int KeysCommand(const ParsedArgs& args, const Caller& call, std::ostream& out, std::string* usage_error);
int AuditCommand(const ParsedArgs& args, const Caller& call, std::ostream& out, std::string* usage_error);

// The lines the commands print for one page of GET /v1/users, /v1/apiKeys
// or /v1/audit (columns in the commands' help); INVALID_ARGUMENT when the
// answer is not such JSON. now tells expired keys.
absl::StatusOr<std::string> UserLines(const std::string& json);
absl::StatusOr<std::string> KeyLines(const std::string& json, absl::Time now = absl::Now());
absl::StatusOr<std::string> AuditLines(const std::string& json);

// --since and --at: an RFC 3339 time, or a duration back from (--since) or
// ahead of (--at / --in) now ("24h", "7d"; see ParseTtl).
absl::StatusOr<absl::Time> ParseWhen(const std::string& text, absl::Time now, bool past);

}  // namespace rapport::ctl

#endif  // RAPPORT_TOOLS_RAPPORTCTL_ADMIN_H_
