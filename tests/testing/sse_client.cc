#include "tests/testing/sse_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace rapport::testing {

void SseClient::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  buf_.clear();  // a later Connect starts a fresh response
}

bool SseClient::Connect(int port, const std::string& path, const std::vector<std::string>& headers) {
  Close();
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
  std::string req = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n");
  for (const auto& h : headers) absl::StrAppend(&req, h, "\r\n");
  req += "\r\n";
  return write(fd_, req.data(), req.size()) == static_cast<ssize_t>(req.size());
}

bool SseClient::ReadHead(std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (buf_.find("\r\n\r\n") == std::string::npos) {
    if (!Fill(until)) return false;
  }
  size_t end = buf_.find("\r\n\r\n");
  head_ = buf_.substr(0, end);
  buf_ = buf_.substr(end + 4);
  return true;
}

bool SseClient::Next(Event* e, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (true) {
    size_t end = buf_.find("\n\n");
    if (end != std::string::npos) {
      std::string block = buf_.substr(0, end);
      buf_ = buf_.substr(end + 2);
      Event out;
      bool any = false;
      for (absl::string_view line : absl::StrSplit(block, '\n')) {
        if (absl::ConsumePrefix(&line, ":")) {
          ++comments_;
          continue;
        }
        any = true;
        if (absl::ConsumePrefix(&line, "event: ")) out.event = std::string(line);
        if (absl::ConsumePrefix(&line, "id: ")) out.id = std::string(line);
        if (absl::ConsumePrefix(&line, "data: ")) out.data += std::string(line);
      }
      if (!any) continue;
      *e = out;
      return true;
    }
    if (!Fill(until)) return false;
  }
}

bool SseClient::Fill(std::chrono::steady_clock::time_point until) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char tmp[4096];
  ssize_t n = read(fd_, tmp, sizeof tmp);
  if (n <= 0) return false;
  buf_.append(tmp, static_cast<size_t>(n));
  return true;
}

}  // namespace rapport::testing
