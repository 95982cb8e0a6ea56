// PeerCertificateReports; see peer_certificate_reports.h.
#include "server/node/peer_certificate_reports.h"

#include <algorithm>
#include <utility>

namespace trustfabric::node {

PeerCertificateReports::PeerCertificateReports(Options options) : options_(options) {}

bool PeerCertificateReports::Add(const std::vector<pki::Certificate>& chain) {
  absl::MutexLock lock(&mu_);
  const bool was_empty = pending_.empty();
  for (const pki::Certificate& cert : chain) {
    if (remembered_.contains(cert.Sha256Hex())) continue;
    if (pending_.size() >= options_.max_pending) {
      // Not remembered: seen again after the queue drained, it is queued.
      ++counters_.dropped;
      continue;
    }
    if (remembered_.size() >= options_.max_remembered) {
      remembered_.clear();
      ++counters_.forgotten;
      // What is still queued stays deduplicated.
      for (const Pending& p : pending_) remembered_.insert(p.sha256_hex);
    }
    remembered_.insert(cert.Sha256Hex());
    pending_.push_back(Pending{cert.Sha256Hex(), cert.der()});
    ++counters_.queued;
  }
  return was_empty && !pending_.empty();
}

std::vector<std::string> PeerCertificateReports::Take(size_t max) {
  absl::MutexLock lock(&mu_);
  const size_t n = std::min(max, pending_.size());
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(std::move(pending_.front().der));
    pending_.pop_front();
  }
  return out;
}

size_t PeerCertificateReports::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

PeerCertificateReports::Counters PeerCertificateReports::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

}  // namespace trustfabric::node
