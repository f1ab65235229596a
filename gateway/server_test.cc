// The gateway's HTTP server in this process, for what needs the process's own
// limits: running out of file descriptors, the connection limit.
#include "gateway/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace rapport::gateway {
namespace {

int OpenDescriptors() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Sends an HTTP request on a connected socket and reads the answer to EOF.
std::string Exchange(int fd, const std::string& request) {
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return "";
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) answer.append(buf, static_cast<size_t>(n));
  return answer;
}

// A gateway on a free loopback port whose backend is never called here.
GatewayOptions LocalOptions(int threads) {
  GatewayOptions options;
  options.addr = "127.0.0.1:0";
  options.threads = threads;
  options.internal_key = "test-internal-key";
  options.backends.push_back({"rapport.profiles.v1.ProfilesService", "127.0.0.1:1"});
  return options;
}

// Out of descriptors, accept fails while the connection stays queued: the
// gateway must neither spin a loop thread on it nor stop accepting for good.
TEST(GatewayServerTest, OutOfDescriptorsNeitherSpinsNorStopsAccepting) {
  absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Start(LocalOptions(1));
  ASSERT_TRUE(gateway.ok()) << gateway.status();

  // Sockets made before the limit drops; the gateway may then accept 3.
  std::vector<int> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(socket(AF_INET, SOCK_STREAM, 0));
  for (int fd : clients) ASSERT_GE(fd, 0);
  rlimit original{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &original), 0);
  const int limit = OpenDescriptors() + 3;
  rlimit lowered = original;
  lowered.rlim_cur = static_cast<rlim_t>(limit);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>((*gateway)->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int fd : clients) {
    // Completes from the listen backlog whether or not the gateway accepts.
    ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  }
  // Wait (bounded) until the gateway has used up the descriptors.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int probe; (probe = dup(STDERR_FILENO)) >= 0 && std::chrono::steady_clock::now() < deadline;) {
    close(probe);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // While connections wait that cannot be accepted, the process stays idle:
  // a spinning accept loop would burn a whole core for the whole second.
  const double cpu_before = CpuSeconds();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double cpu = CpuSeconds() - cpu_before;
  EXPECT_LT(cpu, 0.3) << "CPU seconds used in one idle second while out of descriptors";

  // Descriptors back: the connections still queued are accepted and served.
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &original), 0);
  const std::string answer =
      Exchange(clients.back(), "GET /healthz HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_NE(answer.find("\"status\":\"ok\""), std::string::npos) << answer;

  for (int fd : clients) close(fd);
  (*gateway)->Stop();
}

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// One request on a new connection, answer read to EOF.
std::string Call(int port, const std::string& path) {
  const int fd = Connect(port);
  if (fd < 0) return "";
  std::string answer = Exchange(fd, "GET " + path + " HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n");
  close(fd);
  return answer;
}

// Past max_connections open connections, a new one is answered 503 with
// Retry-After at once and closed; when one closes, new ones are served again.
TEST(GatewayServerTest, ConnectionsOverTheLimitAre503UntilOneCloses) {
  GatewayOptions options = LocalOptions(2);
  options.max_connections = 3;
  absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Start(options);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  const int port = (*gateway)->port();

  // Three idle keep-alive connections: the limit. (Accepted one after the
  // other, so the fourth is counted after them.)
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(Connect(port));
  for (int fd : idle) ASSERT_GE(fd, 0);

  const std::string refused = Call(port, "/healthz");
  EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
  EXPECT_NE(refused.find("Retry-After: 1\r\n"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Content-Type: application/problem+json"), std::string::npos) << refused;
  EXPECT_NE(refused.find("\"code\":\"UNAVAILABLE\""), std::string::npos) << refused;
  EXPECT_NE(refused.find("at most 3 connections"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Connection: close"), std::string::npos) << refused;

  // The idle connections are still served.
  const std::string served = Exchange(idle[0], "GET /healthz HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(served.rfind("HTTP/1.1 200", 0), 0u) << served;
  close(idle[0]);

  // One closed: a new connection is served (once the gateway saw the close).
  std::string metrics;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (metrics.rfind("HTTP/1.1 200", 0) != 0 && std::chrono::steady_clock::now() < deadline) {
    metrics = Call(port, "/metrics");
    if (metrics.rfind("HTTP/1.1 200", 0) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(metrics.rfind("HTTP/1.1 200", 0), 0u) << metrics;
  EXPECT_NE(metrics.find("\nrapport_gateway_connections 3\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\nrapport_gateway_connections_refused_total "), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("\nrapport_gateway_connections_refused_total 0\n"), std::string::npos) << metrics;

  for (size_t i = 1; i < idle.size(); ++i) close(idle[i]);
  (*gateway)->Stop();
}

}  // namespace
}  // namespace rapport::gateway
