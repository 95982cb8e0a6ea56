// Prometheus helpers; see prometheus_util.h.
#include "server/metrics/prometheus_util.h"

#include <utility>

#include "common/tls/rejections.h"

namespace trustfabric::metrics {

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

ClientMetric Gauge(double value, std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  return m;
}

ClientMetric Counter(double value, std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  return m;
}

MetricFamily RejectionFamily(std::string name) {
  MetricFamily rejections =
      Family(std::move(name), "Peers, calls and tokens refused by transport security or policy.",
             MetricType::Counter);
  for (const auto& [key, count] : tls::RejectionCounts()) {
    const size_t slash = key.find('/');
    std::string listener = slash == std::string::npos ? key : key.substr(0, slash);
    std::string rule = slash == std::string::npos ? "" : key.substr(slash + 1);
    rejections.metric.push_back(
        Counter(static_cast<double>(count),
                {{"listener", std::move(listener)}, {"rule", std::move(rule)}}));
  }
  return rejections;
}

}  // namespace trustfabric::metrics
