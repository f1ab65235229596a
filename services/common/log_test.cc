#include "services/common/log.h"

#include <gtest/gtest.h>

#include <string>

namespace rapport {
namespace {

TEST(LogTest, AppendJsonStringEscapesQuotesBackslashesAndControls) {
  std::string out;
  log::AppendJsonString(&out, "a\"b\\c\nd\x01");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\u0001\"");
}

}  // namespace
}  // namespace rapport
