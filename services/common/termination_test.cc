// The termination watcher with real signals sent to this process. One test:
// the state it checks (a signal has arrived) lasts for the process's life.
#include "services/common/termination.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>

#include "gtest/gtest.h"

namespace rapport {
namespace {

TEST(TerminationTest, WaitsUntilSigtermArrivesThenEveryWaitReturnsAtOnceAndServeDrains) {
  WatchTerminationSignals();  // before any other thread, as InitProcess does
  EXPECT_FALSE(TerminationRequested());
  const auto before = std::chrono::steady_clock::now();
  EXPECT_FALSE(WaitForTerminationSignalFor(std::chrono::milliseconds(50)));
  EXPECT_GE(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(50));

  // Blocked, so it stays pending until the watcher takes it: the test
  // process survives it.
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  EXPECT_TRUE(WaitForTerminationSignalFor(std::chrono::seconds(10)));
  EXPECT_TRUE(TerminationRequested());
  EXPECT_EQ(WaitForTerminationSignal(), SIGTERM);
  EXPECT_TRUE(WaitForTerminationSignalFor(std::chrono::hours(1)));  // at once

  bool drained = false;
  ServeUntilSignal([&drained] { drained = true; });
  EXPECT_TRUE(drained);
}

}  // namespace
}  // namespace rapport
