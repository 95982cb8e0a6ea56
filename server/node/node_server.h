// A running trustfabric node of one role: its trust agent, listeners and
// services, built from a NodeConfig.
//
//   TF_ASSIGN_OR_RETURN(auto server, node::NodeServer::Create(config));
//   TF_RETURN_IF_ERROR(server->Start());
//   server->Wait();  // until Shutdown() from another thread
//
// Listeners by role (all mutual TLS against the live trust snapshot, except
// the front-end's client listener: server TLS + bearer token):
//   registrar: listen (Registrar)
//   frontend:  listen (FrontEnd.Deliver), client_listen (SignIn/Send/Receive)
//   edge:      listen (Relay from front-ends), federation_listen (Relay from
//              partner edges)
// Every listener also serves gRPC health and reflection.
#ifndef TRUSTFABRIC_SERVER_NODE_NODE_SERVER_H_
#define TRUSTFABRIC_SERVER_NODE_NODE_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/token/verifier.h"
#include "server/node/mailboxes.h"
#include "server/node/node_context.h"
#include "server/node/recipient_limiter.h"
#include "server/node/trust_agent.h"
#include "trustfabric/v1/config.pb.h"

#include <grpcpp/server.h>

namespace prometheus {
class Collectable;
class Exposer;
}  // namespace prometheus

namespace trustfabric::tls {
class GuardedListener;
}  // namespace trustfabric::tls

namespace trustfabric::node {

// INVALID_ARGUMENT naming the first bad field of `config` (role, trust
// domain, dns name, identity files, listeners the role needs, registrar and
// edge targets, trust agent, front-end settings).
absl::Status ValidateNodeConfig(const v1::NodeConfig& config);

// The front-end settings as the services take them: the outer token policy
// (unset means signed) and the limit on unknown-recipient answers (unset
// fields keep UnknownRecipientLimiter's defaults).
token::OuterTokenPolicy OuterTokenPolicyOf(const v1::FrontEndConfig& frontend);
UnknownRecipientLimiter::Options ProbingLimitOf(const v1::FrontEndConfig& frontend);
// The mailbox bounds of a front-end's configuration (unset: the defaults).
MailboxLimits MailboxLimitsOf(const v1::NodeConfig& config);

class NodeServer {
 public:
  static absl::StatusOr<std::unique_ptr<NodeServer>> Create(v1::NodeConfig config);
  ~NodeServer();

  // Binds every listener and starts the trust agent. UNAVAILABLE when a
  // listener cannot bind (naming the address).
  absl::Status Start();
  // Stops accepting calls, ends open streams (within `grace`), stops the agent.
  void Shutdown(absl::Duration grace = absl::Seconds(2));
  void Wait();

  const NodeContext& context() const { return ctx_; }
  TrustAgent& agent() { return *agent_; }
  // The metrics port when metrics_address is set (useful with port 0).
  int metrics_port() const { return metrics_port_; }

 private:
  class Services;
  NodeServer() = default;

  trust::SnapshotHolder holder_;
  NodeContext ctx_;
  std::unique_ptr<TrustAgent> agent_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
  // The server's listeners, accepted by trustfabric (docs/design.md §4).
  std::vector<std::unique_ptr<tls::GuardedListener>> listeners_;
  std::shared_ptr<prometheus::Collectable> metrics_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int metrics_port_ = 0;
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_NODE_SERVER_H_
