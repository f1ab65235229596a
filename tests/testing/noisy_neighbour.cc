#include "tests/testing/noisy_neighbour.h"

#include <arpa/inet.h>
#include <google/protobuf/util/json_util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/notifications/v1/webhook_events.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/http_client.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport::testing {
namespace {

namespace npb = ::rapport::notifications::v1;
namespace ppb = ::rapport::profiles::v1;

constexpr char kOrgBAddress[] = "127.0.0.1";
constexpr char kIdleAddress[] = "127.0.0.2";
constexpr char kOrgAAddress[] = "127.0.0.3";
constexpr char kFloodAddress[] = "127.0.0.4";

// A TCP connection to 127.0.0.1:port from source (a loopback address), or -1.
int ConnectFrom(const std::string& source, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads into buf until it holds a response head, or the deadline; the
// head's length (through CRLFCRLF) or 0.
size_t ReadHead(int fd, std::string* buf, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    size_t end = buf->find("\r\n\r\n");
    if (end != std::string::npos) return end + 4;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return 0;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return 0;
    char tmp[8192];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return 0;
    buf->append(tmp, static_cast<size_t>(n));
  }
}

int StatusOf(const std::string& head) {
  // "HTTP/1.1 200 OK"
  int status = 0;
  if (head.size() < 12 || !absl::SimpleAtoi(head.substr(9, 3), &status)) return 0;
  return status;
}

// A keep-alive HTTP/1.1 client connection from a chosen loopback address;
// it reconnects when the server closed. Only Content-Length bodies (all the
// gateway sends but event streams).
class RawConnection {
 public:
  RawConnection(std::string source, int port) : source_(std::move(source)), port_(port) {}
  ~RawConnection() { Close(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // The answer's status (0: no answer) and body.
  int Call(const std::string& method, const std::string& path, const std::vector<std::string>& headers,
           const std::string& body, std::string* out, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::string request = absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (const std::string& h : headers) absl::StrAppend(&request, h, "\r\n");
    if (!body.empty() || method == "POST") {
      absl::StrAppend(&request, "Content-Type: application/json\r\nContent-Length: ", body.size(), "\r\n");
    }
    absl::StrAppend(&request, "\r\n", body);
    // A kept connection the server closed meanwhile fails at once: one retry
    // on a fresh one.
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = fd_ >= 0;
      if (fd_ < 0) fd_ = ConnectFrom(source_, port_);
      if (fd_ < 0) return 0;
      int status = RoundTrip(request, out, std::chrono::steady_clock::now() + timeout);
      if (status != 0 || !reused) return status;
    }
    return 0;
  }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    buf_.clear();
  }

 private:
  int RoundTrip(const std::string& request, std::string* out, std::chrono::steady_clock::time_point deadline) {
    if (!SendAll(fd_, request)) {
      Close();
      return 0;
    }
    size_t head_len = ReadHead(fd_, &buf_, deadline);
    if (head_len == 0) {
      Close();
      return 0;
    }
    const std::string head = buf_.substr(0, head_len);
    size_t length = 0;
    bool close_after = false;
    for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
      size_t colon = line.find(':');
      if (colon == absl::string_view::npos) continue;
      const std::string name = absl::AsciiStrToLower(line.substr(0, colon));
      absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
      if (name == "content-length") (void)absl::SimpleAtoi(value, &length);
      if (name == "connection" && absl::AsciiStrToLower(value) == "close") close_after = true;
    }
    while (buf_.size() < head_len + length) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      char tmp[8192];
      ssize_t n = 0;
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0 ||
          (n = recv(fd_, tmp, sizeof tmp, 0)) <= 0) {
        Close();
        return 0;
      }
      buf_.append(tmp, static_cast<size_t>(n));
    }
    const int status = StatusOf(head);
    if (out != nullptr) *out = buf_.substr(head_len, length);
    buf_.erase(0, head_len + length);
    if (close_after) Close();
    return status;
  }

  const std::string source_;
  const int port_;
  int fd_ = -1;
  std::string buf_;
};

template <typename Message>
bool ParseJson(const std::string& json, Message* out) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  return google::protobuf::util::JsonStringToMessage(json, out, options).ok();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

double Max(const std::vector<double>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }

std::string Rfc3339(absl::Time t) { return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone()); }

// The descriptor limit raised to its hard maximum: org A's connections and
// org B's are all in this process.
void RaiseFileLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

// CPU seconds (user + system) of this process ("driver") and of each child
// process by name, from /proc.
std::map<std::string, double> CpuSeconds() {
  std::map<std::string, double> out;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  const std::string self = absl::StrCat(getpid());
  auto read = [&](const std::string& pid, bool child_only) {
    std::ifstream in("/proc/" + pid + "/stat");
    std::string stat;
    if (!std::getline(in, stat)) return;
    // "pid (comm) state ppid ... utime stime": fields after the comm's ')'.
    size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) return;
    std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
    if (fields.size() < 13) return;
    if (child_only && fields[1] != self) return;
    double utime = 0, stime = 0;
    if (!absl::SimpleAtod(fields[11], &utime) || !absl::SimpleAtod(fields[12], &stime)) return;
    out[child_only ? stat.substr(open + 1, close - open - 1) : "driver"] += (utime + stime) / tick;
  };
  read("self", false);
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (!name.empty() && std::isdigit(static_cast<unsigned char>(name[0])) && name != self) read(name, true);
  }
  return out;
}

}  // namespace

NoisyNeighbour::NoisyNeighbour(NoisyOptions options) : options_(std::move(options)) {}

NoisyNeighbour::~NoisyNeighbour() {
  if (noisy_) StopNoise();
  stack_.reset();
}

absl::StatusOr<NoisyNeighbour::Org> NoisyNeighbour::MakeOrg(const std::string& name, int users) {
  const std::string gateway = stack_->GatewayUrl();
  const std::string kJson = "Content-Type: application/json";
  Org org;
  HttpResponse created = HttpCall("POST", gateway + "/v1/orgs", {absl::StrCat("X-Api-Key: ", kTestAdminKey), kJson},
                                  absl::StrCat(R"({"displayName":")", name, R"("})"));
  ppb::CreateOrgResponse org_response;
  if (created.status != 200 || !ParseJson(created.body, &org_response)) {
    return absl::InternalError(absl::StrCat("POST /v1/orgs: ", created.status, " ", created.body));
  }
  org.id = org_response.org().id();
  org.admin_key = org_response.admin_key().secret();
  for (int i = 0; i < users; ++i) {
    HttpResponse user =
        HttpCall("POST", gateway + "/v1/users", {"X-Api-Key: " + org.admin_key, kJson},
                 absl::StrCat(R"({"displayName":"user )", i, R"(","email":"u)", i, "@", name, R"(.test"})"));
    ppb::User parsed;
    if (user.status != 200 || !ParseJson(user.body, &parsed)) {
      return absl::InternalError(absl::StrCat("POST /v1/users: ", user.status, " ", user.body));
    }
    org.users.push_back(parsed.id());
  }
  HttpResponse contact = HttpCall(
      "POST", gateway + "/v1/contacts", {"X-Api-Key: " + org.admin_key, "X-Rapport-User: " + org.users[0], kJson},
      R"({"displayName":"Ada Lovelace","company":"Analytical Engines","emails":["ada@example.com"]})");
  ppb::Contact parsed;
  if (contact.status != 200 || !ParseJson(contact.body, &parsed)) {
    return absl::InternalError(absl::StrCat("POST /v1/contacts: ", contact.status, " ", contact.body));
  }
  org.contact = parsed.id();
  return org;
}

absl::Status NoisyNeighbour::Start() {
  RaiseFileLimit();
  stack_ = std::make_unique<Stack>();
  if (absl::Status s = stack_->redis().Start(); !s.ok()) return s;
  const std::map<std::string, std::string> quiet = {{"RAPPORT_LOG_LEVEL", "warn"}};
  for (const char* service : {"profiles", "interactions"}) {
    if (absl::Status s = stack_->Start(service, quiet); !s.ok()) return s;
  }
  if (absl::Status s =
          stack_->Start("notifications", {{"RAPPORT_LOG_LEVEL", "warn"}, {"RAPPORT_WEBHOOK_ALLOW_PRIVATE", "1"}});
      !s.ok()) {
    return s;
  }
  // Org B's load is far above a user's default rate limit (600 a minute):
  // the per-credential limit is not what this measures.
  if (absl::Status s = stack_->StartGateway({{"RAPPORT_LOG_LEVEL", "warn"},
                                             {"RAPPORT_MAX_CONNECTIONS", absl::StrCat(options_.max_connections)},
                                             {"RAPPORT_RATE_LIMIT_PER_MINUTE", "10000000"},
                                             {"RAPPORT_RATE_LIMIT_BURST", "1000000"}});
      !s.ok()) {
    return s;
  }
  const std::string url = stack_->GatewayUrl();
  if (!absl::SimpleAtoi(url.substr(url.rfind(':') + 1), &port_)) return absl::InternalError("gateway port: " + url);

  ASSIGN_OR_RETURN(b_, MakeOrg("orgb", 1));
  ASSIGN_OR_RETURN(a_, MakeOrg("orga", std::max(1, options_.stream_users)));
  const std::string kJson = "Content-Type: application/json";
  const std::vector<std::string> as_b = {"X-Api-Key: " + b_.admin_key, "X-Rapport-User: " + b_.users[0], kJson};
  const std::vector<std::string> as_a = {"X-Api-Key: " + a_.admin_key, "X-Rapport-User: " + a_.users[0], kJson};

  // Org B's webhook: every notification, to a receiver that answers at once.
  fast_ = std::make_unique<HttpReceiver>();
  if (absl::Status s = fast_->Start(); !s.ok()) return s;
  HttpResponse hook =
      HttpCall("POST", url + "/v1/webhooks", as_b,
               absl::StrCat(R"({"url":")", fast_->Url("/orgb"), R"(","eventTypes":["notification.created"]})"));
  if (hook.status != 200) return absl::InternalError(absl::StrCat("org B's webhook: ", hook.status, " ", hook.body));
  // Org A's: the workflow's event, to receivers that answer after slow_answer.
  for (int i = 0; i < options_.slow_webhooks; ++i) {
    auto receiver = std::make_unique<HttpReceiver>();
    receiver->set_delay(options_.slow_answer);
    if (absl::Status s = receiver->Start(); !s.ok()) return s;
    HttpResponse slow = HttpCall(
        "POST", url + "/v1/webhooks", as_a,
        absl::StrCat(R"({"url":")", receiver->Url(absl::StrCat("/orga/", i)), R"(","eventTypes":["workflow.step"]})"));
    if (slow.status != 200) return absl::InternalError(absl::StrCat("org A's webhook: ", slow.status, " ", slow.body));
    slow_.push_back(std::move(receiver));
  }
  HttpResponse workflow = HttpCall("POST", url + "/v1/workflows", as_a,
                                   R"({"displayName":"fan out","trigger":{"kind":"MANUAL"},
                                       "steps":[{"kind":"WEBHOOK"}]})");
  npb::Workflow parsed;
  if (workflow.status != 200 || !ParseJson(workflow.body, &parsed)) {
    return absl::InternalError(absl::StrCat("org A's workflow: ", workflow.status, " ", workflow.body));
  }
  workflow_ = parsed.id();
  // Runs need the contact's event to have reached notifications: a probe
  // workflow that only waits (an hour) says when, without a delivery.
  HttpResponse probe = HttpCall("POST", url + "/v1/workflows", as_a,
                                R"({"displayName":"probe","trigger":{"kind":"MANUAL"},
                                    "steps":[{"kind":"WAIT","duration":"3600s"}]})");
  npb::Workflow probe_workflow;
  if (probe.status != 200 || !ParseJson(probe.body, &probe_workflow)) {
    return absl::InternalError(absl::StrCat("probe workflow: ", probe.status, " ", probe.body));
  }
  HttpResponse last;
  if (!WaitFor(
          [&] {
            last = HttpCall("POST", url + "/v1/workflows/" + probe_workflow.id() + ":run", as_a,
                            absl::StrCat(R"({"contactId":")", a_.contact, R"("})"));
            return last.status == 200;
          },
          std::chrono::seconds(20))) {
    return absl::InternalError(absl::StrCat("org A's contact never reached notifications: ", last.body));
  }
  return absl::OkStatus();
}

absl::StatusOr<OrgBFigures> NoisyNeighbour::Measure(const std::string& phase_name, std::chrono::milliseconds phase) {
  OrgBFigures f;
  std::mutex mu;  // guards f's counters, get_ms and first_error below
  std::vector<double> get_ms;
  const std::string prefix = absl::StrCat(phase_name, "#", ++phase_count_, ":");
  const std::vector<std::string> as_b = {"X-Api-Key: " + b_.admin_key, "X-Rapport-User: " + b_.users[0]};
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + phase;
  const auto interval = std::chrono::microseconds(
      static_cast<int64_t>(1e6 * options_.get_connections / std::max(1, options_.get_per_second)));

  const std::map<std::string, double> cpu_before = CpuSeconds();
  std::vector<std::thread> getters;
  for (int c = 0; c < options_.get_connections; ++c) {
    getters.emplace_back([&, c] {
      RawConnection conn(kOrgBAddress, port_);
      const std::string path = "/v1/contacts/" + b_.contact;
      std::vector<double> mine;
      int64_t errors = 0;
      std::string error;
      // Paced: the i-th request is due at a fixed time, and its latency runs
      // from then, so a stall counts for every request it held up.
      auto due = start + interval * c / options_.get_connections;
      for (; due < end; due += interval) {
        std::this_thread::sleep_until(due);
        std::string body;
        int status = conn.Call("GET", path, as_b, "", &body);
        mine.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - due).count());
        if (status != 200) {
          ++errors;
          if (error.empty()) error = absl::StrCat("GET contact: ", status, " ", body.substr(0, 200));
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      get_ms.insert(get_ms.end(), mine.begin(), mine.end());
      f.gets += static_cast<int64_t>(mine.size());
      f.get_errors += errors;
      if (f.first_error.empty()) f.first_error = error;
    });
  }

  // Reminders, from this thread, each due reminder_lead after it is made.
  std::map<std::string, absl::Time> due_by_note;
  {
    RawConnection conn(kOrgBAddress, port_);
    for (int i = 0; std::chrono::steady_clock::now() < end; ++i) {
      const std::string note = absl::StrCat(prefix, i);
      const absl::Time due = absl::Now() + absl::FromChrono(options_.reminder_lead);
      std::string body;
      int status = conn.Call("POST", "/v1/reminders", as_b,
                             absl::StrCat(R"({"dueTime":")", Rfc3339(due), R"(","note":")", note, R"("})"), &body);
      {
        std::lock_guard<std::mutex> lock(mu);
        if (status == 200) {
          ++f.reminders;
          due_by_note[note] = due;
        } else {
          ++f.reminder_errors;
          if (f.first_error.empty()) f.first_error = absl::StrCat("POST reminder: ", status, " ", body.substr(0, 200));
        }
      }
      std::this_thread::sleep_until(std::min(end, start + options_.reminder_every * (i + 1)));
    }
  }
  for (std::thread& t : getters) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& [name, cpu] : CpuSeconds()) {
    auto before = cpu_before.find(name);
    f.cpu_cores[name] = (cpu - (before == cpu_before.end() ? 0 : before->second)) / seconds;
  }

  // Fired: the inbox's notifications of this phase; delivered: what the fast
  // receiver got of them.
  std::map<std::string, absl::Time> created_by_note;
  std::map<std::string, absl::Time> received_by_note;
  auto collect = [&] {
    RawConnection conn(kOrgBAddress, port_);
    std::string token;
    created_by_note.clear();
    do {
      std::string body;
      std::string path = "/v1/notifications?state=ALL&pageSize=500";
      if (!token.empty()) absl::StrAppend(&path, "&pageToken=", token);
      if (conn.Call("GET", path, as_b, "", &body) != 200) return false;
      npb::ListNotificationsResponse page;
      if (!ParseJson(body, &page)) return false;
      for (const npb::Notification& n : page.notifications()) {
        if (absl::StartsWith(n.body(), prefix)) {
          created_by_note[n.body()] = FromMicros(TimestampToMicros(n.create_time()));
        }
      }
      token = page.next_page_token();
    } while (!token.empty());
    received_by_note.clear();
    for (const ReceivedRequest& r : fast_->requests()) {
      npb::NotificationWebhookEvent event;
      if (ParseJson(r.body, &event) && absl::StartsWith(event.data().body(), prefix)) {
        received_by_note[event.data().body()] = r.received;
      }
    }
    return created_by_note.size() >= due_by_note.size() && received_by_note.size() >= due_by_note.size();
  };
  WaitFor(collect, options_.settle);
  collect();

  std::vector<double> reminder_ms, webhook_ms;
  for (const auto& [note, due] : due_by_note) {
    auto created = created_by_note.find(note);
    if (created == created_by_note.end()) {
      if (f.first_error.empty()) f.first_error = "reminder " + note + " did not fire";
      continue;
    }
    ++f.reminders_fired;
    reminder_ms.push_back(absl::ToDoubleMilliseconds(created->second - due));
    auto received = received_by_note.find(note);
    if (received == received_by_note.end()) {
      if (f.first_error.empty()) f.first_error = "the webhook of reminder " + note + " did not arrive";
      continue;
    }
    ++f.webhooks_delivered;
    webhook_ms.push_back(absl::ToDoubleMilliseconds(received->second - created->second));
    if (std::getenv("NOISY_VERBOSE") != nullptr) {
      std::fprintf(stderr, "%s due %s reminder %.1f ms webhook %.1f ms\n", note.c_str(),
                   absl::FormatTime("%H:%M:%E3S", due, absl::UTCTimeZone()).c_str(), reminder_ms.back(),
                   webhook_ms.back());
    }
  }
  f.get_p50_ms = Percentile(get_ms, 0.50);
  f.get_p99_ms = Percentile(get_ms, 0.99);
  f.get_max_ms = Max(get_ms);
  f.reminder_p50_ms = Percentile(reminder_ms, 0.50);
  f.reminder_p99_ms = Percentile(reminder_ms, 0.99);
  f.reminder_max_ms = Max(reminder_ms);
  f.webhook_p50_ms = Percentile(webhook_ms, 0.50);
  f.webhook_p99_ms = Percentile(webhook_ms, 0.99);
  f.webhook_max_ms = Max(webhook_ms);
  return f;
}

absl::Status NoisyNeighbour::StartNoise() {
  report_ = OrgAReport();
  report_.share = std::max(1, options_.max_connections * 10 / 100);  // the gateway's default 10 %
  noise_start_ = std::chrono::steady_clock::now();

  // Idle connections: opened, never a byte sent. Past the address's share
  // the gateway answers 429 at once and closes.
  std::vector<int> fds;
  for (int i = 0; i < options_.idle_connections; ++i) {
    int fd = ConnectFrom(kIdleAddress, port_);
    if (fd < 0) {
      ++report_.idle_other;
      continue;
    }
    fds.push_back(fd);
  }
  // Whatever the gateway answers, it answers at once: read until a second
  // passes with nothing new.
  std::set<int> answered;
  while (true) {
    std::vector<pollfd> polls;
    for (int fd : fds) {
      if (!answered.count(fd)) polls.push_back(pollfd{fd, POLLIN, 0});
    }
    if (polls.empty() || poll(polls.data(), polls.size(), 1000) <= 0) break;
    for (const pollfd& p : polls) {
      if (p.revents == 0) continue;
      std::string head;
      char buf[1024];
      ssize_t n = recv(p.fd, buf, sizeof buf, 0);
      if (n > 0) head.assign(buf, static_cast<size_t>(n));
      if (StatusOf(head) == 429) {
        ++report_.idle_refused;
      } else {
        ++report_.idle_other;
      }
      answered.insert(p.fd);
    }
  }
  for (int fd : fds) {
    if (answered.count(fd)) {
      close(fd);
    } else {
      idle_fds_.push_back(fd);
    }
  }
  report_.idle_open = static_cast<int>(idle_fds_.size());

  // Live streams: streams_per_user for each user, then one more each, which
  // the per-user quota refuses.
  auto open_stream = [&](const std::string& user) {
    int fd = ConnectFrom(kOrgAAddress, port_);
    if (fd < 0) return std::make_pair(-1, 0);
    const std::string request = absl::StrCat(
        "GET /v1/notifications:stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nX-Api-Key: ",
        a_.admin_key, "\r\nX-Rapport-User: ", user, "\r\n\r\n");
    std::string buf;
    int status = 0;
    if (SendAll(fd, request)) {
      size_t head = ReadHead(fd, &buf, std::chrono::steady_clock::now() + std::chrono::seconds(5));
      if (head > 0) status = StatusOf(buf);
    }
    return std::make_pair(fd, status);
  };
  for (int u = 0; u < options_.stream_users; ++u) {
    const std::string& user = a_.users[static_cast<size_t>(u)];
    for (int i = 0; i <= options_.streams_per_user; ++i) {
      auto [fd, status] = open_stream(user);
      if (status == 200) {
        ++report_.streams_open;
        stream_fds_.push_back(fd);
        continue;
      }
      if (status == 429) {
        ++report_.streams_refused;
      } else {
        ++report_.streams_other;
      }
      if (fd >= 0) close(fd);
    }
  }

  noisy_ = true;
  if (options_.slow_webhooks > 0) noise_threads_.emplace_back([this] { WorkflowLoop(); });
  for (int i = 0; i < options_.flood_connections; ++i) noise_threads_.emplace_back([this] { FloodLoop(); });
  return absl::OkStatus();
}

void NoisyNeighbour::WorkflowLoop() {
  RawConnection conn(kOrgAAddress, port_);
  const std::vector<std::string> as_a = {"X-Api-Key: " + a_.admin_key, "X-Rapport-User: " + a_.users[0]};
  const std::string path = "/v1/workflows/" + workflow_ + ":run";
  const std::string body = absl::StrCat(R"({"contactId":")", a_.contact, R"("})");
  auto next = std::chrono::steady_clock::now();
  while (noisy_) {
    std::string answer;
    if (conn.Call("POST", path, as_a, body, &answer) == 200) {
      ++runs_;
    } else {
      ++run_errors_;
    }
    next += options_.workflow_every;
    while (noisy_ && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

void NoisyNeighbour::FloodLoop() {
  RawConnection conn(kFloodAddress, port_);
  const std::string path = "/v1/contacts/" + b_.contact;  // org B's, with no credentials
  while (noisy_) {
    int status = conn.Call("GET", path, {}, "", nullptr, std::chrono::seconds(5));
    ++flood_sent_;
    if (status == 401) {
      ++flood_401_;
    } else if (status == 429) {
      ++flood_429_;
    } else {
      ++flood_other_;
    }
  }
}

OrgAReport NoisyNeighbour::StopNoise() {
  noisy_ = false;
  for (std::thread& t : noise_threads_) t.join();
  noise_threads_.clear();
  for (int fd : idle_fds_) close(fd);
  for (int fd : stream_fds_) close(fd);
  idle_fds_.clear();
  stream_fds_.clear();
  report_.flood_sent = flood_sent_;
  report_.flood_401 = flood_401_;
  report_.flood_429 = flood_429_;
  report_.flood_other = flood_other_;
  report_.workflow_runs = runs_;
  report_.workflow_run_errors = run_errors_;
  report_.slow_requests = SlowRequests();
  report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - noise_start_).count();
  return report_;
}

int NoisyNeighbour::SlowRequests() {
  int n = 0;
  for (const auto& r : slow_) n += static_cast<int>(r->requests().size());
  return n;
}

bool NoisyNeighbour::ServiceUp() {
  for (const char* process : {"profiles", "interactions", "notifications", "gateway"}) {
    if (!stack_->Running(process)) return false;
  }
  return HttpCall("GET", stack_->GatewayUrl() + "/healthz").status == 200;
}

std::string FormatComparison(const OrgBFigures& quiet, const OrgBFigures& noisy, const OrgAReport& a) {
  auto ratio = [](double with, double without) {
    return without > 0 ? absl::StrFormat("%.2fx", with / without) : std::string("-");
  };
  std::string out = absl::StrFormat("%-26s %12s %12s %8s\n", "org B", "alone", "with org A", "ratio");
  absl::StrAppendFormat(&out, "%-26s %12d %12d\n", "reminders made", quiet.reminders, noisy.reminders);
  auto row = [&](const char* name, double q, double n) {
    absl::StrAppendFormat(&out, "%-26s %12.2f %12.2f %8s\n", name, q, n, ratio(n, q));
  };
  auto count = [&](const char* name, int64_t q, int64_t n) {
    absl::StrAppendFormat(&out, "%-26s %12d %12d\n", name, q, n);
  };
  count("GETs", quiet.gets, noisy.gets);
  row("GET contact p50 ms", quiet.get_p50_ms, noisy.get_p50_ms);
  row("GET contact p99 ms", quiet.get_p99_ms, noisy.get_p99_ms);
  row("GET contact max ms", quiet.get_max_ms, noisy.get_max_ms);
  count("reminders fired", quiet.reminders_fired, noisy.reminders_fired);
  row("reminder p50 ms", quiet.reminder_p50_ms, noisy.reminder_p50_ms);
  row("reminder p99 ms", quiet.reminder_p99_ms, noisy.reminder_p99_ms);
  row("reminder max ms", quiet.reminder_max_ms, noisy.reminder_max_ms);
  count("webhooks delivered", quiet.webhooks_delivered, noisy.webhooks_delivered);
  row("webhook p50 ms", quiet.webhook_p50_ms, noisy.webhook_p50_ms);
  row("webhook p99 ms", quiet.webhook_p99_ms, noisy.webhook_p99_ms);
  row("webhook max ms", quiet.webhook_max_ms, noisy.webhook_max_ms);
  count("errors", quiet.errors(), noisy.errors());
  for (const auto& [name, cores] : noisy.cpu_cores) {
    auto q = quiet.cpu_cores.find(name);
    row(absl::StrCat("CPU cores ", name).c_str(), q == quiet.cpu_cores.end() ? 0 : q->second, cores);
  }
  if (!quiet.first_error.empty()) absl::StrAppend(&out, "first error alone: ", quiet.first_error, "\n");
  if (!noisy.first_error.empty()) absl::StrAppend(&out, "first error with org A: ", noisy.first_error, "\n");
  absl::StrAppendFormat(&out,
                        "org A over %.0f s: idle connections %d kept (share %d), %d refused 429, %d other; "
                        "streams %d open, %d refused 429, %d other;\n"
                        "  unauthenticated flood %d requests (%.0f/s): %d 401, %d 429, %d other; "
                        "workflow runs %d (+%d refused), slow receivers got %d requests\n",
                        a.seconds, a.idle_open, a.share, a.idle_refused, a.idle_other, a.streams_open,
                        a.streams_refused, a.streams_other, a.flood_sent,
                        a.seconds > 0 ? static_cast<double>(a.flood_sent) / a.seconds : 0.0, a.flood_401, a.flood_429,
                        a.flood_other, a.workflow_runs, a.workflow_run_errors, a.slow_requests);
  return out;
}

}  // namespace rapport::testing
