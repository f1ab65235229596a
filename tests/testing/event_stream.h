// Reads Rapport's event stream ("rapport:events") in tests, entry by entry.
#ifndef RAPPORT_TESTS_TESTING_EVENT_STREAM_H_
#define RAPPORT_TESTS_TESTING_EVENT_STREAM_H_

#include <string>
#include <vector>

#include "rapport/events/v1/events.pb.h"

namespace rapport::testing {

struct StreamEntry {
  std::string type;         // the entry's "type" field
  std::string event_id;     // its "id" field
  events::v1::Event event;  // its "data" field, parsed
};

// Every entry of the stream at redis_addr, oldest first; empty when Redis
// cannot be read.
std::vector<StreamEntry> ReadEventStream(const std::string& redis_addr);

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_EVENT_STREAM_H_
