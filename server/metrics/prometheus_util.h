// Small builders for Prometheus metric families computed at scrape time, and
// the rejection counters every trustfabric server exports.
//
//   std::vector<prometheus::MetricFamily> out;
//   MetricFamily f = metrics::Family("trustfabric_x", "help", MetricType::Gauge);
//   f.metric.push_back(metrics::Gauge(3));
//   out.push_back(std::move(f));
//   out.push_back(metrics::RejectionFamily("trustfabric_node_rejections_total"));
#ifndef TRUSTFABRIC_SERVER_METRICS_PROMETHEUS_UTIL_H_
#define TRUSTFABRIC_SERVER_METRICS_PROMETHEUS_UTIL_H_

#include <string>
#include <vector>

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

namespace trustfabric::metrics {

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type);
prometheus::ClientMetric Gauge(double value,
                               std::vector<prometheus::ClientMetric::Label> labels = {});
prometheus::ClientMetric Counter(double value,
                                 std::vector<prometheus::ClientMetric::Label> labels = {});

// `name`{listener,rule}: peers, calls and tokens refused by transport
// security, policy or token rules since start (tls::RejectionCounts).
prometheus::MetricFamily RejectionFamily(std::string name);

// `prefix`_listener_{connections, handshaking_connections, accepted_total,
// refused_total{reason}, accept_errors_total}, by listener, from the
// process's accept loops (net::ListenerCounters; docs/design.md §4), and
// `prefix`_descriptors{kind=open|limit|headroom}. Every refusal reason of
// every listener is present from the start, at 0.
std::vector<prometheus::MetricFamily> ListenerFamilies(const std::string& prefix);

}  // namespace trustfabric::metrics

#endif  // TRUSTFABRIC_SERVER_METRICS_PROMETHEUS_UTIL_H_
