// The gateway's route table, built from the compiled descriptors of the
// services linked into the binary: every RPC carrying a rapport.api.v1.http
// option becomes one route (HTTP method + path template). Templates are
// literal segments, {field} variables (proto field names of the request) and
// an optional ":verb" suffix on the last segment, e.g.
// "/v1/introductions/{id}:respond".
//
// Thread-safety: a Router is immutable after construction (Build / Add happen
// before serving), so Match may be called from any thread.
#ifndef RAPPORT_GATEWAY_ROUTER_H_
#define RAPPORT_GATEWAY_ROUTER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "rapport/api/v1/annotations.pb.h"

namespace rapport::gateway {

struct Route {
  std::string http_method;    // GET, POST, PUT, PATCH, DELETE
  std::string path_template;  // as declared, e.g. /v1/contacts/{contact_id}
  // Segments after the leading '/', the verb removed; "{x}" marks a variable.
  std::vector<std::string> segments;
  std::string verb;               // "respond" for ".../{id}:respond", else empty
  std::vector<std::string> vars;  // variable field names, in path order
  int literal_count = 0;          // more literals wins when two routes match
  api::v1::HttpRule rule;
  const google::protobuf::MethodDescriptor* method = nullptr;
  std::string grpc_method;  // "/rapport.profiles.v1.ProfilesService/CreateContact"
  std::string service;      // "rapport.profiles.v1.ProfilesService"
  // The body field is a rapport.api.v1.HttpBody: it takes the raw request
  // body and its Content-Type (an upload), not JSON.
  bool raw_body = false;
};

using PathVars = std::vector<std::pair<std::string, std::string>>;  // field name -> decoded value

struct RouteMatch {
  enum class Kind { kMatched, kNoSuchPath, kMethodNotAllowed };
  Kind kind = Kind::kNoSuchPath;
  const Route* route = nullptr;
  PathVars vars;
  std::vector<std::string> allowed_methods;  // for kMethodNotAllowed
};

class Router {
 public:
  // Adds the annotated methods of each named service, found in
  // DescriptorPool::generated_pool(). NOT_FOUND for a service not linked in;
  // INVALID_ARGUMENT for a malformed rule (bad template, unknown variable or
  // body field, two routes with one method and template).
  absl::Status AddServices(const std::vector<std::string>& service_names);
  absl::Status AddMethod(const google::protobuf::MethodDescriptor* method);

  // path is the request target without the query string (percent-encoded).
  RouteMatch Match(const std::string& http_method, const std::string& path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Parses a path template into route (segments, verb, vars, literal_count).
absl::Status ParseTemplate(const std::string& path_template, Route* route);

// Percent-decodes s; with plus_as_space also '+' -> ' ' (query strings).
// INVALID_ARGUMENT on a malformed escape.
absl::StatusOr<std::string> PercentDecode(const std::string& s, bool plus_as_space);

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_ROUTER_H_
