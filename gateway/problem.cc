#include "gateway/problem.h"

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gateway/json_writer.h"

namespace rapport::gateway {

std::string ReasonPhrase(int s) {
  switch (s) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Error";
  }
}

std::vector<std::pair<std::string, std::string>> SplitViolations(const std::string& message) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view part : absl::StrSplit(message, "; ", absl::SkipWhitespace())) {
    size_t colon = part.find(": ");
    // A field is one token without spaces ("contact.displayName", "scopes[0]").
    if (colon == absl::string_view::npos || part.substr(0, colon).find(' ') != absl::string_view::npos) {
      out.emplace_back("", std::string(part));
    } else {
      out.emplace_back(std::string(part.substr(0, colon)), std::string(part.substr(colon + 2)));
    }
  }
  return out;
}

Problem MakeProblem(int http_status, std::string code, std::string detail) {
  Problem p;
  p.status = http_status;
  p.code = std::move(code);
  p.detail = std::move(detail);
  return p;
}

Problem ProblemFromStatus(const absl::Status& status) {
  const std::string message(status.message());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument: {
      Problem p = MakeProblem(400, "INVALID_ARGUMENT", message);
      p.violations = SplitViolations(message);
      return p;
    }
    case absl::StatusCode::kUnauthenticated:
      return MakeProblem(401, "UNAUTHENTICATED", message);
    case absl::StatusCode::kPermissionDenied:
      return MakeProblem(403, "PERMISSION_DENIED", message);
    case absl::StatusCode::kNotFound:
      return MakeProblem(404, "NOT_FOUND", message);
    case absl::StatusCode::kAlreadyExists:
      return MakeProblem(409, "ALREADY_EXISTS", message);
    case absl::StatusCode::kAborted:
      return MakeProblem(409, "ABORTED", message);
    case absl::StatusCode::kFailedPrecondition:
      if (absl::StartsWith(message, "Idempotency-Key")) {
        return MakeProblem(422, "FAILED_PRECONDITION", message);
      }
      // GET /v1/sync with a cursor older than the retained history
      // (services/notifications/sync_log.h, kResyncRequired).
      if (absl::StartsWith(message, "RESYNC_REQUIRED")) return MakeProblem(410, "RESYNC_REQUIRED", message);
      return MakeProblem(400, "FAILED_PRECONDITION", message);
    case absl::StatusCode::kOutOfRange:
      return MakeProblem(400, "OUT_OF_RANGE", message);
    case absl::StatusCode::kResourceExhausted:
      return MakeProblem(429, "RESOURCE_EXHAUSTED", message);
    case absl::StatusCode::kUnavailable:
      return MakeProblem(503, "UNAVAILABLE", "a backend service is unavailable; retry later");
    case absl::StatusCode::kDeadlineExceeded:
      return MakeProblem(504, "DEADLINE_EXCEEDED", "a backend service did not answer in time");
    default:
      return MakeProblem(500, "INTERNAL", "internal error");
  }
}

std::string ProblemJson(const Problem& p, const std::string& request_id) {
  std::string out;
  JsonWriter json(&out);
  json.BeginObject()
      .Key("type")
      .String("about:blank")
      .Key("title")
      .String(ReasonPhrase(p.status))
      .Key("status")
      .Int(p.status)
      .Key("detail")
      .String(p.detail)
      .Key("code")
      .String(p.code)
      .Key("requestId")
      .String(request_id);
  if (!p.violations.empty()) {
    json.Key("violations").BeginArray();
    for (const auto& [field, description] : p.violations) {
      json.BeginObject().Key("field").String(field).Key("description").String(description).EndObject();
    }
    json.EndArray();
  }
  json.EndObject();
  return out;
}

}  // namespace rapport::gateway
