// Errors as application/problem+json (RFC 7807), the one place where a status
// becomes an HTTP answer:
//   {"type","title","status","detail","code","requestId","violations":[{"field","description"}]}
// gRPC codes map to HTTP as API.md says; INVALID_ARGUMENT messages in the
// services' "field: description; field: description" form are split into
// violations; codes that mean a server fault answer 500 with a generic detail
// so that internals never leak.
//
// Thread-safety: stateless functions.
#ifndef RAPPORT_GATEWAY_PROBLEM_H_
#define RAPPORT_GATEWAY_PROBLEM_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace rapport::gateway {

struct Problem {
  int status = 500;
  std::string code;  // e.g. "NOT_FOUND"
  std::string detail;
  std::vector<std::pair<std::string, std::string>> violations;
};

Problem ProblemFromStatus(const absl::Status& status);
// A problem the gateway raises itself (404 route, 405, 413, 415...).
Problem MakeProblem(int http_status, std::string code, std::string detail);
std::string ProblemJson(const Problem& problem, const std::string& request_id);
// "a: x; b: y" -> {{"a","x"},{"b","y"}}; a part without "field: " keeps an empty field.
std::vector<std::pair<std::string, std::string>> SplitViolations(const std::string& message);
// The reason phrase of an HTTP status ("Not Found").
std::string ReasonPhrase(int http_status);

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_PROBLEM_H_
