// Prometheus metrics of the control plane, computed at scrape time from the
// objects that already keep the numbers (no second set of counters to
// drift):
//   trustfabric_control_revision                         gauge
//   trustfabric_control_mutations_total{operation,result} counter
//   trustfabric_control_watchers_connected               gauge (open streams)
//   trustfabric_control_nodes_connected                  gauge
//   trustfabric_control_node_revision_lag{node}          gauge, connected nodes
//   trustfabric_control_nacks_total                      counter
//   trustfabric_control_rejections_total{listener,rule}  counter (TLS/policy)
//
//   auto metrics = std::make_shared<ControlMetrics>(control.get(), &nodes, hub.get());
//   exposer.RegisterCollectable(metrics);
#ifndef TRUSTFABRIC_SERVER_CONTROL_METRICS_H_
#define TRUSTFABRIC_SERVER_CONTROL_METRICS_H_

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/control/control_plane.h"
#include "server/control/node_registry.h"
#include "server/control/watch_hub.h"

namespace trustfabric::control {

class ControlMetrics final : public prometheus::Collectable {
 public:
  // All three must outlive every scrape (unregister or stop the exposer
  // first).
  ControlMetrics(const ControlPlane* control, const NodeRegistry* nodes, const WatchHub* hub)
      : control_(control), nodes_(nodes), hub_(hub) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ControlPlane* const control_;
  const NodeRegistry* const nodes_;
  const WatchHub* const hub_;
};

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_METRICS_H_
