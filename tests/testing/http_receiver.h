// A tiny HTTP/1.1 server for tests that receive calls (webhooks): it listens
// on a free 127.0.0.1 port, records every request, and answers each with the
// status a test-supplied function picks (by the request's 0-based index).
// One connection at a time, Connection: close.
//
// Thread-safety: requests() and set_responder() may be called from any
// thread while the server thread runs.
#ifndef RAPPORT_TESTS_TESTING_HTTP_RECEIVER_H_
#define RAPPORT_TESTS_TESTING_HTTP_RECEIVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace rapport::testing {

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

class HttpReceiver {
 public:
  HttpReceiver();
  ~HttpReceiver();  // stops the server thread
  absl::Status Start();
  void set_responder(std::function<int(int index, const ReceivedRequest&)> responder);
  std::vector<ReceivedRequest> requests();
  std::string Url(const std::string& path) const;

 private:
  void Serve();
  int port_ = 0;
  int fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  std::function<int(int, const ReceivedRequest&)> responder_;
  std::vector<ReceivedRequest> requests_;
};

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_HTTP_RECEIVER_H_
