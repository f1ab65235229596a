// `--help` of every binary lists the flags defined in its own files (its
// main and the shared services/common/config.cc), each with the environment
// variable it reads and its default, as the README promises. The flags are
// read from the sources (ABSL_FLAG definitions), the answers from the real
// binaries; that each named variable is really read is checked by setting
// it and finding the flag's "currently:" value in --help.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <ostream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/common/flags_usage.h"
#include "services/common/service_registry.h"
#include "tests/testing/harness.h"

namespace rapport {
namespace {

std::string ReadSourceFile(const std::string& path) {
  std::ifstream in(std::string(RAPPORT_SOURCE_DIR) + "/" + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// One ABSL_FLAG definition as written in the source.
struct FlagSource {
  std::string name;
  std::string default_expr;  // e.g. "\"127.0.0.1:8080\"", "5000", "rapport::registry::kGateway.default_addr"
  std::string help;          // the help text, string literals joined
  std::string env;           // the variable its help names "(env NAME)", or ""
};

// Reads the string literals of s from pos up to the ')' closing the macro.
std::string ReadLiterals(const std::string& s, size_t* pos) {
  std::string out;
  while (*pos < s.size() && s[*pos] != ')') {
    if (s[*pos] != '"') {
      ++*pos;
      continue;
    }
    for (++*pos; *pos < s.size() && s[*pos] != '"'; ++*pos) {
      if (s[*pos] == '\\' && *pos + 1 < s.size()) ++*pos;
      out.push_back(s[*pos]);
    }
    ++*pos;  // the closing quote
  }
  return out;
}

std::vector<FlagSource> FlagsDefinedIn(const std::string& path) {
  const std::string source = ReadSourceFile(path);
  EXPECT_FALSE(source.empty()) << "cannot read " << path;
  static const std::regex kFlag(R"(ABSL_FLAG\(\s*[\w:]+\s*,\s*(\w+)\s*,\s*([^,]+?)\s*,)");
  static const std::regex kEnv(R"(\(env ([A-Z0-9_]+)\))");
  std::vector<FlagSource> flags;
  for (auto it = std::sregex_iterator(source.begin(), source.end(), kFlag); it != std::sregex_iterator(); ++it) {
    FlagSource flag;
    flag.name = (*it)[1];
    flag.default_expr = (*it)[2];
    size_t pos = it->position() + it->length();
    flag.help = ReadLiterals(source, &pos);
    std::smatch env;
    if (std::regex_search(flag.help, env, kEnv)) flag.env = env[1];
    flags.push_back(flag);
  }
  return flags;
}

// One flag as --help shows it, its wrapped lines joined:
// "--addr (listen address (env X)); default: "127.0.0.1:50051"; [currently: ...;]".
struct FlagHelp {
  std::string file;
  std::string text;
};

struct Help {
  std::string usage;  // the first line
  std::map<std::string, FlagHelp> flags;
};

Help ParseHelp(const std::string& output) {
  Help help;
  std::string file;
  std::string* current = nullptr;
  bool first = true;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (first) {
      help.usage = std::string(line);
      first = false;
    }
    if (absl::ConsumePrefix(&line, "  Flags from ") && absl::ConsumeSuffix(&line, ":")) {
      file = std::string(line);
      current = nullptr;
    } else if (absl::StartsWith(line, "    --")) {
      const std::string text(absl::StripLeadingAsciiWhitespace(line));
      const std::string name = text.substr(2, text.find_first_of(" (") - 2);
      FlagHelp& flag = help.flags[name];
      flag.file = file;
      flag.text = text;
      current = &flag.text;
    } else if (current != nullptr && absl::StartsWith(line, "      ")) {
      absl::StrAppend(current, " ", absl::StripLeadingAsciiWhitespace(line));
    } else {
      current = nullptr;
    }
  }
  return help;
}

// The default as --help prints it, when the source spells it as a literal.
std::optional<std::string> PrintedDefault(const std::string& expr) {
  if (expr.size() >= 2 && expr.front() == '"' && expr.back() == '"') return expr;
  int64_t i;
  double d;
  if (expr == "true" || expr == "false" || absl::SimpleAtoi(expr, &i) || absl::SimpleAtod(expr, &d)) return expr;
  return std::nullopt;  // an expression (e.g. a registry address): checked apart
}

// A value for the flag's variable that differs from its default and parses
// as its type.
std::string ValueUnlikeDefault(const FlagSource& flag, const std::string& printed_default) {
  const std::string d = absl::StrCat(absl::StripPrefix(absl::StripSuffix(printed_default, "\""), "\""));
  if (d == "true") return "false";
  if (d == "false") return "true";
  int64_t i;
  if (!absl::StartsWith(printed_default, "\"") && absl::SimpleAtoi(d, &i)) return absl::StrCat(i + 7);
  double x;
  if (!absl::StartsWith(printed_default, "\"") && absl::SimpleAtod(d, &x)) return absl::StrCat(x + 0.5);
  return absl::StrCat("help-test-", flag.name);
}

struct Binary {
  std::string binary;
  std::string main_source;
  bool shared_flags;        // links services/common/config.cc's flags
  bool all_flags_read_env;  // a server: configured by environment in a deployment
};

void PrintTo(const Binary& b, std::ostream* os) { *os << b.binary; }

std::vector<Binary> Binaries() {
  std::vector<Binary> binaries;
  for (const registry::ProcessInfo& p : registry::Processes()) {
    binaries.push_back({p.binary,
                        p.is_grpc_service() ? absl::StrCat("services/", p.name, "/main.cc") : "gateway/main.cc", true,
                        true});
  }
  binaries.push_back({"rapport-healthcheck", "tools/healthcheck.cc", false, false});
  binaries.push_back({"rapport-datagen", "tools/datagen/main.cc", true, false});
  return binaries;
}

absl::StatusOr<std::string> RunHelp(const std::string& binary, const std::map<std::string, std::string>& env) {
  return testing::RunToExit(testing::BinDir() + "/" + binary, {"--help"}, env);
}

class HelpTest : public ::testing::TestWithParam<Binary> {};

TEST_P(HelpTest, ListsEveryFlagOfItsFilesWithVariableAndDefault) {
  const Binary& b = GetParam();
  std::vector<FlagSource> defined = FlagsDefinedIn(b.main_source);
  std::map<std::string, std::string> file_of;  // flag -> source file
  for (const FlagSource& f : defined) file_of[f.name] = b.main_source;
  if (b.shared_flags) {
    for (const FlagSource& f : FlagsDefinedIn("services/common/config.cc")) {
      defined.push_back(f);
      file_of[f.name] = "services/common/config.cc";
    }
  }
  ASSERT_FALSE(defined.empty());

  absl::StatusOr<std::string> output = RunHelp(b.binary, {});
  ASSERT_TRUE(output.ok()) << output.status();
  ASSERT_FALSE(absl::StrContains(*output, "No flags matched")) << *output;
  const Help help = ParseHelp(*output);

  std::set<std::string> listed;
  for (const auto& [name, flag] : help.flags) listed.insert(name);
  std::set<std::string> expected;
  for (const FlagSource& f : defined) expected.insert(f.name);
  EXPECT_EQ(listed, expected) << *output;

  std::map<std::string, std::string> env;  // each variable set to a value unlike its flag's default
  for (const FlagSource& f : defined) {
    SCOPED_TRACE(absl::StrCat(b.binary, " --", f.name));
    auto shown = help.flags.find(f.name);
    if (shown == help.flags.end()) continue;  // reported above
    const std::string& text = shown->second.text;
    EXPECT_EQ(shown->second.file, file_of[f.name]);
    if (b.all_flags_read_env) {
      EXPECT_FALSE(f.env.empty()) << "the help text names no (env VARIABLE)";
    }
    if (!f.env.empty()) {
      EXPECT_TRUE(absl::StrContains(text, absl::StrCat("(env ", f.env, ")"))) << text;
    }
    EXPECT_FALSE(absl::StrContains(text, "currently:")) << text;

    std::optional<std::string> printed = PrintedDefault(f.default_expr);
    const size_t at = text.find("; default: ");
    ASSERT_NE(at, std::string::npos) << text;
    const std::string shown_default = text.substr(at + 11, text.find(';', at + 11) - at - 11);
    if (printed.has_value()) {
      EXPECT_EQ(shown_default, *printed) << text;
    }
    if (config::IsSecretFlag(f.name)) {
      EXPECT_EQ(f.default_expr, "\"\"") << "a secret flag has a built-in value";
    }
    // A default that is an expression is a registry address: the process
    // whose variable the flag reads.
    for (const registry::ProcessInfo& p : registry::Processes()) {
      if (f.env == p.addr_env) {
        EXPECT_EQ(shown_default, absl::StrCat("\"", p.default_addr, "\"")) << text;
      }
    }
    if (!f.env.empty()) env[f.env] = ValueUnlikeDefault(f, shown_default);
  }

  // The variables the help texts name are the ones the binary reads.
  absl::StatusOr<std::string> with_env = RunHelp(b.binary, env);
  ASSERT_TRUE(with_env.ok()) << with_env.status();
  const Help help_with_env = ParseHelp(*with_env);
  for (const FlagSource& f : defined) {
    SCOPED_TRACE(absl::StrCat(b.binary, " --", f.name));
    auto shown = help_with_env.flags.find(f.name);
    if (shown == help_with_env.flags.end()) continue;
    const std::string& text = shown->second.text;
    if (f.env.empty()) {
      EXPECT_FALSE(absl::StrContains(text, "currently:")) << text;
      continue;
    }
    const std::string& value = env[f.env];
    if (config::IsSecretFlag(f.name)) {
      // A secret is read but never printed: --help shows it redacted.
      EXPECT_FALSE(absl::StrContains(*with_env, value)) << f.env << "'s value printed by --help";
      EXPECT_TRUE(absl::StrContains(text, absl::StrCat("currently: \"", config::kRedacted, "\";")))
          << f.env << " did not reach the flag: " << text;
      continue;
    }
    const bool quoted = absl::StrContains(text, "; default: \"");
    EXPECT_TRUE(
        absl::StrContains(text, absl::StrCat("currently: ", quoted ? "\"" : "", value, quoted ? "\"" : "", ";")))
        << f.env << "=" << value << " did not reach the flag: " << text;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryBinary, HelpTest, ::testing::ValuesIn(Binaries()),
                         [](const ::testing::TestParamInfo<Binary>& info) {
                           std::string name = info.param.binary;
                           for (char& c : name) {
                             if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// Secrets given on the command line, in either form, are not printed either.
TEST(GatewayHelpTest, SecretsOnTheCommandLineArePrintedRedacted) {
  absl::StatusOr<std::string> output =
      testing::RunToExit(testing::BinDir() + "/" + registry::kGateway.binary,
                         {"--internal_key=argv-secret-one", "--admin_key", "argv-secret-two", "--help"}, {});
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_FALSE(absl::StrContains(*output, "argv-secret-one")) << *output;
  EXPECT_FALSE(absl::StrContains(*output, "argv-secret-two")) << *output;
  const Help help = ParseHelp(*output);
  for (const char* name : {"internal_key", "admin_key"}) {
    auto shown = help.flags.find(name);
    ASSERT_NE(shown, help.flags.end()) << name;
    EXPECT_TRUE(absl::StrContains(shown->second.text, absl::StrCat("currently: \"", config::kRedacted, "\";")))
        << shown->second.text;
  }
}

TEST(GatewayHelpTest, UsageNamesEveryBackendVariable) {
  absl::StatusOr<std::string> output = RunHelp(registry::kGateway.binary, {});
  ASSERT_TRUE(output.ok()) << output.status();
  const Help help = ParseHelp(*output);
  for (const registry::ProcessInfo& service : registry::GrpcServices()) {
    EXPECT_TRUE(absl::StrContains(help.usage, service.addr_env)) << help.usage;
  }
}

}  // namespace
}  // namespace rapport
