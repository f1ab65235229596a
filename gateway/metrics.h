#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace rapport::gateway {

// The gateway's /metrics on prometheus-cpp: requests by route and status,
// latency by route, backend call errors by service and code, backend calls in
// flight, open HTTP connections, connections refused over the limit and
// connections or event streams refused over a client's share.
// Routes are the route table's templates (a bounded set), never raw paths.
// Thread-safe; the per-request cost is one lookup of cached series.
class Metrics {
 public:
  Metrics();

  // One answered HTTP request: `seconds` from a complete request to its answer.
  void ObserveRequest(const std::string& route, int status, double seconds);
  // One backend call that ended with `code` (not OK).
  void ObserveBackendError(const std::string& service, absl::StatusCode code);
  void BackendCallStarted() { inflight_.Increment(); }
  void BackendCallEnded() { inflight_.Decrement(); }
  // The gauge's value: Gateway::Stop waits for it to reach 0.
  int BackendCallsInFlight() const { return static_cast<int>(inflight_.Value()); }
  void ConnectionOpened() { connections_.Increment(); }
  void ConnectionClosed() { connections_.Decrement(); }
  // The gauge's value: HTTP connections open now (refused ones until closed).
  int OpenConnections() const { return static_cast<int>(connections_.Value()); }
  // A connection answered 503 and closed because max_connections were open.
  void ConnectionRefused() { refused_connections_.Increment(); }
  // A connection ("connection") or event stream ("stream") refused because
  // its client address or credential held its share already.
  void ShareRefused(const std::string& kind);

  // Prometheus text exposition format 0.0.4.
  std::string Text() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& backend_errors_;
  prometheus::Gauge& inflight_;
  prometheus::Gauge& connections_;
  prometheus::Counter& refused_connections_;
  prometheus::Family<prometheus::Counter>& share_refusals_;

  // Series already created, so that a request does not build label maps.
  absl::Mutex mu_;
  absl::flat_hash_map<std::pair<std::string, int>, prometheus::Counter*> request_series_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Histogram*> latency_series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rapport::gateway
