// TrustSnapshot: validation and index building; see snapshot.h.
#include "common/trust/snapshot.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/pki/spiffe.h"
#include "common/status/status.h"
#include "common/trust/validation.h"
#include "google/protobuf/util/message_differencer.h"

namespace trustfabric::trust {
namespace {

using google::protobuf::util::MessageDifferencer;

// "roots[2] (contoso-root)", or "roots[2]" when the key itself is malformed
// and so cannot be repeated safely.
std::string ItemLabel(absl::string_view field, int index, absl::string_view key, bool key_valid) {
  if (!key_valid) return absl::StrCat(field, "[", index, "]");
  return absl::StrCat(field, "[", index, "] (", key, ")");
}

absl::Status CheckCount(absl::string_view field, int count, int limit) {
  if (count <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": ", count, " entries exceed the limit of ", limit));
}

bool HasPurpose(const v1::RootAuthority& root, v1::Purpose purpose) {
  for (int p : root.purposes()) {
    if (p == purpose) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const TrustSnapshot>> TrustSnapshot::Create(
    v1::TrustSnapshot proto) {
  return Create(std::move(proto), nullptr);
}

absl::StatusOr<std::shared_ptr<const TrustSnapshot>> TrustSnapshot::Create(
    v1::TrustSnapshot proto, const TrustSnapshot* previous) {
  std::shared_ptr<TrustSnapshot> snapshot(new TrustSnapshot());
  snapshot->proto_ = std::move(proto);
  TF_RETURN_IF_ERROR(snapshot->Build(previous));
  return std::shared_ptr<const TrustSnapshot>(std::move(snapshot));
}

absl::Status TrustSnapshot::Build(const TrustSnapshot* previous) {
  size_t bytes = proto_.ByteSizeLong();
  if (bytes > kMaxSnapshotBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshot: ", bytes, " bytes exceed the limit of ", kMaxSnapshotBytes));
  }
  if (!pki::IsValidDnsName(proto_.trust_domain())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "trust_domain: ", QuoteForMessage(proto_.trust_domain()), " is not a valid dns name"));
  }
  if (!IsLowerCaseGuid(proto_.realm())) {
    return absl::InvalidArgumentError(
        absl::StrCat("realm: ", QuoteForMessage(proto_.realm()), " is not a lower-case guid"));
  }
  TF_RETURN_IF_ERROR(CheckCount("roots", proto_.roots_size(), kMaxRoots));
  TF_RETURN_IF_ERROR(CheckCount("issuers", proto_.issuers_size(), kMaxIssuers));
  TF_RETURN_IF_ERROR(CheckCount("peers", proto_.peers_size(), kMaxPeers));
  TF_RETURN_IF_ERROR(CheckCount("revocations", proto_.revocations_size(), kMaxRevocations));
  // First, so that a node lacking a feature says so rather than tripping
  // over the content that needs it.
  TF_RETURN_IF_ERROR(CheckRequiredFeatures(proto_));
  // The structural checks of a root or issuer depend only on the object and
  // on the snapshot's domain and realm; an object `previous` accepted under
  // the same domain and realm passes them again.
  if (previous != nullptr &&
      (previous->trust_domain() != trust_domain() || previous->realm() != realm())) {
    previous = nullptr;
  }

  // Roots, and the certificates each purpose collects.
  absl::flat_hash_map<std::string, std::vector<pki::Certificate>> mtls_by_domain;
  std::vector<pki::Certificate> token_signing;
  root_certificates_.reserve(proto_.roots_size());
  for (int i = 0; i < proto_.roots_size(); ++i) {
    const v1::RootAuthority& root = proto_.roots(i);
    std::string label = ItemLabel("roots", i, root.name(), IsValidObjectName(root.name()));
    const v1::RootAuthority* known =
        previous == nullptr ? nullptr : previous->FindRoot(root.name());
    absl::StatusOr<std::vector<pki::Certificate>> certs =
        known != nullptr && MessageDifferencer::Equals(*known, root)
            ? *previous->RootCertificates(root.name())
            : ValidateRoot(root);
    if (!certs.ok()) return Annotate(certs.status(), label);
    auto [it, inserted] = root_index_.emplace(root.name(), i);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, ": name: duplicate of roots[", it->second, "]"));
    }
    for (const pki::Certificate& cert : *certs) {
      root_name_by_sha256_.emplace(cert.Sha256Hex(), root.name());
      if (HasPurpose(root, v1::MTLS)) mtls_by_domain[root.trust_domain()].push_back(cert);
      if (HasPurpose(root, v1::TOKEN_SIGNING)) token_signing.push_back(cert);
    }
    root_certificates_.push_back(std::move(certs).value());
  }
  for (auto& [domain, certs] : mtls_by_domain) {
    absl::StatusOr<std::shared_ptr<const pki::RootStore>> store = pki::RootStore::Create(certs);
    if (!store.ok()) {
      return Annotate(store.status(), absl::StrCat("roots: mtls roots of ", domain));
    }
    mtls_roots_.emplace(domain, std::move(store).value());
  }
  if (!token_signing.empty()) {
    absl::StatusOr<std::shared_ptr<const pki::RootStore>> store =
        pki::RootStore::Create(token_signing);
    if (!store.ok()) return Annotate(store.status(), "roots: token-signing roots");
    token_signing_roots_ = std::move(store).value();
  }

  issuers_.reserve(proto_.issuers_size());
  for (int i = 0; i < proto_.issuers_size(); ++i) {
    const v1::TokenIssuer& issuer = proto_.issuers(i);
    std::string label = ItemLabel("issuers", i, issuer.name(), IsValidObjectName(issuer.name()));
    const IssuerEntry* known =
        previous == nullptr ? nullptr : previous->FindIssuerByName(issuer.name());
    absl::StatusOr<IssuerEntry> entry =
        known != nullptr && MessageDifferencer::Equals(known->proto, issuer)
            ? *known
            : ValidateIssuer(issuer, proto_.realm());
    if (!entry.ok()) return Annotate(entry.status(), label);
    auto [by_name, name_inserted] = issuer_by_name_.emplace(issuer.name(), i);
    if (!name_inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, ": name: duplicate of issuers[", by_name->second, "]"));
    }
    auto [by_registered, registered_inserted] =
        issuer_by_registered_name_.emplace(issuer.registered_issuer_name(), i);
    if (!registered_inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          label, ": registered_issuer_name: duplicate of issuers[", by_registered->second, "] (",
          proto_.issuers(by_registered->second).name(), ")"));
    }
    issuers_.push_back(std::move(entry).value());
  }

  peers_.reserve(proto_.peers_size());
  for (int i = 0; i < proto_.peers_size(); ++i) {
    const v1::FederationPeer& peer = proto_.peers(i);
    std::string label =
        ItemLabel("peers", i, peer.trust_domain(), pki::IsValidDnsName(peer.trust_domain()));
    TF_RETURN_IF_ERROR(Annotate(ValidatePeer(peer, proto_.trust_domain()), label));
    auto [it, inserted] = peer_index_.emplace(peer.trust_domain(), i);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, ": trust_domain: duplicate of peers[", it->second, "]"));
    }
    PeerEntry entry;
    entry.proto = peer;
    entry.allowed_server_names.insert(peer.allowed_server_names().begin(),
                                      peer.allowed_server_names().end());
    // Roots a peer depends on may have been removed by force; the snapshot
    // stays valid and the peer is refused with the reason.
    std::string prefix = absl::StrCat("federation peer ", peer.trust_domain());
    std::vector<pki::Certificate> certs;
    if (!peer.enabled()) entry.inert_reason = absl::StrCat(prefix, " is disabled");
    for (const std::string& name : peer.root_authority_names()) {
      if (!entry.inert_reason.empty()) break;
      const v1::RootAuthority* root = FindRoot(name);
      if (root == nullptr) {
        entry.inert_reason =
            absl::StrCat(prefix, " is inert: root authority ", name, " was removed");
      } else if (root->trust_domain() != peer.trust_domain()) {
        entry.inert_reason =
            absl::StrCat(prefix, " is inert: root authority ", name, " anchors trust domain ",
                         root->trust_domain(), ", not ", peer.trust_domain());
      } else if (!HasPurpose(*root, v1::MTLS)) {
        entry.inert_reason =
            absl::StrCat(prefix, " is inert: root authority ", name, " does not have purpose mtls");
      } else {
        const std::vector<pki::Certificate>& root_certs = *RootCertificates(name);
        certs.insert(certs.end(), root_certs.begin(), root_certs.end());
      }
    }
    if (entry.inert_reason.empty()) {
      absl::StatusOr<std::shared_ptr<const pki::RootStore>> store = pki::RootStore::Create(certs);
      if (!store.ok()) return Annotate(store.status(), absl::StrCat(label, ": roots"));
      entry.roots = std::move(store).value();
    }
    peers_.push_back(std::move(entry));
  }

  for (int i = 0; i < proto_.revocations_size(); ++i) {
    const v1::Revocation& revocation = proto_.revocations(i);
    std::string label = absl::StrCat("revocations[", i, "]");
    TF_RETURN_IF_ERROR(Annotate(ValidateRevocation(revocation), label));
    if (!revocations_.Add(revocation)) {
      const std::string key = RevocationKey(revocation);
      for (int j = 0; j < i; ++j) {
        if (RevocationKey(proto_.revocations(j)) == key) {
          return absl::InvalidArgumentError(absl::StrCat(
              label, ": ", KeyFieldsOf(revocation.kind()), ": duplicate of revocations[", j, "]"));
        }
      }
    }
  }
  return absl::OkStatus();
}

std::shared_ptr<const pki::RootStore> TrustSnapshot::MtlsRoots(
    absl::string_view trust_domain) const {
  auto it = mtls_roots_.find(trust_domain);
  return it == mtls_roots_.end() ? nullptr : it->second;
}

std::shared_ptr<const pki::RootStore> TrustSnapshot::TokenSigningRoots() const {
  return token_signing_roots_;
}

const IssuerEntry* TrustSnapshot::FindIssuer(absl::string_view registered_issuer_name) const {
  auto it = issuer_by_registered_name_.find(registered_issuer_name);
  return it == issuer_by_registered_name_.end() ? nullptr : &issuers_[it->second];
}

const IssuerEntry* TrustSnapshot::FindIssuerByName(absl::string_view name) const {
  auto it = issuer_by_name_.find(name);
  return it == issuer_by_name_.end() ? nullptr : &issuers_[it->second];
}

const PeerEntry* TrustSnapshot::FindPeer(absl::string_view trust_domain) const {
  auto it = peer_index_.find(trust_domain);
  return it == peer_index_.end() ? nullptr : &peers_[it->second];
}

const v1::RootAuthority* TrustSnapshot::FindRoot(absl::string_view name) const {
  auto it = root_index_.find(name);
  return it == root_index_.end() ? nullptr : &proto_.roots(static_cast<int>(it->second));
}

const std::vector<pki::Certificate>* TrustSnapshot::RootCertificates(absl::string_view name) const {
  auto it = root_index_.find(name);
  return it == root_index_.end() ? nullptr : &root_certificates_[it->second];
}

std::string TrustSnapshot::RootNameOf(const pki::Certificate& anchor) const {
  auto it = root_name_by_sha256_.find(anchor.Sha256Hex());
  if (it == root_name_by_sha256_.end()) return "";
  // The fingerprint only selects; the DER decides.
  for (const pki::Certificate& cert : *RootCertificates(it->second)) {
    if (cert == anchor) return it->second;
  }
  return "";
}

}  // namespace trustfabric::trust
