// Prometheus metrics (--metrics_address): what Status shows, in the text exposition format on
// http://ADDRESS/metrics. Every series carries the labels network (the topology's name) and node;
// per-link series add neighbour. Counters end in _total, amounts are in base units (bytes, joules,
// seconds), following https://prometheus.io/docs/practices/naming/.
//
// Nothing is recorded on the message path: a scrape reads the counters and the published state the
// Status service reads (StatusSource), so the scraped totals are the agent's own, and what a result
// file holds at the end. The endpoint is plain HTTP without authentication: bind it to loopback or a
// monitoring network (README, "Trust").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/status_service.h"
#include "dadmm/proto/dadmm.pb.h"
#include "prometheus/metric_family.h"

namespace prometheus {
class Exposer;
}

namespace dadmm::agent {

// The metric families of one Status reply, labelled with `network` and the reply's node.
std::vector<prometheus::MetricFamily> MetricFamilies(const pb::StatusReply& status, const std::string& network);

// The HTTP endpoint. Scrapes are answered on its own threads (two), which only read under the locks.
class MetricsServer {
 public:
  // Listens on `address` (HOST:PORT; port 0: any free one). `source` must outlive the server.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& address, const StatusSource* source);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const { return port_; }

 private:
  class Collector;
  MetricsServer() = default;

  std::shared_ptr<Collector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace dadmm::agent
