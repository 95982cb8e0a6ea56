// What every node role's gRPC services share at run time: its
// configuration, the live trust state, the listeners' security, and the
// channels it dials other nodes with (through GrpcNodeCalls).
//
//   node::NodeContext ctx = ...;           // built by NodeServer
//   node::GrpcNodeCalls calls(ctx.channels);
//   tls::ListenerSecurity* listener = ctx.SecurityOf(server_context);
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

  // The listener security that served `call` (internal or federation).
  tls::ListenerSecurity* SecurityOf(const grpc::ServerContextBase& call) const;
};

// A client context with the node call deadline.
std::unique_ptr<grpc::ClientContext> NodeCallContext();

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_NODE_CONTEXT_H_
