// The pure parts of rapportctl, kept apart from main.cc so they can be tested
// without a gateway: the argv parser, the development JWT and the JSON
// pretty-printer. Thread-safe (no shared state).
#ifndef RAPPORT_TOOLS_RAPPORTCTL_RAPPORTCTL_H_
#define RAPPORT_TOOLS_RAPPORTCTL_RAPPORTCTL_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rapport::ctl {

struct FlagSpec {
  std::string name;  // without the leading "--"
  bool takes_value = true;
  std::string help;
};

struct ParsedArgs {
  std::string command;                       // empty when none was given
  std::map<std::string, std::string> flags;  // boolean flags map to "true"
  std::vector<std::string> positional;       // after the command
  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  std::string Get(const std::string& name) const {
    auto it = flags.find(name);
    return it == flags.end() ? "" : it->second;
  }
};

// Parses args (argv without the program name). Flags are "--name value",
// "--name=value" or, for boolean flags, "--name"; "-h" is "--help"; "--" ends
// the flags. `global` flags may come before the command; after it, the
// command's flags (from `command_flags`, keyed by command name) and the global
// ones. INVALID_ARGUMENT on an unknown flag or a missing value. An unknown
// command is left to the caller (its flags are then the global ones).
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const std::vector<FlagSpec>& global,
                                     const std::map<std::string, std::vector<FlagSpec>>& command_flags);

// "3600", "90s", "15m", "1h", "1h30m", "7d" -> a positive duration.
absl::StatusOr<absl::Duration> ParseTtl(const std::string& text);

struct JwtClaims {
  std::string user_id;  // sub
  std::string org_id;   // org
  std::string issuer = "rapport";
  std::string audience = "rapport";
  absl::Duration ttl = absl::Hours(1);
  // The header's kid: an org signing key's (the secret is then that key's,
  // from POST /v1/orgs or POST /v1/org/jwtKeys:rotate); empty: none, the
  // gateway's global secret.
  std::string kid;
};

// An HS256 JWT as the gateway accepts it: {"alg":"HS256","typ":"JWT"} (plus
// "kid" when claims.kid is set) and claims sub, org, iss, aud, iat, exp = now + ttl.
std::string MintJwt(const JwtClaims& claims, const std::string& secret, absl::Time now = absl::Now());

// A JSON string literal for text (taken as UTF-8): quotes, backslashes and
// control characters escaped.
std::string JsonQuote(const std::string& text);

// Percent-encodes s for a URL's query string (RFC 3986 unreserved kept).
std::string QueryEscape(const std::string& s);

// An import's progress as GET /v1/imports/{id} tells it.
struct ImportProgress {
  std::string state;  // IMPORT_QUEUED, IMPORT_RUNNING, IMPORT_SUCCEEDED, IMPORT_FAILED
  int64_t total = 0, read = 0, created = 0, merged = 0, skipped = 0;
};

// One line of an import's progress: on a terminal a bar that fits width
// columns ("[#####     ]  512/1000  51%  created 500 merged 2 skipped 10"),
// otherwise the plain counts ("512/1000 rows: 500 created, 2 merged, 10
// skipped").
std::string ProgressLine(const ImportProgress& p, bool terminal, int width);

// Re-indents JSON text by two spaces, keeping keys in order and numbers and
// strings verbatim. Text that is not JSON comes back with only its
// whitespace outside strings changed; empty text stays empty.
std::string PrettyJson(const std::string& json);

}  // namespace rapport::ctl

#endif  // RAPPORT_TOOLS_RAPPORTCTL_RAPPORTCTL_H_
