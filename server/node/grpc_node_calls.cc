// GrpcNodeCalls; see grpc_node_calls.h.
#include "server/node/grpc_node_calls.h"

#include "common/tls/grpc_status.h"
#include "server/node/node_context.h"
#include "trustfabric/v1/node.grpc.pb.h"

namespace trustfabric::node {
namespace {

// One unary call through `method` of `stub` with the node call deadline:
// the response, or the call's status.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Call(const std::unique_ptr<Stub>& stub,
                              grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                           Response*),
                              const Request& request) {
  Response response;
  auto call = NodeCallContext();
  grpc::Status status = ((*stub).*method)(call.get(), request, &response);
  if (!status.ok()) return tls::FromGrpcStatus(status);
  return response;
}

}  // namespace

std::shared_ptr<grpc::Channel> GrpcNodeCalls::ChannelTo(const NodeTarget& target) const {
  return channels_->Get({target.address, target.server_name, target.trust_domain, {target.role}});
}

absl::Status GrpcNodeCalls::Register(const NodeTarget& registrar,
                                     const v1::RegisterRequest& request) {
  return Call(v1::Registrar::NewStub(ChannelTo(registrar)), &v1::Registrar::Stub::Register, request)
      .status();
}

absl::StatusOr<v1::LookupResponse> GrpcNodeCalls::Lookup(const NodeTarget& registrar,
                                                         const v1::LookupRequest& request) {
  return Call(v1::Registrar::NewStub(ChannelTo(registrar)), &v1::Registrar::Stub::Lookup, request);
}

absl::StatusOr<v1::DeliverResponse> GrpcNodeCalls::Deliver(const NodeTarget& frontend,
                                                           const v1::DeliverRequest& request) {
  return Call(v1::FrontEnd::NewStub(ChannelTo(frontend)), &v1::FrontEnd::Stub::Deliver, request);
}

absl::StatusOr<v1::RelayResponse> GrpcNodeCalls::Relay(const NodeTarget& edge,
                                                       const v1::RelayRequest& request) {
  return Call(v1::Edge::NewStub(ChannelTo(edge)), &v1::Edge::Stub::Relay, request);
}

}  // namespace trustfabric::node
