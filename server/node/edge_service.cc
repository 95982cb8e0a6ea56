// EdgeService; see edge_service.h.
#include "server/node/edge_service.h"

#include "common/tls/grpc_status.h"

namespace trustfabric::node {

grpc::Status EdgeService::Relay(grpc::ServerContext* context, const v1::RelayRequest* request,
                                v1::RelayResponse* response) {
  tls::ListenerSecurity* security = ctx_->SecurityOf(*context);
  absl::StatusOr<tls::PeerIdentityPtr> caller = security->PeerOf(*context);
  if (!caller.ok()) return tls::ToGrpcStatus(caller.status());
  const EdgeRelay::Direction direction = security == ctx_->federation.get()
                                             ? EdgeRelay::Direction::kInbound
                                             : EdgeRelay::Direction::kOutbound;
  absl::StatusOr<v1::RelayResponse> relayed = relay_.Relay(direction, **caller, request->message());
  if (!relayed.ok()) return tls::ToGrpcStatus(relayed.status());
  *response = *std::move(relayed);
  return grpc::Status::OK;
}

}  // namespace trustfabric::node
