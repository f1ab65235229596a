// Waits for a store write's completion callback in tests: the store answers
// on its writer thread once the change is durable.
#ifndef RAPPORT_TESTS_TESTING_AWAIT_H_
#define RAPPORT_TESTS_TESTING_AWAIT_H_

#include <functional>
#include <future>

#include "absl/status/statusor.h"
#include "services/common/db_rows.h"

namespace rapport::testing {

template <typename T>
absl::StatusOr<T> Await(const std::function<void(Done<T>)>& call) {
  std::promise<absl::StatusOr<T>> p;
  call([&p](absl::StatusOr<T> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

inline absl::Status AwaitStatus(const std::function<void(DoneStatus)>& call) {
  std::promise<absl::Status> p;
  call([&p](absl::Status s) { p.set_value(s); });
  return p.get_future().get();
}

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_AWAIT_H_
