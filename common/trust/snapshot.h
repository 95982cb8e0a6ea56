// TrustSnapshot: one validated, immutable revision of a domain's trust state
// with the lookup structures every verifier needs.
//
// A snapshot is built once from its proto (all structural rules of docs/design.md
// §3 checked, every index and X509 store built), then shared read-only as
// std::shared_ptr<const TrustSnapshot> by any number of threads. Holding the
// pointer keeps that revision alive; nothing in it ever changes.
//
//   TF_ASSIGN_OR_RETURN(std::shared_ptr<const trust::TrustSnapshot> snap,
//                       trust::TrustSnapshot::Create(std::move(proto)));
//   if (const trust::IssuerEntry* issuer = snap->FindIssuer(token_iss)) ...
//   std::shared_ptr<const pki::RootStore> roots = snap->MtlsRoots("contoso.test");
#ifndef TRUSTFABRIC_COMMON_TRUST_SNAPSHOT_H_
#define TRUSTFABRIC_COMMON_TRUST_SNAPSHOT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/pki/certificate.h"
#include "common/pki/verify.h"
#include "common/trust/revocation.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::trust {

// A registered token issuer with its parsed parts.
struct IssuerEntry {
  v1::TokenIssuer proto;
  std::string issuer_guid;  // part of registered_issuer_name before '@'
  std::string realm;        // part after '@'; equals the snapshot realm
  // Parsed signing_certificates_pem, same order.
  std::vector<pki::Certificate> signing_certificates;
  absl::flat_hash_set<int> algorithms;  // v1::SigningAlgorithm values
  // Empty unless proto.trust_broker(); for a per-application issuer the only
  // client id is issuer_guid.
  absl::flat_hash_set<std::string> broker_client_ids;
};

// A federation peer with the roots that anchor its edge certificates.
struct PeerEntry {
  v1::FederationPeer proto;
  // Union of the certificates of the peer's root authorities. Null exactly
  // when inert_reason is non-empty: an inert peer has no usable roots.
  std::shared_ptr<const pki::RootStore> roots;
  absl::flat_hash_set<std::string> allowed_server_names;
  // Non-empty when connections to and from this peer must be refused, with
  // the reason to log and return, e.g. "federation peer fabrikam.test is
  // inert: root authority fabrikam-root was removed" or "federation peer
  // fabrikam.test is disabled".
  std::string inert_reason;
};

class TrustSnapshot {
 public:
  // Checks every structural rule (see validation.h) and builds the derived
  // indexes. INVALID_ARGUMENT naming the field with its index and key, e.g.
  // "roots[2] (contoso-root): certificates_pem: block 1: ...". The
  // required_features rule (CheckRequiredFeatures in revocation.h) is checked
  // first, so a snapshot needing a feature this node lacks is refused with
  // "required_features: feature \"x\" is not supported by this node" (the
  // reason a node NACKs it with). Any revision
  // is accepted, including 0 for a candidate the store has not numbered yet;
  // SnapshotHolder enforces ordering.
  static absl::StatusOr<std::shared_ptr<const TrustSnapshot>> Create(v1::TrustSnapshot proto);
  // Same result as Create(proto), but roots and issuers identical (same key,
  // equal proto) to one in `previous` reuse its parsed and checked
  // certificates instead of parsing them again, so a small delta applied to
  // a large snapshot costs in proportion to the delta. `previous` may be
  // null; it is only read, and is not referenced by the result.
  static absl::StatusOr<std::shared_ptr<const TrustSnapshot>> Create(v1::TrustSnapshot proto,
                                                                     const TrustSnapshot* previous);

  TrustSnapshot(const TrustSnapshot&) = delete;
  TrustSnapshot& operator=(const TrustSnapshot&) = delete;

  uint64_t revision() const { return proto_.revision(); }
  const std::string& trust_domain() const { return proto_.trust_domain(); }
  const std::string& realm() const { return proto_.realm(); }
  const v1::TrustSnapshot& proto() const { return proto_; }

  // The roots with purpose MTLS whose trust_domain is `trust_domain`, or null
  // if there are none. For a partner domain this is the bundle regardless of
  // the FederationPeer; federation code goes through FindPeer instead.
  std::shared_ptr<const pki::RootStore> MtlsRoots(absl::string_view trust_domain) const;
  // Every root with purpose TOKEN_SIGNING, or null if there are none.
  std::shared_ptr<const pki::RootStore> TokenSigningRoots() const;

  // Lookups; null when absent. Pointers live as long as the snapshot.
  // By registered issuer name "<guid>@<realm>", exact (lower case) match.
  const IssuerEntry* FindIssuer(absl::string_view registered_issuer_name) const;
  // By TokenIssuer.name.
  const IssuerEntry* FindIssuerByName(absl::string_view name) const;
  const PeerEntry* FindPeer(absl::string_view trust_domain) const;
  const v1::RootAuthority* FindRoot(absl::string_view name) const;
  // Parsed certificates of the named root authority, in PEM order.
  const std::vector<pki::Certificate>* RootCertificates(absl::string_view name) const;

  // Every issuer / peer, in proto order.
  const std::vector<IssuerEntry>& issuers() const { return issuers_; }
  const std::vector<PeerEntry>& peers() const { return peers_; }

  // The revocations, indexed by what each kind matches: every decision on a
  // certificate chain asks it (FirstRevoked), and admission asks it by
  // key (Contains(RevocationKey(r))).
  const RevocationIndex& revocation_index() const { return revocations_; }

  // Name of the root authority whose certificates include `anchor` (compared
  // by DER), or "". When several roots carry the certificate, the first in
  // proto order.
  std::string RootNameOf(const pki::Certificate& anchor) const;

 private:
  TrustSnapshot() = default;
  absl::Status Build(const TrustSnapshot* previous);

  v1::TrustSnapshot proto_;
  // Parallel to proto_.roots().
  std::vector<std::vector<pki::Certificate>> root_certificates_;
  absl::flat_hash_map<std::string, size_t> root_index_;
  absl::flat_hash_map<std::string, std::string> root_name_by_sha256_;
  absl::flat_hash_map<std::string, std::shared_ptr<const pki::RootStore>> mtls_roots_;
  std::shared_ptr<const pki::RootStore> token_signing_roots_;
  std::vector<IssuerEntry> issuers_;
  absl::flat_hash_map<std::string, size_t> issuer_by_registered_name_;
  absl::flat_hash_map<std::string, size_t> issuer_by_name_;
  std::vector<PeerEntry> peers_;
  absl::flat_hash_map<std::string, size_t> peer_index_;
  RevocationIndex revocations_;
};

}  // namespace trustfabric::trust

#endif  // TRUSTFABRIC_COMMON_TRUST_SNAPSHOT_H_
