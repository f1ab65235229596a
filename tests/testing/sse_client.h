// A minimal Server-Sent Events client for tests: one GET over a raw loopback
// socket, the response head, then the event stream parsed as it arrives.
// Used against the gateway's live notification stream.
//
// Not thread-safe: one test thread owns each client.
#ifndef RAPPORT_TESTS_TESTING_SSE_CLIENT_H_
#define RAPPORT_TESTS_TESTING_SSE_CLIENT_H_

#include <chrono>
#include <string>
#include <vector>

namespace rapport::testing {

class SseClient {
 public:
  struct Event {
    std::string event, id, data;
  };
  SseClient() = default;
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;
  ~SseClient() { Close(); }

  void Close();
  // Connects to 127.0.0.1:port and sends GET path with the extra headers
  // ("Name: value" each); false when the connection or the write failed.
  bool Connect(int port, const std::string& path, const std::vector<std::string>& headers);
  // Reads until the response head is complete; its status and headers.
  bool ReadHead(std::chrono::milliseconds deadline);
  const std::string& head() const { return head_; }
  // The next event (comments are counted, not returned); false at the
  // deadline or the end.
  bool Next(Event* e, std::chrono::milliseconds deadline);
  int comments() const { return comments_; }

 private:
  bool Fill(std::chrono::steady_clock::time_point until);

  int fd_ = -1;
  std::string buf_, head_;
  int comments_ = 0;
};

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_SSE_CLIENT_H_
