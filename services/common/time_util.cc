#include "services/common/time_util.h"

#include "absl/time/clock.h"

namespace rapport {

int64_t ToMicros(absl::Time t) { return absl::ToUnixMicros(t); }

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

absl::Time FromMicros(int64_t micros) { return absl::FromUnixMicros(micros); }

google::protobuf::Timestamp ToTimestamp(int64_t micros) {
  google::protobuf::Timestamp ts;
  int64_t seconds = micros / 1000000;
  int64_t rem = micros % 1000000;
  if (rem < 0) {
    rem += 1000000;
    seconds -= 1;
  }
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(rem * 1000));
  return ts;
}

int64_t TimestampToMicros(const google::protobuf::Timestamp& ts) { return ts.seconds() * 1000000 + ts.nanos() / 1000; }

bool IsValidTimestamp(const google::protobuf::Timestamp& ts) {
  // 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z, as google/protobuf/timestamp.proto says.
  return ts.seconds() >= -62135596800LL && ts.seconds() <= 253402300799LL && ts.nanos() >= 0 && ts.nanos() <= 999999999;
}

}  // namespace rapport
