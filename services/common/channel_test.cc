// Tests of the channels between services: a peer slow to complete the HTTP/2
// handshake (a loaded host) is waited for, not failed.
#include "services/common/channel.h"

#include <arpa/inet.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rapport/api/v1/health.pb.h"
#include "tests/testing/harness.h"

namespace rapport {
namespace {

// A TCP proxy on 127.0.0.1 that accepts at once (the kernel completes the TCP
// handshake) but relays nothing for `delay`: to the client, a peer whose
// HTTP/2 SETTINGS frame comes late, as from a host too busy to schedule it.
class SlowProxy {
 public:
  SlowProxy(int backend_port, std::chrono::milliseconds delay) : backend_port_(backend_port), delay_(delay) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = Loopback(0);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listen_fd_, 16), 0);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~SlowProxy() {
    stopping_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    close(listen_fd_);
    std::lock_guard<std::mutex> lock(mu_);
    for (std::thread& t : relays_) t.join();
  }
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  void Accept() {
    while (!stopping_) {
      int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) return;
      ++accepted_;
      std::lock_guard<std::mutex> lock(mu_);
      relays_.emplace_back([this, client] { Relay(client); });
    }
  }

  void Relay(int client) {
    std::this_thread::sleep_for(delay_);  // the simulated slow peer, not a synchronisation
    int backend = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = Loopback(backend_port_);
    if (connect(backend, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      pollfd fds[2] = {{client, POLLIN, 0}, {backend, POLLIN, 0}};
      char buf[16384];
      while (!stopping_) {
        if (poll(fds, 2, 100) < 0) break;
        bool closed = false;
        for (int i = 0; i < 2 && !closed; ++i) {
          if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
          ssize_t n = read(fds[i].fd, buf, sizeof(buf));
          closed = n <= 0 || write(fds[1 - i].fd, buf, static_cast<size_t>(n)) != n;
        }
        if (closed) break;
      }
    }
    close(backend);
    close(client);
  }

  const int backend_port_;
  const std::chrono::milliseconds delay_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> relays_;
};

// One fail-fast health check (no wait_for_ready, as the gateway's calls are).
grpc::Status FailFastCheck(const std::shared_ptr<grpc::Channel>& channel, std::chrono::seconds deadline) {
  grpc::TemplatedGenericStub<api::v1::HealthCheckRequest, api::v1::HealthCheckResponse> stub(channel);
  api::v1::HealthCheckRequest request;
  api::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  if (status.ok() && response.status() != api::v1::HealthCheckResponse::SERVING) {
    return grpc::Status(grpc::StatusCode::UNKNOWN, "not SERVING");
  }
  return status;
}

TEST(ServiceChannelTest, PeerSlowToCompleteTheHandshakeIsWaitedForNotFailed) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  grpc::CallbackGenericService unimplemented;  // a server needs one service besides health
  builder.RegisterCallbackGenericService(&unimplemented);
  int backend_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &backend_port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(backend_port, 0);

  // Half a second: five times the connect timeout the channels once had,
  // which turned such a peer into UNAVAILABLE (a 503 at the gateway).
  SlowProxy proxy(backend_port, std::chrono::milliseconds(500));
  auto channel = CreateServiceChannel("127.0.0.1:" + std::to_string(proxy.port()));
  grpc::Status status = FailFastCheck(channel, std::chrono::seconds(10));
  EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  EXPECT_EQ(proxy.accepted(), 1);  // one attempt, not one per timeout
  server->Shutdown();
}

TEST(ChannelTargetTest, ListsBecomeIpTargetsAndOtherTargetsAreKept) {
  EXPECT_EQ(*ChannelTarget("127.0.0.1:50051"), "127.0.0.1:50051");
  EXPECT_EQ(*ChannelTarget("profiles:50051"), "profiles:50051");
  EXPECT_EQ(*ChannelTarget("dns:///profiles.rapport.svc:50051"), "dns:///profiles.rapport.svc:50051");
  EXPECT_EQ(*ChannelTarget("unix:/tmp/a.sock"), "unix:/tmp/a.sock");
  EXPECT_EQ(*ChannelTarget("10.0.0.5:50051,10.0.0.6:50051"), "ipv4:10.0.0.5:50051,10.0.0.6:50051");
  EXPECT_EQ(*ChannelTarget(" 10.0.0.5:1 , 10.0.0.6:2 "), "ipv4:10.0.0.5:1,10.0.0.6:2");
  EXPECT_EQ(*ChannelTarget("[::1]:1,[fd00::2]:2"), "ipv6:[::1]:1,[fd00::2]:2");
  EXPECT_EQ(*ChannelTarget("localhost:7,127.0.0.1:8"), "ipv4:127.0.0.1:7,127.0.0.1:8");
  for (const char* bad : {"10.0.0.5,10.0.0.6:1", "10.0.0.5:x,10.0.0.6:1", "10.0.0.5:0,10.0.0.6:1",
                          "no-such-host.invalid:1,10.0.0.6:1", "10.0.0.5:1,[::1]:2"}) {
    absl::StatusOr<std::string> target = ChannelTarget(bad);
    EXPECT_EQ(target.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// A health server answering SERVING for `name` only: which replica served a
// check shows in whether `name` was known.
struct NamedServer {
  NamedServer(const std::string& name) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.RegisterCallbackGenericService(&unimplemented);
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    server = builder.BuildAndStart();
    if (server != nullptr) server->GetHealthCheckService()->SetServingStatus(name, true);
  }
  grpc::CallbackGenericService unimplemented;  // a server needs one service besides health
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

grpc::Status CheckNamed(const std::shared_ptr<grpc::Channel>& channel, const std::string& name) {
  grpc::TemplatedGenericStub<api::v1::HealthCheckRequest, api::v1::HealthCheckResponse> stub(channel);
  api::v1::HealthCheckRequest request;
  request.set_service(name);
  api::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  return done.get_future().get();
}

TEST(ServiceChannelTest, ReplicasOfAListShareTheCallsAndADownOneIsRoutedAround) {
  auto a = std::make_unique<NamedServer>("a");
  auto b = std::make_unique<NamedServer>("b");
  ASSERT_TRUE(a->server != nullptr && b->server != nullptr);
  auto channel = CreateServiceChannel(absl::StrCat("127.0.0.1:", a->port, ",127.0.0.1:", b->port));
  ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)));
  // Round-robin: once both replicas are connected, calls alternate.
  int on_a = 0, on_b = 0;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        grpc::Status s = CheckNamed(channel, "a");
        if (s.ok()) {
          ++on_a;
        } else {
          EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();  // b does not know "a"
          ++on_b;
        }
        return on_a >= 10 && on_b >= 10;
      },
      std::chrono::seconds(10)))
      << on_a << " on a, " << on_b << " on b";

  b->server->Shutdown();
  b.reset();
  // After b is seen down, every call goes to a.
  int failures = 0;
  EXPECT_TRUE(testing::WaitFor([&] { return CheckNamed(channel, "a").ok(); }, std::chrono::seconds(10)));
  for (int i = 0; i < 20; ++i) failures += CheckNamed(channel, "a").ok() ? 0 : 1;
  EXPECT_EQ(failures, 0);
  a->server->Shutdown();
}

}  // namespace
}  // namespace rapport
