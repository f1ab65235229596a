// rapportctl: a command-line client for Rapport's HTTP/JSON API (see
// ../shared/API.md and `rapportctl --help`). Exit status: 0 on success, 1 when
// the call fails (transport error or HTTP status >= 400, the problem+json on
// stderr), 2 on a bad command line.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "services/common/http_client.h"
#include "tools/rapportctl/admin.h"
#include "tools/rapportctl/rapportctl.h"

namespace rapport::ctl {
namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

struct Command {
  std::string name;
  std::string synopsis;     // after "rapportctl "
  std::string description;  // one or more lines
  std::vector<FlagSpec> flags;
};

const std::vector<FlagSpec>& GlobalFlags() {
  static const std::vector<FlagSpec> kFlags = {
      {"url", true,
       "gateway base URL (env RAPPORT_URL; default http://$RAPPORT_HTTP_ADDR, else http://127.0.0.1:8080)"},
      {"api-key", true, "X-Api-Key secret (env RAPPORT_API_KEY; create-org falls back to RAPPORT_ADMIN_KEY)"},
      {"token", true, "Bearer JWT for an end user (env RAPPORT_TOKEN); sent instead of the API key"},
      {"as-user", true, "X-Rapport-User: the user an ACT_AS_USER key acts as"},
      {"help", false, "print usage and exit"},
  };
  return kFlags;
}

const std::vector<Command>& Commands() {
  static const FlagSpec kJson = {"json", false, "print the gateway's JSON answer instead of plain lines"};
  static const std::vector<FlagSpec> kCallFlags = {
      {"data", true, "request body: JSON text, @FILE, or @- for stdin (sent as application/json)"},
      {"idempotency-key", true, "Idempotency-Key header (creating calls replay their first answer)"},
      {"raw", false, "print the answer as received instead of pretty-printed"},
  };
  static const std::vector<Command> kCommands = [&] {
    std::vector<Command> c = {
        {"create-org",
         "create-org NAME [--json]",
         "Creates an org (POST /v1/orgs) with the platform admin key. Prints two lines:\n"
         "the org id, then the org-admin API key's secret (shown only this once).",
         {kJson}},
        {"create-user",
         "create-user --name NAME --email EMAIL [--timezone TZ] [--json]",
         "Creates a user of the key's org (POST /v1/users) with an org-admin key. Prints the user id.",
         {{"name", true, "display name (required)"},
          {"email", true, "email address (required)"},
          {"timezone", true, "IANA time zone, e.g. Europe/Paris (default: the server's, UTC)"},
          kJson}},
        {"create-key",
         "create-key --name NAME --scopes READ,WRITE,... [--json]",
         "Creates an API key in the key's org (POST /v1/apiKeys) with an org-admin key.\n"
         "Prints the new key's secret (shown only this once).",
         {{"name", true, "display name (required)"},
          {"scopes", true, "comma-separated: READ, WRITE, ADMIN, ACT_AS_USER (required)"},
          kJson}},
        {"mint-jwt",
         "mint-jwt --user USER_ID --org ORG_ID [--ttl 1h] [--secret S] [--kid KID]",
         "Prints a development HS256 JWT for a user (offline: no call is made). Claims: sub, org,\n"
         "iss, aud, iat, exp = now + ttl. With --kid, signed with that org key's secret.",
         {{"user", true, "user id, the sub claim (required)"},
          {"org", true, "org id, the org claim (required)"},
          {"ttl", true, "lifetime: 3600, 90s, 15m, 1h, 7d (default 1h)"},
          {"secret", true, "HS256 secret (env RAPPORT_JWT_SECRET; required): the org key's with --kid"},
          {"kid", true, "an org signing key's kid (POST /v1/org/jwtKeys:rotate), put in the header"},
          {"issuer", true, "iss claim (env RAPPORT_JWT_ISSUER; default rapport)"},
          {"audience", true, "aud claim (env RAPPORT_JWT_AUDIENCE; default rapport)"}}},
    };
    c.push_back(
        {"import",
         "import FILE [--format linkedin|vcard|google|csv] [--map COL=field,...] [--tag T] [--no-wait] [--json]",
         "Imports contacts from FILE (POST /v1/imports): LinkedIn's Connections.csv, a vCard file,\n"
         "a Google Contacts CSV, Rapport's CSV export, or any CSV with --map. Follows the job with a\n"
         "progress bar on a terminal (plain lines otherwise) and prints the summary with the skipped\n"
         "rows and why. Exits 1 when the file is refused or the job fails.",
         {{"format", true, "linkedin, vcard, google or csv (default: recognized from the file)"},
          {"map", true, "csv column mapping: \"Full Name=displayName,Work Email=emails,...\""},
          {"tag", true, "a tag added to every imported contact"},
          {"no-wait", false, "print the import id and return at once"},
          kJson}});
    // Org administration (admin.h), with an org-admin key.
    c.push_back({"users", "users list|update USER_ID|deactivate USER_ID|reactivate USER_ID [flags]",
                 "Lists the org's users (GET /v1/users), updates one, or deactivates / reactivates one\n"
                 "(PATCH /v1/users/{id}; a deactivated user's tokens and personal keys are refused within\n"
                 "5 s, their data stays). Prints: id, state, email, name, time zone.",
                 UsersFlags()});
    c.push_back({"keys", "keys list|expire KEY_ID [--at WHEN|--never]|revoke KEY_ID [flags]",
                 "Lists the org's API keys without secrets (GET /v1/apiKeys), sets a key's expiry (now by\n"
                 "default; PATCH /v1/apiKeys/{id}) or revokes it (DELETE). Prints: id, state, name, scopes,\n"
                 "created, last used, expires, rate limit, user (personal keys).",
                 KeysFlags()});
    c.push_back({"audit", "audit [--since 24h|TIME] [--actor ID] [--action A|PREFIX.*] [flags]",
                 "Lists the org's audit log, newest first (GET /v1/audit). Prints: time, actor, action,\n"
                 "target, client address, detail.",
                 AuditFlags()});
    c.push_back({"export",
                 "export contacts|account [--format vcard|csv] [-o FILE] [--timeout 10m]",
                 "Downloads the acting user's data. `export contacts` streams GET /v1/contacts:export\n"
                 "(vCard 4.0, or CSV with --format csv). `export account` starts a whole-account export\n"
                 "(POST /v1/me:export), waits for the job (progress on stderr), then downloads its\n"
                 "JSON-lines file (GET /v1/exports/{id}:download). The file goes to FILE (written as\n"
                 "FILE.part, renamed when complete) or to stdout; memory stays flat whatever its size.",
                 {{"format", true, "contacts: vcard (default) or csv"},
                  {"output", true, "file to write (also -o); default stdout"},
                  {"timeout", true, "account: how long to wait for the job: 90s, 10m, 1h (default 10m)"}}});
    for (const char* method : {"get", "post", "patch", "put", "delete"}) {
      c.push_back({method, absl::StrCat(method, " PATH [--data JSON|@FILE] [--idempotency-key K] [--raw]"),
                   absl::StrCat("Calls ", absl::AsciiStrToUpper(method),
                                " PATH (e.g. /v1/contacts?pageSize=10) and prints the JSON answer.\n"
                                "On HTTP status >= 400 prints the problem+json to stderr and exits 1."),
                   kCallFlags});
    }
    return c;
  }();
  return kCommands;
}

const Command* FindCommand(const std::string& name) {
  for (const Command& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

void PrintFlags(std::ostream& out, const std::vector<FlagSpec>& flags) {
  for (const FlagSpec& f : flags) {
    std::string left = absl::StrCat("  --", f.name, f.takes_value ? " VALUE" : "");
    if (left.size() < 26) left.resize(26, ' ');
    out << left << " " << f.help << "\n";
  }
}

void MainUsage(std::ostream& out) {
  out << "usage: rapportctl COMMAND [flags]\n\nA client for Rapport's HTTP/JSON API.\n\ncommands:\n";
  for (const Command& c : Commands()) out << "  rapportctl " << c.synopsis << "\n";
  out << "\nglobal flags (before or after the command):\n";
  PrintFlags(out, GlobalFlags());
  out << "\n`rapportctl COMMAND --help` describes a command. Exit status: 0 ok, 1 failed call "
         "(HTTP >= 400 or unreachable), 2 bad usage.\n";
}

void CommandUsage(std::ostream& out, const Command& c) {
  out << "usage: rapportctl " << c.synopsis << "\n\n" << c.description << "\n\nflags:\n";
  PrintFlags(out, c.flags);
  out << "\nglobal flags:\n";
  PrintFlags(out, GlobalFlags());
}

int UsageError(const std::string& command, const std::string& message) {
  std::cerr << "rapportctl" << (command.empty() ? "" : " " + command) << ": " << message << "\n"
            << "see rapportctl " << (command.empty() ? "" : command + " ") << "--help\n";
  return kUsage;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// --- HTTP ------------------------------------------------------------------

using Response = HttpResponse;

Response Http(const std::string& method, const std::string& url, const std::vector<std::string>& headers,
              const std::string& body) {
  HttpOptions options;
  options.timeout_ms = 30000;
  options.user_agent = "rapportctl";
  return HttpCall(method, url, headers, body, options);
}

std::string BaseUrl(const ParsedArgs& args) {
  std::string url = args.Get("url");
  if (url.empty()) url = Env("RAPPORT_URL");
  if (url.empty()) {
    const std::string addr = Env("RAPPORT_HTTP_ADDR");
    url = absl::StrCat("http://", addr.empty() ? "127.0.0.1:8080" : addr);
  }
  while (absl::EndsWith(url, "/")) url.pop_back();
  return url;
}

// The one credential to send: command-line flags win over the environment.
// From the environment, admin commands (create-*) prefer the API key, calls
// the token. Empty on a conflict (both flags), with *error set.
std::vector<std::string> CredentialHeaders(const ParsedArgs& args, bool admin_command, std::string* error) {
  std::string token = args.Get("token");
  std::string key = args.Get("api-key");
  if (!token.empty() && !key.empty()) {
    *error = "give one of --token and --api-key";
    return {};
  }
  if (token.empty() && key.empty()) {
    token = Env("RAPPORT_TOKEN");
    key = Env("RAPPORT_API_KEY");
    if (key.empty() && args.command == "create-org") key = Env("RAPPORT_ADMIN_KEY");
    if (!token.empty() && !key.empty()) (admin_command ? token : key).clear();
  }
  std::vector<std::string> headers;
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  if (!key.empty()) headers.push_back("X-Api-Key: " + key);
  if (args.Has("as-user")) headers.push_back("X-Rapport-User: " + args.Get("as-user"));
  return headers;
}

// JSON answers are re-indented unless raw; anything else (e.g. /metrics) is
// printed as received.
std::string ForDisplay(const std::string& body, bool raw) {
  const size_t first = body.find_first_not_of(" \t\r\n");
  const bool json = first != std::string::npos && (body[first] == '{' || body[first] == '[');
  return raw || !json ? body : PrettyJson(body);
}

// Sends the request; on failure reports to stderr and returns false.
bool Send(const ParsedArgs& args, const std::string& method, const std::string& path, const std::string& body,
          std::vector<std::string> headers, Response* response) {
  if (!body.empty()) headers.push_back("Content-Type: application/json");
  const std::string url =
      absl::StartsWith(path, "http://") || absl::StartsWith(path, "https://") ? path : BaseUrl(args) + path;
  *response = Http(method, url, headers, body);
  if (response->status == 0) {
    std::cerr << "rapportctl: " << method << " " << url << ": " << response->error << "\n";
    return false;
  }
  if (response->status >= 400) {
    std::cerr << "rapportctl: " << method << " " << path << ": HTTP " << response->status << "\n";
    if (!response->body.empty()) std::cerr << ForDisplay(response->body, false) << "\n";
    return false;
  }
  return true;
}

// --- JSON helpers ----------------------------------------------------------

// The string at a dotted path of a JSON object; empty when absent.
std::string StringAt(const std::string& json, const std::string& path) {
  google::protobuf::Struct s;
  if (!google::protobuf::util::JsonStringToMessage(json, &s).ok()) return "";
  const google::protobuf::Struct* current = &s;
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    auto it = current->fields().find(parts[i]);
    if (it == current->fields().end()) return "";
    if (i + 1 == parts.size()) return it->second.string_value();
    if (!it->second.has_struct_value()) return "";
    current = &it->second.struct_value();
  }
  return "";
}

void PrintBody(const std::string& body, bool raw) {
  if (body.empty()) return;
  std::string text = ForDisplay(body, raw);
  if (!absl::EndsWith(text, "\n")) text += "\n";
  std::cout << text;
}

// Prints the answer (--json) or the values at `paths`, one per line.
int PrintCreated(const ParsedArgs& args, const Response& r, const std::vector<std::string>& paths) {
  if (args.Has("json")) {
    PrintBody(r.body, /*raw=*/true);
    return kOk;
  }
  for (const std::string& p : paths) {
    std::string value = StringAt(r.body, p);
    if (value.empty()) {
      std::cerr << "rapportctl " << args.command << ": the answer has no " << p << ": " << r.body << "\n";
      return kFailed;
    }
    std::cout << value << "\n";
  }
  return kOk;
}

// --- commands --------------------------------------------------------------

int Require(const ParsedArgs& args, const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    if (args.Get(n).empty()) return UsageError(args.command, "--" + n + " is required");
  }
  return kOk;
}

int Positional(const ParsedArgs& args, size_t n, const std::string& what) {
  if (args.positional.size() < n) return UsageError(args.command, what + " is required");
  if (args.positional.size() > n) {
    return UsageError(args.command, "unexpected argument \"" + args.positional[n] + "\"");
  }
  return kOk;
}

int CreateOrg(const ParsedArgs& args) {
  if (int rc = Positional(args, 1, "NAME"); rc != kOk) return rc;
  std::string error;
  auto headers = CredentialHeaders(args, true, &error);
  if (!error.empty()) return UsageError(args.command, error);
  Response r;
  if (!Send(args, "POST", "/v1/orgs", absl::StrCat("{\"displayName\":", JsonQuote(args.positional[0]), "}"), headers,
            &r)) {
    return kFailed;
  }
  return PrintCreated(args, r, {"org.id", "adminKey.secret"});
}

int CreateUser(const ParsedArgs& args) {
  if (int rc = Positional(args, 0, ""); rc != kOk) return rc;
  if (int rc = Require(args, {"name", "email"}); rc != kOk) return rc;
  std::string error;
  auto headers = CredentialHeaders(args, true, &error);
  if (!error.empty()) return UsageError(args.command, error);
  std::string body =
      absl::StrCat("{\"displayName\":", JsonQuote(args.Get("name")), ",\"email\":", JsonQuote(args.Get("email")));
  if (args.Has("timezone")) absl::StrAppend(&body, ",\"timezone\":", JsonQuote(args.Get("timezone")));
  body += "}";
  Response r;
  if (!Send(args, "POST", "/v1/users", body, headers, &r)) return kFailed;
  return PrintCreated(args, r, {"id"});
}

int CreateKey(const ParsedArgs& args) {
  if (int rc = Positional(args, 0, ""); rc != kOk) return rc;
  if (int rc = Require(args, {"name", "scopes"}); rc != kOk) return rc;
  std::vector<std::string> scopes;
  for (absl::string_view s : absl::StrSplit(args.Get("scopes"), ',', absl::SkipWhitespace())) {
    scopes.push_back(JsonQuote(absl::AsciiStrToUpper(absl::StripAsciiWhitespace(s))));
  }
  if (scopes.empty()) return UsageError(args.command, "--scopes names no scope");
  std::string error;
  auto headers = CredentialHeaders(args, true, &error);
  if (!error.empty()) return UsageError(args.command, error);
  Response r;
  if (!Send(args, "POST", "/v1/apiKeys",
            absl::StrCat("{\"displayName\":", JsonQuote(args.Get("name")), ",\"scopes\":[", absl::StrJoin(scopes, ","),
                         "]}"),
            headers, &r)) {
    return kFailed;
  }
  return PrintCreated(args, r, {"secret"});
}

int MintJwtCommand(const ParsedArgs& args) {
  if (int rc = Positional(args, 0, ""); rc != kOk) return rc;
  if (int rc = Require(args, {"user", "org"}); rc != kOk) return rc;
  JwtClaims claims;
  claims.user_id = args.Get("user");
  claims.org_id = args.Get("org");
  if (args.Has("ttl")) {
    absl::StatusOr<absl::Duration> ttl = ParseTtl(args.Get("ttl"));
    if (!ttl.ok()) return UsageError(args.command, "--ttl: " + std::string(ttl.status().message()));
    claims.ttl = *ttl;
  }
  auto pick = [&](const std::string& flag, const char* env, const std::string& fallback) {
    if (args.Has(flag)) return args.Get(flag);
    std::string v = Env(env);
    return v.empty() ? fallback : v;
  };
  const std::string secret = pick("secret", "RAPPORT_JWT_SECRET", "");
  if (secret.empty()) return UsageError(args.command, "no secret: set RAPPORT_JWT_SECRET or give --secret");
  claims.issuer = pick("issuer", "RAPPORT_JWT_ISSUER", "rapport");
  claims.audience = pick("audience", "RAPPORT_JWT_AUDIENCE", "rapport");
  claims.kid = args.Get("kid");
  std::cout << MintJwt(claims, secret) << "\n";
  return kOk;
}

std::string IntAt(const std::string& json, const std::string& key) {
  std::string v = StringAt(json, key);  // proto3 JSON writes int64 as a string
  return v.empty() ? "0" : v;
}

ImportProgress ProgressOf(const std::string& json) {
  ImportProgress p;
  p.state = StringAt(json, "state");
  auto num = [&](const char* key) {
    int64_t n = 0;
    return absl::SimpleAtoi(IntAt(json, key), &n) ? n : 0;
  };
  p.total = num("rowsTotal");
  p.read = num("rowsRead");
  p.created = num("created");
  p.merged = num("merged");
  p.skipped = num("skipped");
  return p;
}

int Import(const ParsedArgs& args) {
  if (int rc = Positional(args, 1, "FILE"); rc != kOk) return rc;
  const std::string& file = args.positional[0];
  std::ifstream in(file, std::ios::binary);
  if (!in) return UsageError(args.command, "cannot read " + file);
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::string error;
  auto headers = CredentialHeaders(args, false, &error);
  if (!error.empty()) return UsageError(args.command, error);
  std::string lower = absl::AsciiStrToLower(file);
  const char* type = absl::EndsWith(lower, ".vcf") || absl::EndsWith(lower, ".vcard") ? "text/vcard"
                     : absl::EndsWith(lower, ".csv")                                  ? "text/csv"
                                                                                      : "application/octet-stream";
  headers.push_back(absl::StrCat("Content-Type: ", type));
  std::string base = file.substr(file.find_last_of('/') == std::string::npos ? 0 : file.find_last_of('/') + 1);
  std::string path = absl::StrCat("/v1/imports?fileName=", QueryEscape(base));
  for (const char* flag : {"format", "map", "tag"}) {
    if (args.Has(flag)) absl::StrAppend(&path, "&", flag, "=", QueryEscape(args.Get(flag)));
  }
  const std::string url = BaseUrl(args) + path;
  HttpOptions options;
  options.timeout_ms = 120000;  // a 20 MiB upload over a slow link
  options.user_agent = "rapportctl";
  Response r = HttpCall("POST", url, headers, bytes.str(), options);
  if (r.status == 0) {
    std::cerr << "rapportctl: POST " << url << ": " << r.error << "\n";
    return kFailed;
  }
  if (r.status >= 400) {
    std::cerr << "rapportctl import: " << file << " was refused: HTTP " << r.status << "\n"
              << ForDisplay(r.body, false) << "\n";
    return kFailed;
  }
  const std::string id = StringAt(r.body, "id");
  if (args.Has("no-wait")) return PrintCreated(args, r, {"id"});
  auto read_headers = headers;
  read_headers.pop_back();  // no Content-Type on the GETs
  const bool terminal = isatty(fileno(stderr)) != 0 && !args.Has("json");
  std::string last_line;
  Response job = r;
  for (;;) {
    ImportProgress p = ProgressOf(job.body);
    std::string line = ProgressLine(p, terminal, 100);
    if (line != last_line) {
      if (terminal) {
        std::cerr << "\r" << line << std::flush;
      } else if (!args.Has("json")) {
        std::cout << line << "\n" << std::flush;
      }
      last_line = line;
    }
    if (p.state == "IMPORT_SUCCEEDED" || p.state == "IMPORT_FAILED") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the job's pace, not a test's wait
    if (!Send(args, "GET", "/v1/imports/" + id, "", read_headers, &job)) return kFailed;
  }
  if (terminal) std::cerr << "\n";
  if (args.Has("json")) {
    PrintBody(job.body, /*raw=*/true);
  } else {
    ImportProgress p = ProgressOf(job.body);
    std::cout << "import " << id << " (" << StringAt(job.body, "format") << "): " << p.total << " rows, " << p.created
              << " created, " << p.merged << " merged, " << p.skipped << " skipped\n";
    google::protobuf::Struct s;
    if (google::protobuf::util::JsonStringToMessage(job.body, &s).ok()) {
      auto it = s.fields().find("skips");
      if (it != s.fields().end()) {
        int shown = 0;
        for (const auto& skip : it->second.list_value().values()) {
          if (++shown > 20) {
            std::cout << "  ... (GET /v1/imports/" << id << " lists up to 1000)\n";
            break;
          }
          auto reason = skip.struct_value().fields().find("reason");
          if (reason != skip.struct_value().fields().end())
            std::cout << "  skipped " << reason->second.string_value() << "\n";
        }
      }
    }
  }
  if (StringAt(job.body, "state") == "IMPORT_FAILED") {
    std::cerr << "rapportctl import: the job failed: " << StringAt(job.body, "error") << "\n";
    return kFailed;
  }
  return kOk;
}

int Call(const ParsedArgs& args) {
  if (int rc = Positional(args, 1, "PATH"); rc != kOk) return rc;
  const std::string& path = args.positional[0];
  if (!absl::StartsWith(path, "/") && !absl::StartsWith(path, "http://") && !absl::StartsWith(path, "https://")) {
    return UsageError(args.command, "PATH must start with / (e.g. /v1/me)");
  }
  std::string body = args.Get("data");
  if (absl::StartsWith(body, "@")) {
    const std::string file = body.substr(1);
    std::stringstream text;
    if (file == "-") {
      text << std::cin.rdbuf();
    } else {
      std::ifstream in(file, std::ios::binary);
      if (!in) return UsageError(args.command, "cannot read " + file);
      text << in.rdbuf();
    }
    body = text.str();
  }
  std::string error;
  auto headers = CredentialHeaders(args, false, &error);
  if (!error.empty()) return UsageError(args.command, error);
  if (args.Has("idempotency-key")) headers.push_back("Idempotency-Key: " + args.Get("idempotency-key"));
  Response r;
  if (!Send(args, absl::AsciiStrToUpper(args.command), path, body, headers, &r)) return kFailed;
  PrintBody(r.body, args.Has("raw"));
  return kOk;
}

// users, keys and audit (admin.h): calls through Send with the command's credentials.
int AdminCommand(const ParsedArgs& args) {
  std::string error;
  const std::vector<std::string> headers = CredentialHeaders(args, true, &error);
  if (!error.empty()) return UsageError(args.command, error);
  Caller call = [&](const std::string& method, const std::string& path, const std::string& body, std::string* answer) {
    Response r;
    if (!Send(args, method, path, body, headers, &r)) return false;
    *answer = r.body;
    return true;
  };
  std::string usage;
  int rc = kOk;
  if (args.command == "users") rc = UsersCommand(args, call, std::cout, &usage);
  if (args.command == "keys") rc = KeysCommand(args, call, std::cout, &usage);
  if (args.command == "audit") rc = AuditCommand(args, call, std::cout, &usage);
  if (rc == kUsage) return UsageError(args.command, usage);
  return rc;
}

// Streams GET path into output ("" or "-": stdout; a file is written as
// FILE.part and renamed once the body is complete, so a broken transfer
// never leaves a complete-looking file).
int Download(const ParsedArgs& args, const std::string& path, const std::vector<std::string>& headers,
             const std::string& output) {
  const bool to_stdout = output.empty() || output == "-";
  const std::string part = output + ".part";
  std::ofstream file;
  if (!to_stdout) {
    file.open(part, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::cerr << "rapportctl " << args.command << ": cannot write " << part << "\n";
      return kFailed;
    }
  }
  std::ostream& out = to_stdout ? std::cout : file;
  int64_t bytes = 0;
  HttpOptions options;
  options.timeout_ms = 6 * 3600 * 1000L;  // a download of any size; the connect timeout still applies
  options.user_agent = "rapportctl";
  options.body_writer = [&](std::string_view data) {
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    bytes += static_cast<int64_t>(data.size());
    return static_cast<bool>(out);
  };
  const std::string url = BaseUrl(args) + path;
  Response r = HttpCall("GET", url, headers, "", options);
  bool ok = r.status != 0 && r.status < 400;
  if (r.status == 0) std::cerr << "rapportctl: GET " << url << ": " << r.error << " (after " << bytes << " bytes)\n";
  if (r.status >= 400) {
    std::cerr << "rapportctl: GET " << path << ": HTTP " << r.status << "\n";
    if (!r.body.empty()) std::cerr << ForDisplay(r.body, false) << "\n";
  }
  out.flush();
  if (!to_stdout) {
    file.close();
    std::error_code ec;
    if (ok && !file.fail()) {
      std::filesystem::rename(part, output, ec);
      if (ec) {
        std::cerr << "rapportctl: cannot rename " << part << " to " << output << ": " << ec.message() << "\n";
        ok = false;
      }
    }
    if (!ok) std::filesystem::remove(part, ec);
    if (ok) std::cerr << "wrote " << bytes << " bytes to " << output << "\n";
  }
  return ok ? kOk : kFailed;
}

int Export(const ParsedArgs& args) {
  if (int rc = Positional(args, 1, "contacts or account"); rc != kOk) return rc;
  const std::string what = args.positional[0];
  std::string error;
  auto headers = CredentialHeaders(args, false, &error);
  if (!error.empty()) return UsageError(args.command, error);
  if (what == "contacts") {
    const std::string format = args.Has("format") ? absl::AsciiStrToLower(args.Get("format")) : "vcard";
    if (format != "vcard" && format != "csv") return UsageError(args.command, "--format: vcard or csv");
    return Download(args, "/v1/contacts:export?format=" + format, headers, args.Get("output"));
  }
  if (what != "account") return UsageError(args.command, "export contacts or account, not \"" + what + "\"");
  if (args.Has("format")) return UsageError(args.command, "--format is for contacts (the account file is JSON lines)");
  absl::Duration timeout = absl::Minutes(10);
  if (args.Has("timeout")) {
    absl::StatusOr<absl::Duration> t = ParseTtl(args.Get("timeout"));
    if (!t.ok()) return UsageError(args.command, "--timeout: " + std::string(t.status().message()));
    timeout = *t;
  }
  Response r;
  if (!Send(args, "POST", "/v1/me:export", "{}", headers, &r)) return kFailed;
  const std::string id = StringAt(r.body, "id");
  if (id.empty()) {
    std::cerr << "rapportctl export: the answer has no id: " << r.body << "\n";
    return kFailed;
  }
  const absl::Time deadline = absl::Now() + timeout;
  std::string state = StringAt(r.body, "state"), shown;
  while (state != "SUCCEEDED") {
    if (state != shown) {
      std::cerr << "export " << id << ": " << state << "\n";
      shown = state;
    }
    if (state == "FAILED") {
      std::cerr << "rapportctl export: the export failed: " << StringAt(r.body, "error") << "\n";
      return kFailed;
    }
    if (absl::Now() > deadline) {
      std::cerr << "rapportctl export: still " << state << " after " << absl::FormatDuration(timeout)
                << "; see GET /v1/exports/" << id << "\n";
      return kFailed;
    }
    absl::SleepFor(absl::Milliseconds(500));
    if (!Send(args, "GET", "/v1/exports/" + id, "", headers, &r)) return kFailed;
    state = StringAt(r.body, "state");
  }
  std::cerr << "export " << id << ": SUCCEEDED\n";
  return Download(args, "/v1/exports/" + id + ":download", headers, args.Get("output"));
}

int Run(int argc, char** argv) {
  std::map<std::string, std::vector<FlagSpec>> command_flags;
  for (const Command& c : Commands()) command_flags[c.name] = c.flags;
  std::vector<std::string> argv_list(argv + 1, argv + argc);
  for (std::string& a : argv_list) {
    if (a == "-o") a = "--output";  // the one short flag besides -h
  }
  absl::StatusOr<ParsedArgs> parsed = ParseArgs(argv_list, GlobalFlags(), command_flags);
  if (!parsed.ok()) {
    // Name the command when one was given, so the hint points at its help.
    std::string command;
    for (int i = 1; i < argc; ++i) {
      if (FindCommand(argv[i]) != nullptr) {
        command = argv[i];
        break;
      }
    }
    return UsageError(command, std::string(parsed.status().message()));
  }
  ParsedArgs& args = *parsed;
  if (args.command.empty() || args.command == "help") {
    if (args.command == "help" && !args.positional.empty()) {
      const Command* c = FindCommand(args.positional[0]);
      if (c == nullptr) return UsageError("", "unknown command \"" + args.positional[0] + "\"");
      CommandUsage(std::cout, *c);
      return kOk;
    }
    if (args.Has("help") || args.command == "help") {
      MainUsage(std::cout);
      return kOk;
    }
    MainUsage(std::cerr);
    return kUsage;
  }
  const Command* command = FindCommand(args.command);
  if (command == nullptr) return UsageError("", "unknown command \"" + args.command + "\"");
  if (args.Has("help")) {
    CommandUsage(std::cout, *command);
    return kOk;
  }
  if (args.command == "create-org") return CreateOrg(args);
  if (args.command == "create-user") return CreateUser(args);
  if (args.command == "create-key") return CreateKey(args);
  if (args.command == "mint-jwt") return MintJwtCommand(args);
  if (args.command == "import") return Import(args);
  if (args.command == "users" || args.command == "keys" || args.command == "audit") return AdminCommand(args);
  if (args.command == "export") return Export(args);
  return Call(args);
}

}  // namespace
}  // namespace rapport::ctl

int main(int argc, char** argv) { return rapport::ctl::Run(argc, argv); }
