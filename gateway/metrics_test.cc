#include "gateway/metrics.h"

#include <gtest/gtest.h>

namespace rapport::gateway {
namespace {

bool Has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

TEST(MetricsTest, CountsRequestsByRouteAndStatusWithLatency) {
  Metrics m;
  m.ObserveRequest("GET /v1/contacts/{contact_id}", 200, 0.002);
  m.ObserveRequest("GET /v1/contacts/{contact_id}", 200, 0.2);
  m.ObserveRequest("GET /v1/contacts/{contact_id}", 404, 0.0005);
  m.ObserveRequest("unmatched", 413, 0);
  const std::string text = m.Text();
  EXPECT_TRUE(Has(text, "# TYPE rapport_gateway_requests_total counter")) << text;
  EXPECT_TRUE(Has(text, R"(rapport_gateway_requests_total{code="200",route="GET /v1/contacts/{contact_id}"} 2)"))
      << text;
  EXPECT_TRUE(Has(text, R"(rapport_gateway_requests_total{code="404",route="GET /v1/contacts/{contact_id}"} 1)"))
      << text;
  EXPECT_TRUE(Has(text, R"(rapport_gateway_requests_total{code="413",route="unmatched"} 1)")) << text;
  EXPECT_TRUE(Has(text, "# TYPE rapport_gateway_request_duration_seconds histogram")) << text;
  EXPECT_TRUE(Has(text, R"(rapport_gateway_request_duration_seconds_count{route="GET /v1/contacts/{contact_id}"} 3)"))
      << text;
  EXPECT_TRUE(Has(
      text, R"(rapport_gateway_request_duration_seconds_bucket{route="GET /v1/contacts/{contact_id}",le="0.001"} 1)"))
      << text;
  EXPECT_TRUE(Has(
      text, R"(rapport_gateway_request_duration_seconds_bucket{route="GET /v1/contacts/{contact_id}",le="0.0025"} 2)"))
      << text;
  EXPECT_TRUE(Has(
      text, R"(rapport_gateway_request_duration_seconds_bucket{route="GET /v1/contacts/{contact_id}",le="+Inf"} 3)"))
      << text;
}

TEST(MetricsTest, CountsBackendErrorsAndCallsInFlight) {
  Metrics m;
  m.ObserveBackendError("rapport.interactions.v1.InteractionsService", absl::StatusCode::kUnavailable);
  m.ObserveBackendError("rapport.interactions.v1.InteractionsService", absl::StatusCode::kUnavailable);
  m.ObserveBackendError("rapport.profiles.v1.ProfilesService", absl::StatusCode::kDeadlineExceeded);
  m.BackendCallStarted();
  m.BackendCallStarted();
  m.BackendCallEnded();
  const std::string text = m.Text();
  EXPECT_TRUE(Has(
      text,
      R"(rapport_gateway_backend_errors_total{code="UNAVAILABLE",service="rapport.interactions.v1.InteractionsService"} 2)"))
      << text;
  EXPECT_TRUE(Has(
      text,
      R"(rapport_gateway_backend_errors_total{code="DEADLINE_EXCEEDED",service="rapport.profiles.v1.ProfilesService"} 1)"))
      << text;
  EXPECT_TRUE(Has(text, "rapport_gateway_backend_calls_in_flight 1")) << text;
  EXPECT_EQ(m.BackendCallsInFlight(), 1);
}

TEST(MetricsTest, EscapesLabelValues) {
  Metrics m;
  m.ObserveRequest("a \"quoted\" \\ route", 200, 0.01);
  EXPECT_TRUE(Has(m.Text(), R"(rapport_gateway_requests_total{code="200",route="a \"quoted\" \\ route"} 1)"))
      << m.Text();
}

}  // namespace
}  // namespace rapport::gateway
