// Fuzzes the gateway's JSON reading: ParseJsonValue (JWT headers and
// claims), ScanJson (strict validation of every request body) and
// ParseJsonFast against protobuf's JsonStringToMessage, which it promises to
// match exactly whenever it accepts a body (json_parser.h).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gateway/json_lexer.h"
#include "gateway/json_parser.h"
#include "gateway/transcoder.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"

namespace {

// The fast path must accept nothing protobuf would refuse, and build the
// same message protobuf builds.
template <typename T>
void CheckFastPath(const std::string& json) {
  T fast;
  if (!rapport::gateway::ParseJsonFast(json, &fast)) return;
  T slow;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (!google::protobuf::util::JsonStringToMessage(json, &slow, options).ok() ||
      !google::protobuf::util::MessageDifferencer::Equals(fast, slow)) {
    std::fprintf(stderr, "ParseJsonFast disagrees with JsonStringToMessage on %s\nfast: %s\nslow: %s\n",
                 T::descriptor()->full_name().c_str(), fast.ShortDebugString().c_str(),
                 slow.ShortDebugString().c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  (void)rapport::gateway::ParseJsonValue(json);
  std::vector<std::string> keys;
  (void)rapport::gateway::ScanJson(json, rapport::gateway::kMaxJsonDepth, &keys);
  keys.clear();
  (void)rapport::gateway::ScanJson(json, rapport::gateway::kMaxJsonDepth, &keys,
                                   rapport::profiles::v1::Contact::descriptor());
  // BuildRequest refuses a body that is not UTF-8 before parsing it (as
  // protobuf does), so the fast path is compared on UTF-8 only.
  if (!google::protobuf::internal::IsStructurallyValidUTF8(json)) return 0;
  CheckFastPath<rapport::profiles::v1::Contact>(json);
  CheckFastPath<rapport::interactions::v1::CreateInteractionRequest>(json);
  CheckFastPath<rapport::notifications::v1::Workflow>(json);
  return 0;
}
