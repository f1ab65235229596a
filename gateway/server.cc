#include "gateway/server.h"

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core/error.hpp>
#include <cerrno>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gateway/backend_client.h"
#include "gateway/client_share.h"
#include "gateway/connection.h"
#include "gateway/metrics.h"
#include "gateway/pipeline.h"
#include "gateway/sse.h"
#include "services/common/log.h"

namespace rapport::gateway {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct Gateway::Impl {
  explicit Impl(GatewayOptions o)
      : options(std::move(o)),
        backends(options.internal_key, options.backend_deadline, &metrics),
        loops(MakeLoops(options.threads)),
        acceptor(*loops[0]),
        accept_retry(*loops[0]),
        blocking(4) {}

  // One io_context per thread (an event loop per core): a connection lives on
  // one loop, so its handlers never run concurrently and need no strand, and
  // each loop runs with asio's single-threaded scheduler (no handler queue
  // shared between threads, no thread woken to run another's handler).
  static std::vector<std::unique_ptr<net::io_context>> MakeLoops(int threads) {
    const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::unique_ptr<net::io_context>> out;
    for (int i = 0; i < n; ++i) out.push_back(std::make_unique<net::io_context>(1));
    return out;
  }

  // Accepts one connection onto the next loop, then the next connection.
  void Accept();

  GatewayOptions options;
  // Before the loops: connections still queued in a stopped loop count
  // themselves out of the metrics (through connection_context) when the
  // loops are destroyed.
  Metrics metrics;
  ShareCounter connection_shares;  // per client address; like metrics, outlives the connections
  BackendClient backends;
  std::unique_ptr<Pipeline> pipeline;
  ConnectionContext connection_context{};
  std::vector<std::unique_ptr<net::io_context>> loops;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> loop_guards;  // keep idle loops running
  size_t next_loop = 0;  // round-robin of accepted connections; touched on loops[0] only
  tcp::acceptor acceptor;
  net::steady_timer accept_retry;  // on loops[0], like the acceptor
  bool accept_failing = false;     // touched on loops[0] only
  bool refusing = false;           // over max_connections; touched on loops[0] only
  net::thread_pool blocking;       // readiness checks and Redis calls, which block
  std::vector<std::thread> threads;
  EventStreams streams;  // server-streaming routes served as SSE
  int port = 0;
  bool stopped = false;
};

void Gateway::Impl::Accept() {
  net::io_context& loop = *loops[next_loop++ % loops.size()];
  acceptor.async_accept(loop, [this](boost::beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space || ec == net::error::no_memory ||
        ec.value() == ENFILE) {
      // Out of descriptors or memory: the connection stays queued and accept
      // would fail again at once, spinning a loop thread. Retry shortly.
      if (!accept_failing) log::Warn("cannot accept connections; retrying every 100 ms", {{"error", ec.message()}});
      accept_failing = true;
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([this](boost::beast::error_code wait_ec) {
        if (!wait_ec && acceptor.is_open()) Accept();
      });
      return;
    }
    if (!ec) {
      if (accept_failing) log::Info("accepting connections again");
      accept_failing = false;
      const bool full = options.max_connections > 0 && metrics.OpenConnections() >= options.max_connections;
      if (full) {
        if (!refusing) {
          log::Warn("connection limit reached; refusing with 503",
                    {{"max_connections", absl::StrCat(options.max_connections)}});
        }
        refusing = true;
        RefuseConnection(std::move(socket), &connection_context);
      } else {
        if (refusing) log::Info("below the connection limit again");
        refusing = false;
        ServeConnection(std::move(socket), &connection_context);
      }
    }
    Accept();
  });
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Gateway::~Gateway() { Stop(); }

int Gateway::port() const { return impl_->port; }

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(GatewayOptions options) {
  if (options.internal_key.empty()) return absl::InvalidArgumentError("the internal key is required");
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl* gw = impl.get();
  for (const BackendEndpoint& b : gw->options.backends) gw->backends.AddBackend(b.service, b.addr);
  absl::StatusOr<std::unique_ptr<Pipeline>> pipeline = Pipeline::Create(
      gw->options, &gw->metrics, &gw->backends, &gw->streams,
      [gw](std::function<void()> task) { net::post(gw->blocking, std::move(task)); }, gw->loops[0]->get_executor());
  if (!pipeline.ok()) return pipeline.status();
  gw->pipeline = *std::move(pipeline);
  if (!gw->backends.Has(kProfilesService)) {
    return absl::InvalidArgumentError("the profiles backend is required to verify API keys");
  }
  gw->connection_context = ConnectionContext{&gw->options, &gw->metrics, gw->pipeline.get(), &gw->connection_shares};

  const std::string& addr = gw->options.addr;
  const size_t colon = addr.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(addr.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError("listen address must be host:port: " + addr);
  }
  std::string host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  boost::beast::error_code ec;
  net::ip::address ip = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return absl::InvalidArgumentError("bad listen host: " + host);
  tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
  gw->acceptor.open(endpoint.protocol(), ec);
  if (!ec) gw->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) gw->acceptor.bind(endpoint, ec);
  if (!ec) gw->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot listen on ", addr, ": ", ec.message()));
  gw->port = gw->acceptor.local_endpoint().port();
  gw->Accept();
  const int threads = static_cast<int>(gw->loops.size());
  for (auto& loop : gw->loops) {
    gw->loop_guards.push_back(net::make_work_guard(*loop));
    gw->threads.emplace_back([loop = loop.get()] { loop->run(); });
  }
  log::Info("listening", {{"addr", absl::StrCat(host, ":", gw->port)},
                          {"routes", absl::StrCat(gw->pipeline->router().routes().size())},
                          {"threads", absl::StrCat(threads)}});
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

void Gateway::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->streams.CancelAll(std::chrono::seconds(2));
  net::post(*impl_->loops[0], [gw = impl_.get()] {
    boost::beast::error_code ec;
    gw->acceptor.close(ec);
    gw->accept_retry.cancel();
  });
  // Calls in flight and held refusals reference the gateway and their
  // connections: let them finish (bounded by the deadline and the hold).
  const auto until = std::chrono::steady_clock::now() +
                     std::max(impl_->options.backend_deadline, impl_->options.throttle_hold) + std::chrono::seconds(1);
  while ((impl_->metrics.BackendCallsInFlight() > 0 || impl_->pipeline->HeldRefusals() > 0) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  impl_->pipeline->Stop();  // the readiness thread, answering whoever waits while the loops still run
  impl_->blocking.join();
  impl_->loop_guards.clear();
  for (auto& loop : impl_->loops) loop->stop();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace rapport::gateway
