// Node metrics; see node_metrics.h.
#include "server/node/node_metrics.h"

#include <utility>

#include "absl/time/clock.h"
#include "server/metrics/prometheus_util.h"

namespace trustfabric::node {

using metrics::Counter;
using metrics::Family;
using metrics::Gauge;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

// A family of one unlabelled metric.
MetricFamily Single(const char* name, const char* help, MetricType type, double value) {
  MetricFamily f = Family(name, help, type);
  f.metric.push_back(type == MetricType::Counter ? Counter(value) : Gauge(value));
  return f;
}

}  // namespace

std::vector<MetricFamily> MailboxFamilies(const MailboxCounts& counts) {
  std::vector<MetricFamily> out;
  out.push_back(Single("trustfabric_node_queued_messages",
                       "Messages waiting in the mailboxes of offline users.", MetricType::Gauge,
                       static_cast<double>(counts.queued_messages)));
  out.push_back(
      Single("trustfabric_node_queued_message_bytes",
             "Memory of all queued messages together (bounded by max_queued_message_bytes).",
             MetricType::Gauge, static_cast<double>(counts.queued_bytes)));
  MetricFamily refused = Family("trustfabric_node_queued_message_refused_total",
                                "Messages refused because a user's queue (per_user) or all "
                                "queues together (total) were full.",
                                MetricType::Counter);
  refused.metric.push_back(
      Counter(static_cast<double>(counts.refused_per_user), {{"bound", "per_user"}}));
  refused.metric.push_back(Counter(static_cast<double>(counts.refused_total), {{"bound", "total"}}));
  out.push_back(std::move(refused));
  out.push_back(
      Single("trustfabric_node_queued_messages_expired_total",
             "Queued messages dropped undelivered after queued_message_max_age_seconds.",
             MetricType::Counter, static_cast<double>(counts.expired)));
  return out;
}

std::vector<MetricFamily> NodeMetrics::Collect() const {
  std::vector<MetricFamily> out;
  const TrustAgentStatus status = agent_->status();

  MetricFamily info =
      Family("trustfabric_node_info", "The node's role and names.", MetricType::Gauge);
  info.metric.push_back(Gauge(1, {{"role", config_->role()},
                                  {"trust_domain", config_->trust_domain()},
                                  {"dns_name", config_->dns_name()}}));
  out.push_back(std::move(info));

  MetricFamily revision =
      Family("trustfabric_node_trust_revision", "Revision of the trust snapshot the node applied.",
             MetricType::Gauge);
  revision.metric.push_back(Gauge(static_cast<double>(status.applied_revision)));
  out.push_back(std::move(revision));

  MetricFamily connected =
      Family("trustfabric_node_control_plane_connected",
             "1 while a Watch stream to a control plane is open.", MetricType::Gauge);
  connected.metric.push_back(Gauge(status.connected ? 1 : 0));
  out.push_back(std::move(connected));

  MetricFamily updates =
      Family("trustfabric_node_trust_updates_total",
             "Trust updates applied (ACKed) or refused (NACKed).", MetricType::Counter);
  updates.metric.push_back(
      Counter(static_cast<double>(status.updates_applied), {{"result", "applied"}}));
  updates.metric.push_back(
      Counter(static_cast<double>(status.updates_nacked), {{"result", "nacked"}}));
  out.push_back(std::move(updates));

  MetricFamily generation =
      Family("trustfabric_node_trust_generation_epoch",
             "Epoch of the store generation the applied snapshot belongs to.", MetricType::Gauge);
  generation.metric.push_back(Gauge(static_cast<double>(status.generation.epoch())));
  out.push_back(std::move(generation));
  MetricFamily switches =
      Family("trustfabric_node_trust_generation_switches_total",
             "Full snapshots of a higher generation epoch applied (restored stores).",
             MetricType::Counter);
  switches.metric.push_back(Counter(static_cast<double>(status.generation_switches)));
  out.push_back(std::move(switches));

  if (status.last_confirmed != absl::InfinitePast()) {
    MetricFamily age =
        Family("trustfabric_node_trust_confirmed_age_seconds",
               "Seconds since a control plane last confirmed the trust state.", MetricType::Gauge);
    age.metric.push_back(Gauge(absl::ToDoubleSeconds(absl::Now() - status.last_confirmed)));
    out.push_back(std::move(age));
  }

  MetricFamily serving =
      Family("trustfabric_node_serving", "1 while the staleness policy lets the node serve.",
             MetricType::Gauge);
  serving.metric.push_back(Gauge(agent_->ServingStatus().ok() ? 1 : 0));
  out.push_back(std::move(serving));

  if (mailboxes_ != nullptr) {
    for (auto& f : MailboxFamilies(mailboxes_->counts())) out.push_back(std::move(f));
  }
  out.push_back(metrics::RejectionFamily("trustfabric_node_rejections_total"));
  for (auto& f : metrics::ListenerFamilies("trustfabric_node")) out.push_back(std::move(f));
  return out;
}

}  // namespace trustfabric::node
