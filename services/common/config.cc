#include "services/common/config.h"

#include <cstdio>
#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
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

namespace rapport::config {

std::vector<char*> ParseFlags(int argc, char** argv, const std::string& usage,
                              const std::map<std::string, std::string>& env_for_flag) {
  SetUsage(usage);  // --help lists the project's flags (flags_usage.h)
  std::map<std::string, std::string> all = {
      {"internal_key", "RAPPORT_INTERNAL_KEY"}, {"redis_addr", "RAPPORT_REDIS_ADDR"},
      {"redis_url", "RAPPORT_REDIS_URL"},       {"data_dir", "RAPPORT_DATA_DIR"},
      {"database_url", "RAPPORT_DATABASE_URL"}, {"log_level", "RAPPORT_LOG_LEVEL"},
  };
  all.insert(env_for_flag.begin(), env_for_flag.end());
  for (const auto& [flag_name, env_name] : all) {
    const char* value = std::getenv(env_name.c_str());
    if (value == nullptr) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(flag_name);
    if (flag == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      std::fprintf(stderr, "bad value in %s for --%s: %s\n", env_name.c_str(), flag_name.c_str(), error.c_str());
      std::exit(2);
    }
  }
  return absl::ParseCommandLine(argc, argv);
}

std::string RedisAddress() {
  std::string url = absl::GetFlag(FLAGS_redis_url);
  return url.empty() ? absl::GetFlag(FLAGS_redis_addr) : url;
}

}  // namespace rapport::config
