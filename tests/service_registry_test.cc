// The service registry (services/common/service_registry.h) against what
// it describes: the README's service table, the generated gRPC service
// names, the gateway's backends, and what `rapport-healthcheck
// --list_services` prints for tools/up.
#include "services/common/service_registry.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gateway/backends.h"
#include "rapport/interactions/v1/interactions.grpc.pb.h"
#include "rapport/notifications/v1/notifications.grpc.pb.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "rapport/recommendations/v1/recommendations.grpc.pb.h"
#include "tests/testing/harness.h"

namespace rapport {
namespace {

std::string ReadSourceFile(const std::string& path) {
  std::ifstream in(std::string(RAPPORT_SOURCE_DIR) + "/" + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct ReadmeRow {
  std::string addr_env;
  std::string default_addr;
};

// The rows of the README's service table:
// | `profiles` | `PROFILES_SERVICE_ADDR` (127.0.0.1:50051) | what it does |
std::map<std::string, ReadmeRow> ReadmeServiceTable(const std::string& readme) {
  static const std::regex kRow(R"(^\| `([a-z_]+)` \| `([A-Z_]+)` \(([^)]+)\) \|)");
  std::map<std::string, ReadmeRow> rows;
  for (absl::string_view line : absl::StrSplit(readme, '\n')) {
    std::smatch m;
    const std::string text(line);
    if (!std::regex_search(text, m, kRow)) continue;
    EXPECT_TRUE(rows.emplace(m[1], ReadmeRow{m[2], m[3]}).second) << "two README rows for " << m[1];
  }
  return rows;
}

TEST(ServiceRegistryTest, ReadmeServiceTableListsEveryProcessWithItsVariableAndDefaultAddress) {
  const std::string readme = ReadSourceFile("README.md");
  ASSERT_FALSE(readme.empty()) << "cannot read " << RAPPORT_SOURCE_DIR << "/README.md";
  std::map<std::string, ReadmeRow> rows = ReadmeServiceTable(readme);
  for (const registry::ProcessInfo& process : registry::Processes()) {
    auto row = rows.find(process.name);
    ASSERT_NE(row, rows.end()) << "README.md has no row | `" << process.name << "` | ... |";
    EXPECT_EQ(row->second.addr_env, process.addr_env) << process.name;
    EXPECT_EQ(row->second.default_addr, process.default_addr) << process.name;
    rows.erase(row);
  }
  for (const auto& [name, row] : rows) ADD_FAILURE() << "README.md lists `" << name << "`, which the registry has not";
}

TEST(ServiceRegistryTest, HealthServiceIsTheGeneratedServiceName) {
  EXPECT_EQ(registry::kProfiles.health_service, profiles::v1::ProfilesService::service_full_name());
  EXPECT_EQ(registry::kInteractions.health_service, interactions::v1::InteractionsService::service_full_name());
  EXPECT_EQ(registry::kRecommendations.health_service,
            recommendations::v1::RecommendationsService::service_full_name());
  EXPECT_EQ(registry::kNotifications.health_service, notifications::v1::NotificationsService::service_full_name());
  EXPECT_FALSE(registry::kGateway.is_grpc_service());
}

TEST(ServiceRegistryTest, NamesAndAddressesAreUnique) {
  std::set<std::string> names, vars, addrs;
  for (const registry::ProcessInfo& process : registry::Processes()) {
    EXPECT_TRUE(names.insert(process.name).second) << process.name;
    EXPECT_TRUE(vars.insert(process.addr_env).second) << process.addr_env;
    EXPECT_TRUE(addrs.insert(process.default_addr).second) << process.default_addr;
    EXPECT_EQ(registry::Find(process.name), &process);
  }
  EXPECT_EQ(registry::Find("nope"), nullptr);
  EXPECT_EQ(registry::GrpcServices().size() + 1, registry::Processes().size());
  for (const registry::ProcessInfo& service : registry::GrpcServices()) EXPECT_TRUE(service.is_grpc_service());
}

TEST(ServiceRegistryTest, AddrIsTheVariableWhenSetElseTheDefault) {
  const registry::ProcessInfo& p = registry::kNotifications;
  unsetenv(p.addr_env);
  EXPECT_EQ(registry::Addr(p), p.default_addr);
  setenv(p.addr_env, "", 1);
  EXPECT_EQ(registry::Addr(p), p.default_addr);
  setenv(p.addr_env, "unix:/tmp/n.sock", 1);
  EXPECT_EQ(registry::Addr(p), "unix:/tmp/n.sock");
  unsetenv(p.addr_env);
}

TEST(ServiceRegistryTest, GatewayServesEveryGrpcServiceOfTheRegistry) {
  std::set<std::string> backends;
  for (const gateway::Backend& b : gateway::Backends()) backends.insert(b.process->name);
  std::set<std::string> services;
  for (const registry::ProcessInfo& service : registry::GrpcServices()) services.insert(service.name);
  EXPECT_EQ(backends, services);
}

TEST(ServiceRegistryTest, HealthcheckListsTheRegistryForToolsUp) {
  absl::StatusOr<std::string> out =
      testing::RunToExit(testing::BinDir() + "/rapport-healthcheck", {"--list_services"}, {});
  ASSERT_TRUE(out.ok()) << out.status();
  std::string expected;
  for (const registry::ProcessInfo& p : registry::Processes()) {
    absl::StrAppend(&expected, p.name, "\t", p.binary, "\t", p.addr_env, "\t", p.default_addr, "\t",
                    p.is_grpc_service() ? p.health_service : "-", "\n");
  }
  EXPECT_EQ(*out, expected);
}

}  // namespace
}  // namespace rapport
