// The Edge gRPC service: the only node that talks to other domains.
//
// On the internal listener a front-end of the domain asks it to relay a
// message outwards: the edge dials the recipient domain's edges from the
// FederationPeer endpoints (mutual TLS, verified against the partner's
// bundle and the endpoint's DNS name), trying each in order.
// On the federation listener a partner edge relays a message inwards: the
// caller must be of a partner domain (PERMISSION_DENIED for a peer of this
// domain), the sender must belong to the calling partner's domain
// (PERMISSION_DENIED for a sender of this domain or of a third domain), the
// recipient to this domain (INVALID_ARGUMENT); the edge looks the recipient
// up at the registrar and hands the message to that user's front-end. A
// failure inside this domain reaches the partner as disclosure.h's
// ForPartnerEdge (NOT_FOUND "message.to: no such recipient ..."), without
// the names or addresses of our registrar and front-ends.
#ifndef TRUSTFABRIC_SERVER_NODE_EDGE_SERVICE_H_
#define TRUSTFABRIC_SERVER_NODE_EDGE_SERVICE_H_

#include "server/node/node_context.h"
#include "trustfabric/v1/node.grpc.pb.h"

namespace trustfabric::node {

class EdgeService final : public v1::Edge::Service {
 public:
  // REQUIRES: `ctx` outlives the service.
  explicit EdgeService(const NodeContext* ctx) : ctx_(ctx) {}

  grpc::Status Relay(grpc::ServerContext* context, const v1::RelayRequest* request,
                     v1::RelayResponse* response) override;

 private:
  absl::Status RelayOut(const tls::PeerIdentity& caller, const v1::Message& message,
                        v1::RelayResponse* response);
  absl::Status RelayIn(const tls::PeerIdentity& caller, const v1::Message& message,
                       v1::RelayResponse* response);

  const NodeContext* ctx_;
};

// Hands `message` to the front-end that serves its recipient (looked up at
// the domain's registrar). Used by edges (inbound federation) and
// front-ends (local recipients on another front-end).
absl::StatusOr<std::string> DeliverToFrontEnd(const NodeContext& ctx, const v1::Message& message);

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_EDGE_SERVICE_H_
