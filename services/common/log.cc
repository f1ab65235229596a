#include "services/common/log.h"

#include <unistd.h>

#include <atomic>
#include <mutex>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace rapport::log {
namespace {

std::mutex g_mu;
std::string g_service = "rapport";
std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void Init(std::string service, std::string_view level) {
  Level min = Level::kInfo;
  if (level == "debug") min = Level::kDebug;
  if (level == "warn") min = Level::kWarn;
  if (level == "error") min = Level::kError;
  std::lock_guard<std::mutex> lock(g_mu);
  g_service = std::move(service);
  g_min_level = static_cast<int>(min);
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          out->append(absl::StrFormat("\\u%04x", c));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed); }

void Write(Level level, std::string_view msg, const Fields& fields) {
  if (!Enabled(level)) return;
  std::string line = "{\"ts\":\"";
  line += absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  line += "\",\"level\":\"";
  line += LevelName(level);
  line += "\",\"service\":";
  std::lock_guard<std::mutex> lock(g_mu);
  AppendJsonString(&line, g_service);
  line += ",\"msg\":";
  AppendJsonString(&line, msg);
  for (const auto& [key, value] : fields) {
    line.push_back(',');
    AppendJsonString(&line, key);
    line.push_back(':');
    AppendJsonString(&line, value);
  }
  line += "}\n";
  // One write per line keeps lines whole when several threads log at once.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace rapport::log
