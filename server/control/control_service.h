// ControlService: the ControlPlane admin API over gRPC, a thin translation
// onto the domain class (control_plane.h).
//
// The listener's per-call processor has already verified the caller and
// applied the method policy (admins of the local domain only); this layer
// takes the caller's SPIFFE ID as the audit actor and the call deadline as
// the bound of a propagation wait.
//
//   ControlService service(control_plane.get(), listener_security);
//   builder.RegisterService(&service);
#ifndef TRUSTFABRIC_SERVER_CONTROL_CONTROL_SERVICE_H_
#define TRUSTFABRIC_SERVER_CONTROL_CONTROL_SERVICE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/tls/server_security.h"
#include "server/control/control_plane.h"
#include "trustfabric/v1/control.grpc.pb.h"

namespace trustfabric::control {

class ControlService final : public v1::ControlPlane::Service {
 public:
  // `control` and `security` (the listener calls arrive on) must outlive
  // the service.
  ControlService(ControlPlane* control, std::shared_ptr<tls::ListenerSecurity> security)
      : control_(control), security_(std::move(security)) {}

  grpc::Status AddRootAuthority(grpc::ServerContext* context,
                                const v1::AddRootAuthorityRequest* request,
                                v1::MutationResponse* response) override;
  grpc::Status RemoveRootAuthority(grpc::ServerContext* context,
                                   const v1::RemoveRootAuthorityRequest* request,
                                   v1::MutationResponse* response) override;
  grpc::Status ListRootAuthorities(grpc::ServerContext* context,
                                   const v1::ListRootAuthoritiesRequest* request,
                                   v1::ListRootAuthoritiesResponse* response) override;
  grpc::Status AddTokenIssuer(grpc::ServerContext* context,
                              const v1::AddTokenIssuerRequest* request,
                              v1::MutationResponse* response) override;
  grpc::Status RemoveTokenIssuer(grpc::ServerContext* context,
                                 const v1::RemoveTokenIssuerRequest* request,
                                 v1::MutationResponse* response) override;
  grpc::Status ListTokenIssuers(grpc::ServerContext* context,
                                const v1::ListTokenIssuersRequest* request,
                                v1::ListTokenIssuersResponse* response) override;
  grpc::Status PutFederationPeer(grpc::ServerContext* context,
                                 const v1::PutFederationPeerRequest* request,
                                 v1::MutationResponse* response) override;
  grpc::Status RemoveFederationPeer(grpc::ServerContext* context,
                                    const v1::RemoveFederationPeerRequest* request,
                                    v1::MutationResponse* response) override;
  grpc::Status ListFederationPeers(grpc::ServerContext* context,
                                   const v1::ListFederationPeersRequest* request,
                                   v1::ListFederationPeersResponse* response) override;
  grpc::Status RevokeCertificate(grpc::ServerContext* context,
                                 const v1::RevokeCertificateRequest* request,
                                 v1::MutationResponse* response) override;
  grpc::Status UnrevokeCertificate(grpc::ServerContext* context,
                                   const v1::UnrevokeCertificateRequest* request,
                                   v1::MutationResponse* response) override;
  grpc::Status ListRevocations(grpc::ServerContext* context,
                               const v1::ListRevocationsRequest* request,
                               v1::ListRevocationsResponse* response) override;
  grpc::Status GetSnapshot(grpc::ServerContext* context, const v1::GetSnapshotRequest* request,
                           v1::TrustSnapshot* response) override;
  grpc::Status GetPropagationStatus(grpc::ServerContext* context,
                                    const v1::GetPropagationStatusRequest* request,
                                    v1::GetPropagationStatusResponse* response) override;
  grpc::Status GetAuditLog(grpc::ServerContext* context, const v1::GetAuditLogRequest* request,
                           v1::GetAuditLogResponse* response) override;

 private:
  absl::StatusOr<Caller> CallerOf(const grpc::ServerContext& context) const;

  ControlPlane* const control_;
  const std::shared_ptr<tls::ListenerSecurity> security_;
};

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_CONTROL_SERVICE_H_
