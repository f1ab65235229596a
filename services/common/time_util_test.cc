#include "services/common/time_util.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace rapport {
namespace {

TEST(TimeUtilTest, TimestampRoundTripIncludingNegative) {
  for (int64_t micros : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1700000000123456}, int64_t{-1500000}}) {
    auto ts = ToTimestamp(micros);
    EXPECT_GE(ts.nanos(), 0);
    EXPECT_EQ(TimestampToMicros(ts), micros);
  }
}

TEST(TimeUtilTest, IsValidTimestampRejectsPastYear9999AndNegativeNanos) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(253402300800LL);
  EXPECT_FALSE(IsValidTimestamp(ts));
  ts.set_seconds(0);
  ts.set_nanos(-1);
  EXPECT_FALSE(IsValidTimestamp(ts));
  ts.set_nanos(5);
  EXPECT_TRUE(IsValidTimestamp(ts));
}

}  // namespace
}  // namespace rapport
