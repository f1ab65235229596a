#include "tests/testing/event_stream.h"

#include "services/common/outbox.h"
#include "services/common/redis_client.h"

namespace rapport::testing {

std::vector<StreamEntry> ReadEventStream(const std::string& redis_addr) {
  redis::ClientOptions options;
  options.addr = redis_addr;
  redis::Client client(options);
  std::vector<StreamEntry> out;
  auto reply = client.Command({"XRANGE", events::kEventStream, "-", "+"});
  if (!reply.ok()) return out;
  for (const redis::Reply& entry : reply->elements) {
    if (entry.elements.size() != 2) continue;
    StreamEntry e;
    const auto& fields = entry.elements[1].elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str == "type") e.type = fields[i + 1].str;
      if (fields[i].str == "id") e.event_id = fields[i + 1].str;
      if (fields[i].str == "data") e.event.ParseFromString(fields[i + 1].str);
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace rapport::testing
