// Every process exits on SIGTERM within its grace period in every state
// (issue 16): a deployment's stop, rolling update or scale-down must never
// wait for a kill. Each test starts a real binary while a dependency it
// needs is down (Redis not running, a service address that is a closed
// port), waits until the process is in the state that waits on it, sends
// SIGTERM and requires the process to be gone within kExitDeadline.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "tests/testing/harness.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

using ::rapport::testing::Stack;
using ::rapport::testing::WaitFor;

// Far below any grace period (a drain is bounded by 10 s, Kubernetes waits
// 30 s by default): nothing is in flight, so exiting is immediate.
constexpr std::chrono::seconds kExitDeadline(5);
constexpr std::chrono::seconds kStartDeadline(20);

bool LogContains(const Stack& stack, const std::string& process, const std::string& text) {
  std::ifstream in(stack.LogPath(process));
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return absl::StrContains(log, text);
}

// The stack's Redis is never started, and no service is started but the
// one under test: every address the process is given is a closed port.

TEST(ShutdownTest, RecommendationsExitsWhileItsBackfillWaitsForServicesThatAreDown) {
  Stack stack;
  ASSERT_TRUE(stack.redis().Start().ok());
  ASSERT_TRUE(stack.Launch("recommendations").ok());
  // The stream position is noted; the backfill from profiles fails and
  // retries until they come up.
  ASSERT_TRUE(WaitFor([&] { return LogContains(stack, "recommendations", "failed; retrying"); }, kStartDeadline));
  EXPECT_TRUE(stack.Terminate("recommendations", kExitDeadline)) << "see " << stack.LogPath("recommendations");
}

TEST(ShutdownTest, RecommendationsExitsWhileRedisIsDown) {
  Stack stack;
  ASSERT_TRUE(stack.Launch("recommendations").ok());
  ASSERT_TRUE(WaitFor(
      [&] { return LogContains(stack, "recommendations", "noting the event stream position failed; retrying"); },
      kStartDeadline));
  EXPECT_TRUE(stack.Terminate("recommendations", kExitDeadline)) << "see " << stack.LogPath("recommendations");
}

// The other services serve while Redis is down (their outbox relays and
// consumers retry in the background), and interactions and notifications
// while profiles is down (their calls to it fail at the time of the call).
TEST(ShutdownTest, ProfilesExitsWhileRedisIsDown) {
  Stack stack;
  absl::Status started = stack.Start("profiles");
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_TRUE(stack.Terminate("profiles", kExitDeadline)) << "see " << stack.LogPath("profiles");
}

TEST(ShutdownTest, InteractionsExitsWhileRedisAndProfilesAreDown) {
  Stack stack;
  absl::Status started = stack.Start("interactions");
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_TRUE(stack.Terminate("interactions", kExitDeadline)) << "see " << stack.LogPath("interactions");
}

TEST(ShutdownTest, NotificationsExitsWhileRedisAndProfilesAreDown) {
  Stack stack;
  absl::Status started = stack.Start("notifications");
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_TRUE(stack.Terminate("notifications", kExitDeadline)) << "see " << stack.LogPath("notifications");
}

TEST(ShutdownTest, GatewayExitsWhileRedisAndEveryBackendAreDown) {
  Stack stack;
  absl::Status started = stack.StartGateway();
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_TRUE(stack.Terminate("gateway", kExitDeadline)) << "see " << stack.LogPath("gateway");
}

}  // namespace
}  // namespace rapport
