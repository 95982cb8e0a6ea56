// Cross-domain trust for a local cluster; see cluster_bootstrap.h.
#include "client/devcluster/cluster_bootstrap.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/lib/control_client.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"
#include "common/time/proto_time.h"

namespace trustfabric::devcluster {
namespace {

constexpr size_t kMaxPemBytes = 1 << 20;

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFileLimited(path, kMaxPemBytes);
  if (!pem.ok())
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", pem.status().message()));
  return pem;
}

// A root authority `name` of `trust_domain` for `purpose`, whose addition
// waits as `wait` says.
v1::AddRootAuthorityRequest AddRoot(const std::string& name, const std::string& trust_domain,
                                    std::string pem, v1::Purpose purpose,
                                    const v1::MutationOptions& wait) {
  v1::AddRootAuthorityRequest request;
  v1::RootAuthority* root = request.mutable_root();
  root->set_name(name);
  root->set_trust_domain(trust_domain);
  root->set_certificates_pem(std::move(pem));
  root->add_purposes(purpose);
  *request.mutable_options() = wait;
  return request;
}

v1::MutationOptions WaitForAllNodes(const BootstrapOptions& options) {
  v1::MutationOptions m;
  v1::PropagationWait* wait = m.mutable_wait();
  wait->set_all_nodes(true);
  *wait->mutable_timeout() =
      ToProtoDuration(absl::Trunc(options.propagation_timeout, absl::Milliseconds(1)));
  return m;
}

std::string Applied(const v1::MutationResponse& r) {
  return absl::StrCat("revision ", r.revision(), ", applied by ", r.applied_nodes(), " of ",
                      r.connected_nodes(), " connected nodes");
}

absl::StatusOr<v1::MutationResponse> Apply(client::ControlClient& control,
                                           const BootstrapMutation& mutation) {
  if (const auto* root = std::get_if<v1::AddRootAuthorityRequest>(&mutation.request)) {
    return control.AddRootAuthority(*root);
  }
  if (const auto* issuer = std::get_if<v1::AddTokenIssuerRequest>(&mutation.request)) {
    return control.AddTokenIssuer(*issuer);
  }
  return control.PutFederationPeer(std::get<v1::PutFederationPeerRequest>(mutation.request));
}

}  // namespace

client::ControlClientOptions AdminControlOptions(const ClusterDomain& domain, std::string root_pem,
                                                 absl::Duration call_timeout) {
  client::ControlClientOptions options;
  options.address = domain.control().address();
  options.server_name = domain.control().server_name();
  options.trust_domain = domain.domain();
  options.certificate_file = domain.admin_cert();
  options.key_file = domain.admin_key();
  options.bootstrap_roots_pem = std::move(root_pem);
  options.timeout = call_timeout;
  return options;
}

absl::StatusOr<std::vector<BootstrapMutation>> BootstrapPlan(const ClusterLayout& layout,
                                                             const ClusterDomain& domain,
                                                             const BootstrapOptions& options) {
  const ClusterDomain* partner = FindDomain(layout, domain.partner());
  if (partner == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(domain.domain(), ": partner ", domain.partner(), " is not in the cluster"));
  }
  const v1::MutationOptions wait = WaitForAllNodes(options);
  std::vector<BootstrapMutation> plan;

  TF_ASSIGN_OR_RETURN(std::string partner_root, ReadPem(partner->root()));
  plan.push_back(
      {absl::StrCat("root ", domain.partner_root_name(), " (", partner->domain(), ", mtls)"),
       AddRoot(domain.partner_root_name(), partner->domain(), std::move(partner_root), v1::MTLS,
               wait)});

  for (const ClusterApp& app : domain.apps()) {
    TF_ASSIGN_OR_RETURN(std::string cert, ReadPem(app.cert()));
    if (app.self_signed()) {
      plan.push_back(
          {absl::StrCat("root ", app.signing_root_name(), " (", app.name(),
                        " self-signed, token-signing)"),
           AddRoot(app.signing_root_name(), domain.domain(), cert, v1::TOKEN_SIGNING, wait)});
    }
    v1::AddTokenIssuerRequest add_issuer;
    v1::TokenIssuer* issuer = add_issuer.mutable_issuer();
    issuer->set_name(app.name());
    issuer->set_registered_issuer_name(app.registered_issuer_name());
    issuer->add_signing_certificates_pem(cert);
    issuer->add_algorithms(v1::RS256);
    issuer->set_allow_user_delegation(true);
    *add_issuer.mutable_options() = wait;
    plan.push_back({absl::StrCat("issuer ", app.name(), " (", app.registered_issuer_name(), ")"),
                    std::move(add_issuer)});
  }

  v1::PutFederationPeerRequest put_peer;
  v1::FederationPeer* peer = put_peer.mutable_peer();
  peer->set_trust_domain(partner->domain());
  peer->add_root_authority_names(domain.partner_root_name());
  v1::Endpoint* endpoint = peer->add_endpoints();
  endpoint->set_address(partner->federation().address());
  endpoint->set_server_name(partner->federation().server_name());
  peer->add_allowed_server_names(partner->federation().server_name());
  peer->set_enabled(true);
  *put_peer.mutable_options() = wait;
  plan.push_back(
      {absl::StrCat("peer ", partner->domain(), " (", partner->federation().server_name(), " at ",
                    partner->federation().address(), ")"),
       std::move(put_peer)});
  return plan;
}

absl::Status BootstrapCluster(const ClusterLayout& layout, const BootstrapOptions& options,
                              std::ostream& progress) {
  for (const ClusterDomain& domain : layout.domains()) {
    TF_ASSIGN_OR_RETURN(std::vector<BootstrapMutation> plan,
                        BootstrapPlan(layout, domain, options));
    TF_ASSIGN_OR_RETURN(std::string root_pem, ReadPem(domain.root()));
    absl::StatusOr<std::unique_ptr<client::ControlClient>> control = client::ControlClient::Create(
        AdminControlOptions(domain, std::move(root_pem), options.call_timeout));
    if (!control.ok()) return Annotate(control.status(), domain.domain());

    for (const BootstrapMutation& mutation : plan) {
      absl::StatusOr<v1::MutationResponse> applied = Apply(**control, mutation);
      if (absl::IsAlreadyExists(applied.status())) {
        progress << domain.domain() << ": " << mutation.what << ": already present" << std::endl;
        continue;
      }
      if (!applied.ok()) {
        return Annotate(applied.status(), absl::StrCat(domain.domain(), ": ", mutation.what));
      }
      progress << domain.domain() << ": " << mutation.what << ": " << Applied(*applied)
               << std::endl;
    }
  }
  return absl::OkStatus();
}

}  // namespace trustfabric::devcluster
