// A small blocking HTTP/1.1 client on libcurl: rapportctl and the tests use
// it to talk to the gateway (and webhook delivery will). Header names in
// responses are lowercased.
//
// Thread-safety: each call uses its own curl handle; safe from any thread.
#ifndef RAPPORT_SERVICES_COMMON_HTTP_CLIENT_H_
#define RAPPORT_SERVICES_COMMON_HTTP_CLIENT_H_

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rapport {

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

struct HttpOptions {
  long connect_timeout_ms = 5000;
  long timeout_ms = 10000;
  std::string user_agent = "rapport";
  // "host:port:address" entries pinning where a host name connects (curl's
  // CURLOPT_RESOLVE): webhook delivery connects to the addresses it checked.
  std::vector<std::string> resolve;
  // Refuse every scheme but http and https (redirects are never followed).
  bool http_only = false;
  // Keep at most this much of the response body (the rest is read and
  // dropped), so that a hostile server cannot fill memory. 0: no limit.
  size_t max_body_bytes = 0;
  // When set, a successful (< 400) response's body goes to body_writer as it
  // arrives instead of into HttpResponse::body (a download of any size in
  // flat memory); returning false aborts the transfer (status 0 then).
  std::function<bool(std::string_view)> body_writer;
};

// headers: "Name: value" lines. A non-empty body is sent as is (set the
// Content-Type yourself).
HttpResponse HttpCall(const std::string& method, const std::string& url, const std::vector<std::string>& headers = {},
                      const std::string& body = "", const HttpOptions& options = HttpOptions());

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_HTTP_CLIENT_H_
