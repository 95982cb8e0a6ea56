// NodeContext; see node_context.h.
#include "server/node/node_context.h"

namespace trustfabric::node {

tls::ListenerSecurity* NodeContext::SecurityOf(const grpc::ServerContextBase& call) const {
  if (federation && tls::ListenerOf(call) == "federation") return federation.get();
  return internal.get();
}

std::unique_ptr<grpc::ClientContext> NodeCallContext() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + kNodeCallTimeout);
  return ctx;
}

}  // namespace trustfabric::node
