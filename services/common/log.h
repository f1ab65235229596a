// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-27T23:10:00.123Z","level":"info","service":"profiles",
//    "msg":"rpc","method":"CreateContact","org":"01h...","request_id":"..."}
// Thread-safe: each line is written with one write(2) under a mutex.
#ifndef RAPPORT_SERVICES_COMMON_LOG_H_
#define RAPPORT_SERVICES_COMMON_LOG_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rapport::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

using Fields = std::vector<std::pair<std::string_view, std::string>>;

// Sets the service name stamped on every line and the lowest level written
// ("debug", "info", "warn", "error"; anything else means info).
void Init(std::string service, std::string_view level);

void Write(Level level, std::string_view msg, const Fields& fields = {});
// Whether lines at level are written; lets hot paths skip building fields.
bool Enabled(Level level);
inline void Debug(std::string_view msg, const Fields& f = {}) { Write(Level::kDebug, msg, f); }
inline void Info(std::string_view msg, const Fields& f = {}) { Write(Level::kInfo, msg, f); }
inline void Warn(std::string_view msg, const Fields& f = {}) { Write(Level::kWarn, msg, f); }
inline void Error(std::string_view msg, const Fields& f = {}) { Write(Level::kError, msg, f); }

// Appends s to out as a JSON string literal (quotes included).
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace rapport::log

#endif  // RAPPORT_SERVICES_COMMON_LOG_H_
