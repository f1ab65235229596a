#include "services/common/config.h"

#include <cstdio>
#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "services/common/channel.h"
#include "services/common/crypto.h"
#include "services/common/flags_usage.h"

ABSL_FLAG(std::string, internal_key, "",
          "HMAC key that signs tenant metadata between processes (env RAPPORT_INTERNAL_KEY); required");
ABSL_FLAG(std::string, redis_addr, "127.0.0.1:6379", "Redis host:port (env RAPPORT_REDIS_ADDR)");
ABSL_FLAG(std::string, redis_url, "",
          "Redis as redis://[user:password@]host:port[/db]; wins over --redis_addr when set (env RAPPORT_REDIS_URL)");
ABSL_FLAG(std::string, data_dir, "./var", "directory for SQLite files (env RAPPORT_DATA_DIR)");
ABSL_FLAG(std::string, database_url, "",
          "PostgreSQL as postgresql://user:password@host:port/dbname?sslmode=...; each service keeps its tables in "
          "its own schema; empty: one SQLite file per service under --data_dir (env RAPPORT_DATABASE_URL)");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error (env RAPPORT_LOG_LEVEL)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate (chain) of this process for TLS between processes, with --tls_key; empty: plaintext "
          "(env RAPPORT_TLS_CERT)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert (env RAPPORT_TLS_KEY)");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA that peers' certificates must chain to; with --tls_cert and --tls_key: mutual TLS "
          "(env RAPPORT_TLS_CA)");
ABSL_FLAG(std::string, secrets_key, "",
          "AES-256-GCM key that seals secrets at rest (webhook signing secrets, recorded idempotent replies): 32 "
          "bytes as 64 hex digits or as base64; required by profiles and notifications (env RAPPORT_SECRETS_KEY)");
ABSL_FLAG(bool, grpc_reflection, false, "serve gRPC server reflection (env RAPPORT_GRPC_REFLECTION)");

namespace rapport::config {

std::vector<char*> ParseFlags(int argc, char** argv, const std::string& usage,
                              const std::map<std::string, std::string>& env_for_flag) {
  SetUsage(usage);  // --help lists the project's flags (flags_usage.h)
  std::map<std::string, std::string> all = {
      {"internal_key", "RAPPORT_INTERNAL_KEY"},
      {"redis_addr", "RAPPORT_REDIS_ADDR"},
      {"redis_url", "RAPPORT_REDIS_URL"},
      {"data_dir", "RAPPORT_DATA_DIR"},
      {"database_url", "RAPPORT_DATABASE_URL"},
      {"log_level", "RAPPORT_LOG_LEVEL"},
      {"tls_cert", "RAPPORT_TLS_CERT"},
      {"tls_key", "RAPPORT_TLS_KEY"},
      {"tls_ca", "RAPPORT_TLS_CA"},
      {"grpc_reflection", "RAPPORT_GRPC_REFLECTION"},
      {"secrets_key", "RAPPORT_SECRETS_KEY"},
  };
  // --help prints each flag's current value next to its default: a secret
  // flag set from the environment or argv would be printed in clear.
  const bool help = IsUsageRequest(argc, argv);
  all.insert(env_for_flag.begin(), env_for_flag.end());
  for (const auto& [flag_name, env_name] : all) {
    const char* value = std::getenv(env_name.c_str());
    if (value == nullptr) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(flag_name);
    if (flag == nullptr) continue;
    if (help && IsSecretFlag(flag_name)) value = kRedacted;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      std::fprintf(stderr, "bad value in %s for --%s: %s\n", env_name.c_str(), flag_name.c_str(), error.c_str());
      std::exit(2);
    }
  }
  // Static: the positional arguments returned point into them (absl exits
  // after printing usage, so this runs at most once).
  static std::vector<std::string> redacted_args;
  static std::vector<char*> redacted_argv;
  if (help) {  // absl handles --help inside ParseCommandLine: it must see no secret
    redacted_args = RedactSecretArgs(argc, argv);
    for (std::string& arg : redacted_args) redacted_argv.push_back(arg.data());
    argc = static_cast<int>(redacted_argv.size());
    redacted_argv.push_back(nullptr);
    argv = redacted_argv.data();
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  absl::StatusOr<TlsConfig> tls =
      LoadTls(absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key), absl::GetFlag(FLAGS_tls_ca));
  if (!tls.ok()) {
    std::fprintf(stderr, "bad TLS settings: %s\n", std::string(tls.status().message()).c_str());
    std::exit(2);
  }
  SetProcessTls(*std::move(tls));
  const std::string secrets_key = absl::GetFlag(FLAGS_secrets_key);
  if (!secrets_key.empty()) {
    absl::StatusOr<std::unique_ptr<SecretBox>> box = SecretBox::FromText(secrets_key);
    if (!box.ok()) {
      std::fprintf(stderr, "bad --secrets_key (RAPPORT_SECRETS_KEY): %s\n",
                   std::string(box.status().message()).c_str());
      std::exit(2);
    }
    SetProcessSecretBox(*std::move(box));
  }
  return positional;
}

std::string RedisAddress() {
  std::string url = absl::GetFlag(FLAGS_redis_url);
  return url.empty() ? absl::GetFlag(FLAGS_redis_addr) : url;
}

}  // namespace rapport::config
