// Tokens for cluster users; see cluster_token.h.
#include "client/devcluster/cluster_token.h"

#include "absl/strings/str_cat.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"
#include "common/token/mint.h"

namespace trustfabric::devcluster {
namespace {

constexpr size_t kMaxPemBytes = 1 << 20;

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFileLimited(path, kMaxPemBytes);
  if (!pem.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", pem.status().message()));
  }
  return pem;
}

}  // namespace

absl::StatusOr<std::string> MintClusterUserToken(const ClusterDomain& domain, const ClusterApp& app,
                                                 const std::string& user, const std::string& host) {
  TF_ASSIGN_OR_RETURN(std::string key, ReadPem(app.key()));
  TF_ASSIGN_OR_RETURN(std::string cert, ReadPem(app.cert()));
  TF_ASSIGN_OR_RETURN(token::SigningCredentials credentials,
                      token::SigningCredentials::FromPem(key, cert));
  token::MintOptions options;
  options.issuer_id = app.issuer_id();
  options.client_id = app.client_id();
  options.realm = domain.realm();
  options.principal = kFrontendTokenPrincipal;
  options.host = host.empty() ? domain.frontend().server_name() : host;
  options.lifetime = kClusterTokenLifetime;
  token::UserClaims claims;
  claims.upn = user;
  return token::MintUserToken(options, credentials, claims, /*sign_outer=*/true);
}

}  // namespace trustfabric::devcluster
