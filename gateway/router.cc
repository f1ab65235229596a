#include "gateway/router.h"

#include <optional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace rapport::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

bool IsVariable(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Resolves a dotted proto field path against a message type; nullptr if any
// part is missing or a non-final part is not a singular message.
const FieldDescriptor* ResolveField(const Descriptor* type, const std::string& dotted) {
  const FieldDescriptor* field = nullptr;
  for (absl::string_view part : absl::StrSplit(dotted, '.')) {
    if (type == nullptr) return nullptr;
    field = type->FindFieldByName(std::string(part));
    if (field == nullptr) return nullptr;
    type = (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !field->is_repeated()) ? field->message_type()
                                                                                            : nullptr;
  }
  return field;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(const std::string& s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || HexValue(s[i + 1]) < 0 || HexValue(s[i + 2]) < 0) {
        return absl::InvalidArgumentError("malformed percent escape");
      }
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::Status ParseTemplate(const std::string& path_template, Route* route) {
  if (path_template.empty() || path_template[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("path template must start with '/': ", path_template));
  }
  std::string body = path_template.substr(1);
  route->segments = absl::StrSplit(body, '/');
  std::string& last = route->segments.back();
  // The verb follows the last ':' of the last segment, outside a variable.
  size_t colon = last.rfind(':');
  if (colon != std::string::npos && last.find('}', colon) == std::string::npos) {
    route->verb = last.substr(colon + 1);
    last.resize(colon);
    if (route->verb.empty()) return absl::InvalidArgumentError("empty verb in " + path_template);
  }
  route->vars.clear();
  route->literal_count = 0;
  for (const std::string& segment : route->segments) {
    if (segment.empty()) return absl::InvalidArgumentError("empty segment in " + path_template);
    if (IsVariable(segment)) {
      route->vars.push_back(segment.substr(1, segment.size() - 2));
    } else if (segment.find_first_of("{}") != std::string::npos) {
      return absl::InvalidArgumentError("a variable must be a whole segment in " + path_template);
    } else {
      ++route->literal_count;
    }
  }
  return absl::OkStatus();
}

absl::Status Router::AddServices(const std::vector<std::string>& service_names) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& name : service_names) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    if (service == nullptr) return absl::NotFoundError("service not linked in: " + name);
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = service->method(i);
      if (!m->options().HasExtension(api::v1::http)) continue;  // internal RPC
      if (absl::Status s = AddMethod(m); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Router::AddMethod(const google::protobuf::MethodDescriptor* method) {
  static const std::set<std::string> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  Route route;
  route.rule = method->options().GetExtension(api::v1::http);
  route.method = method;
  route.http_method = route.rule.method();
  route.path_template = route.rule.path();
  route.service = method->service()->full_name();
  route.grpc_method = absl::StrCat("/", route.service, "/", method->name());
  const std::string where = absl::StrCat(method->full_name(), ": ");
  if (kMethods.count(route.http_method) == 0) {
    return absl::InvalidArgumentError(where + "unsupported HTTP method " + route.http_method);
  }
  if (absl::Status s = ParseTemplate(route.path_template, &route); !s.ok()) {
    return absl::InvalidArgumentError(where + std::string(s.message()));
  }
  const Descriptor* input = method->input_type();
  for (const std::string& var : route.vars) {
    const FieldDescriptor* field = ResolveField(input, var);
    if (field == nullptr || field->is_repeated() || field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return absl::InvalidArgumentError(where + "path variable is not a scalar request field: " + var);
    }
  }
  const std::string& body = route.rule.body();
  if (!body.empty() && body != "*") {
    const FieldDescriptor* field = input->FindFieldByName(body);
    if (field == nullptr || field->is_repeated() || field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      return absl::InvalidArgumentError(where + "body is not a message field of the request: " + body);
    }
    route.raw_body = field->message_type()->full_name() == "rapport.api.v1.HttpBody";
  }
  for (const Route& other : routes_) {
    if (other.http_method == route.http_method && other.segments.size() == route.segments.size() &&
        other.verb == route.verb) {
      bool same = true;
      for (size_t i = 0; i < route.segments.size() && same; ++i) {
        bool a = IsVariable(other.segments[i]), b = IsVariable(route.segments[i]);
        same = (a && b) || (!a && !b && other.segments[i] == route.segments[i]);
      }
      if (same) {
        return absl::InvalidArgumentError(absl::StrCat(where, "route ", route.http_method, " ", route.path_template,
                                                       " clashes with ", other.method->full_name()));
      }
    }
  }
  routes_.push_back(std::move(route));
  return absl::OkStatus();
}

RouteMatch Router::Match(const std::string& http_method, const std::string& path) const {
  RouteMatch result;
  if (path.empty() || path[0] != '/') return result;
  // Views into path, and each segment decoded once up front (a variable
  // matches only a segment that decodes to something non-empty).
  const std::vector<absl::string_view> segments = absl::StrSplit(absl::string_view(path).substr(1), '/');
  std::vector<std::optional<std::string>> decoded(segments.size());
  for (size_t i = 0; i < segments.size(); ++i) {
    absl::StatusOr<std::string> value = PercentDecode(std::string(segments[i]), false);
    if (value.ok() && !value->empty()) decoded[i] = *std::move(value);
  }
  const Route* best = nullptr;
  std::optional<std::string> best_last;  // the best route's last variable value when it had a verb
  std::set<std::string> allowed;
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    const size_t n = segments.size();
    absl::string_view last = segments.back();
    std::optional<std::string> last_decoded;  // set when the verb changes the last segment
    if (!route.verb.empty()) {
      if (last.size() <= route.verb.size() + 1 || !absl::EndsWith(last, route.verb) ||
          last[last.size() - route.verb.size() - 1] != ':') {
        continue;
      }
      last.remove_suffix(route.verb.size() + 1);
      absl::StatusOr<std::string> value = PercentDecode(std::string(last), false);
      if (value.ok() && !value->empty()) last_decoded = *std::move(value);
    }
    bool ok = true;
    for (size_t i = 0; i < n && ok; ++i) {
      const bool is_last = i + 1 == n;
      const std::string& want = route.segments[i];
      if (IsVariable(want)) {
        ok = is_last && !route.verb.empty() ? last_decoded.has_value() : decoded[i].has_value();
      } else {
        ok = (is_last ? last : segments[i]) == want;
      }
    }
    if (!ok) continue;
    if (route.http_method != http_method) {
      allowed.insert(route.http_method);
      continue;
    }
    if (best == nullptr || route.literal_count > best->literal_count ||
        (route.literal_count == best->literal_count && !route.verb.empty() && best->verb.empty())) {
      best = &route;
      best_last = std::move(last_decoded);
    }
  }
  if (best != nullptr) {
    result.kind = RouteMatch::Kind::kMatched;
    result.route = best;
    const size_t n = segments.size();
    for (size_t i = 0; i < n; ++i) {
      const std::string& want = best->segments[i];
      if (!IsVariable(want)) continue;
      const bool from_verb = i + 1 == n && !best->verb.empty();
      result.vars.emplace_back(want.substr(1, want.size() - 2), from_verb ? *best_last : *decoded[i]);
    }
  } else if (!allowed.empty()) {
    result.kind = RouteMatch::Kind::kMethodNotAllowed;
    result.allowed_methods.assign(allowed.begin(), allowed.end());
  }
  return result;
}

}  // namespace rapport::gateway
