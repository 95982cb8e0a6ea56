// The Edge gRPC service: Relay on the edge's two listeners. A call on the
// internal listener (a front-end of this domain) relays outwards, a call on
// the federation listener (a partner edge) inwards; the rules are
// EdgeRelay's (edge_relay.h). The service takes the caller from the
// listener's mutual TLS, translates protos and statuses, and dials other
// nodes with GrpcNodeCalls.
//
//   node::EdgeService service(&ctx);
//   builder.RegisterService(&service);
#ifndef TRUSTFABRIC_SERVER_NODE_EDGE_SERVICE_H_
#define TRUSTFABRIC_SERVER_NODE_EDGE_SERVICE_H_

#include "server/node/edge_relay.h"
#include "server/node/grpc_node_calls.h"
#include "server/node/node_context.h"
#include "trustfabric/v1/node.grpc.pb.h"

namespace trustfabric::node {

class EdgeService final : public v1::Edge::Service {
 public:
  // REQUIRES: `ctx` outlives the service; ctx->channels is set.
  explicit EdgeService(const NodeContext* ctx)
      : ctx_(ctx), calls_(ctx->channels), relay_(&ctx->config, ctx->holder, &calls_) {}

  grpc::Status Relay(grpc::ServerContext* context, const v1::RelayRequest* request,
                     v1::RelayResponse* response) override;

 private:
  const NodeContext* ctx_;
  GrpcNodeCalls calls_;
  EdgeRelay relay_;
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_EDGE_SERVICE_H_
