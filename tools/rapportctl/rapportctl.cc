#include "tools/rapportctl/rapportctl.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/crypto.h"

namespace rapport::ctl {
namespace {

const FlagSpec* Find(const std::vector<FlagSpec>& specs, const std::string& name) {
  for (const FlagSpec& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace

std::string JsonQuote(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

namespace {

std::string Base64Url(const std::string& bytes) {
  std::string out;
  absl::WebSafeBase64Escape(bytes, &out);  // unpadded
  return out;
}

}  // namespace

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const std::vector<FlagSpec>& global,
                                     const std::map<std::string, std::vector<FlagSpec>>& command_flags) {
  ParsedArgs out;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!flags_done && arg == "--") {
      flags_done = true;
      continue;
    }
    const bool is_flag = !flags_done && arg.size() > 1 && arg[0] == '-' && (arg == "-h" || arg[1] == '-');
    if (!is_flag) {
      if (out.command.empty()) {
        out.command = arg;
      } else {
        out.positional.push_back(arg);
      }
      continue;
    }
    std::string name = arg == "-h" ? "help" : arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const FlagSpec* spec = Find(global, name);
    if (spec == nullptr && !out.command.empty()) {
      auto it = command_flags.find(out.command);
      if (it != command_flags.end()) spec = Find(it->second, name);
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(out.command.empty() || !command_flags.count(out.command)
                                            ? absl::StrCat("unknown flag --", name)
                                            : absl::StrCat("unknown flag --", name, " for ", out.command));
    }
    if (spec->takes_value) {
      if (!has_value) {
        if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
        value = args[++i];
      }
    } else {
      if (has_value) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      value = "true";
    }
    out.flags[name] = value;
  }
  return out;
}

absl::StatusOr<absl::Duration> ParseTtl(const std::string& text) {
  absl::Duration d;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds)) {
    d = absl::Seconds(seconds);
  } else if (!text.empty() && text.back() == 'd' && absl::SimpleAtoi(text.substr(0, text.size() - 1), &seconds)) {
    d = absl::Hours(24 * seconds);
  } else if (!absl::ParseDuration(text, &d)) {
    return absl::InvalidArgumentError(absl::StrCat("bad duration \"", text, "\" (e.g. 3600, 90s, 15m, 1h, 7d)"));
  }
  if (d <= absl::ZeroDuration()) return absl::InvalidArgumentError("the duration must be positive");
  return d;
}

std::string MintJwt(const JwtClaims& claims, const std::string& secret, absl::Time now) {
  const int64_t iat = absl::ToUnixSeconds(now);
  const int64_t exp = absl::ToUnixSeconds(now + claims.ttl);
  const std::string payload =
      absl::StrCat("{\"sub\":", JsonQuote(claims.user_id), ",\"org\":", JsonQuote(claims.org_id),
                   ",\"iss\":", JsonQuote(claims.issuer), ",\"aud\":", JsonQuote(claims.audience), ",\"iat\":", iat,
                   ",\"exp\":", exp, "}");
  const std::string header = claims.kid.empty()
                                 ? std::string(R"({"alg":"HS256","typ":"JWT"})")
                                 : absl::StrCat(R"({"alg":"HS256","typ":"JWT","kid":)", JsonQuote(claims.kid), "}");
  const std::string signing_input = absl::StrCat(Base64Url(header), ".", Base64Url(payload));
  return absl::StrCat(signing_input, ".", Base64Url(HmacSha256(secret, signing_input)));
}

std::string PrettyJson(const std::string& json) {
  std::string out;
  int depth = 0;
  bool in_string = false;
  auto newline = [&] {
    out += '\n';
    out.append(2 * static_cast<size_t>(depth > 0 ? depth : 0), ' ');
  };
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < json.size()) {
        out += json[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out += c;
        break;
      case '{':
      case '[': {
        // Empty containers stay on one line.
        size_t j = i + 1;
        while (j < json.size() && std::isspace(static_cast<unsigned char>(json[j]))) ++j;
        if (j < json.size() && (json[j] == '}' || json[j] == ']')) {
          out += c;
          out += json[j];
          i = j;
          break;
        }
        out += c;
        ++depth;
        newline();
        break;
      }
      case '}':
      case ']':
        --depth;
        newline();
        out += c;
        break;
      case ',':
        out += c;
        newline();
        break;
      case ':':
        out += ": ";
        break;
      default:
        if (!std::isspace(static_cast<unsigned char>(c))) out += c;
    }
  }
  return out;
}

std::string QueryEscape(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string ProgressLine(const ImportProgress& p, bool terminal, int width) {
  const std::string counts = absl::StrCat(p.read, "/", p.total, " rows: ", p.created, " created, ", p.merged,
                                          " merged, ", p.skipped, " skipped");
  if (!terminal) return counts;
  const int percent =
      p.total > 0 ? static_cast<int>(p.read * 100 / p.total) : (p.state == "IMPORT_SUCCEEDED" ? 100 : 0);
  std::string tail = absl::StrCat(" ", percent, "%  ", counts);
  int bar = std::max(10, std::min(40, width - static_cast<int>(tail.size()) - 2));
  int filled = bar * percent / 100;
  return absl::StrCat("[", std::string(filled, '#'), std::string(bar - filled, ' '), "]", tail);
}

}  // namespace rapport::ctl
