// ControlClient; see control_client.h.
#include "client/lib/control_client.h"

#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/pki/certificate.h"
#include "common/pki/verify.h"
#include "common/status/status.h"
#include "common/time/proto_time.h"
#include "common/tls/grpc_status.h"
#include "common/tls/rejections.h"

#include <grpcpp/client_context.h>

namespace trustfabric::client {
namespace {

// The control plane's own default and ceiling for a propagation wait
// (control.proto, PropagationWait.timeout).
constexpr absl::Duration kDefaultWait = absl::Seconds(10);
constexpr absl::Duration kMaxWait = absl::Minutes(5);

absl::Status Required(const std::string& value, absl::string_view field) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  return absl::OkStatus();
}

}  // namespace

absl::Duration PropagationAllowance(const v1::MutationOptions& options) {
  if (!options.has_wait()) return absl::ZeroDuration();
  const v1::PropagationWait& wait = options.wait();
  if (wait.min_nodes() == 0 && !wait.all_nodes()) return absl::ZeroDuration();
  if (!wait.has_timeout()) return kDefaultWait;
  absl::Duration d = FromProtoDuration(wait.timeout());
  if (d <= absl::ZeroDuration()) return kDefaultWait;
  return std::min(d, kMaxWait);
}

absl::StatusOr<std::unique_ptr<ControlClient>> ControlClient::Create(ControlClientOptions options) {
  TF_RETURN_IF_ERROR(Required(options.address, "address"));
  TF_RETURN_IF_ERROR(Required(options.server_name, "server_name"));
  TF_RETURN_IF_ERROR(Required(options.trust_domain, "trust_domain"));
  TF_RETURN_IF_ERROR(Required(options.certificate_file, "certificate_file"));
  TF_RETURN_IF_ERROR(Required(options.key_file, "key_file"));
  TF_RETURN_IF_ERROR(Required(options.bootstrap_roots_pem, "bootstrap_roots"));
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout: must be positive");
  }
  absl::StatusOr<std::vector<pki::Certificate>> roots =
      pki::ParsePemBundle(options.bootstrap_roots_pem);
  if (!roots.ok()) return Annotate(roots.status(), "bootstrap_roots");
  absl::StatusOr<std::shared_ptr<const pki::RootStore>> store = pki::RootStore::Create(*roots);
  if (!store.ok()) return Annotate(store.status(), "bootstrap_roots");

  auto holder = std::make_unique<trust::SnapshotHolder>();
  auto source =
      std::make_shared<tls::TrustSource>(holder.get(), options.trust_domain, *std::move(store));
  TF_ASSIGN_OR_RETURN(
      std::shared_ptr<tls::ChannelCache> channels,
      tls::ChannelCache::Create({options.certificate_file, options.key_file, 1}, source));
  return std::unique_ptr<ControlClient>(new ControlClient(std::move(options), std::move(holder),
                                                          std::move(source), std::move(channels)));
}

ControlClient::ControlClient(ControlClientOptions options,
                             std::unique_ptr<trust::SnapshotHolder> holder,
                             std::shared_ptr<tls::TrustSource> source,
                             std::shared_ptr<tls::ChannelCache> channels)
    : options_(std::move(options)),
      target_{options_.address, options_.server_name, options_.trust_domain, {pki::Role::kControl}},
      holder_(std::move(holder)),
      source_(std::move(source)),
      channels_(std::move(channels)) {}

template <typename Request, typename Response, typename Method>
absl::StatusOr<Response> ControlClient::Call(Method method, const Request& request,
                                             absl::Duration extra) {
  // A fresh stub per call is cheap, and Get hands out a new channel when the
  // bundle that verifies the control plane changed (an adopted snapshot).
  std::unique_ptr<v1::ControlPlane::Stub> stub = v1::ControlPlane::NewStub(channels_->Get(target_));
  const absl::Time started = absl::Now();
  const absl::Time deadline = started + options_.timeout + extra;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  Response response;
  absl::Status status = tls::FromGrpcStatus(((*stub).*method)(&context, request, &response));
  if (!status.ok()) return Explain(status, started, deadline);
  return response;
}

absl::Status ControlClient::Explain(const absl::Status& status, absl::Time started,
                                    absl::Time deadline) const {
  const std::string where =
      absl::StrCat("control plane ", target_.server_name, " at ", target_.address);
  if (status.code() == absl::StatusCode::kUnavailable) {
    // The handshake verifier records why it refused the server; gRPC itself
    // only reports that no connection could be made.
    std::vector<tls::Rejection> recent = tls::RecentRejections();
    for (auto it = recent.rbegin(); it != recent.rend() && it->time >= started; ++it) {
      if (it->listener == "outbound" &&
          it->peer == absl::StrCat(target_.server_name, " at ", target_.address)) {
        return absl::UnauthenticatedError(
            absl::StrCat(where, " is not trusted: ", it->rule, ": ", it->reason));
      }
    }
    // A server that refuses our certificate closes the connection during
    // the handshake; gRPC cannot tell that from other failures, so say both.
    const bool closed_in_setup = absl::StrContains(status.message(), "Socket closed") ||
                                 absl::StrContains(status.message(), "andshake");
    return absl::UnavailableError(
        absl::StrCat(where, ": ", status.message(),
                     closed_in_setup ? " (it may not trust our certificate)" : ""));
  }
  // gRPC's own message for the call's deadline (a control plane's
  // DEADLINE_EXCEEDED for a propagation wait says what it waited for). Not
  // compared with absl::Now(): gRPC times the deadline on its monotonic
  // clock, which can fire a moment before the wall clock reaches it.
  if (status.code() == absl::StatusCode::kDeadlineExceeded &&
      status.message() == "Deadline Exceeded") {
    return absl::DeadlineExceededError(
        absl::StrCat(where, ": no answer within ", absl::FormatDuration(deadline - started)));
  }
  return status;
}

absl::StatusOr<v1::MutationResponse> ControlClient::AddRootAuthority(
    const v1::AddRootAuthorityRequest& req) {
  return Call<v1::AddRootAuthorityRequest, v1::MutationResponse>(
      &v1::ControlPlane::Stub::AddRootAuthority, req, PropagationAllowance(req.options()));
}

absl::StatusOr<v1::MutationResponse> ControlClient::RemoveRootAuthority(
    const v1::RemoveRootAuthorityRequest& req) {
  return Call<v1::RemoveRootAuthorityRequest, v1::MutationResponse>(
      &v1::ControlPlane::Stub::RemoveRootAuthority, req, PropagationAllowance(req.options()));
}

absl::StatusOr<v1::ListRootAuthoritiesResponse> ControlClient::ListRootAuthorities() {
  return Call<v1::ListRootAuthoritiesRequest, v1::ListRootAuthoritiesResponse>(
      &v1::ControlPlane::Stub::ListRootAuthorities, v1::ListRootAuthoritiesRequest());
}

absl::StatusOr<v1::MutationResponse> ControlClient::AddTokenIssuer(
    const v1::AddTokenIssuerRequest& req) {
  return Call<v1::AddTokenIssuerRequest, v1::MutationResponse>(
      &v1::ControlPlane::Stub::AddTokenIssuer, req, PropagationAllowance(req.options()));
}

absl::StatusOr<v1::MutationResponse> ControlClient::RemoveTokenIssuer(
    const v1::RemoveTokenIssuerRequest& req) {
  return Call<v1::RemoveTokenIssuerRequest, v1::MutationResponse>(
      &v1::ControlPlane::Stub::RemoveTokenIssuer, req, PropagationAllowance(req.options()));
}

absl::StatusOr<v1::ListTokenIssuersResponse> ControlClient::ListTokenIssuers() {
  return Call<v1::ListTokenIssuersRequest, v1::ListTokenIssuersResponse>(
      &v1::ControlPlane::Stub::ListTokenIssuers, v1::ListTokenIssuersRequest());
}

absl::StatusOr<v1::MutationResponse> ControlClient::PutFederationPeer(
    const v1::PutFederationPeerRequest& req) {
  return Call<v1::PutFederationPeerRequest, v1::MutationResponse>(
      &v1::ControlPlane::Stub::PutFederationPeer, req, PropagationAllowance(req.options()));
}

absl::StatusOr<v1::MutationResponse> ControlClient::RemoveFederationPeer(
    const v1::RemoveFederationPeerRequest& req) {
  return Call<v1::RemoveFederationPeerRequest, v1::MutationResponse>(
      &v1::ControlPlane::Stub::RemoveFederationPeer, req, PropagationAllowance(req.options()));
}

absl::StatusOr<v1::ListFederationPeersResponse> ControlClient::ListFederationPeers() {
  return Call<v1::ListFederationPeersRequest, v1::ListFederationPeersResponse>(
      &v1::ControlPlane::Stub::ListFederationPeers, v1::ListFederationPeersRequest());
}

absl::StatusOr<v1::MutationResponse> ControlClient::RevokeCertificate(
    const v1::RevokeCertificateRequest& req) {
  return Call<v1::RevokeCertificateRequest, v1::MutationResponse>(
      &v1::ControlPlane::Stub::RevokeCertificate, req, PropagationAllowance(req.options()));
}

absl::StatusOr<v1::MutationResponse> ControlClient::UnrevokeCertificate(
    const v1::UnrevokeCertificateRequest& req) {
  return Call<v1::UnrevokeCertificateRequest, v1::MutationResponse>(
      &v1::ControlPlane::Stub::UnrevokeCertificate, req, PropagationAllowance(req.options()));
}

absl::StatusOr<v1::ListRevocationsResponse> ControlClient::ListRevocations() {
  return Call<v1::ListRevocationsRequest, v1::ListRevocationsResponse>(
      &v1::ControlPlane::Stub::ListRevocations, v1::ListRevocationsRequest());
}

absl::StatusOr<v1::TrustSnapshot> ControlClient::GetSnapshot() {
  return Call<v1::GetSnapshotRequest, v1::TrustSnapshot>(&v1::ControlPlane::Stub::GetSnapshot,
                                                         v1::GetSnapshotRequest());
}

absl::StatusOr<v1::GetPropagationStatusResponse> ControlClient::GetPropagationStatus() {
  return Call<v1::GetPropagationStatusRequest, v1::GetPropagationStatusResponse>(
      &v1::ControlPlane::Stub::GetPropagationStatus, v1::GetPropagationStatusRequest());
}

absl::StatusOr<v1::GetAuditLogResponse> ControlClient::GetAuditLog(
    const v1::GetAuditLogRequest& req) {
  return Call<v1::GetAuditLogRequest, v1::GetAuditLogResponse>(&v1::ControlPlane::Stub::GetAuditLog,
                                                               req);
}

absl::Status ControlClient::AdoptSnapshot(const v1::TrustSnapshot& snapshot) {
  if (snapshot.trust_domain() != options_.trust_domain) {
    return absl::FailedPreconditionError(absl::StrCat(
        "snapshot: trust domain ", snapshot.trust_domain(), " is not ", options_.trust_domain));
  }
  absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> built =
      trust::TrustSnapshot::Create(snapshot);
  if (!built.ok()) return Annotate(built.status(), "snapshot");
  return Annotate(holder_->Swap(*std::move(built)), "snapshot");
}

uint64_t ControlClient::adopted_revision() const {
  std::shared_ptr<const trust::TrustSnapshot> current = holder_->Get();
  return current ? current->revision() : 0;
}

}  // namespace trustfabric::client
