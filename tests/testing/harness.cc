#include "tests/testing/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "services/common/health.h"

extern char** environ;

namespace rapport::testing {

namespace {

std::string ErrnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

// Finds an executable by name on $PATH, then in the usual system directories.
std::string FindExecutable(const std::string& name) {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string p(path);
    size_t start = 0;
    while (start <= p.size()) {
      size_t end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      if (end > start) dirs.push_back(p.substr(start, end - start));
      start = end + 1;
    }
  }
  dirs.push_back("/usr/bin");
  dirs.push_back("/usr/sbin");
  for (const std::string& dir : dirs) {
    std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "/usr/bin/" + name;
}

}  // namespace

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) port = ntohs(addr.sin_port);
  }
  if (port < 0) {
    close(fd);
    return -1;
  }
  // The socket stays bound for the rest of the process: closed, the port
  // went back to the kernel, which handed it to another test's bind(0) or
  // outgoing connection before the service bound it ("Address already in
  // use" under ctest -j3). Bound with SO_REUSEADDR but never listening, it
  // keeps the port from both while the servers (gRPC, redis-server, the
  // gateway, all with SO_REUSEADDR) can still listen on it, again after a
  // restart.
  static std::mutex mu;
  static std::vector<int>* reserved = new std::vector<int>();
  std::lock_guard<std::mutex> lock(mu);
  reserved->push_back(fd);
  return port;
}

std::string BinDir() {
  if (const char* dir = std::getenv("RAPPORT_BIN_DIR"); dir != nullptr && *dir != '\0') return dir;
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return dirname(buf);  // dirname may modify buf; the result points into it or is static
}

std::string TempDir(const std::string& prefix) {
  std::string templ = "/tmp/" + prefix + ".XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) return "";
  return std::string(buf.data());
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// argv is {path, args...}: args are the arguments after the program name.
absl::StatusOr<std::unique_ptr<Process>> Process::Start(const std::string& path, const std::vector<std::string>& args,
                                                        const std::map<std::string, std::string>& env,
                                                        const std::string& log_path) {
  // Everything the child needs is prepared before fork: after fork in a
  // multi-threaded process only async-signal-safe calls are allowed.
  std::vector<std::string> argv_storage;
  argv_storage.push_back(path);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::map<std::string, std::string> merged;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    merged[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_storage;
  for (const auto& [k, v] : merged) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return absl::InternalError(ErrnoText("open " + log_path));
  // The child writes errno here if execve fails; a successful exec closes it.
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(log_fd);
    return absl::InternalError(ErrnoText("pipe2"));
  }

  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int saved = errno;
    close(log_fd);
    close(err_pipe[0]);
    close(err_pipe[1]);
    errno = saved;
    return absl::InternalError(ErrnoText("fork"));
  }
  if (pid == 0) {
    // Child. Dies with the thread that forked it, so a crashed test leaves no
    // servers behind; it stays in our process group for the same reason.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    close(err_pipe[0]);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(path.c_str(), argv.data(), envp.data());
    int e = errno;
    ssize_t ignored = write(err_pipe[1], &e, sizeof(e));
    (void)ignored;
    _exit(127);
  }

  close(log_fd);
  close(err_pipe[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(err_pipe[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  close(err_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof(child_errno))) {
    int status;
    waitpid(pid, &status, 0);
    return absl::InternalError("execve " + path + ": " + std::strerror(child_errno));
  }
  return std::unique_ptr<Process>(new Process(pid));
}

Process::~Process() {
  if (!reaped_) Stop(SIGKILL);
}

bool Process::running() {
  if (reaped_) return false;
  int status;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    reaped_ = true;
    return false;
  }
  return true;
}

bool Process::Stop(int sig, std::chrono::milliseconds timeout) {
  if (!running()) return true;
  kill(pid_, sig);
  return WaitFor([this] { return !running(); }, timeout);
}

absl::StatusOr<std::string> RunToExit(const std::string& path, const std::vector<std::string>& args,
                                      const std::map<std::string, std::string>& env,
                                      std::chrono::milliseconds timeout) {
  const std::string dir = TempDir("rapport_run");
  if (dir.empty()) return absl::InternalError("no temp dir");
  const std::string log = dir + "/output";
  absl::StatusOr<std::unique_ptr<Process>> process = Process::Start(path, args, env, log);
  if (!process.ok()) return process.status();
  const bool exited = WaitFor([&] { return !(*process)->running(); }, timeout);
  process->reset();  // kills it if still running
  std::ifstream in(log);
  std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  if (!exited) return absl::DeadlineExceededError(path + " did not exit in time; it wrote: " + output);
  return output;
}

RedisServer::RedisServer(int port) : port_(port), dir_(TempDir("rapport-redis")) {}

RedisServer::~RedisServer() {
  process_.reset();  // SIGKILL and reap
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

absl::Status RedisServer::Start() {
  if (process_ != nullptr && process_->running()) return absl::OkStatus();
  process_.reset();
  if (dir_.empty()) return absl::InternalError("no temp dir for redis-server");
  const std::string port = std::to_string(port_);
  auto process = Process::Start(
      FindExecutable("redis-server"),
      {"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir_, "--daemonize", "no"},
      {}, dir_ + "/redis.log");
  if (!process.ok()) return process.status();
  process_ = std::move(process).value();
  bool up = WaitFor([this] { return Ping() || !process_->running(); }, std::chrono::seconds(10));
  if (up && process_->running()) return absl::OkStatus();
  process_.reset();
  return absl::UnavailableError("redis-server on port " + port + " did not answer PING; see " + dir_ + "/redis.log");
}

void RedisServer::Kill9() {
  if (process_ != nullptr) process_->Stop(SIGKILL);
  process_.reset();
}

void RedisServer::Stop() {
  if (process_ != nullptr) process_->Stop(SIGTERM);
  process_.reset();
}

bool RedisServer::Ping() {
  timeval tv{0, 200 * 1000};
  redisContext* ctx = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (ctx == nullptr) return false;
  bool ok = false;
  if (ctx->err == 0 && redisSetTimeout(ctx, tv) == REDIS_OK) {
    auto* reply = static_cast<redisReply*>(redisCommand(ctx, "PING"));
    if (reply != nullptr) {
      ok = reply->type == REDIS_REPLY_STATUS && std::string(reply->str, reply->len) == "PONG";
      freeReplyObject(reply);
    }
  }
  redisFree(ctx);
  return ok;
}

bool WaitForGrpcServing(const std::string& addr, const std::string& service, std::chrono::milliseconds deadline) {
  return WaitForServing(addr, service, deadline);
}

}  // namespace rapport::testing
