// In-process nodes for the node service tests: the real RegistrarService,
// FrontEndService and EdgeService behind real listeners (mutual TLS, the
// front-end's bearer-token client listener, the edge's federation
// listener), each node with its own trust holder, as tfnode runs them but
// with the trust state installed by the test instead of a trust agent.
//
//   TestNode::Options o;
//   o.role = "registrar"; o.trust_domain = "contoso.test";
//   o.certificate_file = files.certificate_file; o.key_file = files.key_file;
//   std::unique_ptr<TestNode> registrar = TestNode::Start(o);
//   registrar->config().mutable_addresses()->insert({"fe1.contoso.test", fe->internal_address()});
//   Install(&registrar->holder(), state);
//
// REQUIRES: config() is changed only before the first call reaches the node
// (the services read it on every call, without a lock, as they read a
// configuration fixed at start-up).
#ifndef TRUSTFABRIC_TESTS_SERVER_NODE_NODE_ENV_H_
#define TRUSTFABRIC_TESTS_SERVER_NODE_NODE_ENV_H_

#include <memory>
#include <string>

#include "common/time/clock.h"
#include "common/token/verifier.h"
#include "common/trust/holder.h"
#include "server/node/edge_service.h"
#include "server/node/frontend_service.h"
#include "server/node/mailboxes.h"
#include "server/node/node_context.h"
#include "server/node/recipient_limiter.h"
#include "server/node/registrar_service.h"
#include "server/node/registry.h"
#include "tests/common/tls/tls_env.h"

#include <grpcpp/server.h>

namespace trustfabric::testing {

class TestNode {
 public:
  // 100 messages per user; the other bounds at their defaults.
  static node::MailboxLimits SmallMailboxes() {
    node::MailboxLimits limits;
    limits.per_user = 100;
    return limits;
  }

  struct Options {
    // "registrar", "frontend" or "edge".
    std::string role;
    std::string trust_domain;
    std::string realm;
    std::string dns_name;
    // The node's chain and key files (NodeFiles).
    std::string certificate_file;
    std::string key_file;
    // Front-ends.
    token::OuterTokenPolicy outer_token = token::OuterTokenPolicy::kSigned;
    node::UnknownRecipientLimiter::Options probing;
    node::MailboxLimits mailboxes = SmallMailboxes();
    // Time of the node's TrustSource (certificate validity, expiry of open
    // streams) and of a front-end's token verifier; null: absl::Now.
    Clock clock;
  };

  // Binds every listener of the role on 127.0.0.1 (free ports) and serves,
  // with gRPC health and reflection and every long-lived call tracked
  // (tls::InstallStreamTracking) as tfnode does. Fails the test (and
  // returns null) when something cannot be built.
  static std::unique_ptr<TestNode> Start(const Options& options);
  ~TestNode();

  v1::NodeConfig& config() { return ctx_.config; }
  trust::SnapshotHolder& holder() { return holder_; }
  const std::string& internal_address() const { return internal_address_; }
  // Front-ends: the client listener; edges: the federation listener.
  const std::string& client_address() const { return client_address_; }
  const std::string& federation_address() const { return federation_address_; }
  node::Registry* registry() { return registry_.get(); }
  // Front-ends: the service and the client listener's security (to re-check
  // its open streams); null for other roles.
  node::FrontEndService* frontend() { return frontend_.get(); }
  tls::ListenerSecurity* client_security() { return ctx_.client.get(); }

 private:
  TestNode() = default;

  trust::SnapshotHolder holder_;
  node::NodeContext ctx_;
  std::unique_ptr<node::Registry> registry_;
  std::unique_ptr<node::RegistrarService> registrar_;
  std::unique_ptr<node::FrontEndService> frontend_;
  std::unique_ptr<node::EdgeService> edge_;
  std::unique_ptr<grpc::Server> server_;
  std::string internal_address_;
  std::string client_address_;
  std::string federation_address_;
};

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_SERVER_NODE_NODE_ENV_H_
