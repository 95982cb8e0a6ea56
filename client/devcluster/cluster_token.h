// Access tokens for the users of a local cluster (cluster_config.h): a
// user+app token as one of the domain's applications would issue it (the
// add-in TokenHelper's user+app flow, signed variant: the outer token is
// signed with the application's key too, which a front-end's default
// outer token policy requires; docs/outer-token.md), for the domain's
// front-end.
//
//   const devcluster::ClusterDomain& d = *layout.FindDomain("contoso.test");
//   TF_ASSIGN_OR_RETURN(std::string token,
//                       devcluster::MintClusterUserToken(d, *d.FindApp("app1"),
//                                                    "alice@contoso.test"));
//   // "authorization: Bearer <token>" at fe1.contoso.test
#ifndef TRUSTFABRIC_CLIENT_DEVCLUSTER_CLUSTER_TOKEN_H_
#define TRUSTFABRIC_CLIENT_DEVCLUSTER_CLUSTER_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/devcluster/cluster_config.h"

namespace trustfabric::devcluster {

// Lifetime of a token minted for one command.
inline constexpr absl::Duration kClusterTokenLifetime = absl::Hours(1);

// A user+app token naming `user` (upn), actor and outer token signed with
// `app`'s key (PEM files
// of the cluster's PKI), issuer and client id = the application's, audience
// "00000003-0000-0ff1-ce00-000000000000/<host>@<realm>" with `host`
// defaulting to the domain's front-end. INVALID_ARGUMENT when a key file is
// unreadable or a value is malformed (see token::MintUserToken).
absl::StatusOr<std::string> MintClusterUserToken(const ClusterDomain& domain, const ClusterApp& app,
                                                 const std::string& user,
                                                 const std::string& host = "");

}  // namespace trustfabric::devcluster

#endif  // TRUSTFABRIC_CLIENT_DEVCLUSTER_CLUSTER_TOKEN_H_
