// GrpcNodeCalls; see grpc_node_calls.h.
#include "server/node/grpc_node_calls.h"

#include "common/tls/grpc_status.h"
#include "server/node/node_context.h"
#include "trustfabric/v1/node.grpc.pb.h"

namespace trustfabric::node {
namespace {

// The response, or the call's status.
template <typename Response>
absl::StatusOr<Response> Answer(const grpc::Status& status, Response response) {
  if (!status.ok()) return tls::FromGrpcStatus(status);
  return response;
}

}  // namespace

std::shared_ptr<grpc::Channel> GrpcNodeCalls::ChannelTo(const NodeTarget& target) const {
  return channels_->Get({target.address, target.server_name, target.trust_domain, {target.role}});
}

absl::Status GrpcNodeCalls::Register(const NodeTarget& registrar,
                                     const v1::RegisterRequest& request) {
  v1::RegisterResponse ignored;
  auto call = NodeCallContext();
  return tls::FromGrpcStatus(
      v1::Registrar::NewStub(ChannelTo(registrar))->Register(call.get(), request, &ignored));
}

absl::StatusOr<v1::LookupResponse> GrpcNodeCalls::Lookup(const NodeTarget& registrar,
                                                         const v1::LookupRequest& request) {
  v1::LookupResponse response;
  auto call = NodeCallContext();
  grpc::Status status =
      v1::Registrar::NewStub(ChannelTo(registrar))->Lookup(call.get(), request, &response);
  return Answer(status, std::move(response));
}

absl::StatusOr<v1::DeliverResponse> GrpcNodeCalls::Deliver(const NodeTarget& frontend,
                                                           const v1::DeliverRequest& request) {
  v1::DeliverResponse response;
  auto call = NodeCallContext();
  grpc::Status status =
      v1::FrontEnd::NewStub(ChannelTo(frontend))->Deliver(call.get(), request, &response);
  return Answer(status, std::move(response));
}

absl::StatusOr<v1::RelayResponse> GrpcNodeCalls::Relay(const NodeTarget& edge,
                                                       const v1::RelayRequest& request) {
  v1::RelayResponse response;
  auto call = NodeCallContext();
  grpc::Status status = v1::Edge::NewStub(ChannelTo(edge))->Relay(call.get(), request, &response);
  return Answer(status, std::move(response));
}

}  // namespace trustfabric::node
