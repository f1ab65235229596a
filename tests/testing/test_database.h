// Database options for tests that run against both drivers of the database
// layer (services/common/db.h): "sqlite" gives a file in a fresh temporary
// directory; "postgres" gives a fresh schema in one real PostgreSQL 15 server
// that the test binary starts on first use (tests/testing/postgres.h) and
// stops at exit. Store tests are parameterized over Drivers():
//
//   INSTANTIATE_TEST_SUITE_P(Drivers, FooStoreTest, ::testing::ValuesIn(testing::Drivers()),
//                            testing::DriverName);
//   void SetUp() override {
//     auto options = testing::TestDatabase(GetParam(), "foo");
//     if (!options.ok()) GTEST_SKIP() << options.status();  // PostgreSQL not installed
//
// Thread-safety: call from tests' threads; the shared server is created once.
#ifndef RAPPORT_TESTS_TESTING_TEST_DATABASE_H_
#define RAPPORT_TESTS_TESTING_TEST_DATABASE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "services/common/db.h"

namespace rapport::testing {

// {"sqlite", "postgres"}.
std::vector<std::string> Drivers();

// For INSTANTIATE_TEST_SUITE_P: the driver's name as the test's suffix.
std::string DriverName(const ::testing::TestParamInfo<std::string>& info);

// Options naming a new, empty database for `driver` (migrations left to the
// store). FAILED_PRECONDITION when the driver's server cannot be had here
// (PostgreSQL not installed), which tests turn into a skip; any other error
// (the server failed to start) is a failure.
absl::StatusOr<db::Options> TestDatabase(const std::string& driver, const std::string& name);

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_TEST_DATABASE_H_
