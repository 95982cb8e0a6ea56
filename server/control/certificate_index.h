// CertificateIndex: every certificate the control plane has seen, by the
// SHA-256 of its DER encoding, with what a revocation matches
// (docs/design.md §6).
//
// An operator copies a certificate's DER hash from `openssl x509
// -fingerprint -sha256`; a revocation keyed on it alone is weak, because
// the holder of an ECDSA certificate can re-encode its signature ((r, s) as
// (r, n - s)) and present the same certificate under another DER hash. The
// index resolves the DER hash to the signed body (TBSCertificate), the key
// (SubjectPublicKeyInfo) and issuer + serial, which no re-encoding changes.
// It learns from:
//   * the identity chains of the domain's nodes (their Watch streams),
//   * the roots and token issuers' signing certificates of the trust state,
//   * the peer certificates nodes report having accepted
//     (WatchRequest.peer_certificates): parsed here, the node's word is only
//     "I saw this", and a DER hash cannot be made to map to another body.
// Facts about a DER encoding never become false, so nothing is ever
// updated, only evicted for room: known certificates (identities, roots,
// issuers) are capped on their own, reported ones are evicted oldest first,
// each node may hold only so many, and each report only so many entries.
//
//   CertificateIndex index;
//   index.set_listener([&](const std::vector<std::string>& learned) { ... });
//   index.AddKnown(ChainFacts(chain, CertificateSource::kRoot));
//   CertificateIndex::ReportResult r = index.AddReport(node_id, ders);
//   std::optional<CertificateFacts> facts = index.Find(sha256_hex);
//
// gRPC-free and thread-safe.
#ifndef TRUSTFABRIC_SERVER_CONTROL_CERTIFICATE_INDEX_H_
#define TRUSTFABRIC_SERVER_CONTROL_CERTIFICATE_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/pki/certificate.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::control {

class CertificateIndex;

// Where the index learned a certificate.
enum class CertificateSource { kNodeIdentity, kRoot, kIssuer, kPeerReport };
// "node identity", "root", "issuer", "peer report".
absl::string_view CertificateSourceName(CertificateSource source);

// What a certificate is, as revocations match it. All hashes are SHA-256 in
// lower-case hex.
struct CertificateFacts {
  // Of the DER encoding (the index key).
  std::string sha256_hex;
  // Of the TBSCertificate and of the SubjectPublicKeyInfo.
  std::string tbs_sha256_hex;
  std::string spki_sha256_hex;
  // pki::CanonicalSerialHex form.
  std::string serial_hex;
  // Of the issuer's SubjectPublicKeyInfo; "" when the issuer was not seen.
  std::string issuer_spki_sha256_hex;
  // RFC 2253, for listings and audit.
  std::string subject;
  CertificateSource source = CertificateSource::kPeerReport;
  // For kPeerReport: the SPIFFE ID of the node that reported it first.
  std::string reporter;

  // Whether only the DER hash is known (a chain member never presented).
  bool der_only() const { return tbs_sha256_hex.empty(); }
};

// The facts of `cert`. `issuer` (may be null) must be the certificate that
// signed it, already verified by the caller; a self-signed `cert` is its own
// issuer.
CertificateFacts FactsOf(const pki::Certificate& cert, const pki::Certificate* issuer,
                         CertificateSource source);

// The facts of a chain as PeerVerifier accepted it: `chain_sha256` (leaf
// first, anchor last, in verified order) and the certificates the peer
// presented (leaf and intermediates, any order, may hold others). A member
// not presented (usually the anchor) is taken from `index` (may be null), or
// is known by its DER hash only. Each member's issuer is the next one.
std::vector<CertificateFacts> VerifiedChainFacts(const std::vector<std::string>& chain_sha256,
                                                 const std::vector<pki::Certificate>& presented,
                                                 const CertificateIndex* index,
                                                 CertificateSource source);

// Whether `revocation` matches the certificate `facts` describes: DER_ONLY
// by DER hash, CERTIFICATE by signed body, KEY by key, ISSUER_SERIAL by
// issuer key and serial. False for facts that do not carry what the kind
// needs (e.g. a body for a member known by its DER hash only).
bool RevocationMatches(const v1::Revocation& revocation, const CertificateFacts& facts);

class CertificateIndex {
 public:
  struct Options {
    // Known certificates (node identities, roots, issuers); beyond this
    // new ones are dropped and counted.
    size_t max_known = 20000;
    // Reported certificates in all; the oldest are evicted for new ones.
    size_t max_reported = 100000;
    // Reported certificates first reported by one node; beyond this the
    // node's new reports are dropped until its older ones are evicted.
    size_t max_reported_per_node = 20000;
    // Entries of one report that are looked at; the rest are dropped.
    size_t max_per_report = 256;
    // Larger entries are malformed.
    size_t max_der_bytes = 64 * 1024;
  };

  // What one report did.
  struct ReportResult {
    // New certificates indexed.
    size_t added = 0;
    // Already indexed.
    size_t duplicates = 0;
    // Entries that are not one DER certificate (or over max_der_bytes).
    size_t malformed = 0;
    // Beyond max_per_report, or over the node's share.
    size_t dropped = 0;
  };

  // Totals since start.
  struct Counters {
    uint64_t reported_added = 0;
    uint64_t reported_duplicates = 0;
    uint64_t reported_malformed = 0;
    uint64_t reported_dropped = 0;
    uint64_t reported_evicted = 0;
    uint64_t known_dropped = 0;
  };

  // Told the DER hashes of certificates just indexed (not of duplicates),
  // after the index lock is released, on the thread that added them.
  using Listener = std::function<void(const std::vector<std::string>& learned_sha256_hex)>;

  CertificateIndex() : CertificateIndex(Options{}) {}
  explicit CertificateIndex(Options options);
  CertificateIndex(const CertificateIndex&) = delete;
  CertificateIndex& operator=(const CertificateIndex&) = delete;

  // REQUIRES: called before the index is shared between threads.
  void set_listener(Listener listener) { listener_ = std::move(listener); }

  // Certificates the control plane knows first-hand. Entries with only a
  // DER hash are skipped. A known certificate already indexed as reported
  // becomes known (never evicted); a missing issuer is filled in.
  void AddKnown(const std::vector<CertificateFacts>& facts) ABSL_LOCKS_EXCLUDED(mu_);

  // A node's report of DER certificates it accepted. Never fails: what
  // cannot be used is counted in the result. `node` is the reporter's
  // SPIFFE ID (verified by the caller). Issuers are found among the
  // entries of the same report (a chain is reported leaf first).
  ReportResult AddReport(absl::string_view node,
                         const std::vector<absl::string_view>& certificates_der)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The facts of the certificate whose DER hash is `sha256_hex` (lower-case
  // hex), if indexed.
  std::optional<CertificateFacts> Find(absl::string_view sha256_hex) const ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t reported_size() const ABSL_LOCKS_EXCLUDED(mu_);
  Counters counters() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    CertificateFacts facts;
    bool known = false;
  };

  // Evicts reported entries until one more fits.
  void MakeRoomLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify(const std::vector<std::string>& learned) const;

  const Options options_;
  Listener listener_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // DER hashes of reported (not known) entries, oldest first.
  std::deque<std::string> reported_order_ ABSL_GUARDED_BY(mu_);
  size_t known_ ABSL_GUARDED_BY(mu_) = 0;
  // Reported entries per reporting node.
  absl::flat_hash_map<std::string, size_t> per_node_ ABSL_GUARDED_BY(mu_);
  Counters counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_CERTIFICATE_INDEX_H_
