// Control-plane metrics; see metrics.h.
#include "server/control/metrics.h"

#include <string>
#include <utility>

#include "server/metrics/prometheus_util.h"

namespace trustfabric::control {
namespace {

using metrics::Counter;
using metrics::Family;
using metrics::Gauge;
using prometheus::MetricFamily;
using prometheus::MetricType;

}  // namespace

std::vector<MetricFamily> ControlMetrics::Collect() const {
  std::vector<MetricFamily> out;
  const uint64_t revision = control_->revision();

  MetricFamily rev =
      Family("trustfabric_control_revision", "Current trust state revision.", MetricType::Gauge);
  rev.metric.push_back(Gauge(static_cast<double>(revision)));
  out.push_back(std::move(rev));

  MetricFamily epoch = Family("trustfabric_control_generation_epoch",
                              "Epoch of the store generation served (raised by a restore).",
                              MetricType::Gauge);
  std::shared_ptr<const trust::TrustSnapshot> current = control_->current();
  epoch.metric.push_back(
      Gauge(current == nullptr ? 0.0 : static_cast<double>(current->proto().generation().epoch())));
  out.push_back(std::move(epoch));

  MetricFamily audit_failures =
      Family("trustfabric_control_audit_failures_total",
             "Refused calls that could not be audited and checkpoints that could not be written.",
             MetricType::Counter);
  audit_failures.metric.push_back(Counter(static_cast<double>(control_->audit_failures())));
  out.push_back(std::move(audit_failures));

  MetricFamily mutations = Family("trustfabric_control_mutations_total",
                                  "Admin mutations by operation and result.", MetricType::Counter);
  for (const auto& [key, count] : control_->MutationCounts()) {
    mutations.metric.push_back(
        Counter(static_cast<double>(count), {{"operation", key.first}, {"result", key.second}}));
  }
  out.push_back(std::move(mutations));

  MetricFamily watchers = Family("trustfabric_control_watchers_connected",
                                 "Open TrustDistribution.Watch streams.", MetricType::Gauge);
  watchers.metric.push_back(Gauge(static_cast<double>(hub_->stream_count())));
  out.push_back(std::move(watchers));

  MetricFamily connected = Family("trustfabric_control_nodes_connected",
                                  "Nodes with at least one open Watch stream.", MetricType::Gauge);
  MetricFamily lag =
      Family("trustfabric_control_node_revision_lag",
             "Revisions a connected node is behind the current one.", MetricType::Gauge);
  double connected_nodes = 0;
  for (const v1::NodeStatus& node : nodes_->Status()) {
    if (!node.connected()) continue;
    ++connected_nodes;
    const double behind = node.applied_revision() >= revision
                              ? 0.0
                              : static_cast<double>(revision - node.applied_revision());
    lag.metric.push_back(Gauge(behind, {{"node", node.spiffe_id()}}));
  }
  connected.metric.push_back(Gauge(connected_nodes));
  out.push_back(std::move(connected));
  out.push_back(std::move(lag));

  MetricFamily nacks =
      Family("trustfabric_control_nacks_total", "Updates refused by nodes.", MetricType::Counter);
  nacks.metric.push_back(Counter(static_cast<double>(nodes_->nacks_total())));
  out.push_back(std::move(nacks));

  out.push_back(metrics::RejectionFamily("trustfabric_control_rejections_total"));
  for (auto& f : metrics::ListenerFamilies("trustfabric_control")) out.push_back(std::move(f));
  return out;
}

}  // namespace trustfabric::control
