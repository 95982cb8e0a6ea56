// NodeCalls over gRPC: each call a stub on the shared channel of its target
// (tls::ChannelCache: mutual TLS, the callee's DNS name and role checked
// against the live trust state, docs/design.md §4), with the node call
// deadline.
//
//   node::GrpcNodeCalls calls(ctx.channels);
//   absl::StatusOr<v1::RelayResponse> relayed = calls.Relay(edge, relay);
#ifndef TRUSTFABRIC_SERVER_NODE_GRPC_NODE_CALLS_H_
#define TRUSTFABRIC_SERVER_NODE_GRPC_NODE_CALLS_H_

#include <memory>

#include "common/tls/client_security.h"
#include "server/node/node_calls.h"

namespace trustfabric::node {

class GrpcNodeCalls final : public NodeCalls {
 public:
  explicit GrpcNodeCalls(std::shared_ptr<tls::ChannelCache> channels)
      : channels_(std::move(channels)) {}

  absl::Status Register(const NodeTarget& registrar, const v1::RegisterRequest& request) override;
  absl::StatusOr<v1::LookupResponse> Lookup(const NodeTarget& registrar,
                                            const v1::LookupRequest& request) override;
  absl::StatusOr<v1::DeliverResponse> Deliver(const NodeTarget& frontend,
                                              const v1::DeliverRequest& request) override;
  absl::StatusOr<v1::RelayResponse> Relay(const NodeTarget& edge,
                                          const v1::RelayRequest& request) override;

 private:
  std::shared_ptr<grpc::Channel> ChannelTo(const NodeTarget& target) const;

  const std::shared_ptr<tls::ChannelCache> channels_;
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_GRPC_NODE_CALLS_H_
