// A small blocking HTTP/1.1 client on libcurl for tests that talk to the
// gateway. Header names in responses are lowercased.
//
// Thread-safety: each call uses its own curl handle; safe from any thread.
#ifndef RAPPORT_TESTS_TESTING_HTTP_CLIENT_H_
#define RAPPORT_TESTS_TESTING_HTTP_CLIENT_H_

#include <map>
#include <string>
#include <vector>

namespace rapport::testing {

struct HttpResponse {
  long status = 0;  // 0 when the request failed at the transport level
  std::map<std::string, std::string> headers;
  std::string body;
  std::string error;  // curl's message when status is 0
  std::string Header(const std::string& lowercase_name) const {
    auto it = headers.find(lowercase_name);
    return it == headers.end() ? "" : it->second;
  }
};

// headers: "Name: value" lines. A non-empty body is sent as is (set the
// Content-Type yourself); 10 s timeout.
HttpResponse HttpCall(const std::string& method, const std::string& url,
                      const std::vector<std::string>& headers = {}, const std::string& body = "");

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_HTTP_CLIENT_H_
