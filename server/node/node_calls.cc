// Targets and in-domain delivery; see node_calls.h.
#include "server/node/node_calls.h"

#include "common/status/status.h"

namespace trustfabric::node {

absl::StatusOr<NodeTarget> RegistrarOf(const v1::NodeConfig& config) {
  if (config.registrar().address().empty()) {
    return absl::FailedPreconditionError("registrar: not configured for this node");
  }
  return NodeTarget{config.registrar().address(), config.registrar().server_name(),
                    config.trust_domain(), pki::Role::kRegistrar};
}

absl::StatusOr<NodeTarget> EdgeOf(const v1::NodeConfig& config) {
  if (config.edge().address().empty()) {
    return absl::FailedPreconditionError("edge: not configured for this node");
  }
  return NodeTarget{config.edge().address(), config.edge().server_name(), config.trust_domain(),
                    pki::Role::kEdge};
}

absl::StatusOr<std::string> DeliverToFrontEnd(const v1::NodeConfig& config, NodeCalls& calls,
                                              const v1::Message& message) {
  TF_ASSIGN_OR_RETURN(NodeTarget registrar, RegistrarOf(config));
  v1::LookupRequest lookup;
  lookup.set_user(message.to());
  absl::StatusOr<v1::LookupResponse> found = calls.Lookup(registrar, lookup);
  if (!found.ok()) return Annotate(found.status(), "registrar");

  v1::DeliverRequest deliver;
  *deliver.mutable_message() = message;
  absl::StatusOr<v1::DeliverResponse> delivered = calls.Deliver(
      {found->frontend_address(), found->frontend(), config.trust_domain(), pki::Role::kFrontend},
      deliver);
  if (!delivered.ok()) return Annotate(delivered.status(), found->frontend());
  return delivered->disposition();
}

}  // namespace trustfabric::node
