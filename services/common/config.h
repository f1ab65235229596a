// Configuration: every binary reads absl flags, and each flag may also come
// from an environment variable. Precedence: command line > environment >
// built-in default. The flags every service shares are defined here.
#ifndef RAPPORT_SERVICES_COMMON_CONFIG_H_
#define RAPPORT_SERVICES_COMMON_CONFIG_H_

#include <map>
#include <string>
#include <vector>

#include "absl/flags/declare.h"

ABSL_DECLARE_FLAG(std::string, internal_key);  // RAPPORT_INTERNAL_KEY
ABSL_DECLARE_FLAG(std::string, redis_addr);    // RAPPORT_REDIS_ADDR
ABSL_DECLARE_FLAG(std::string, redis_url);     // RAPPORT_REDIS_URL
ABSL_DECLARE_FLAG(std::string, data_dir);      // RAPPORT_DATA_DIR
ABSL_DECLARE_FLAG(std::string, database_url);  // RAPPORT_DATABASE_URL
ABSL_DECLARE_FLAG(std::string, log_level);     // RAPPORT_LOG_LEVEL
ABSL_DECLARE_FLAG(std::string, tls_cert);      // RAPPORT_TLS_CERT
ABSL_DECLARE_FLAG(std::string, tls_key);       // RAPPORT_TLS_KEY
ABSL_DECLARE_FLAG(std::string, tls_ca);        // RAPPORT_TLS_CA
ABSL_DECLARE_FLAG(bool, grpc_reflection);      // RAPPORT_GRPC_REFLECTION
ABSL_DECLARE_FLAG(std::string, secrets_key);   // RAPPORT_SECRETS_KEY

namespace rapport::config {

// Applies environment values to flags (for the shared flags above and for
// env_for_flag: flag name -> variable), then parses argv, then loads the TLS
// files into the process's TlsConfig (SetProcessTls, channel.h). Exits with
// a message on a bad flag or a bad environment value, as absl does for argv,
// and on TLS files it cannot use. Sets the process's secrets key
// (SetProcessSecretBox, crypto.h) from --secrets_key when given, and exits on
// a malformed one. Under --help, secret flags (IsSecretFlag) show as
// "<redacted>" whatever their value. Returns the positional arguments.
std::vector<char*> ParseFlags(int argc, char** argv, const std::string& usage,
                              const std::map<std::string, std::string>& env_for_flag = {});

// Where the Redis client connects: --redis_url when set (it may carry a
// password and a database), else --redis_addr. Call after ParseFlags.
std::string RedisAddress();

}  // namespace rapport::config

#endif  // RAPPORT_SERVICES_COMMON_CONFIG_H_
