// The calls a node makes to other nodes, as an interface the routing code
// sees instead of gRPC stubs (docs/design.md §1, §8): the domain's registrar
// (Register, Lookup), a front-end (Deliver) and an edge of this or a partner
// domain (Relay). GrpcNodeCalls (grpc_node_calls.h) makes them over mutual
// TLS; unit tests of Messaging, EdgeRelay and DeliverToFrontEnd script them.
//
//   TF_ASSIGN_OR_RETURN(node::NodeTarget registrar, node::RegistrarOf(config));
//   TF_ASSIGN_OR_RETURN(v1::LookupResponse found, calls->Lookup(registrar, lookup));
//
// gRPC-free.
#ifndef TRUSTFABRIC_SERVER_NODE_NODE_CALLS_H_
#define TRUSTFABRIC_SERVER_NODE_NODE_CALLS_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/pki/spiffe.h"
#include "trustfabric/v1/config.pb.h"
#include "trustfabric/v1/node.pb.h"

namespace trustfabric::node {

// The node a call goes to. The callee must present a certificate of
// `trust_domain` with the DNS name `server_name` and the SPIFFE role `role`
// (as tls::Target with one role).
struct NodeTarget {
  // Every field is required (the role the server must have included), so a
  // target that forgets it does not compile.
  NodeTarget(std::string address, std::string server_name, std::string trust_domain,
             pki::Role role)
      : address(std::move(address)),
        server_name(std::move(server_name)),
        trust_domain(std::move(trust_domain)),
        role(role) {}

  std::string address;  // "host:port"
  std::string server_name;
  std::string trust_domain;
  pki::Role role;

  friend bool operator==(const NodeTarget& a, const NodeTarget& b) {
    return a.address == b.address && a.server_name == b.server_name &&
           a.trust_domain == b.trust_domain && a.role == b.role;
  }
};

// One call each; every call carries the node call deadline. A failure is the
// callee's status (its reason is the callee's text, unescaped) or the
// transport's (UNAVAILABLE, DEADLINE_EXCEEDED). Implementations are
// thread-safe.
class NodeCalls {
 public:
  virtual ~NodeCalls() = default;
  virtual absl::Status Register(const NodeTarget& registrar,
                                const v1::RegisterRequest& request) = 0;
  virtual absl::StatusOr<v1::LookupResponse> Lookup(const NodeTarget& registrar,
                                                    const v1::LookupRequest& request) = 0;
  virtual absl::StatusOr<v1::DeliverResponse> Deliver(const NodeTarget& frontend,
                                                      const v1::DeliverRequest& request) = 0;
  virtual absl::StatusOr<v1::RelayResponse> Relay(const NodeTarget& edge,
                                                  const v1::RelayRequest& request) = 0;
};

// The domain's registrar and edge, from config.registrar / config.edge;
// FAILED_PRECONDITION "registrar: not configured for this node" (or "edge:
// ...") when the address is empty.
absl::StatusOr<NodeTarget> RegistrarOf(const v1::NodeConfig& config);
absl::StatusOr<NodeTarget> EdgeOf(const v1::NodeConfig& config);

// Hands `message` (validated, recipient of config's domain) to the front-end
// that serves its recipient, looked up at the domain's registrar; returns the
// front-end's disposition ("delivered" or "queued"). Failures carry the hop
// that failed ("registrar: user ... is not registered", "fe2.contoso.test:
// ..."), for the log: callers outside the domain see disclosure.h's text.
// Used by front-ends (local recipients) and edges (inbound relays).
absl::StatusOr<std::string> DeliverToFrontEnd(const v1::NodeConfig& config, NodeCalls& calls,
                                              const v1::Message& message);

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_NODE_CALLS_H_
