// Fuzzes the transcoder the way the gateway's pipeline drives it: the input
// is "<METHOD> <target>\n<body>"; the target is matched against the route
// table of every backend service, its query string parsed, and the request
// message built from path variables, query parameters and body, then
// printed back as JSON. Any error must be a status (INVALID_ARGUMENT), never
// a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "gateway/backends.h"
#include "gateway/router.h"
#include "gateway/transcoder.h"

namespace {

const rapport::gateway::Router& Routes() {
  static const rapport::gateway::Router* router = [] {
    auto* r = new rapport::gateway::Router;
    if (!r->AddServices(rapport::gateway::BackendServiceNames()).ok()) std::abort();
    return r;
  }();
  return *router;
}

// Bad input is the client's fault: anything but INVALID_ARGUMENT would answer 5xx.
void CheckInputError(const absl::Status& status, const char* what) {
  if (status.ok() || status.code() == absl::StatusCode::kInvalidArgument) return;
  std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t eol = input.find('\n');
  const std::string line = input.substr(0, eol);
  const std::string body = eol == std::string::npos ? "" : input.substr(eol + 1);
  const size_t space = line.find(' ');
  if (space == std::string::npos) return 0;
  const std::string method = line.substr(0, space);
  const std::string target = line.substr(space + 1);
  const size_t q = target.find('?');
  const std::string path = target.substr(0, q);
  const std::string query = q == std::string::npos ? "" : target.substr(q + 1);

  (void)rapport::gateway::PercentDecode(path, false);
  rapport::gateway::RouteMatch match = Routes().Match(method, path);
  absl::StatusOr<rapport::gateway::QueryParams> params = rapport::gateway::ParseQuery(query);
  if (!params.ok()) {
    CheckInputError(params.status(), "ParseQuery");
    return 0;
  }
  if (match.kind != rapport::gateway::RouteMatch::Kind::kMatched) return 0;
  rapport::gateway::HttpInput http;
  http.body = body;
  http.path_vars = match.vars;
  http.query = *params;
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> request =
      rapport::gateway::BuildRequest(*match.route, http);
  if (!request.ok()) {
    CheckInputError(request.status(), "BuildRequest");
    return 0;
  }
  absl::StatusOr<std::string> json = rapport::gateway::ToJson(**request);
  if (!json.ok()) {
    std::fprintf(stderr, "ToJson of a built request: %s\n", json.status().ToString().c_str());
    std::abort();
  }
  return 0;
}
