// PeerCertificateReports: the certificates of peer chains a node accepted
// and has not reported to its control plane yet (docs/design.md §5).
//
// A control plane resolves the DER SHA-256 an operator copies from `openssl
// x509 -fingerprint -sha256` to what a revocation must match (signed body,
// key) only if it has seen the certificate; partner edges are seen by nodes
// alone. So every accepted chain (TrustSource's accepted-chain observer) is
// added here, and the trust agent takes batches to send on its Watch stream
// as WatchRequest.peer_certificates.
//
// Each DER encoding is queued once: a certificate already queued or sent is
// remembered by its hash and skipped. Both the queue and the memory are
// bounded; what does not fit is dropped and counted, never blocked on (Add
// runs inside TLS handshakes).
//
//   PeerCertificateReports reports;
//   source->set_accepted_chain_observer([&](const auto& chain) { reports.Add(chain); });
//   ...
//   std::vector<std::string> batch = reports.Take(256);  // DER certificates
//
// Thread-safe.
#ifndef TRUSTFABRIC_SERVER_NODE_PEER_CERTIFICATE_REPORTS_H_
#define TRUSTFABRIC_SERVER_NODE_PEER_CERTIFICATE_REPORTS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/pki/certificate.h"

namespace trustfabric::node {

class PeerCertificateReports {
 public:
  struct Options {
    // Certificates queued and not taken yet; beyond this new ones are
    // dropped (and counted) until the queue drains.
    size_t max_pending = 4096;
    // DER hashes remembered as queued or sent. When full the memory is
    // cleared (and counted): a certificate may then be reported again,
    // which the control plane takes as a duplicate.
    size_t max_remembered = 100000;
  };

  struct Counters {
    // Certificates queued since start.
    uint64_t queued = 0;
    // Certificates dropped because the queue was full.
    uint64_t dropped = 0;
    // Times the memory of reported hashes was cleared.
    uint64_t forgotten = 0;
  };

  PeerCertificateReports() : PeerCertificateReports(Options{}) {}
  explicit PeerCertificateReports(Options options);
  PeerCertificateReports(const PeerCertificateReports&) = delete;
  PeerCertificateReports& operator=(const PeerCertificateReports&) = delete;

  // Queues the certificates of `chain` not queued or sent before. Returns
  // true when the queue was empty and now is not (the caller may wake the
  // sender). Cheap: a hash lookup per certificate, under a short lock.
  bool Add(const std::vector<pki::Certificate>& chain) ABSL_LOCKS_EXCLUDED(mu_);

  // Up to `max` queued DER certificates, oldest first, removed from the
  // queue. They stay remembered: a batch lost with its stream is not sent
  // again.
  std::vector<std::string> Take(size_t max) ABSL_LOCKS_EXCLUDED(mu_);

  size_t pending() const ABSL_LOCKS_EXCLUDED(mu_);
  Counters counters() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Pending {
    std::string sha256_hex;
    std::string der;
  };

  const Options options_;

  mutable absl::Mutex mu_;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> remembered_ ABSL_GUARDED_BY(mu_);
  Counters counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_PEER_CERTIFICATE_REPORTS_H_
