// PeerVerifier; see peer_verifier.h.
#include "common/tls/peer_verifier.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/pki/encoding.h"
#include "common/pki/verify.h"
#include "common/status/status.h"
#include "common/util/enum_names.h"

namespace trustfabric::tls {
namespace {

constexpr absl::Duration kRefusalCacheTtl = absl::Seconds(5);

absl::Status Refuse(absl::StatusCode code, absl::string_view rule, absl::string_view reason) {
  return absl::Status(code, absl::StrCat(rule, ": ", reason));
}

// Exactly one spiffe:// URI SAN, well-formed.
absl::StatusOr<pki::SpiffeId> IdentityOf(const pki::Certificate& leaf) {
  std::vector<std::string> spiffe;
  for (const std::string& uri : leaf.UriNames()) {
    if (absl::StartsWithIgnoreCase(uri, "spiffe:")) spiffe.push_back(uri);
  }
  if (spiffe.empty()) {
    return Refuse(absl::StatusCode::kUnauthenticated, "identity",
                  "certificate has no spiffe:// uri san");
  }
  if (spiffe.size() > 1) {
    return Refuse(absl::StatusCode::kUnauthenticated, "identity",
                  absl::StrCat("certificate has ", spiffe.size(), " spiffe:// uri sans"));
  }
  absl::StatusOr<pki::SpiffeId> id = pki::ParseSpiffeId(spiffe[0]);
  if (!id.ok()) {
    return Refuse(absl::StatusCode::kUnauthenticated, "identity", id.status().message());
  }
  return id;
}

// The federation peer for `domain` when it is known, enabled and not inert.
absl::StatusOr<const trust::PeerEntry*> UsablePeer(const trust::TrustSnapshot* snap,
                                                   absl::string_view domain) {
  const trust::PeerEntry* peer = snap != nullptr ? snap->FindPeer(domain) : nullptr;
  if (peer == nullptr) {
    return Refuse(absl::StatusCode::kUnauthenticated, "federation_peer",
                  absl::StrCat(domain, " is not a federation peer"));
  }
  if (!peer->proto.enabled()) {
    return Refuse(absl::StatusCode::kPermissionDenied, "federation_peer",
                  absl::StrCat("federation peer ", domain, " is disabled"));
  }
  if (!peer->inert_reason.empty() || !peer->roots) {
    return Refuse(absl::StatusCode::kUnauthenticated, "federation_peer",
                  peer->inert_reason.empty()
                      ? absl::StrCat("federation peer ", domain, " has no roots")
                      : peer->inert_reason);
  }
  return peer;
}

// Peer-supplied text in a reason: escaped, and cut at a bound.
std::string ForMessage(absl::string_view text) {
  constexpr size_t kLimit = 256;
  const bool cut = text.size() > kLimit;
  return absl::StrCat(absl::CHexEscape(text.substr(0, kLimit)), cut ? "..." : "");
}

// Verifies the chain against `roots` and the snapshot's revocations, fills
// the chain facts of `identity` and returns the verified chain (leaf first,
// anchor last), which the caller hands to the source's observer once every
// other rule accepted the peer.
absl::StatusOr<std::vector<pki::Certificate>> CheckChain(
    const pki::RootStore& roots, const trust::TrustSnapshot* snap, const pki::Certificate& leaf,
    const std::vector<pki::Certificate>& rest, pki::ChainPurpose purpose,
    absl::string_view dns_name, absl::Time now, PeerIdentity* identity) {
  pki::VerifyRequest req{leaf, rest, now, purpose, nullptr, std::string(dns_name)};
  absl::StatusOr<pki::VerifiedChain> chain = roots.Verify(req);
  if (!chain.ok()) {
    return Refuse(absl::StatusCode::kUnauthenticated, "chain", chain.status().message());
  }
  identity->valid_until = absl::InfiniteFuture();
  for (const pki::Certificate& c : chain->chain) {
    identity->chain_sha256.push_back(c.Sha256Hex());
    identity->valid_until = std::min(identity->valid_until, c.NotAfter());
  }
  identity->chain_facts = pki::RevocationFactsOf(chain->chain);
  TF_RETURN_IF_ERROR(CheckRevocations(snap, identity->chain_facts));
  identity->not_after = leaf.NotAfter();
  identity->anchoring_root = snap != nullptr ? snap->RootNameOf(chain->anchor()) : "bootstrap";
  return std::move(chain->chain);
}

}  // namespace

constexpr util::EnumName<Listener> kListenerNames[] = {{Listener::kInternal, "internal"},
                                                       {Listener::kFederation, "federation"}};

absl::string_view ListenerName(Listener l) { return util::NameOf(kListenerNames, l, "unknown"); }

std::string PeerIdentity::Describe() const {
  if (dns_name.empty()) return spiffe_id.ToString();
  return absl::StrCat(spiffe_id.ToString(), " (", dns_name, ")");
}

PeerVerifier::PeerVerifier(Listener listener, std::shared_ptr<const TrustSource> source,
                           PeerCacheBounds bounds)
    : listener_(listener),
      source_(std::move(source)),
      accepted_(bounds.accepted),
      refused_(bounds.refused) {}

uint64_t PeerVerifier::cache_hits() const { return hits_.load(std::memory_order_relaxed); }
uint64_t PeerVerifier::cache_misses() const { return misses_.load(std::memory_order_relaxed); }

PeerVerifier::CacheCounts PeerVerifier::cache_counts() const {
  absl::ReaderMutexLock lock(&mu_);
  return CacheCounts{accepted_.size(), refused_.size(), accepted_.evictions(),
                     refused_.evictions()};
}

absl::Status CheckRevocations(const trust::TrustSnapshot* snap,
                              const std::vector<pki::RevocationFacts>& chain) {
  if (snap == nullptr) return absl::OkStatus();
  std::optional<pki::RevokedCertificate> revoked = snap->revocation_index().FirstRevoked(chain);
  if (!revoked.has_value()) return absl::OkStatus();
  return Refuse(absl::StatusCode::kUnauthenticated, "revoked",
                absl::StrCat("certificate ", revoked->certificate, " (",
                             ForMessage(chain[revoked->index].subject), ") is revoked (",
                             revoked->kind, " revocation)"));
}

std::string AnchorFingerprint(const trust::TrustSnapshot& snap, absl::string_view trust_domain) {
  std::vector<std::string> parts;
  std::vector<std::string> root_names;
  for (const v1::RootAuthority& root : snap.proto().roots()) {
    if (root.trust_domain() == trust_domain) root_names.push_back(root.name());
  }
  std::shared_ptr<const pki::RootStore> roots;
  if (trust_domain == snap.trust_domain()) {
    roots = snap.MtlsRoots(trust_domain);
  } else if (const trust::PeerEntry* peer = snap.FindPeer(trust_domain)) {
    roots = peer->roots;
    parts.push_back(peer->proto.SerializeAsString());
    parts.push_back(peer->inert_reason);
  }
  std::sort(root_names.begin(), root_names.end());
  parts.insert(parts.end(), root_names.begin(), root_names.end());
  if (roots) {
    for (const pki::Certificate& c : roots->roots()) parts.push_back(c.Sha256Hex());
  }
  return pki::HexEncode(pki::Sha256(absl::StrJoin(parts, "|")));
}

std::string TrustFingerprint(const trust::TrustSnapshot& snap, absl::string_view trust_domain) {
  std::vector<std::string> parts = {AnchorFingerprint(snap, trust_domain)};
  std::vector<std::string> revoked = snap.revocation_index().SortedKeys();
  parts.insert(parts.end(), revoked.begin(), revoked.end());
  return pki::HexEncode(pki::Sha256(absl::StrJoin(parts, "|")));
}

std::string PeerVerifier::FingerprintFor(const std::shared_ptr<const trust::TrustSnapshot>& snap,
                                         const std::string& domain) const {
  if (snap == nullptr) return "bootstrap";
  absl::MutexLock lock(&fingerprint_mu_);
  // Same control block: the same snapshot object (even once expired, a
  // weak_ptr's control block is never reused while the weak_ptr lives).
  const bool same = !fingerprint_snapshot_.owner_before(snap) &&
                    !snap.owner_before(fingerprint_snapshot_);
  if (!same) {
    fingerprints_.clear();
    fingerprint_snapshot_ = snap;
  }
  auto it = fingerprints_.find(domain);
  if (it == fingerprints_.end()) {
    it = fingerprints_.emplace(domain, AnchorFingerprint(*snap, domain)).first;
  }
  return it->second;
}

std::string ChainKey(absl::string_view leaf_pem, absl::string_view chain_pem) {
  return pki::HexEncode(pki::Sha256(absl::StrCat(leaf_pem, "|", chain_pem)));
}

absl::StatusOr<PeerIdentityPtr> PeerVerifier::VerifyPeer(absl::string_view leaf_pem,
                                                         absl::string_view chain_pem) const {
  return VerifyPeer(ChainKey(leaf_pem, chain_pem), leaf_pem, chain_pem);
}

absl::StatusOr<PeerIdentityPtr> PeerVerifier::VerifyPeer(absl::string_view chain_key,
                                                         absl::string_view leaf_pem,
                                                         absl::string_view chain_pem) const {
  // The one snapshot everything below is decided against.
  const std::shared_ptr<const trust::TrustSnapshot> snap = source_->snapshot();
  const uint64_t revision = snap ? snap->revision() : kNoSnapshot;
  const uint64_t epoch = snap ? snap->proto().generation().epoch() : 0;
  const absl::Time now = source_->Now();
  {
    absl::StatusOr<PeerIdentityPtr> cached;
    bool hit = false;
    {
      absl::ReaderMutexLock lock(&mu_);
      const CacheEntry* e = accepted_.Find(chain_key);
      if (e == nullptr) e = refused_.Find(chain_key);
      if (e != nullptr && now < e->expires &&
          ((e->revision == revision && e->epoch == epoch) ||
           (e->result.ok() && revision != kNoSnapshot && e->revision != kNoSnapshot &&
            FingerprintFor(snap, e->domain) == e->fingerprint))) {
        cached = e->result;
        hit = true;
      }
    }
    if (hit) {
      hits_.fetch_add(1, std::memory_order_relaxed);
      // Revocations are not part of the fingerprint: the cached chain is
      // checked against this snapshot's on every lookup.
      if (cached.ok()) TF_RETURN_IF_ERROR(CheckRevocations(snap.get(), (*cached)->chain_facts));
      return cached;
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);

  absl::StatusOr<PeerIdentityPtr> result = [&]() -> absl::StatusOr<PeerIdentityPtr> {
    absl::StatusOr<std::vector<pki::Certificate>> leaf = pki::ParsePemBundle(leaf_pem);
    if (!leaf.ok() || leaf->size() != 1) {
      return Refuse(absl::StatusCode::kUnauthenticated, "certificate",
                    leaf.ok() ? "expected one leaf certificate" : leaf.status().message());
    }
    std::vector<pki::Certificate> rest;
    if (!chain_pem.empty()) {
      absl::StatusOr<std::vector<pki::Certificate>> parsed = pki::ParsePemBundle(chain_pem);
      if (!parsed.ok()) {
        return Refuse(absl::StatusCode::kUnauthenticated, "certificate",
                      absl::StrCat("chain: ", parsed.status().message()));
      }
      rest = *std::move(parsed);
    }
    return VerifyChainAt(snap.get(), leaf->front(), rest, now);
  }();

  CacheEntry entry;
  entry.revision = revision;
  entry.epoch = epoch;
  entry.result = result;
  entry.expires = result.ok() ? (*result)->valid_until : now + kRefusalCacheTtl;
  if (result.ok()) {
    entry.domain = (*result)->spiffe_id.trust_domain;
    entry.fingerprint = FingerprintFor(snap, entry.domain);
  }
  absl::MutexLock lock(&mu_);
  // A chain lives in one area: the one of its latest result. A refusal
  // displaces only other refusals (junk never evicts a trusted peer).
  cache::ClockCache<CacheEntry>& area = result.ok() ? accepted_ : refused_;
  cache::ClockCache<CacheEntry>& other = result.ok() ? refused_ : accepted_;
  other.Erase(chain_key);
  area.Insert(std::string(chain_key), std::move(entry));
  return result;
}

absl::StatusOr<PeerIdentityPtr> PeerVerifier::VerifyChain(
    const pki::Certificate& leaf, const std::vector<pki::Certificate>& rest) const {
  const std::shared_ptr<const trust::TrustSnapshot> snap = source_->snapshot();
  return VerifyChainAt(snap.get(), leaf, rest, source_->Now());
}

absl::StatusOr<PeerIdentityPtr> PeerVerifier::VerifyChainAt(
    const trust::TrustSnapshot* snap, const pki::Certificate& leaf,
    const std::vector<pki::Certificate>& rest, absl::Time now) const {
  TF_ASSIGN_OR_RETURN(pki::SpiffeId id, IdentityOf(leaf));
  auto identity = std::make_shared<PeerIdentity>();
  identity->spiffe_id = id;
  identity->dns_names = leaf.DnsNames();
  if (!identity->dns_names.empty()) identity->dns_name = identity->dns_names.front();

  const bool local = id.trust_domain == source_->local_domain();
  // The chain is verified against the bundle of the domain it claims first:
  // the listener and trusted-server-list rules name the peer, and only a
  // verified chain has a name (an unverified one is refused as "chain").
  std::shared_ptr<const pki::RootStore> roots;
  const trust::PeerEntry* peer = nullptr;
  if (local) {
    if (snap != nullptr) {
      roots = snap->MtlsRoots(id.trust_domain);
      if (!roots) {
        return Refuse(absl::StatusCode::kUnauthenticated, "chain",
                      absl::StrCat("no mtls root authority for ", id.trust_domain));
      }
    } else if (source_->bootstrap()) {
      roots = source_->bootstrap();
    } else {
      return Refuse(absl::StatusCode::kFailedPrecondition, "no_snapshot",
                    "no trust snapshot yet and no bootstrap bundle");
    }
  } else {
    if (snap == nullptr) {
      return Refuse(absl::StatusCode::kFailedPrecondition, "no_snapshot",
                    "no trust snapshot yet: federation is refused");
    }
    TF_ASSIGN_OR_RETURN(peer, UsablePeer(snap, id.trust_domain));
    roots = peer->roots;
  }
  TF_ASSIGN_OR_RETURN(std::vector<pki::Certificate> verified,
                      CheckChain(*roots, snap, leaf, rest, pki::ChainPurpose::kTlsClient, "", now,
                                 identity.get()));

  if (local && listener_ == Listener::kFederation) {
    return Refuse(absl::StatusCode::kPermissionDenied, "listener",
                  absl::StrCat("local domain ", id.trust_domain,
                               " is not accepted on the federation listener"));
  }
  if (!local && listener_ != Listener::kFederation) {
    return Refuse(absl::StatusCode::kPermissionDenied, "listener",
                  absl::StrCat("partner domain ", id.trust_domain, " is not accepted on the ",
                               ListenerName(listener_), " listener"));
  }
  if (peer != nullptr) {
    auto listed =
        std::find_if(identity->dns_names.begin(), identity->dns_names.end(),
                     [&](const std::string& n) { return peer->allowed_server_names.contains(n); });
    if (listed == identity->dns_names.end()) {
      return Refuse(absl::StatusCode::kPermissionDenied, "trusted_server_list",
                    absl::StrCat("[", absl::StrJoin(identity->dns_names, ","),
                                 "] not on the trusted server list of ", id.trust_domain));
    }
    identity->dns_name = *listed;
  }
  source_->ObserveAcceptedChain(verified);
  return PeerIdentityPtr(std::move(identity));
}

absl::StatusOr<PeerIdentityPtr> VerifyServer(const TrustSource& source,
                                             absl::string_view trust_domain,
                                             absl::string_view server_name,
                                             const pki::Certificate& leaf,
                                             const std::vector<pki::Certificate>& rest) {
  TF_ASSIGN_OR_RETURN(pki::SpiffeId id, IdentityOf(leaf));
  if (id.trust_domain != trust_domain) {
    return Refuse(absl::StatusCode::kUnauthenticated, "identity",
                  absl::StrCat("server ", id.ToString(), " is not in trust domain ", trust_domain));
  }
  auto identity = std::make_shared<PeerIdentity>();
  identity->spiffe_id = id;
  identity->dns_names = leaf.DnsNames();
  identity->dns_name = std::string(server_name);

  std::shared_ptr<const trust::TrustSnapshot> snap = source.snapshot();
  std::shared_ptr<const pki::RootStore> roots;
  if (trust_domain == source.local_domain()) {
    if (snap) {
      roots = snap->MtlsRoots(trust_domain);
    } else {
      roots = source.bootstrap();
    }
    if (!roots) {
      return Refuse(absl::StatusCode::kUnauthenticated, "chain",
                    absl::StrCat("no mtls root authority for ", trust_domain));
    }
  } else {
    TF_ASSIGN_OR_RETURN(const trust::PeerEntry* peer, UsablePeer(snap.get(), trust_domain));
    roots = peer->roots;
  }
  TF_ASSIGN_OR_RETURN(std::vector<pki::Certificate> verified,
                      CheckChain(*roots, snap.get(), leaf, rest, pki::ChainPurpose::kTlsServer,
                                 server_name, source.Now(), identity.get()));
  source.ObserveAcceptedChain(verified);
  return PeerIdentityPtr(std::move(identity));
}

}  // namespace trustfabric::tls
