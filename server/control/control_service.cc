// Admin API gRPC layer; see control_service.h.
#include "server/control/control_service.h"

#include <chrono>
#include <utility>

#include "absl/time/clock.h"
#include "common/tls/grpc_status.h"

namespace trustfabric::control {
namespace {

// Runs a mutation of the domain class and copies its response out.
template <typename Request, typename Method>
grpc::Status RunMutation(const absl::StatusOr<Caller>& caller, const Request& request,
                         v1::MutationResponse* response, Method method) {
  if (!caller.ok()) return tls::ToGrpcStatus(caller.status());
  absl::StatusOr<v1::MutationResponse> result = method(*caller, request);
  if (!result.ok()) return tls::ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

absl::StatusOr<Caller> ControlService::CallerOf(const grpc::ServerContext& context) const {
  absl::StatusOr<tls::PeerIdentityPtr> peer = security_->PeerOf(context);
  if (!peer.ok()) return peer.status();
  Caller caller;
  caller.actor = (*peer)->spiffe_id.ToString();
  const auto deadline = context.deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    caller.deadline = absl::FromChrono(deadline);
  }
  return caller;
}

grpc::Status ControlService::AddRootAuthority(grpc::ServerContext* context,
                                              const v1::AddRootAuthorityRequest* request,
                                              v1::MutationResponse* response) {
  return RunMutation(
      CallerOf(*context), *request, response,
      [this](const Caller& c, const auto& r) { return control_->AddRootAuthority(c, r); });
}

grpc::Status ControlService::RemoveRootAuthority(grpc::ServerContext* context,
                                                 const v1::RemoveRootAuthorityRequest* request,
                                                 v1::MutationResponse* response) {
  return RunMutation(
      CallerOf(*context), *request, response,
      [this](const Caller& c, const auto& r) { return control_->RemoveRootAuthority(c, r); });
}

grpc::Status ControlService::AddTokenIssuer(grpc::ServerContext* context,
                                            const v1::AddTokenIssuerRequest* request,
                                            v1::MutationResponse* response) {
  return RunMutation(
      CallerOf(*context), *request, response,
      [this](const Caller& c, const auto& r) { return control_->AddTokenIssuer(c, r); });
}

grpc::Status ControlService::RemoveTokenIssuer(grpc::ServerContext* context,
                                               const v1::RemoveTokenIssuerRequest* request,
                                               v1::MutationResponse* response) {
  return RunMutation(
      CallerOf(*context), *request, response,
      [this](const Caller& c, const auto& r) { return control_->RemoveTokenIssuer(c, r); });
}

grpc::Status ControlService::PutFederationPeer(grpc::ServerContext* context,
                                               const v1::PutFederationPeerRequest* request,
                                               v1::MutationResponse* response) {
  return RunMutation(
      CallerOf(*context), *request, response,
      [this](const Caller& c, const auto& r) { return control_->PutFederationPeer(c, r); });
}

grpc::Status ControlService::RemoveFederationPeer(grpc::ServerContext* context,
                                                  const v1::RemoveFederationPeerRequest* request,
                                                  v1::MutationResponse* response) {
  return RunMutation(
      CallerOf(*context), *request, response,
      [this](const Caller& c, const auto& r) { return control_->RemoveFederationPeer(c, r); });
}

grpc::Status ControlService::RevokeCertificate(grpc::ServerContext* context,
                                               const v1::RevokeCertificateRequest* request,
                                               v1::MutationResponse* response) {
  return RunMutation(
      CallerOf(*context), *request, response,
      [this](const Caller& c, const auto& r) { return control_->RevokeCertificate(c, r); });
}

grpc::Status ControlService::UnrevokeCertificate(grpc::ServerContext* context,
                                                 const v1::UnrevokeCertificateRequest* request,
                                                 v1::MutationResponse* response) {
  return RunMutation(
      CallerOf(*context), *request, response,
      [this](const Caller& c, const auto& r) { return control_->UnrevokeCertificate(c, r); });
}

grpc::Status ControlService::ListRootAuthorities(grpc::ServerContext*,
                                                 const v1::ListRootAuthoritiesRequest*,
                                                 v1::ListRootAuthoritiesResponse* response) {
  *response = control_->ListRootAuthorities();
  return grpc::Status::OK;
}

grpc::Status ControlService::ListTokenIssuers(grpc::ServerContext*,
                                              const v1::ListTokenIssuersRequest*,
                                              v1::ListTokenIssuersResponse* response) {
  *response = control_->ListTokenIssuers();
  return grpc::Status::OK;
}

grpc::Status ControlService::ListFederationPeers(grpc::ServerContext*,
                                                 const v1::ListFederationPeersRequest*,
                                                 v1::ListFederationPeersResponse* response) {
  *response = control_->ListFederationPeers();
  return grpc::Status::OK;
}

grpc::Status ControlService::ListRevocations(grpc::ServerContext*,
                                             const v1::ListRevocationsRequest*,
                                             v1::ListRevocationsResponse* response) {
  *response = control_->ListRevocations();
  return grpc::Status::OK;
}

grpc::Status ControlService::GetSnapshot(grpc::ServerContext*, const v1::GetSnapshotRequest*,
                                         v1::TrustSnapshot* response) {
  *response = control_->GetSnapshot();
  return grpc::Status::OK;
}

grpc::Status ControlService::GetPropagationStatus(grpc::ServerContext*,
                                                  const v1::GetPropagationStatusRequest*,
                                                  v1::GetPropagationStatusResponse* response) {
  *response = control_->GetPropagationStatus();
  return grpc::Status::OK;
}

grpc::Status ControlService::GetAuditLog(grpc::ServerContext*,
                                         const v1::GetAuditLogRequest* request,
                                         v1::GetAuditLogResponse* response) {
  absl::StatusOr<v1::GetAuditLogResponse> result = control_->GetAuditLog(*request);
  if (!result.ok()) return tls::ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace trustfabric::control
