// Decides whether a TLS peer is trusted right now, from its certificate
// chain and the current trust snapshot (docs/design.md §4, steps 1-3). gRPC-free:
// the gRPC credentials in this folder call it at handshake and on every call.
//
//   tls::PeerVerifier verifier(tls::Listener::kFederation, source);
//   absl::StatusOr<tls::PeerIdentityPtr> peer = verifier.VerifyPeer(leaf_pem, chain_pem);
//   if (!peer.ok()) LOG(peer.status());  // "trusted_server_list: edge9.fabrikam.test ..."
//
// Results are cached by chain: re-checking an open connection on every call
// costs one hash lookup plus a revocation lookup per certificate of the
// chain. Every verification (its result, revision and fingerprint) is
// computed from one snapshot. An acceptance is reused while the current
// snapshot's AnchorFingerprint of the peer's domain (roots, peer record,
// inert state) is the one it was computed under, and its chain is checked
// against the current snapshot's revocations on every lookup: a revocation
// is seen at the next call and leaves unrelated cached chains alone. A
// refusal is reused only under the exact revision it was computed at.
//
// The cache is bounded and evicts one entry at a time (cache::ClockCache):
// acceptances and refusals live in two separate areas, each with its own
// bound, so a flood of junk handshakes (self-signed or otherwise refused
// chains) only ever displaces other refusals, and an accepted peer's result
// is displaced only by other accepted peers' (docs/design.md §4). Each
// listener has its own PeerVerifier and so its own bounds.
// Every chain accepted by a verification (not by a cache hit), here or in
// VerifyServer, is passed to the TrustSource's accepted-chain observer.
#ifndef TRUSTFABRIC_COMMON_TLS_PEER_VERIFIER_H_
#define TRUSTFABRIC_COMMON_TLS_PEER_VERIFIER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/cache/clock_cache.h"
#include "common/pki/certificate.h"
#include "common/pki/spiffe.h"
#include "common/pki/verify.h"
#include "common/tls/trust_source.h"

namespace trustfabric::tls {

// Which socket a peer arrived on; decides which bundles may verify it.
enum class Listener {
  // Own domain's MTLS roots only.
  kInternal,
  // Partner domains' roots, for enabled federation peers and the servers on
  // their trusted server list only.
  kFederation,
};
absl::string_view ListenerName(Listener l);

// Who a verified peer is. Immutable; shared by the cache and handlers.
struct PeerIdentity {
  pki::SpiffeId spiffe_id;
  // The DNS SAN that matched (for partners: the one on the trusted server
  // list), else the first DNS SAN, else "".
  std::string dns_name;
  std::vector<std::string> dns_names;
  // SHA-256 hex of the chain as verified, leaf first, anchor last.
  std::vector<std::string> chain_sha256;
  // What revocations match in each certificate of that chain, same order.
  std::vector<pki::RevocationFacts> chain_facts;
  absl::Time not_after;
  // Name of the RootAuthority that anchors the chain ("bootstrap" before the
  // first snapshot).
  std::string anchoring_root;
  // Earliest expiry in the chain: a cached result is reused only before it.
  absl::Time valid_until;

  std::string leaf_sha256() const { return chain_sha256.empty() ? "" : chain_sha256.front(); }
  // "spiffe://contoso.test/frontend/fe1 (fe1.contoso.test)"
  std::string Describe() const;
};
using PeerIdentityPtr = std::shared_ptr<const PeerIdentity>;

// Verifier errors are "<rule>: <reason>"; the rule is one of these stable
// tokens (also a metric label):
//   "certificate"          leaf or chain does not parse
//   "identity"             not exactly one valid spiffe:// URI SAN
//   "no_snapshot"          no trust state yet and no bootstrap bundle
//   "listener"             domain not accepted on this listener
//   "federation_peer"      unknown, disabled or inert federation peer
//   "trusted_server_list"  partner certificate's DNS SAN not on the list
//   "chain"                chain does not verify (expired, unknown root, ...)
//   "revoked"              a certificate of the chain is revoked
// Codes: UNAUTHENTICATED for an untrusted certificate, PERMISSION_DENIED for
// a trusted certificate refused by listener or federation rules.
// Bounds of a PeerVerifier's two cache areas (each at least 1).
struct PeerCacheBounds {
  // Accepted chains: one per peer certificate that calls the listener.
  size_t accepted = 10000;
  // Refused chains: small, so that refusals cost little memory however many
  // distinct junk chains arrive.
  size_t refused = 1024;
};

class PeerVerifier {
 public:
  PeerVerifier(Listener listener, std::shared_ptr<const TrustSource> source,
               PeerCacheBounds bounds = {});

  // `leaf_pem`: one PEM certificate. `chain_pem`: the peer's intermediates
  // (may be empty; may repeat the leaf). Thread-safe.
  absl::StatusOr<PeerIdentityPtr> VerifyPeer(absl::string_view leaf_pem,
                                             absl::string_view chain_pem) const;
  // The same with a precomputed ChainKey(leaf_pem, chain_pem), so a caller
  // that sees the same connection many times hashes its chain once.
  absl::StatusOr<PeerIdentityPtr> VerifyPeer(absl::string_view chain_key,
                                             absl::string_view leaf_pem,
                                             absl::string_view chain_pem) const;

  // Verification without the cache, from parsed certificates, against the
  // source's current snapshot.
  absl::StatusOr<PeerIdentityPtr> VerifyChain(const pki::Certificate& leaf,
                                              const std::vector<pki::Certificate>& rest) const;

  Listener listener() const { return listener_; }
  const TrustSource& source() const { return *source_; }

  // Cache statistics, for benchmarks and tests.
  uint64_t cache_hits() const;
  uint64_t cache_misses() const;
  // Entries in each area, and how many were evicted from it.
  struct CacheCounts {
    size_t accepted = 0;
    size_t refused = 0;
    uint64_t accepted_evictions = 0;
    uint64_t refused_evictions = 0;
  };
  CacheCounts cache_counts() const;

 private:
  // Revision, result and fingerprint all come from one snapshot.
  struct CacheEntry {
    uint64_t revision = 0;
    // Revisions repeat across store generations (docs/design.md §5).
    uint64_t epoch = 0;
    absl::StatusOr<PeerIdentityPtr> result;
    // For an accepted peer: its trust domain and the AnchorFingerprint of
    // that domain it was verified under. Another revision with the same
    // fingerprint (e.g. an issuer was added, a revocation changed) reuses
    // the result after checking its chain against that revision's
    // revocations.
    std::string domain;
    std::string fingerprint;
    // A refusal is re-checked after this (a "not yet valid" chain may become
    // valid without a new revision); an acceptance until valid_until.
    absl::Time expires;
  };

  static constexpr uint64_t kNoSnapshot = ~uint64_t{0};

  // The whole verification against `snap` (null: no snapshot yet, the
  // bootstrap bundle decides) at `now`.
  absl::StatusOr<PeerIdentityPtr> VerifyChainAt(const trust::TrustSnapshot* snap,
                                                const pki::Certificate& leaf,
                                                const std::vector<pki::Certificate>& rest,
                                                absl::Time now) const;
  // AnchorFingerprint of `domain` in `snap`, memoized for the most recent
  // snapshot object asked about ("bootstrap" when `snap` is null).
  std::string FingerprintFor(const std::shared_ptr<const trust::TrustSnapshot>& snap,
                             const std::string& domain) const;

  const Listener listener_;
  const std::shared_ptr<const TrustSource> source_;

  // Lookups share the lock (ClockCache::Find may run concurrently); inserts
  // take it exclusively.
  mutable absl::Mutex mu_;
  mutable cache::ClockCache<CacheEntry> accepted_ ABSL_GUARDED_BY(mu_);
  mutable cache::ClockCache<CacheEntry> refused_ ABSL_GUARDED_BY(mu_);
  mutable absl::Mutex fingerprint_mu_;
  // The snapshot object the memo belongs to, compared by identity (not by
  // revision, which two snapshot objects may share); weak, so the memo
  // keeps no old snapshot alive.
  mutable std::weak_ptr<const trust::TrustSnapshot> fingerprint_snapshot_
      ABSL_GUARDED_BY(fingerprint_mu_);
  mutable absl::flat_hash_map<std::string, std::string> fingerprints_
      ABSL_GUARDED_BY(fingerprint_mu_);
  mutable std::atomic<uint64_t> hits_{0};
  mutable std::atomic<uint64_t> misses_{0};
};

// What verifying a peer of `trust_domain` depends on in `snap` apart from
// revocations: the MTLS roots of the domain (names and certificates), and
// for a partner the federation peer record and its inert state. Equal
// fingerprints mean equal verification results before revocations are
// checked, so caches keyed by it survive unrelated changes.
std::string AnchorFingerprint(const trust::TrustSnapshot& snap, absl::string_view trust_domain);

// AnchorFingerprint and every revocation: equal fingerprints mean equal
// verification results (for caches that cannot re-check revocations, such
// as a channel whose server was verified at its handshake).
std::string TrustFingerprint(const trust::TrustSnapshot& snap, absl::string_view trust_domain);

// The refusal of a verified chain (facts leaf first, anchor last) that a
// revocation of `snap` matches, or OK (also when `snap` is null):
// "revoked: certificate <hash> (<subject>) is revoked (<kind> revocation)",
// the subject escaped and bounded. UNAUTHENTICATED.
absl::Status CheckRevocations(const trust::TrustSnapshot* snap,
                              const std::vector<pki::RevocationFacts>& chain);

// The cache key of a presented chain: hex SHA-256 over leaf and chain PEM.
std::string ChainKey(absl::string_view leaf_pem, absl::string_view chain_pem);

// Client side: verifies the chain of a server dialed as `server_name` in
// `trust_domain` (the local domain, or a federation partner that is enabled
// and not inert). The leaf must carry `server_name` as a DNS SAN and a
// SPIFFE ID of `trust_domain`. Same error format as PeerVerifier.
absl::StatusOr<PeerIdentityPtr> VerifyServer(const TrustSource& source,
                                             absl::string_view trust_domain,
                                             absl::string_view server_name,
                                             const pki::Certificate& leaf,
                                             const std::vector<pki::Certificate>& rest);

}  // namespace trustfabric::tls

#endif  // TRUSTFABRIC_COMMON_TLS_PEER_VERIFIER_H_
