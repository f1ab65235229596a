// A tiny HTTP/1.1 server for tests that receive calls (webhooks): it listens
// on a free 127.0.0.1 port, records every request, and answers each with the
// status a test-supplied function picks (by the request's 0-based index).
// One connection at a time, Connection: close; with set_delay, a slow
// receiver: each request is answered only after the delay, on a thread of its
// own, so that concurrent requests each wait the delay, not its multiple.
//
// Thread-safety: requests() and set_responder() may be called from any
// thread while the server thread runs.
#ifndef RAPPORT_TESTS_TESTING_HTTP_RECEIVER_H_
#define RAPPORT_TESTS_TESTING_HTTP_RECEIVER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace rapport::testing {

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  absl::Time received;  // when the request was read whole
};

class HttpReceiver {
 public:
  HttpReceiver();
  ~HttpReceiver();  // stops the server thread
  absl::Status Start();
  void set_responder(std::function<int(int index, const ReceivedRequest&)> responder);
  // Answers each request this long after reading it (0: at once). Set before
  // requests arrive; the destructor cuts a wait short.
  void set_delay(std::chrono::milliseconds delay);
  std::vector<ReceivedRequest> requests();
  std::string Url(const std::string& path) const;

 private:
  void Serve();
  // Reads one request from the accepted connection c, answers and closes it.
  void Handle(int c);
  int port_ = 0;
  int fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable stop_cv_;  // wakes delayed answers at destruction
  std::function<int(int, const ReceivedRequest&)> responder_;
  std::vector<ReceivedRequest> requests_;
  std::chrono::milliseconds delay_{0};
  std::vector<std::thread> handlers_;  // delayed answers; joined at destruction
};

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_HTTP_RECEIVER_H_
