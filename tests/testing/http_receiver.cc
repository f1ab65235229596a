#include "tests/testing/http_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace rapport::testing {

HttpReceiver::HttpReceiver() : responder_([](int, const ReceivedRequest&) { return 200; }) {}

HttpReceiver::~HttpReceiver() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (std::thread& t : handlers_) t.join();
  if (fd_ >= 0) close(fd_);
}

absl::Status HttpReceiver::Start() {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return absl::InternalError("socket failed");
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 16) != 0) {
    return absl::InternalError("bind/listen failed");
  }
  socklen_t len = sizeof addr;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
  return absl::OkStatus();
}

void HttpReceiver::set_responder(std::function<int(int, const ReceivedRequest&)> responder) {
  std::lock_guard<std::mutex> lock(mu_);
  responder_ = std::move(responder);
}

void HttpReceiver::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> lock(mu_);
  delay_ = delay;
}

std::vector<ReceivedRequest> HttpReceiver::requests() {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::string HttpReceiver::Url(const std::string& path) const { return absl::StrCat("http://127.0.0.1:", port_, path); }

void HttpReceiver::Serve() {
  while (!stopping_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    int c = accept(fd_, nullptr, nullptr);
    if (c < 0) continue;
    bool delayed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      delayed = delay_.count() > 0;
    }
    if (delayed) {
      handlers_.emplace_back([this, c] { Handle(c); });  // only this thread touches handlers_
    } else {
      Handle(c);
    }
  }
}

void HttpReceiver::Handle(int c) {
  timeval tv{2, 0};
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string data;
  char buf[4096];
  size_t header_end = std::string::npos;
  size_t want = 0;
  while (true) {
    if (header_end == std::string::npos) {
      header_end = data.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        want = header_end + 4;
        for (absl::string_view line : absl::StrSplit(absl::string_view(data).substr(0, header_end), "\r\n")) {
          size_t colon = line.find(':');
          if (colon == absl::string_view::npos) continue;
          if (absl::AsciiStrToLower(line.substr(0, colon)) == "content-length") {
            size_t n = 0;
            if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(colon + 1)), &n)) want += n;
          }
        }
      }
    }
    if (header_end != std::string::npos && data.size() >= want) break;
    ssize_t n = read(c, buf, sizeof buf);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ReceivedRequest req;
  if (header_end != std::string::npos) {
    std::vector<std::string> lines = absl::StrSplit(data.substr(0, header_end), "\r\n");
    std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
    if (first.size() >= 2) {
      req.method = first[0];
      req.path = first[1];
    }
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      req.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    req.body = data.substr(header_end + 4);
  }
  req.received = absl::Now();
  int status;
  {
    std::unique_lock<std::mutex> lock(mu_);
    status = responder_(static_cast<int>(requests_.size()), req);
    requests_.push_back(req);
    if (delay_.count() > 0) stop_cv_.wait_for(lock, delay_, [this] { return stopping_.load(); });
  }
  std::string resp = absl::StrCat("HTTP/1.1 ", status, " Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  (void)!write(c, resp.data(), resp.size());
  close(c);
}

}  // namespace rapport::testing
