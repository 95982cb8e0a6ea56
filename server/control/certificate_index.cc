// CertificateIndex; see certificate_index.h.
#include "server/control/certificate_index.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "common/util/enum_names.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace trustfabric::control {
namespace {

// Signature checks spent on finding one certificate's issuer in a report.
constexpr int kMaxIssuerAttempts = 4;

// Whether `issuer` signed `cert` (names, key identifiers and signature).
bool IssuedBy(const pki::Certificate& cert, const pki::Certificate& issuer) {
  if (X509_check_issued(issuer.get(), cert.get()) != X509_V_OK) return false;
  EVP_PKEY* key = X509_get0_pubkey(issuer.get());
  return key != nullptr && X509_verify(cert.get(), key) == 1;
}

}  // namespace

constexpr util::EnumName<CertificateSource> kCertificateSourceNames[] = {
    {CertificateSource::kNodeIdentity, "node identity"},
    {CertificateSource::kRoot, "root"},
    {CertificateSource::kIssuer, "issuer"},
    {CertificateSource::kPeerReport, "peer report"}};

absl::string_view CertificateSourceName(CertificateSource source) {
  return util::NameOf(kCertificateSourceNames, source, "unknown");
}

CertificateFacts FactsOf(const pki::Certificate& cert, const pki::Certificate* issuer,
                         CertificateSource source) {
  CertificateFacts facts;
  facts.sha256_hex = cert.Sha256Hex();
  facts.tbs_sha256_hex = cert.TbsSha256Hex();
  facts.spki_sha256_hex = cert.SpkiSha256Hex();
  // A serial beyond what revocations accept (over 64 digits) cannot be
  // revoked by issuer + serial; the other facts still hold.
  absl::StatusOr<std::string> serial = pki::CanonicalSerialHex(cert.SerialHex());
  if (serial.ok()) facts.serial_hex = *std::move(serial);
  if (issuer != nullptr) {
    facts.issuer_spki_sha256_hex = issuer->SpkiSha256Hex();
  } else if (cert.IsSelfSigned()) {
    facts.issuer_spki_sha256_hex = facts.spki_sha256_hex;
  }
  facts.subject = cert.Subject();
  facts.source = source;
  return facts;
}

std::vector<CertificateFacts> VerifiedChainFacts(const std::vector<std::string>& chain_sha256,
                                                 const std::vector<pki::Certificate>& presented,
                                                 const CertificateIndex* index,
                                                 CertificateSource source) {
  std::vector<CertificateFacts> facts;
  facts.reserve(chain_sha256.size());
  for (const std::string& sha : chain_sha256) {
    const pki::Certificate* cert = nullptr;
    for (const pki::Certificate& c : presented) {
      if (c.Sha256Hex() == sha) {
        cert = &c;
        break;
      }
    }
    if (cert != nullptr) {
      facts.push_back(FactsOf(*cert, nullptr, source));
      continue;
    }
    std::optional<CertificateFacts> found = index != nullptr ? index->Find(sha) : std::nullopt;
    if (found.has_value()) {
      found->source = source;
      found->reporter.clear();
      facts.push_back(*std::move(found));
      continue;
    }
    CertificateFacts only_hash;
    only_hash.sha256_hex = sha;
    only_hash.source = source;
    facts.push_back(std::move(only_hash));
  }
  // Verified order: each certificate was signed by the next one.
  for (size_t i = 0; i + 1 < facts.size(); ++i) {
    if (!facts[i].der_only() && !facts[i + 1].der_only()) {
      facts[i].issuer_spki_sha256_hex = facts[i + 1].spki_sha256_hex;
    }
  }
  return facts;
}

bool RevocationMatches(const v1::Revocation& revocation, const CertificateFacts& facts) {
  switch (revocation.kind()) {
    case v1::REVOCATION_DER_ONLY:
      return !facts.sha256_hex.empty() && revocation.sha256_hex() == facts.sha256_hex;
    case v1::REVOCATION_CERTIFICATE:
      return !facts.tbs_sha256_hex.empty() &&
             revocation.tbs_sha256_hex() == facts.tbs_sha256_hex;
    case v1::REVOCATION_KEY:
      return !facts.spki_sha256_hex.empty() &&
             revocation.spki_sha256_hex() == facts.spki_sha256_hex;
    case v1::REVOCATION_ISSUER_SERIAL:
      return !facts.issuer_spki_sha256_hex.empty() && !facts.serial_hex.empty() &&
             revocation.issuer_spki_sha256_hex() == facts.issuer_spki_sha256_hex &&
             revocation.serial_hex() == facts.serial_hex;
    default:
      return false;
  }
}

CertificateIndex::CertificateIndex(Options options) : options_(options) {}

void CertificateIndex::AddKnown(const std::vector<CertificateFacts>& facts) {
  std::vector<std::string> learned;
  {
    absl::MutexLock lock(&mu_);
    for (const CertificateFacts& f : facts) {
      if (f.der_only()) continue;
      auto it = entries_.find(f.sha256_hex);
      if (it != entries_.end()) {
        Entry& entry = it->second;
        if (entry.facts.issuer_spki_sha256_hex.empty()) {
          entry.facts.issuer_spki_sha256_hex = f.issuer_spki_sha256_hex;
        }
        if (!entry.known && known_ < options_.max_known) {
          // Known first-hand now: no longer the reporter's to evict.
          auto node = per_node_.find(entry.facts.reporter);
          if (node != per_node_.end() && --node->second == 0) per_node_.erase(node);
          entry.known = true;
          entry.facts.source = f.source;
          entry.facts.reporter.clear();
          ++known_;
        }
        continue;
      }
      if (known_ >= options_.max_known) {
        ++counters_.known_dropped;
        continue;
      }
      Entry& entry = entries_[f.sha256_hex];
      entry.facts = f;
      entry.facts.reporter.clear();
      entry.known = true;
      ++known_;
      learned.push_back(f.sha256_hex);
    }
  }
  Notify(learned);
}

CertificateIndex::ReportResult CertificateIndex::AddReport(
    absl::string_view node, const std::vector<absl::string_view>& certificates_der) {
  ReportResult result;
  // Parsed outside the lock; the same DER twice in one report counts once.
  std::vector<pki::Certificate> certs;
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < certificates_der.size(); ++i) {
    if (i >= options_.max_per_report) {
      result.dropped += certificates_der.size() - i;
      break;
    }
    const absl::string_view der = certificates_der[i];
    if (der.empty() || der.size() > options_.max_der_bytes) {
      ++result.malformed;
      continue;
    }
    absl::StatusOr<pki::Certificate> cert = pki::Certificate::FromDer(der);
    if (!cert.ok()) {
      ++result.malformed;
      continue;
    }
    if (!seen.insert(cert->Sha256Hex()).second) {
      ++result.duplicates;
      continue;
    }
    certs.push_back(*std::move(cert));
  }
  std::vector<std::string> subjects;
  subjects.reserve(certs.size());
  for (const pki::Certificate& c : certs) subjects.push_back(c.Subject());
  std::vector<CertificateFacts> facts;
  facts.reserve(certs.size());
  for (size_t i = 0; i < certs.size(); ++i) {
    const pki::Certificate* issuer = nullptr;
    if (!certs[i].IsSelfSigned()) {
      const std::string issuer_name = certs[i].Issuer();
      int attempts = 0;
      for (size_t j = 0; j < certs.size() && attempts < kMaxIssuerAttempts; ++j) {
        if (j == i || subjects[j] != issuer_name) continue;
        ++attempts;
        if (IssuedBy(certs[i], certs[j])) {
          issuer = &certs[j];
          break;
        }
      }
    }
    CertificateFacts f = FactsOf(certs[i], issuer, CertificateSource::kPeerReport);
    f.reporter = std::string(node);
    facts.push_back(std::move(f));
  }

  std::vector<std::string> learned;
  {
    absl::MutexLock lock(&mu_);
    for (CertificateFacts& f : facts) {
      auto it = entries_.find(f.sha256_hex);
      if (it != entries_.end()) {
        if (it->second.facts.issuer_spki_sha256_hex.empty()) {
          it->second.facts.issuer_spki_sha256_hex = f.issuer_spki_sha256_hex;
        }
        ++result.duplicates;
        continue;
      }
      auto share = per_node_.find(f.reporter);
      if (share != per_node_.end() && share->second >= options_.max_reported_per_node) {
        ++result.dropped;
        continue;
      }
      MakeRoomLocked();
      ++per_node_[f.reporter];
      learned.push_back(f.sha256_hex);
      reported_order_.push_back(f.sha256_hex);
      Entry& entry = entries_[f.sha256_hex];
      entry.facts = std::move(f);
      ++result.added;
    }
    counters_.reported_added += result.added;
    counters_.reported_duplicates += result.duplicates;
    counters_.reported_malformed += result.malformed;
    counters_.reported_dropped += result.dropped;
  }
  Notify(learned);
  return result;
}

void CertificateIndex::MakeRoomLocked() {
  while (entries_.size() - known_ >= options_.max_reported && !reported_order_.empty()) {
    const std::string sha = std::move(reported_order_.front());
    reported_order_.pop_front();
    auto it = entries_.find(sha);
    // Entries that became known stay.
    if (it == entries_.end() || it->second.known) continue;
    auto node = per_node_.find(it->second.facts.reporter);
    if (node != per_node_.end() && --node->second == 0) per_node_.erase(node);
    entries_.erase(it);
    ++counters_.reported_evicted;
  }
}

void CertificateIndex::Notify(const std::vector<std::string>& learned) const {
  if (!learned.empty() && listener_) listener_(learned);
}

std::optional<CertificateFacts> CertificateIndex::Find(absl::string_view sha256_hex) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(sha256_hex);
  if (it == entries_.end()) return std::nullopt;
  return it->second.facts;
}

size_t CertificateIndex::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

size_t CertificateIndex::reported_size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size() - known_;
}

CertificateIndex::Counters CertificateIndex::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

}  // namespace trustfabric::control
