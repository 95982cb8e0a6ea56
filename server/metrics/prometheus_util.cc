// Prometheus helpers; see prometheus_util.h.
#include "server/metrics/prometheus_util.h"

#include <utility>

#include "common/net/accept_loop.h"
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

std::vector<MetricFamily> ListenerFamilies(const std::string& prefix) {
  MetricFamily open = Family(prefix + "_listener_connections",
                             "Open connections on each listener.", MetricType::Gauge);
  MetricFamily handshaking =
      Family(prefix + "_listener_handshaking_connections",
             "Open connections younger than the listener's handshake timeout.",
             MetricType::Gauge);
  MetricFamily accepted = Family(prefix + "_listener_accepted_total",
                                 "Connections admitted by each listener's bounds.",
                                 MetricType::Counter);
  MetricFamily refused =
      Family(prefix + "_listener_refused_total",
             "Connections reset on accept, by the bound they would have exceeded.",
             MetricType::Counter);
  MetricFamily errors = Family(prefix + "_listener_accept_errors_total",
                               "accept() failures (EMFILE, ENFILE, ENOMEM); the listener keeps "
                               "accepting.",
                               MetricType::Counter);
  for (const auto& [listener, c] : net::ListenerCounters()) {
    open.metric.push_back(Gauge(static_cast<double>(c.open), {{"listener", listener}}));
    handshaking.metric.push_back(
        Gauge(static_cast<double>(c.handshaking), {{"listener", listener}}));
    accepted.metric.push_back(Counter(static_cast<double>(c.accepted), {{"listener", listener}}));
    errors.metric.push_back(
        Counter(static_cast<double>(c.accept_errors), {{"listener", listener}}));
    for (const auto& [reason, count] : c.refused) {
      refused.metric.push_back(Counter(static_cast<double>(count),
                                       {{"listener", listener}, {"reason", reason}}));
    }
  }
  const net::DescriptorBudget::Counts budget = net::DescriptorBudget::Global().counts();
  MetricFamily descriptors =
      Family(prefix + "_descriptors",
             "The process's descriptors: open (last count plus connections admitted since), its "
             "limit, and the headroom listeners leave free.",
             MetricType::Gauge);
  for (const auto& [kind, n] : {std::pair<const char*, int>{"open", budget.open},
                                {"limit", budget.limit},
                                {"headroom", budget.headroom}}) {
    descriptors.metric.push_back(Gauge(n, {{"kind", kind}}));
  }
  return {std::move(open), std::move(handshaking), std::move(accepted), std::move(refused),
          std::move(errors), std::move(descriptors)};
}

}  // namespace trustfabric::metrics
