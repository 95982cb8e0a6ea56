// The admin commands' flags and the ControlPlane requests they make. Pure:
// the only I/O is reading the files that flags name, so every rule here is
// testable without a control plane.
//
//   client::RootAddFlags f;
//   f.name = "fabrikam-root";
//   f.trust_domain = "fabrikam.test";
//   f.certificate_files = {"pki/fabrikam.test/root.crt"};
//   f.purposes = {"mtls"};
//   f.mutation.expected_revision = 4;
//   TF_ASSIGN_OR_RETURN(v1::AddRootAuthorityRequest req, client::BuildAddRoot(f, "contoso.test"));
//
// Errors are INVALID_ARGUMENT naming the flag ("--purpose: ..."); tfctl
// reports them as usage errors. Rules the control plane owns (PEM contents,
// GUID formats, admission) are left to it, so its messages reach the admin
// unchanged.
#ifndef TRUSTFABRIC_CLIENT_LIB_ADMIN_REQUESTS_H_
#define TRUSTFABRIC_CLIENT_LIB_ADMIN_REQUESTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "trustfabric/v1/control.pb.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::client {

// --expected-revision N, --wait-nodes N | --wait-all, --wait-timeout D.
struct MutationFlags {
  std::optional<uint64_t> expected_revision;
  uint32_t wait_nodes = 0;
  bool wait_all = false;
  // A duration such as "30s"; empty: the control plane's default (10 s).
  std::string wait_timeout;

  bool waits() const { return wait_nodes > 0 || wait_all; }
};
// "--wait-nodes and --wait-all exclude each other", "--wait-timeout: needs
// --wait-nodes or --wait-all", "--wait-timeout: at most 5m", ...
absl::StatusOr<v1::MutationOptions> BuildMutationOptions(const MutationFlags& f);

// "mtls" or "token-signing" (also "token_signing"), case-insensitive.
absl::StatusOr<v1::Purpose> ParsePurpose(absl::string_view text);
// "rs256", "es256" or "eddsa", case-insensitive.
absl::StatusOr<v1::SigningAlgorithm> ParseAlgorithm(absl::string_view text);
// "ADDRESS=SERVERNAME", e.g. "127.0.0.13:7443=edge1.fabrikam.test".
absl::StatusOr<v1::Endpoint> ParseEndpoint(absl::string_view text);
// 64 hex digits, upper or lower case, optionally colon-separated pairs (as
// `openssl x509 -fingerprint -sha256` prints them); returns lower-case hex.
absl::StatusOr<std::string> NormalizeSha256(absl::string_view text, absl::string_view flag);

// root add --name N [--trust-domain D] --certificate FILE... [--purpose P...]
struct RootAddFlags {
  std::string name;
  // Empty: the administered (local) domain.
  std::string trust_domain;
  std::vector<std::string> certificate_files;
  // Empty: mtls.
  std::vector<std::string> purposes;
  MutationFlags mutation;
};
absl::StatusOr<v1::AddRootAuthorityRequest> BuildAddRoot(const RootAddFlags& f,
                                                         absl::string_view local_domain);

// root remove --name N [--force]
struct RootRemoveFlags {
  std::string name;
  bool force = false;
  MutationFlags mutation;
};
absl::StatusOr<v1::RemoveRootAuthorityRequest> BuildRemoveRoot(const RootRemoveFlags& f);

// issuer add --name N --registered-issuer-name <guid>@<realm> --certificate FILE...
//   [--algorithm A...] [--trust-broker --client-id GUID...] [--allow-user-delegation]
struct IssuerAddFlags {
  std::string name;
  std::string registered_issuer_name;
  // One signing certificate per file (several during key rotation).
  std::vector<std::string> certificate_files;
  // Empty: rs256, as the add-in model signs.
  std::vector<std::string> algorithms;
  bool trust_broker = false;
  std::vector<std::string> client_ids;
  bool allow_user_delegation = false;
  MutationFlags mutation;
};
absl::StatusOr<v1::AddTokenIssuerRequest> BuildAddIssuer(const IssuerAddFlags& f);

// issuer remove --name N
struct IssuerRemoveFlags {
  std::string name;
  MutationFlags mutation;
};
absl::StatusOr<v1::RemoveTokenIssuerRequest> BuildRemoveIssuer(const IssuerRemoveFlags& f);

// peer add --trust-domain D --root NAME... --endpoint ADDRESS=SERVERNAME...
//   --allowed-server NAME... [--disabled]
struct PeerAddFlags {
  std::string trust_domain;
  std::vector<std::string> roots;
  std::vector<std::string> endpoints;
  std::vector<std::string> allowed_servers;
  bool disabled = false;
  MutationFlags mutation;
};
absl::StatusOr<v1::PutFederationPeerRequest> BuildPutPeer(const PeerAddFlags& f);

// peer remove --trust-domain D; peer enable|disable --trust-domain D
struct PeerKeyFlags {
  std::string trust_domain;
  MutationFlags mutation;
};
absl::StatusOr<v1::RemoveFederationPeerRequest> BuildRemovePeer(const PeerKeyFlags& f);
// The put that turns `f.trust_domain`'s peer in `current` (a listing) into
// an enabled or disabled one, everything else unchanged. Unless the flags
// name an expected revision, the listing's revision is expected, so a
// concurrent change to the peers makes the put fail with ABORTED instead of
// being overwritten. NOT_FOUND when `current` has no such peer.
absl::StatusOr<v1::PutFederationPeerRequest> BuildSetPeerEnabled(
    const v1::ListFederationPeersResponse& current, const PeerKeyFlags& f, bool enabled);

// revoke (exactly one target)
//   --certificate FILE [--key]   the certificate's signed body, or its key
//   --sha256 HEX [--key] [--der-only]
//                                a DER hash, resolved by the control plane
//   --tbs-sha256 HEX             a signed body (SHA-256 of the TBSCertificate)
//   --key-sha256 HEX             a key (SHA-256 of the SubjectPublicKeyInfo)
//   --issuer-cert FILE --serial HEX
//                                issuer (by its key, from FILE) + serial
// [--reason R] [--force]
struct RevokeFlags {
  std::string certificate_file;
  std::string sha256;
  std::string tbs_sha256;
  std::string key_sha256;
  std::string issuer_cert_file;
  std::string serial;
  // --key: revoke the certificate's key (every certificate carrying it).
  bool revoke_key = false;
  bool der_only = false;
  std::string reason;
  bool force = false;
  MutationFlags mutation;
};
absl::StatusOr<v1::RevokeCertificateRequest> BuildRevoke(const RevokeFlags& f);

// unrevoke KEY | --sha256 HEX: a revocation key as `revoke list` shows it,
// or a DER hash (every revocation requested by or resolved from it).
struct UnrevokeFlags {
  std::string key;
  std::string sha256;
  MutationFlags mutation;
};
absl::StatusOr<v1::UnrevokeCertificateRequest> BuildUnrevoke(const UnrevokeFlags& f);

// audit [--since REV] [--limit N]
struct AuditFlags {
  uint64_t since = 0;
  // The first `limit` records after `since`, oldest first; 0: the control
  // plane's default (100).
  uint32_t limit = 0;
};
absl::StatusOr<v1::GetAuditLogRequest> BuildAuditRequest(const AuditFlags& f);

}  // namespace trustfabric::client

#endif  // TRUSTFABRIC_CLIENT_LIB_ADMIN_REQUESTS_H_
