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

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

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

constexpr char kAdminKey[] = "rpa_server-test-admin-key";

// A gateway on a free loopback port whose backend is never called here.
GatewayOptions LocalOptions(int threads) {
  GatewayOptions options;
  options.addr = "127.0.0.1:0";
  options.threads = threads;
  options.internal_key = "test-internal-key";
  options.auth.admin_key = kAdminKey;
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
  // UBSan's vptr check looks each new (object type, static type) pair up
  // once and then caches it; the look-up probes memory through a pipe, which
  // cannot be made once descriptors run out, and the check then reports
  // "invalid vptr" for the accept error's category (error_code::message).
  // Looked up here first, while descriptors remain.
  for (const boost::system::error_category* category :
       {&boost::asio::error::get_system_category(), &boost::system::generic_category()}) {
    EXPECT_FALSE(category->message(EMFILE).empty());
  }
  // The same for the readiness cache's thread, whose start is checked the
  // same way: a /readyz answer means it has run (a clean-clone sanitizer run
  // reported "invalid vptr" in std::thread's start once, descriptors gone).
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>((*gateway)->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  {
    const int probe = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_FALSE(Exchange(probe, "GET /readyz HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n").empty());
    close(probe);
  }
  rlimit original{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &original), 0);
  const int limit = OpenDescriptors() + 3;
  rlimit lowered = original;
  lowered.rlim_cur = static_cast<rlim_t>(limit);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);

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

// A connection to the gateway from source (another loopback address is
// another client).
int Connect(int port, const char* source = "127.0.0.1") {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof(from)) != 0 ||
      connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// One request on a new connection, answer read to EOF.
std::string Call(int port, const std::string& path, const std::string& headers = "", const char* source = "127.0.0.1") {
  const int fd = Connect(port, source);
  if (fd < 0) return "";
  std::string answer =
      Exchange(fd, "GET " + path + " HTTP/1.1\r\nHost: gateway\r\n" + headers + "Connection: close\r\n\r\n");
  close(fd);
  return answer;
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// Whether the gateway closed fd (EOF or reset) within timeout; reads and drops what it sends.
bool ClosedWithin(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  timeval tick{0, 50 * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick));
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return true;
  }
  return false;
}

// Past max_connections open connections, a new one is answered 503 with
// Retry-After at once and closed; when one closes, new ones are served again.
TEST(GatewayServerTest, ConnectionsOverTheLimitAre503UntilOneCloses) {
  GatewayOptions options = LocalOptions(2);
  options.max_connections = 3;
  options.client_share_percent = 0;  // all from 127.0.0.1: the cap alone
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
    metrics = Call(port, "/metrics", absl::StrCat("X-Api-Key: ", kAdminKey, "\r\n"));
    if (metrics.rfind("HTTP/1.1 200", 0) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(metrics.rfind("HTTP/1.1 200", 0), 0u) << metrics;
  EXPECT_NE(metrics.find("\nrapport_gateway_connections 3\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\nrapport_gateway_connections_refused_total "), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("\nrapport_gateway_connections_refused_total 0\n"), std::string::npos) << metrics;

  for (size_t i = 1; i < idle.size(); ++i) close(idle[i]);
  (*gateway)->Stop();
}

// One client address holds at most its share of the cap: past it, its new
// connections are answered 429 at once while another address still gets in.
TEST(GatewayServerTest, OneAddressPastItsShareIs429WhileOthersGetIn) {
  GatewayOptions options = LocalOptions(2);
  options.max_connections = 10;
  options.client_share_percent = 30;  // 3 connections per address
  absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Start(options);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  const int port = (*gateway)->port();

  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(Connect(port, "127.0.0.1"));
  for (int fd : idle) ASSERT_GE(fd, 0);
  // The gateway counts a connection once it accepted it: wait for the fourth to be refused.
  std::string refused;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!StartsWith(refused, "HTTP/1.1 429") && std::chrono::steady_clock::now() < deadline) {
    refused = Call(port, "/healthz", "", "127.0.0.1");
  }
  ASSERT_TRUE(StartsWith(refused, "HTTP/1.1 429")) << refused;
  EXPECT_NE(refused.find("Retry-After: 1\r\n"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Content-Type: application/problem+json"), std::string::npos) << refused;
  EXPECT_NE(refused.find("\"code\":\"RESOURCE_EXHAUSTED\""), std::string::npos) << refused;
  EXPECT_NE(refused.find("at most 3 connections"), std::string::npos) << refused;

  // Another address is served, well below the cap.
  const std::string other = Call(port, "/healthz", "", "127.0.0.2");
  EXPECT_TRUE(StartsWith(other, "HTTP/1.1 200")) << other;
  // The first address's open connections are still served.
  const std::string served = Exchange(idle[0], "GET /healthz HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(StartsWith(served, "HTTP/1.1 200")) << served;
  close(idle[0]);
  // One closed: the first address gets in again (once the gateway saw the close).
  std::string again;
  const auto deadline2 = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!StartsWith(again, "HTTP/1.1 200") && std::chrono::steady_clock::now() < deadline2) {
    again = Call(port, "/metrics", absl::StrCat("X-Api-Key: ", kAdminKey, "\r\n"), "127.0.0.1");
  }
  ASSERT_TRUE(StartsWith(again, "HTTP/1.1 200")) << again;
  EXPECT_NE(again.find("\nrapport_gateway_share_refusals_total{kind=\"connection\"} "), std::string::npos) << again;

  for (size_t i = 1; i < idle.size(); ++i) close(idle[i]);
  (*gateway)->Stop();
}

// A client that dribbles its header (slowloris) is cut off header_timeout
// after its first byte, however steadily it sends; an idle keep-alive
// connection may still wait longer than that for its request.
TEST(GatewayServerTest, AHeaderDribbledPastTheTimeoutIsCutOff) {
  GatewayOptions options = LocalOptions(1);
  options.header_timeout = std::chrono::milliseconds(1000);
  absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Start(options);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  const int port = (*gateway)->port();

  const int slow = Connect(port);
  ASSERT_GE(slow, 0);
  const auto start = std::chrono::steady_clock::now();
  const std::string first = "GET /healthz HTTP/1.1\r\n";
  ASSERT_EQ(send(slow, first.data(), first.size(), MSG_NOSIGNAL), static_cast<ssize_t>(first.size()));
  bool closed = false;
  for (int i = 0; i < 50 && !closed; ++i) {  // one header line every 100 ms, for up to 5 s
    const std::string line = absl::StrCat("X-Slow-", i, ": x\r\n");
    if (send(slow, line.data(), line.size(), MSG_NOSIGNAL) < 0) break;
    closed = ClosedWithin(slow, std::chrono::milliseconds(100));
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(closed || ClosedWithin(slow, std::chrono::milliseconds(500))) << "a dribbled header kept the connection";
  EXPECT_GE(elapsed, std::chrono::milliseconds(900));
  EXPECT_LT(elapsed, std::chrono::milliseconds(3000));
  close(slow);

  // Idle for longer than the header timeout, then a whole request: served.
  const int idle = Connect(port);
  ASSERT_GE(idle, 0);
  EXPECT_FALSE(ClosedWithin(idle, std::chrono::milliseconds(1500)));
  const std::string served = Exchange(idle, "GET /healthz HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(StartsWith(served, "HTTP/1.1 200")) << served;
  close(idle);
  (*gateway)->Stop();
}

// /readyz answers from one check shared by concurrent requests, on the
// readiness thread: 16 at once cost one check of the unreachable backend
// (ready_timeout each), not 16 of them queued on the blocking pool.
TEST(GatewayServerTest, ConcurrentReadyzShareOneCheck) {
  GatewayOptions options = LocalOptions(2);
  options.ready_timeout = std::chrono::milliseconds(500);
  absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Start(options);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  const int port = (*gateway)->port();

  std::vector<std::string> answers(16);
  std::vector<std::thread> callers;
  const auto start = std::chrono::steady_clock::now();
  for (std::string& answer : answers) {
    callers.emplace_back([&answer, port] { answer = Call(port, "/readyz"); });
  }
  for (std::thread& t : callers) t.join();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  for (const std::string& answer : answers) {
    EXPECT_TRUE(StartsWith(answer, "HTTP/1.1 503")) << answer;
    EXPECT_NE(answer.find("\"rapport.profiles.v1.ProfilesService\":\"NOT_SERVING\""), std::string::npos) << answer;
  }
  // One check (500 ms), two if requests straddle one; queued on a pool of 4
  // threads, 16 checks took 2 s.
  EXPECT_LT(elapsed, std::chrono::milliseconds(1400));
  (*gateway)->Stop();
}

// /metrics tells every org's traffic: the platform admin key only.
TEST(GatewayServerTest, MetricsNeedThePlatformAdminKey) {
  absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Start(LocalOptions(1));
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  const int port = (*gateway)->port();
  const std::string anonymous = Call(port, "/metrics");
  EXPECT_TRUE(StartsWith(anonymous, "HTTP/1.1 401")) << anonymous;
  EXPECT_EQ(anonymous.find("rapport_gateway_requests_total"), std::string::npos) << anonymous;
  const std::string admin = Call(port, "/metrics", absl::StrCat("X-Api-Key: ", kAdminKey, "\r\n"));
  EXPECT_TRUE(StartsWith(admin, "HTTP/1.1 200")) << admin;
  EXPECT_NE(admin.find("rapport_gateway_requests_total{code=\"401\",route=\"/metrics\"} 1"), std::string::npos)
      << admin;
  (*gateway)->Stop();
}

// Requests refused for their credentials are limited per client address:
// past the burst they get 429 with Retry-After, while another address still
// gets its 401s. Their log lines are sampled per address (the first ten a
// minute, then one in a hundred with the count suppressed), and paths are
// cut at 256 characters in the log.
TEST(GatewayServerTest, UnauthenticatedRequestsAreLimitedAndTheirLogSampledPerAddress) {
  GatewayOptions options = LocalOptions(2);
  options.unauthenticated = RateLimitOptions{.per_minute = 6, .burst = 3};
  options.throttle_hold = std::chrono::milliseconds(0);  // 117 refusals below, answered at once
  absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Start(options);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  const int port = (*gateway)->port();

  for (int i = 0; i < 3; ++i) {
    const std::string refused = Call(port, "/v1/me");
    EXPECT_TRUE(StartsWith(refused, "HTTP/1.1 401")) << refused;
  }
  const std::string limited = Call(port, "/v1/me");
  EXPECT_TRUE(StartsWith(limited, "HTTP/1.1 429")) << limited;
  EXPECT_NE(limited.find("\"code\":\"RESOURCE_EXHAUSTED\""), std::string::npos) << limited;
  EXPECT_NE(limited.find("Retry-After: "), std::string::npos) << limited;
  EXPECT_NE(limited.find("Content-Type: application/problem+json"), std::string::npos) << limited;
  // /metrics without the key is one of them.
  EXPECT_TRUE(StartsWith(Call(port, "/metrics"), "HTTP/1.1 429"));
  // Another address is not limited by the first one's refusals.
  const std::string other = Call(port, "/v1/me", "", "127.0.0.2");
  EXPECT_TRUE(StartsWith(other, "HTTP/1.1 401")) << other;

  // 120 refusals with a long path from a third address: ten lines, then one
  // for the 110th (99 suppressed).
  const std::string long_path = "/v1/contacts/" + std::string(1000, 'a');
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 120; ++i) Call(port, long_path, "", "127.0.0.3");
  const std::string log = ::testing::internal::GetCapturedStderr();
  int lines = 0;
  size_t longest_path = 0;
  for (size_t at = 0; (at = log.find("\"msg\":\"http\"", at)) != std::string::npos; ++at) {
    const size_t end = log.find('\n', at);
    const std::string line = log.substr(at, end - at);
    if (line.find("\"client\":\"127.0.0.3\"") == std::string::npos) continue;
    ++lines;
    const size_t path = line.find("\"path\":\"");
    ASSERT_NE(path, std::string::npos) << line;
    longest_path = std::max(longest_path, line.find('"', path + 8) - (path + 8));
    if (lines == 11) {
      EXPECT_NE(line.find("\"suppressed\":\"99\""), std::string::npos) << line;
    }
  }
  EXPECT_EQ(lines, 11) << log.substr(0, 4000);
  EXPECT_EQ(longest_path, 256u);
  EXPECT_NE(log.find("\"path_length\":\"1013\""), std::string::npos);
  (*gateway)->Stop();
}

// A throttled refusal is held before it is sent (issue 17's noisy
// neighbour: an unauthenticated flood on keep-alive connections made the
// gateway refuse 30 000 requests a second, 1.2 of the machine's 2 cores,
// and starved the services' commits). Another address is answered at once
// meanwhile, and a client looping on its connection gets one answer per
// hold. Before the change the 429 came at once (this test failed).
TEST(GatewayServerTest, ThrottledRefusalsAreHeldSoAFloodGetsOneAnswerPerHold) {
  GatewayOptions options = LocalOptions(2);
  options.unauthenticated = RateLimitOptions{.per_minute = 6, .burst = 1};
  options.throttle_hold = std::chrono::milliseconds(600);
  absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Start(options);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  const int port = (*gateway)->port();
  EXPECT_TRUE(StartsWith(Call(port, "/v1/me"), "HTTP/1.1 401"));

  const auto held_start = std::chrono::steady_clock::now();
  auto held = std::async(std::launch::async, [port] { return Call(port, "/v1/me"); });
  // While that one is held, another address gets its 401 at once.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto other_start = std::chrono::steady_clock::now();
  const std::string other = Call(port, "/v1/me", "", "127.0.0.2");
  const auto other_took = std::chrono::steady_clock::now() - other_start;
  EXPECT_TRUE(StartsWith(other, "HTTP/1.1 401")) << other;
  EXPECT_LT(other_took, std::chrono::milliseconds(500));
  const std::string limited = held.get();
  const auto held_took = std::chrono::steady_clock::now() - held_start;
  EXPECT_TRUE(StartsWith(limited, "HTTP/1.1 429")) << limited;
  EXPECT_NE(limited.find("Retry-After: "), std::string::npos) << limited;
  EXPECT_GE(held_took, std::chrono::milliseconds(600));

  // A keep-alive client sending as fast as it can for 1.5 s gets about one
  // answer per hold (3 at most), not thousands.
  const int fd = Connect(port, "127.0.0.1");
  ASSERT_GE(fd, 0);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  const std::string request = "GET /v1/me HTTP/1.1\r\nHost: gateway\r\n\r\n";
  int answers = 0;
  const auto flood_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < flood_end) {
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) break;
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos && recv(fd, &c, 1, 0) == 1) head.push_back(c);
    if (!StartsWith(head, "HTTP/1.1 429")) break;
    size_t length = 0;
    const size_t at = head.find("Content-Length: ");
    if (at != std::string::npos) length = std::stoul(head.substr(at + 16));
    std::string body(length, '\0');
    size_t got = 0;
    while (got < length) {
      const ssize_t n = recv(fd, body.data() + got, length - got, 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    ++answers;
  }
  close(fd);
  EXPECT_GE(answers, 1);
  EXPECT_LE(answers, 3);

  // Stopping lets a held refusal go out first.
  auto held_at_stop = std::async(std::launch::async, [port] { return Call(port, "/v1/me"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  (*gateway)->Stop();
  const std::string last = held_at_stop.get();
  EXPECT_TRUE(StartsWith(last, "HTTP/1.1 429")) << last;
}

}  // namespace
}  // namespace rapport::gateway
