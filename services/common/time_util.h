// Time conversions used across services. Stored times are int64 microseconds
// since the Unix epoch, UTC; protos carry google.protobuf.Timestamp.
#ifndef RAPPORT_SERVICES_COMMON_TIME_UTIL_H_
#define RAPPORT_SERVICES_COMMON_TIME_UTIL_H_

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace rapport {

int64_t ToMicros(absl::Time t);
int64_t NowMicros();
absl::Time FromMicros(int64_t micros);
google::protobuf::Timestamp ToTimestamp(int64_t micros);
int64_t TimestampToMicros(const google::protobuf::Timestamp& ts);
// True when ts is within the range proto3 JSON can represent (years 1..9999).
bool IsValidTimestamp(const google::protobuf::Timestamp& ts);

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_TIME_UTIL_H_
