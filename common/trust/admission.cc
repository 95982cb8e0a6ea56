// Admission checks of trust mutations; see admission.h.
#include "common/trust/admission.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/pki/certificate.h"
#include "common/pki/spiffe.h"
#include "common/pki/verify.h"
#include "common/status/status.h"
#include "common/trust/revocation.h"
#include "common/trust/validation.h"

namespace trustfabric::trust {
namespace {

// Dependents named in a refusal; the rest are counted.
constexpr size_t kListedDependents = 20;

// A key as it may appear in a message: verbatim when well-formed, quoted and
// escaped otherwise.
std::string KeyForMessage(absl::string_view key) {
  if (IsValidObjectName(key) || pki::IsValidDnsName(key) || IsRevocationKey(key)) {
    return std::string(key);
  }
  return QuoteForMessage(key);
}

bool HasPurpose(const v1::RootAuthority& root, v1::Purpose purpose) {
  for (int p : root.purposes()) {
    if (p == purpose) return true;
  }
  return false;
}

absl::Status RequireTime(const AdmissionOptions& opts) {
  if (opts.now != absl::InfinitePast()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "admission options: now is not set; it is needed to check certificate chains");
}

// What token-signing certificates chain to.
struct TokenSigningAnchors {
  std::shared_ptr<const pki::RootStore> store;  // null: no anchors at all
  absl::flat_hash_set<std::string> sha256;      // of store->roots()
};

TokenSigningAnchors MakeAnchors(std::shared_ptr<const pki::RootStore> store) {
  TokenSigningAnchors anchors;
  if (store != nullptr) {
    for (const pki::Certificate& root : store->roots()) anchors.sha256.insert(root.Sha256Hex());
  }
  anchors.store = std::move(store);
  return anchors;
}

// The chain (leaf first) that makes `cert` a trusted token-signing
// certificate at `now`, or why there is none.
absl::StatusOr<std::vector<pki::Certificate>> TokenSigningChain(const pki::Certificate& cert,
                                                                const TokenSigningAnchors& anchors,
                                                                const TrustSnapshot& current,
                                                                absl::Time now) {
  if (anchors.store == nullptr) {
    return absl::FailedPreconditionError("the snapshot has no token-signing root authority");
  }
  pki::VerifyRequest request{cert};
  request.at = now;
  request.revoked = &current.revocation_index();
  absl::StatusOr<pki::VerifiedChain> verified = anchors.store->Verify(request);
  if (verified.ok()) return std::move(verified->chain);
  // A self-signed signing certificate registered as its own root (the add-in
  // model) is trusted as such; the checks that remain are time and revocation.
  if (!anchors.sha256.contains(cert.Sha256Hex()) || !cert.IsSelfSigned()) {
    return verified.status();
  }
  // Self-signed: the certificate is its own chain and its own issuer.
  if (std::optional<pki::RevokedCertificate> revoked =
          current.revocation_index().FirstRevoked(std::vector<pki::Certificate>{cert})) {
    return absl::UnauthenticatedError(
        absl::StrCat("certificate revoked: ", pki::DescribeRevoked(*revoked)));
  }
  if (now < cert.NotBefore()) return absl::UnauthenticatedError("certificate is not yet valid");
  if (now > cert.NotAfter()) return absl::UnauthenticatedError("certificate has expired");
  return std::vector<pki::Certificate>{cert};
}

std::string ListForMessage(const std::vector<std::string>& names) {
  if (names.size() <= kListedDependents) return absl::StrJoin(names, ", ");
  std::vector<std::string> head(names.begin(), names.begin() + kListedDependents);
  return absl::StrCat(absl::StrJoin(head, ", "), " and ", names.size() - kListedDependents,
                      " more");
}

absl::Status AdmitPutRoot(const TrustSnapshot& current, const v1::RootAuthority& root) {
  std::string object = absl::StrCat("root authority ", KeyForMessage(root.name()));
  TF_RETURN_IF_ERROR(Annotate(ValidateRoot(root).status(), object));
  if (current.FindRoot(root.name()) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat(
        object, " already exists; root authorities are added and removed, not replaced"));
  }
  return absl::OkStatus();
}

absl::Status AdmitPutIssuer(const TrustSnapshot& current, const v1::TokenIssuer& issuer,
                            const AdmissionOptions& opts) {
  std::string object = absl::StrCat("issuer ", KeyForMessage(issuer.name()));
  absl::StatusOr<IssuerEntry> entry = ValidateIssuer(issuer, current.realm());
  if (!entry.ok()) return Annotate(entry.status(), object);
  if (current.FindIssuerByName(issuer.name()) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat(object, " already exists"));
  }
  if (const IssuerEntry* other = current.FindIssuer(issuer.registered_issuer_name())) {
    return absl::AlreadyExistsError(
        absl::StrCat(object, ": registered issuer name ", issuer.registered_issuer_name(),
                     " is already used by issuer ", other->proto.name()));
  }
  TF_RETURN_IF_ERROR(RequireTime(opts));
  TokenSigningAnchors anchors = MakeAnchors(current.TokenSigningRoots());
  for (size_t i = 0; i < entry->signing_certificates.size(); ++i) {
    const pki::Certificate& cert = entry->signing_certificates[i];
    absl::Status chained = TokenSigningChain(cert, anchors, current, opts.now).status();
    if (!chained.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(object, ": signing certificate ", i, " (sha256 ", cert.Sha256Hex(),
                       ") does not chain to a token-signing root authority: ", chained.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status AdmitPutPeer(const TrustSnapshot& current, const v1::FederationPeer& peer) {
  std::string object = absl::StrCat("federation peer ", KeyForMessage(peer.trust_domain()));
  TF_RETURN_IF_ERROR(Annotate(ValidatePeer(peer, current.trust_domain()), object));
  for (const std::string& name : peer.root_authority_names()) {
    const v1::RootAuthority* root = current.FindRoot(name);
    if (root == nullptr) {
      return absl::NotFoundError(
          absl::StrCat(object, ": root authority ", name, " does not exist"));
    }
    if (root->trust_domain() != peer.trust_domain()) {
      return absl::FailedPreconditionError(
          absl::StrCat(object, ": root authority ", name, " anchors trust domain ",
                       root->trust_domain(), ", not ", peer.trust_domain()));
    }
    if (!HasPurpose(*root, v1::MTLS)) {
      return absl::FailedPreconditionError(
          absl::StrCat(object, ": root authority ", name, " does not have purpose mtls"));
    }
  }
  return absl::OkStatus();
}

absl::Status AdmitPutRevocation(const TrustSnapshot& current, const v1::Revocation& revocation) {
  const std::string key = RevocationKey(revocation);
  std::string object = absl::StrCat("revocation ", KeyForMessage(key));
  TF_RETURN_IF_ERROR(Annotate(ValidateRevocation(revocation), object));
  if (current.revocation_index().Contains(key)) {
    return absl::AlreadyExistsError(absl::StrCat(object, " already exists"));
  }
  return absl::OkStatus();
}

// Issuers with a signing certificate that chains through `root` now and
// would not chain without it.
absl::StatusOr<std::vector<std::string>> IssuersNeeding(const TrustSnapshot& current,
                                                        const v1::RootAuthority& root,
                                                        absl::Time now) {
  std::vector<std::string> needing;
  if (!HasPurpose(root, v1::TOKEN_SIGNING) || current.issuers().empty()) return needing;

  absl::flat_hash_set<std::string> removed;
  for (const pki::Certificate& cert : *current.RootCertificates(root.name())) {
    removed.insert(cert.der());
  }
  std::vector<pki::Certificate> remaining;
  for (const v1::RootAuthority& other : current.proto().roots()) {
    if (other.name() == root.name() || !HasPurpose(other, v1::TOKEN_SIGNING)) continue;
    const std::vector<pki::Certificate>& certs = *current.RootCertificates(other.name());
    remaining.insert(remaining.end(), certs.begin(), certs.end());
  }
  std::shared_ptr<const pki::RootStore> remaining_store;
  if (!remaining.empty()) {
    TF_ASSIGN_OR_RETURN(remaining_store, pki::RootStore::Create(remaining));
  }
  TokenSigningAnchors before = MakeAnchors(current.TokenSigningRoots());
  TokenSigningAnchors after = MakeAnchors(std::move(remaining_store));

  // Issuers often share certificates (a broker's, a rotated one); each is
  // verified once.
  absl::flat_hash_map<std::string, bool> needs_root;
  for (const IssuerEntry& issuer : current.issuers()) {
    for (const pki::Certificate& cert : issuer.signing_certificates) {
      auto [it, inserted] = needs_root.try_emplace(cert.Sha256Hex(), false);
      if (inserted) {
        absl::StatusOr<std::vector<pki::Certificate>> chain =
            TokenSigningChain(cert, before, current, now);
        bool through_root = false;
        if (chain.ok()) {
          for (const pki::Certificate& link : *chain) {
            through_root = through_root || removed.contains(link.der());
          }
        }
        it->second = through_root && !TokenSigningChain(cert, after, current, now).ok();
      }
      if (it->second) {
        needing.push_back(issuer.proto.name());
        break;
      }
    }
  }
  return needing;
}

absl::Status AdmitRemoveRoot(const TrustSnapshot& current, const std::string& name,
                             const AdmissionOptions& opts) {
  std::string object = absl::StrCat("root authority ", KeyForMessage(name));
  const v1::RootAuthority* root = current.FindRoot(name);
  if (root == nullptr) return absl::NotFoundError(absl::StrCat(object, " does not exist"));
  if (opts.force) return absl::OkStatus();

  if (HasPurpose(*root, v1::TOKEN_SIGNING) && !current.issuers().empty()) {
    TF_RETURN_IF_ERROR(RequireTime(opts));
  }
  TF_ASSIGN_OR_RETURN(std::vector<std::string> issuers, IssuersNeeding(current, *root, opts.now));
  std::vector<std::string> peers;
  for (const PeerEntry& peer : current.peers()) {
    for (const std::string& root_name : peer.proto.root_authority_names()) {
      if (root_name == name) peers.push_back(peer.proto.trust_domain());
    }
  }
  if (issuers.empty() && peers.empty()) return absl::OkStatus();

  std::vector<std::string> parts;
  if (!issuers.empty()) parts.push_back(absl::StrCat("issuers ", ListForMessage(issuers)));
  if (!peers.empty()) parts.push_back(absl::StrCat("federation peers ", ListForMessage(peers)));
  return absl::FailedPreconditionError(absl::StrCat(object, " is still needed by ",
                                                    absl::StrJoin(parts, " and by "),
                                                    "; remove them first or force the removal"));
}

}  // namespace

absl::Status CheckAdmission(const TrustSnapshot& current, const v1::TrustChange& change,
                            const AdmissionOptions& opts) {
  switch (change.change_case()) {
    case v1::TrustChange::kPutRoot:
      return AdmitPutRoot(current, change.put_root());
    case v1::TrustChange::kRemoveRoot:
      return AdmitRemoveRoot(current, change.remove_root(), opts);
    case v1::TrustChange::kPutIssuer:
      return AdmitPutIssuer(current, change.put_issuer(), opts);
    case v1::TrustChange::kRemoveIssuer:
      if (current.FindIssuerByName(change.remove_issuer()) == nullptr) {
        return absl::NotFoundError(
            absl::StrCat("issuer ", KeyForMessage(change.remove_issuer()), " does not exist"));
      }
      return absl::OkStatus();
    case v1::TrustChange::kPutPeer:
      return AdmitPutPeer(current, change.put_peer());
    case v1::TrustChange::kRemovePeer:
      if (current.FindPeer(change.remove_peer()) == nullptr) {
        return absl::NotFoundError(absl::StrCat(
            "federation peer ", KeyForMessage(change.remove_peer()), " does not exist"));
      }
      return absl::OkStatus();
    case v1::TrustChange::kPutRevocation:
      return AdmitPutRevocation(current, change.put_revocation());
    case v1::TrustChange::kRemoveRevocation:
      if (!current.revocation_index().Contains(change.remove_revocation())) {
        return absl::NotFoundError(absl::StrCat(
            "revocation ", KeyForMessage(change.remove_revocation()), " does not exist"));
      }
      return absl::OkStatus();
    case v1::TrustChange::CHANGE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("change: no change is set");
}

}  // namespace trustfabric::trust
