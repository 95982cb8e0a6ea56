// What every node role shares at run time: its configuration, the live
// trust state, the listeners' security, and the channels it dials other
// nodes with.
//
//   node::NodeContext ctx = ...;           // built by NodeServer
//   auto stub = v1::Registrar::NewStub(ctx.channels->Get(ctx.RegistrarTarget()));
#ifndef TRUSTFABRIC_SERVER_NODE_NODE_CONTEXT_H_
#define TRUSTFABRIC_SERVER_NODE_NODE_CONTEXT_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/tls/client_security.h"
#include "common/tls/server_security.h"
#include "common/tls/trust_source.h"
#include "common/trust/holder.h"
#include "trustfabric/v1/config.pb.h"

#include <grpcpp/client_context.h>

namespace trustfabric::node {

// Deadline of every node-to-node call.
inline constexpr std::chrono::seconds kNodeCallTimeout{5};

struct NodeContext {
  v1::NodeConfig config;
  trust::SnapshotHolder* holder = nullptr;
  std::shared_ptr<tls::TrustSource> source;
  std::shared_ptr<tls::ChannelCache> channels;
  // Listeners (null where the role has none).
  std::shared_ptr<tls::ListenerSecurity> internal;
  std::shared_ptr<tls::ListenerSecurity> federation;
  std::shared_ptr<tls::ListenerSecurity> client;

  const std::string& trust_domain() const { return config.trust_domain(); }
  const std::string& dns_name() const { return config.dns_name(); }

  // The address configured for `dns_name` (config.addresses), or NOT_FOUND
  // naming the missing entry.
  absl::StatusOr<std::string> AddressOf(const std::string& dns_name) const;
  // The domain's registrar and edge, from config.registrar / config.edge;
  // FAILED_PRECONDITION when not configured.
  absl::StatusOr<tls::Target> RegistrarTarget() const;
  absl::StatusOr<tls::Target> EdgeTarget() const;
  // The listener security that served `call` (internal or federation).
  tls::ListenerSecurity* SecurityOf(const grpc::ServerContextBase& call) const;
};

// A client context with the node call deadline.
std::unique_ptr<grpc::ClientContext> NodeCallContext();

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_NODE_CONTEXT_H_
