// The edge's relay rules (docs/design.md §1, §8): the only node that talks
// to other domains. gRPC-free; EdgeService translates its calls and tells
// it which listener a call came in on. Calls to other nodes go through
// NodeCalls.
//
// Outbound (internal listener: a front-end of this domain asks the edge to
// relay a message outwards): the sender must be a user of this domain
// (PERMISSION_DENIED), the recipient of another (INVALID_ARGUMENT); the
// recipient's domain must be a federation peer of the trust snapshot
// (NOT_FOUND), enabled, not inert and with endpoints (FAILED_PRECONDITION).
// The edge dials the peer's endpoints in order (role edge, the endpoint's
// DNS name, the partner's bundle): only a transport failure (UNAVAILABLE,
// DEADLINE_EXCEEDED) moves on to the next endpoint, a refusal is final. A
// failure names the partner and endpoint: "relay to <partner> via <edge>:
// <the partner's reason, escaped>" -- for our front-end's log, which tells
// its client only the class.
//
// Inbound (federation listener: a partner edge relays a message inwards):
// the caller must be of a partner domain (PERMISSION_DENIED for a peer of
// this domain), the sender must belong to the calling partner's domain
// (PERMISSION_DENIED for a sender of this domain or of a third domain; both
// recorded as rejections), the recipient to this domain (INVALID_ARGUMENT).
// The edge hands the message to the recipient's front-end
// (DeliverToFrontEnd). A failure inside this domain reaches the partner as
// disclosure.h's ForPartnerEdge (NOT_FOUND "message.to: no such recipient
// ..."), without the names or addresses of our registrar and front-ends.
//
// Every message is validated first (ValidateMessage); every refusal is
// logged with the caller and the escaped message fields.
//
//   node::EdgeRelay relay(&config, &holder, &calls);
//   TF_ASSIGN_OR_RETURN(v1::RelayResponse r,
//                       relay.Relay(node::EdgeRelay::Direction::kInbound, *peer, message));
#ifndef TRUSTFABRIC_SERVER_NODE_EDGE_RELAY_H_
#define TRUSTFABRIC_SERVER_NODE_EDGE_RELAY_H_

#include "absl/status/statusor.h"
#include "common/tls/peer_verifier.h"
#include "common/trust/holder.h"
#include "server/node/node_calls.h"
#include "trustfabric/v1/config.pb.h"
#include "trustfabric/v1/node.pb.h"

namespace trustfabric::node {

class EdgeRelay {
 public:
  enum class Direction {
    kOutbound,  // from a front-end of this domain (internal listener)
    kInbound,   // from a partner edge (federation listener)
  };

  // REQUIRES: every argument outlives the EdgeRelay; `config` is read on
  // every call and not changed while calls run.
  EdgeRelay(const v1::NodeConfig* config, const trust::SnapshotHolder* holder, NodeCalls* calls)
      : config_(config), holder_(holder), calls_(calls) {}

  // The answer to return to `caller` (its verified identity): outbound, the
  // partner edge's answer (accepted_by defaults to the endpoint's name);
  // inbound, the front-end's disposition and accepted_by = our DNS name.
  absl::StatusOr<v1::RelayResponse> Relay(Direction direction, const tls::PeerIdentity& caller,
                                          const v1::Message& message);

 private:
  absl::StatusOr<v1::RelayResponse> Outbound(const tls::PeerIdentity& caller,
                                             const v1::Message& message);
  absl::StatusOr<v1::RelayResponse> Inbound(const tls::PeerIdentity& caller,
                                            const v1::Message& message);

  const std::string& trust_domain() const { return config_->trust_domain(); }

  const v1::NodeConfig* const config_;
  const trust::SnapshotHolder* const holder_;
  NodeCalls* const calls_;
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_EDGE_RELAY_H_
