// Prometheus metrics of a node, computed at scrape time from the objects that
// already keep the numbers:
//   trustfabric_node_info{role,trust_domain,dns_name}          gauge 1
//   trustfabric_node_trust_revision                            gauge
//   trustfabric_node_control_plane_connected                   gauge 0/1
//   trustfabric_node_trust_updates_total{result}               counter (applied, nacked)
//   trustfabric_node_trust_confirmed_age_seconds               gauge (absent before any)
//   trustfabric_node_serving                                   gauge 0/1 (staleness policy)
//   trustfabric_node_rejections_total{listener,rule}           counter
// and on a front-end, from its Mailboxes (docs/design.md §8):
//   trustfabric_node_queued_messages                           gauge
//   trustfabric_node_queued_message_bytes                      gauge (memory, all users)
//   trustfabric_node_queued_message_refused_total{bound}       counter (per_user, total)
//   trustfabric_node_queued_messages_expired_total             counter
//
//   exposer.RegisterCollectable(std::make_shared<NodeMetrics>(&config, agent.get(), &boxes));
#ifndef TRUSTFABRIC_SERVER_NODE_NODE_METRICS_H_
#define TRUSTFABRIC_SERVER_NODE_NODE_METRICS_H_

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "server/node/mailboxes.h"
#include "server/node/trust_agent.h"
#include "trustfabric/v1/config.pb.h"

namespace trustfabric::node {

// The front-end's mailbox families listed above, from `counts`.
std::vector<prometheus::MetricFamily> MailboxFamilies(const MailboxCounts& counts);

class NodeMetrics final : public prometheus::Collectable {
 public:
  // REQUIRES: all outlive every scrape (stop the exposer first).
  // `mailboxes`: the front-end's, null for other roles.
  NodeMetrics(const v1::NodeConfig* config, const TrustAgent* agent,
              const Mailboxes* mailboxes = nullptr)
      : config_(config), agent_(agent), mailboxes_(mailboxes) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const v1::NodeConfig* const config_;
  const TrustAgent* const agent_;
  const Mailboxes* const mailboxes_;
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_NODE_METRICS_H_
