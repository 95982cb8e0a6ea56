// ControlClient: a small client for the control plane's admin API
// (service ControlPlane, docs/design.md §6), over the project's mutual TLS.
//
// The admin presents its own certificate (role `admin` of the local domain)
// and verifies the control plane against a bootstrap root bundle, as a node
// does before its first snapshot (docs/design.md §5). Every call carries a
// deadline; gRPC failures come back as absl::Status with the same code and
// message; a control plane whose certificate we refuse comes back as
// UNAUTHENTICATED naming the rule, one that refuses ours as UNAVAILABLE
// (gRPC only sees the connection closed) with a hint saying so.
//
//   client::ControlClientOptions opts;
//   opts.address = "127.0.0.1:7000";
//   opts.server_name = "control1.contoso.test";
//   opts.trust_domain = "contoso.test";
//   opts.certificate_file = "pki/contoso.test/admin1.crt";
//   opts.key_file = "pki/contoso.test/admin1.key";
//   opts.bootstrap_roots_pem = ReadFile("pki/contoso.test/root.crt");
//   TF_ASSIGN_OR_RETURN(std::unique_ptr<client::ControlClient> control,
//                       client::ControlClient::Create(opts));
//   TF_ASSIGN_OR_RETURN(v1::ListRootAuthoritiesResponse roots,
//                       control->ListRootAuthorities());
//
// Thread-safe: calls may be made from several threads at once.
#ifndef TRUSTFABRIC_CLIENT_LIB_CONTROL_CLIENT_H_
#define TRUSTFABRIC_CLIENT_LIB_CONTROL_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/tls/client_security.h"
#include "common/tls/trust_source.h"
#include "common/trust/holder.h"
#include "common/trust/snapshot.h"
#include "trustfabric/v1/control.grpc.pb.h"
#include "trustfabric/v1/control.pb.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::client {

struct ControlClientOptions {
  // "host:port" of the control plane.
  std::string address;
  // The DNS name its certificate must carry, e.g. "control1.contoso.test".
  std::string server_name;
  // The local trust domain: the control plane's SPIFFE ID must be of this
  // domain, and so must the admin's.
  std::string trust_domain;
  // The admin's PEM chain (leaf first) and key.
  std::string certificate_file;
  std::string key_file;
  // PEM root certificate(s) of the local domain that verify the control
  // plane until a snapshot is adopted (AdoptSnapshot).
  std::string bootstrap_roots_pem;
  // Deadline of every call. A mutation that waits for propagation gets its
  // wait timeout on top.
  absl::Duration timeout = absl::Seconds(10);
};

class ControlClient {
 public:
  // INVALID_ARGUMENT naming the option when an option is empty, the
  // bootstrap roots do not parse, or the identity files are unreadable or
  // do not form a key/certificate pair. Does not connect.
  static absl::StatusOr<std::unique_ptr<ControlClient>> Create(ControlClientOptions options);

  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  const ControlClientOptions& options() const { return options_; }

  // Root authorities.
  absl::StatusOr<v1::MutationResponse> AddRootAuthority(const v1::AddRootAuthorityRequest& req);
  absl::StatusOr<v1::MutationResponse> RemoveRootAuthority(
      const v1::RemoveRootAuthorityRequest& req);
  absl::StatusOr<v1::ListRootAuthoritiesResponse> ListRootAuthorities();

  // Token issuers.
  absl::StatusOr<v1::MutationResponse> AddTokenIssuer(const v1::AddTokenIssuerRequest& req);
  absl::StatusOr<v1::MutationResponse> RemoveTokenIssuer(const v1::RemoveTokenIssuerRequest& req);
  absl::StatusOr<v1::ListTokenIssuersResponse> ListTokenIssuers();

  // Federation peers.
  absl::StatusOr<v1::MutationResponse> PutFederationPeer(const v1::PutFederationPeerRequest& req);
  absl::StatusOr<v1::MutationResponse> RemoveFederationPeer(
      const v1::RemoveFederationPeerRequest& req);
  absl::StatusOr<v1::ListFederationPeersResponse> ListFederationPeers();

  // Revocations.
  absl::StatusOr<v1::MutationResponse> RevokeCertificate(const v1::RevokeCertificateRequest& req);
  absl::StatusOr<v1::MutationResponse> UnrevokeCertificate(
      const v1::UnrevokeCertificateRequest& req);
  absl::StatusOr<v1::ListRevocationsResponse> ListRevocations();

  // State and history.
  absl::StatusOr<v1::TrustSnapshot> GetSnapshot();
  absl::StatusOr<v1::GetPropagationStatusResponse> GetPropagationStatus();
  absl::StatusOr<v1::GetAuditLogResponse> GetAuditLog(const v1::GetAuditLogRequest& req);

  // From now on verifies the control plane against `snapshot` (validated
  // like a node validates one) instead of the bootstrap roots; later calls
  // use a channel built for it. INVALID_ARGUMENT when the snapshot fails
  // structural validation, FAILED_PRECONDITION when it is not newer than an
  // adopted one or is of another trust domain.
  absl::Status AdoptSnapshot(const v1::TrustSnapshot& snapshot);

  // The revision of the adopted snapshot, 0 while the bootstrap roots rule.
  uint64_t adopted_revision() const;

 private:
  ControlClient(ControlClientOptions options, std::unique_ptr<trust::SnapshotHolder> holder,
                std::shared_ptr<tls::TrustSource> source,
                std::shared_ptr<tls::ChannelCache> channels);

  // Runs one unary call with a deadline of options_.timeout + `extra`.
  template <typename Request, typename Response, typename Method>
  absl::StatusOr<Response> Call(Method method, const Request& request,
                                absl::Duration extra = absl::ZeroDuration());

  // A clearer status for a failed call: a refused handshake becomes
  // UNAUTHENTICATED with the verifier's reason; an expired client deadline
  // and an unreachable address name the control plane.
  absl::Status Explain(const absl::Status& status, absl::Time started, absl::Time deadline) const;

  const ControlClientOptions options_;
  const tls::Target target_;
  // Declared before the source and the channels, which point into it.
  const std::unique_ptr<trust::SnapshotHolder> holder_;
  const std::shared_ptr<tls::TrustSource> source_;
  const std::shared_ptr<tls::ChannelCache> channels_;
};

// The extra deadline a mutation's propagation wait needs: its timeout (the
// control plane's default of 10 s when unset), zero without a wait.
absl::Duration PropagationAllowance(const v1::MutationOptions& options);

}  // namespace trustfabric::client

#endif  // TRUSTFABRIC_CLIENT_LIB_CONTROL_CLIENT_H_
