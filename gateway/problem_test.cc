#include "gateway/problem.h"

#include <gtest/gtest.h>

namespace rapport::gateway {
namespace {

TEST(ProblemTest, MapsCodesToHttpStatuses) {
  const std::vector<std::pair<absl::Status, int>> cases = {
      {absl::InvalidArgumentError("a: b"), 400},
      {absl::UnauthenticatedError("x"), 401},
      {absl::PermissionDeniedError("x"), 403},
      {absl::NotFoundError("x"), 404},
      {absl::AlreadyExistsError("x"), 409},
      {absl::AbortedError("x"), 409},
      {absl::FailedPreconditionError("contact is deleted"), 400},
      {absl::FailedPreconditionError("Idempotency-Key was already used with a different request"), 422},
      {absl::FailedPreconditionError("RESYNC_REQUIRED: the cursor is older than the retained history"), 410},
      {absl::ResourceExhaustedError("x"), 429},
      {absl::UnavailableError("x"), 503},
      {absl::DeadlineExceededError("x"), 504},
      {absl::InternalError("sqlite: disk I/O error at /var/x.db"), 500},
      {absl::UnknownError("x"), 500},
      {absl::DataLossError("x"), 500},
      {absl::UnimplementedError("x"), 500},
  };
  for (const auto& [status, http] : cases) EXPECT_EQ(ProblemFromStatus(status).status, http) << status;
  const Problem gone = ProblemFromStatus(absl::FailedPreconditionError("RESYNC_REQUIRED: sync again"));
  EXPECT_EQ(gone.code, "RESYNC_REQUIRED");
  EXPECT_EQ(ReasonPhrase(410), "Gone");
  // Server faults never leak their message.
  EXPECT_EQ(ProblemFromStatus(absl::InternalError("sqlite: disk I/O error at /var/x.db")).detail, "internal error");
}

TEST(ProblemTest, SplitsViolationsAndPrintsProblemJson) {
  Problem p = ProblemFromStatus(
      absl::InvalidArgumentError("contact.displayName: is required; contact.emails[0]: must be an email address"));
  ASSERT_EQ(p.violations.size(), 2u);
  EXPECT_EQ(p.violations[0].first, "contact.displayName");
  EXPECT_EQ(p.violations[0].second, "is required");
  EXPECT_EQ(p.violations[1].first, "contact.emails[0]");
  EXPECT_EQ(
      ProblemJson(MakeProblem(404, "NOT_FOUND", "contact \"x\""), "r1"),
      R"({"type":"about:blank","title":"Not Found","status":404,"detail":"contact \"x\"","code":"NOT_FOUND","requestId":"r1"})");
  EXPECT_EQ(ProblemJson(p, "r2").find(R"("violations":[{"field":"contact.displayName","description":"is required"},)"),
            ProblemJson(p, "r2").find("\"violations\""));
  auto plain = SplitViolations("something went wrong");
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].first, "");
}

}  // namespace
}  // namespace rapport::gateway
