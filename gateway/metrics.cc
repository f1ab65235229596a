#include "gateway/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "absl/strings/str_cat.h"

namespace rapport::gateway {
namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets =
      new prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
  return *buckets;
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("rapport_gateway_requests_total")
                    .Help("HTTP requests by route and status.")
                    .Register(*registry_)),
      latency_(prometheus::BuildHistogram()
                   .Name("rapport_gateway_request_duration_seconds")
                   .Help("Time from a complete request to its answer, by route.")
                   .Register(*registry_)),
      backend_errors_(prometheus::BuildCounter()
                          .Name("rapport_gateway_backend_errors_total")
                          .Help("Backend calls that failed, by service and gRPC code.")
                          .Register(*registry_)),
      inflight_(prometheus::BuildGauge()
                    .Name("rapport_gateway_backend_calls_in_flight")
                    .Help("Backend calls not yet answered.")
                    .Register(*registry_)
                    .Add({})),
      connections_(prometheus::BuildGauge()
                       .Name("rapport_gateway_connections")
                       .Help("HTTP connections open.")
                       .Register(*registry_)
                       .Add({})),
      refused_connections_(prometheus::BuildCounter()
                               .Name("rapport_gateway_connections_refused_total")
                               .Help("HTTP connections answered 503 and closed because the limit was reached.")
                               .Register(*registry_)
                               .Add({})),
      share_refusals_(prometheus::BuildCounter()
                          .Name("rapport_gateway_share_refusals_total")
                          .Help("Connections (per client address) and event streams (per credential) answered 429 "
                                "because the client held its share already, by kind.")
                          .Register(*registry_)) {}

void Metrics::ObserveRequest(const std::string& route, int status, double seconds) {
  prometheus::Counter* counter;
  prometheus::Histogram* histogram;
  {
    absl::MutexLock lock(&mu_);
    auto [c, new_counter] = request_series_.try_emplace({route, status}, nullptr);
    if (new_counter) c->second = &requests_.Add({{"route", route}, {"code", absl::StrCat(status)}});
    counter = c->second;
    auto [h, new_histogram] = latency_series_.try_emplace(route, nullptr);
    if (new_histogram) h->second = &latency_.Add({{"route", route}}, LatencyBuckets());
    histogram = h->second;
  }
  counter->Increment();
  histogram->Observe(seconds);
}

void Metrics::ObserveBackendError(const std::string& service, absl::StatusCode code) {
  // Rare: the family's own lookup is cheap enough.
  backend_errors_.Add({{"service", service}, {"code", absl::StatusCodeToString(code)}}).Increment();
}

void Metrics::ShareRefused(const std::string& kind) {
  // Rare, and two kinds: the family's own lookup is cheap enough.
  share_refusals_.Add({{"kind", kind}}).Increment();
}

std::string Metrics::Text() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace rapport::gateway
