// Trust between the two domains of a local cluster (cluster_config.h),
// set up through each control plane's admin API as the domain's
// administrator: the partner's root, the two applications' token issuers,
// and the federation peer.
//
//   TF_ASSIGN_OR_RETURN(devcluster::ClusterLayout layout, devcluster::LoadClusterLayout(dir));
//   TF_RETURN_IF_ERROR(devcluster::BootstrapCluster(layout, {}, std::cout));
//
// For each domain D with partner P, in this order (BootstrapPlan):
//   1. root authority "<P>-root": P's root CA, trust domain P, MTLS
//   2. root authority "app1-signing": app1's self-signed certificate,
//      TOKEN_SIGNING (the add-in model: a self-signed signing certificate
//      is registered as its own root)
//   3. token issuer "app1": "<app1 client id>@<realm>", RS256, user
//      delegation allowed
//   4. token issuer "app2": the same for app2, whose certificate chains to
//      D's root (already TOKEN_SIGNING as the seed root)
//   5. federation peer P: root "<P>-root", endpoint edge1.P's federation
//      listener, trusted server list [edge1.P], enabled
// Every mutation waits until all connected nodes applied it. Idempotent: an
// object that already exists (ALREADY_EXISTS) is left as it is; the peer is
// put (replaced) every time.
#ifndef TRUSTFABRIC_CLIENT_DEVCLUSTER_CLUSTER_BOOTSTRAP_H_
#define TRUSTFABRIC_CLIENT_DEVCLUSTER_CLUSTER_BOOTSTRAP_H_

#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/devcluster/cluster_config.h"
#include "client/lib/control_client.h"
#include "trustfabric/v1/control.pb.h"

namespace trustfabric::devcluster {

struct BootstrapOptions {
  // PropagationWait.timeout of every mutation.
  absl::Duration propagation_timeout = absl::Seconds(10);
  // Deadline of each admin call (the propagation wait comes on top).
  absl::Duration call_timeout = absl::Seconds(10);
};

// One admin API mutation of the plan.
struct BootstrapMutation {
  // e.g. "root fabrikam-root", "issuer app1", "peer fabrikam.test".
  std::string what;
  std::variant<v1::AddRootAuthorityRequest, v1::AddTokenIssuerRequest, v1::PutFederationPeerRequest>
      request;
};

// How the administrator of `domain` reaches its control plane: its address
// and name, the domain's admin certificate and key, `root_pem` (the domain's
// root, read from domain.root()) as the bootstrap bundle, and `call_timeout`
// per call.
client::ControlClientOptions AdminControlOptions(const ClusterDomain& domain, std::string root_pem,
                                                 absl::Duration call_timeout);

// The mutations for `domain` of `layout`, with certificate PEM read from the
// files the layout names. INVALID_ARGUMENT naming the file when one cannot
// be read.
absl::StatusOr<std::vector<BootstrapMutation>> BootstrapPlan(const ClusterLayout& layout,
                                                             const ClusterDomain& domain,
                                                             const BootstrapOptions& options);

// Applies the plan of every domain through its control plane, one progress
// line per mutation to `progress`. Fails with the first refused mutation's
// status, prefixed with the domain and the object.
absl::Status BootstrapCluster(const ClusterLayout& layout, const BootstrapOptions& options,
                              std::ostream& progress);

}  // namespace trustfabric::devcluster

#endif  // TRUSTFABRIC_CLIENT_DEVCLUSTER_CLUSTER_BOOTSTRAP_H_
