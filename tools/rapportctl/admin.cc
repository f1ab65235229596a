#include "tools/rapportctl/admin.h"

#include <cctype>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "services/common/status.h"

namespace rapport::ctl {
namespace {

// RFC 3339 in UTC with a Z, as proto3 JSON writes times.
constexpr char kUtcRfc3339[] = "%Y-%m-%dT%H:%M:%E*SZ";

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;
// --all stops after this many pages, whatever the server says.
constexpr int kMaxPages = 10000;

using google::protobuf::Struct;
using google::protobuf::Value;

absl::StatusOr<Struct> ParseObject(const std::string& json) {
  Struct s;
  if (!google::protobuf::util::JsonStringToMessage(json, &s).ok()) {
    return absl::InvalidArgumentError("the answer is not a JSON object");
  }
  return s;
}

std::string Str(const Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  if (it == s.fields().end()) return "";
  if (it->second.has_number_value()) return absl::StrCat(it->second.number_value());
  return it->second.string_value();
}

// A cell: tabs and newlines would break the columns; empty shows as "-".
std::string Cell(std::string v) {
  for (char& c : v) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return v.empty() ? "-" : v;
}

std::vector<const Struct*> Items(const Struct& page, const std::string& plural) {
  std::vector<const Struct*> out;
  auto it = page.fields().find(plural);
  if (it == page.fields().end() || !it->second.has_list_value()) return out;
  for (const Value& v : it->second.list_value().values()) {
    if (v.has_struct_value()) out.push_back(&v.struct_value());
  }
  return out;
}

std::string Query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    std::string escaped;
    for (unsigned char c : v) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        escaped.push_back(static_cast<char>(c));
      } else {
        static constexpr char kHex[] = "0123456789ABCDEF";  // RFC 3986: uppercase
        escaped += {'%', kHex[c >> 4], kHex[c & 15]};
      }
    }
    parts.push_back(absl::StrCat(k, "=", escaped));
  }
  return parts.empty() ? "" : "?" + absl::StrJoin(parts, "&");
}

// Lists path page by page (one page unless --all), printing each page with lines().
int List(const ParsedArgs& args, const Caller& call, std::ostream& out, const std::string& path,
         std::vector<std::pair<std::string, std::string>> params,
         const std::function<absl::StatusOr<std::string>(const std::string&)>& lines) {
  std::string token = args.Get("page-token");
  params.push_back({"pageSize", args.Get("page-size")});
  for (int page = 0; page < kMaxPages; ++page) {
    auto with_token = params;
    with_token.push_back({"pageToken", token});
    std::string answer;
    if (!call("GET", path + Query(with_token), "", &answer)) return kFailed;
    if (args.Has("json")) {
      out << answer << (answer.empty() || answer.back() != '\n' ? "\n" : "");
    } else {
      absl::StatusOr<std::string> text = lines(answer);
      if (!text.ok()) {
        std::cerr << "rapportctl " << args.command << ": " << text.status().message() << "\n";
        return kFailed;
      }
      out << *text;
    }
    absl::StatusOr<Struct> parsed = ParseObject(answer);
    token = parsed.ok() ? Str(*parsed, "nextPageToken") : "";
    if (token.empty()) return kOk;
    if (!args.Has("all")) {
      std::cerr << "more: --page-token " << token << "\n";
      return kOk;
    }
  }
  return kOk;
}

int Usage(std::string* usage_error, std::string message) {
  *usage_error = std::move(message);
  return kUsage;
}

// Prints one object answer: --json as received, else the lines for it.
int PrintOne(const ParsedArgs& args, std::ostream& out, const std::string& answer,
             const std::function<absl::StatusOr<std::string>(const std::string&)>& lines) {
  if (args.Has("json")) {
    out << answer << (answer.empty() || answer.back() != '\n' ? "\n" : "");
    return kOk;
  }
  absl::StatusOr<std::string> text = lines(answer);
  if (!text.ok()) {
    std::cerr << "rapportctl " << args.command << ": " << text.status().message() << "\n";
    return kFailed;
  }
  out << *text;
  return kOk;
}

std::string UserLine(const Struct& u) {
  return absl::StrCat(Cell(Str(u, "id")), "\t", Cell(Str(u, "state")), "\t", Cell(Str(u, "email")), "\t",
                      Cell(Str(u, "displayName")), "\t", Cell(Str(u, "timezone")), "\n");
}

std::string KeyLine(const Struct& k, absl::Time now) {
  std::string state = "active";
  absl::Time expiry;
  std::string err;
  const std::string expire = Str(k, "expireTime");
  if (!Str(k, "revokeTime").empty()) {
    state = "revoked";
  } else if (!expire.empty() && absl::ParseTime(absl::RFC3339_full, expire, &expiry, &err) && expiry <= now) {
    state = "expired";
  }
  std::vector<std::string> scopes;
  auto it = k.fields().find("scopes");
  if (it != k.fields().end() && it->second.has_list_value()) {
    for (const Value& v : it->second.list_value().values()) scopes.push_back(v.string_value());
  }
  const std::string limit = Str(k, "rateLimitPerMinute");
  return absl::StrCat(Cell(Str(k, "id")), "\t", state, "\t", Cell(Str(k, "displayName")), "\t",
                      Cell(absl::StrJoin(scopes, ",")), "\t", Cell(Str(k, "createTime")), "\t",
                      Cell(Str(k, "lastUseTime")), "\t", Cell(expire), "\t", limit.empty() ? "default" : limit + "/min",
                      "\t", Cell(Str(k, "userId")), "\n");
}

}  // namespace

std::vector<FlagSpec> UsersFlags() {
  return {{"page-size", true, "list: items per page (default 50, at most 500)"},
          {"page-token", true, "list: the page to start at (printed on stderr after a page)"},
          {"all", false, "list: every page"},
          {"name", true, "update: display name"},
          {"email", true, "update: email address"},
          {"timezone", true, "update: IANA time zone"},
          {"json", false, "print the gateway's JSON answers instead of plain lines"}};
}

std::vector<FlagSpec> KeysFlags() {
  return {{"page-size", true, "list: items per page (default 50, at most 500)"},
          {"page-token", true, "list: the page to start at"},
          {"all", false, "list: every page"},
          {"at", true, "expire: when, RFC 3339 (2026-12-31T00:00:00Z) or a duration from now (7d); default now"},
          {"never", false, "expire: remove the key's expiry"},
          {"json", false, "print the gateway's JSON answers instead of plain lines"}};
}

std::vector<FlagSpec> AuditFlags() {
  return {{"since", true, "entries at or after: RFC 3339, or a duration back from now (24h, 7d)"},
          {"actor", true, "a key id, a user id, or platform"},
          {"action", true, "an action (user.deactivated) or a prefix (apiKey.*)"},
          {"page-size", true, "items per page (default 50, at most 500)"},
          {"page-token", true, "the page to start at"},
          {"all", false, "every page"},
          {"json", false, "print the gateway's JSON answers instead of plain lines"}};
}

absl::StatusOr<absl::Time> ParseWhen(const std::string& text, absl::Time now, bool past) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  absl::StatusOr<absl::Duration> d = ParseTtl(text);
  if (!d.ok()) return absl::InvalidArgumentError("expected an RFC 3339 time or a duration such as 24h or 7d");
  return past ? now - *d : now + *d;
}

absl::StatusOr<std::string> UserLines(const std::string& json) {
  ASSIGN_OR_RETURN(Struct page, ParseObject(json));
  if (page.fields().contains("id")) return UserLine(page);  // one user (an update's answer)
  std::string out;
  for (const Struct* u : Items(page, "users")) out += UserLine(*u);
  return out;
}

absl::StatusOr<std::string> KeyLines(const std::string& json, absl::Time now) {
  ASSIGN_OR_RETURN(Struct page, ParseObject(json));
  if (page.fields().contains("id")) return KeyLine(page, now);
  if (auto it = page.fields().find("apiKey"); it != page.fields().end() && it->second.has_struct_value()) {
    return KeyLine(it->second.struct_value(), now);  // a revocation's answer
  }
  std::string out;
  for (const Struct* k : Items(page, "apiKeys")) out += KeyLine(*k, now);
  return out;
}

absl::StatusOr<std::string> AuditLines(const std::string& json) {
  ASSIGN_OR_RETURN(Struct page, ParseObject(json));
  std::string out;
  for (const Struct* e : Items(page, "entries")) {
    absl::StrAppend(&out, Cell(Str(*e, "time")), "\t", Cell(Str(*e, "actor")), "\t", Cell(Str(*e, "action")), "\t",
                    Cell(Str(*e, "targetId")), "\t", Cell(Str(*e, "clientAddress")), "\t", Cell(Str(*e, "detail")),
                    "\n");
  }
  return out;
}

int UsersCommand(const ParsedArgs& args, const Caller& call, std::ostream& out, std::string* usage_error) {
  const std::vector<std::string>& p = args.positional;
  if (p.empty()) return Usage(usage_error, "a subcommand is required: list, update, deactivate, reactivate");
  const std::string& sub = p[0];
  if (sub == "list") {
    if (p.size() != 1) return Usage(usage_error, "list takes no argument");
    return List(args, call, out, "/v1/users", {}, UserLines);
  }
  if (sub != "update" && sub != "deactivate" && sub != "reactivate") {
    return Usage(usage_error, "unknown subcommand \"" + sub + "\"");
  }
  if (p.size() != 2) return Usage(usage_error, sub + " takes one USER_ID");
  std::vector<std::string> fields;
  if (sub == "update") {
    if (args.Has("name")) fields.push_back(absl::StrCat("\"displayName\":", JsonQuote(args.Get("name"))));
    if (args.Has("email")) fields.push_back(absl::StrCat("\"email\":", JsonQuote(args.Get("email"))));
    if (args.Has("timezone")) fields.push_back(absl::StrCat("\"timezone\":", JsonQuote(args.Get("timezone"))));
    if (fields.empty()) return Usage(usage_error, "update needs --name, --email or --timezone");
  } else {
    fields.push_back(sub == "deactivate" ? "\"state\":\"DEACTIVATED\"" : "\"state\":\"ACTIVE\"");
  }
  std::string answer;
  if (!call("PATCH", "/v1/users/" + p[1], absl::StrCat("{", absl::StrJoin(fields, ","), "}"), &answer)) return kFailed;
  return PrintOne(args, out, answer, UserLines);
}

int KeysCommand(const ParsedArgs& args, const Caller& call, std::ostream& out, std::string* usage_error) {
  const std::vector<std::string>& p = args.positional;
  if (p.empty()) return Usage(usage_error, "a subcommand is required: list, expire, revoke");
  const std::string& sub = p[0];
  if (sub == "list") {
    if (p.size() != 1) return Usage(usage_error, "list takes no argument");
    return List(args, call, out, "/v1/apiKeys", {}, [](const std::string& j) { return KeyLines(j); });
  }
  if (sub != "expire" && sub != "revoke") return Usage(usage_error, "unknown subcommand \"" + sub + "\"");
  if (p.size() != 2) return Usage(usage_error, sub + " takes one KEY_ID");
  std::string answer;
  if (sub == "revoke") {
    if (!call("DELETE", "/v1/apiKeys/" + p[1], "", &answer)) return kFailed;
    return PrintOne(args, out, answer, [](const std::string& j) { return KeyLines(j); });
  }
  // The body is the key itself (the rule's body field); removing the expiry
  // names it in the mask with no value.
  std::string path = "/v1/apiKeys/" + p[1];
  std::string body = "{}";
  if (args.Has("never")) {
    if (args.Has("at")) return Usage(usage_error, "give one of --at and --never");
    path += "?updateMask=expireTime";
  } else {
    absl::Time when = absl::Now();
    if (args.Has("at")) {
      absl::StatusOr<absl::Time> at = ParseWhen(args.Get("at"), absl::Now(), /*past=*/false);
      if (!at.ok()) return Usage(usage_error, "--at: " + std::string(at.status().message()));
      when = *at;
    }
    body = absl::StrCat(R"({"expireTime":")", absl::FormatTime(kUtcRfc3339, when, absl::UTCTimeZone()), R"("})");
  }
  if (!call("PATCH", path, body, &answer)) return kFailed;
  return PrintOne(args, out, answer, [](const std::string& j) { return KeyLines(j); });
}

int AuditCommand(const ParsedArgs& args, const Caller& call, std::ostream& out, std::string* usage_error) {
  if (!args.positional.empty()) return Usage(usage_error, "audit takes no argument");
  std::string since;
  if (args.Has("since")) {
    absl::StatusOr<absl::Time> t = ParseWhen(args.Get("since"), absl::Now(), /*past=*/true);
    if (!t.ok()) return Usage(usage_error, "--since: " + std::string(t.status().message()));
    since = absl::FormatTime(kUtcRfc3339, *t, absl::UTCTimeZone());
  }
  return List(args, call, out, "/v1/audit",
              {{"since", since}, {"actor", args.Get("actor")}, {"action", args.Get("action")}}, AuditLines);
}

}  // namespace rapport::ctl
