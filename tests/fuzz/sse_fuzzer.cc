// Fuzzes the gateway's Server-Sent Events handling: the Last-Event-ID header
// copied into a streaming request (ApplyLastEventId), and events built from
// backend messages (ToEvent, FormatEvent). Input: "<Last-Event-ID>\n<bytes of
// a NotificationEvent>". Every formatted event must read back, by the
// text/event-stream rules (lines end at CR, LF or CRLF; a blank line ends the
// event), as exactly one event with the same name, id and data: nothing a
// backend string holds may end a field or the event early.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "gateway/sse.h"
#include "rapport/notifications/v1/notifications.pb.h"

namespace {

struct ParsedEvent {
  std::string event, id, data;
  int events = 0;  // dispatched events (blank lines after fields)
};

// The WHATWG event-stream parser, minus retry and the BOM.
ParsedEvent ParseStream(const std::string& s) {
  ParsedEvent out;
  std::vector<std::string> data;
  bool pending = false;
  size_t i = 0;
  while (i < s.size()) {
    size_t end = s.find_first_of("\r\n", i);
    if (end == std::string::npos) break;  // an unterminated line is dropped
    std::string line = s.substr(i, end - i);
    i = end + ((s[end] == '\r' && end + 1 < s.size() && s[end + 1] == '\n') ? 2 : 1);
    if (line.empty()) {
      if (pending) ++out.events;
      pending = false;
      continue;
    }
    if (line[0] == ':') continue;
    size_t colon = line.find(':');
    std::string field = line.substr(0, colon), value;
    if (colon != std::string::npos) {
      value = line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    }
    if (field == "event") out.event = value;
    if (field == "id" && value.find('\0') == std::string::npos) out.id = value;
    if (field == "data") data.push_back(value);
    pending = true;
  }
  for (size_t k = 0; k < data.size(); ++k) out.data += (k ? "\n" : "") + data[k];
  return out;
}

// FormatEvent drops CR, LF (and NUL from the id) from the one-line fields
// and splits data at every line ending, which a reader joins with LF.
void CheckEvent(const std::string& event, const std::string& id, const std::string& data) {
  const std::string text = rapport::gateway::FormatEvent(event, id, data);
  ParsedEvent p = ParseStream(text);
  const std::string want_event = absl::StrReplaceAll(event, {{"\r", ""}, {"\n", ""}});
  const std::string want_id = absl::StrReplaceAll(id, {{"\r", ""}, {"\n", ""}, {std::string(1, '\0'), ""}});
  const std::string want_data = absl::StrReplaceAll(absl::StrReplaceAll(data, {{"\r\n", "\n"}}), {{"\r", "\n"}});
  if (p.events != 1 || p.event != want_event || p.id != want_id || p.data != want_data) {
    std::fprintf(stderr, "FormatEvent does not read back as one event: %d events, %s\n", p.events, text.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t eol = input.find('\n');
  const std::string header = input.substr(0, eol);
  const std::string bytes = eol == std::string::npos ? "" : input.substr(eol + 1);

  rapport::notifications::v1::SubscribeRequest request;
  rapport::gateway::ApplyLastEventId(header, &request);
  if (request.last_event_id() != header) std::abort();

  // FormatEvent on arbitrary strings too: the header as the id, the rest as data.
  CheckEvent("message", header, bytes);

  rapport::notifications::v1::NotificationEvent message;
  if (!message.ParseFromString(bytes)) return 0;
  absl::StatusOr<rapport::gateway::EventParts> parts = rapport::gateway::ToEvent(message);
  if (!parts.ok()) return 0;
  CheckEvent(parts->event, parts->id, parts->data);
  return 0;
}
