// Control-plane metrics; see metrics.h.
#include "server/control/metrics.h"

#include <string>
#include <utility>

#include "common/tls/rejections.h"

namespace trustfabric::control {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric Gauge(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  return m;
}

ClientMetric Counter(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  return m;
}

}  // namespace

std::vector<MetricFamily> ControlMetrics::Collect() const {
  std::vector<MetricFamily> out;
  const uint64_t revision = control_->revision();

  MetricFamily rev =
      Family("trustfabric_control_revision", "Current trust state revision.", MetricType::Gauge);
  rev.metric.push_back(Gauge(static_cast<double>(revision)));
  out.push_back(std::move(rev));

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

  MetricFamily rejections =
      Family("trustfabric_control_rejections_total",
             "Peers and calls refused by transport security or policy.", MetricType::Counter);
  for (const auto& [key, count] : tls::RejectionCounts()) {
    const size_t slash = key.find('/');
    std::string listener = slash == std::string::npos ? key : key.substr(0, slash);
    std::string rule = slash == std::string::npos ? "" : key.substr(slash + 1);
    rejections.metric.push_back(
        Counter(static_cast<double>(count),
                {{"listener", std::move(listener)}, {"rule", std::move(rule)}}));
  }
  out.push_back(std::move(rejections));
  return out;
}

}  // namespace trustfabric::control
