// Certificate chain verification against a set of roots.
//
// A RootStore is built once (e.g. per trust snapshot and trust domain) and
// shared read-only by every verifying thread:
//
//   TF_ASSIGN_OR_RETURN(auto store, pki::RootStore::Create(roots));
//   pki::VerifyRequest req{.leaf = leaf, .intermediates = chain_rest,
//                          .at = absl::Now(), .revoked = &snapshot->revocation_index()};
//   absl::StatusOr<pki::VerifiedChain> v = store->Verify(req);
//
// Revocation is decided by a RevocationChecker (the trust snapshot's
// revocation index implements it) over the RevocationFacts of the verified
// chain: what a revocation can match in each certificate.
#ifndef TRUSTFABRIC_COMMON_PKI_VERIFY_H_
#define TRUSTFABRIC_COMMON_PKI_VERIFY_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/pki/certificate.h"
#include "common/pki/openssl_ptr.h"

namespace trustfabric::pki {

// What a revocation can match in one certificate of a verified chain (see
// trust.proto RevocationKind): nothing here changes when the certificate's
// signature is re-encoded, except der_sha256.
struct RevocationFacts {
  std::string der_sha256;   // Certificate::Sha256Hex
  std::string tbs_sha256;   // Certificate::TbsSha256Hex
  std::string spki_sha256;  // Certificate::SpkiSha256Hex
  // SpkiSha256Hex of the certificate's issuer; "" when the issuer is not
  // known (then no issuer + serial revocation matches).
  std::string issuer_spki_sha256;
  // CanonicalSerialHex of the serial number ("" if it has none).
  std::string serial;
  // Certificate::Subject, for messages only (unescaped).
  std::string subject;
};

// Facts of `cert` issued by `issuer` (null: unknown issuer).
RevocationFacts RevocationFactsOf(const Certificate& cert, const Certificate* issuer);
// Facts of every certificate of a verified chain, leaf first, anchor last:
// the issuer of chain[i] is chain[i + 1], and the anchor is its own issuer.
std::vector<RevocationFacts> RevocationFactsOf(const std::vector<Certificate>& chain);

// A certificate of a chain that a revocation matches.
struct RevokedCertificate {
  // Position in the chain (0: the leaf).
  size_t index = 0;
  // The matching revocation's key, e.g. "certificate:<tbs sha256>".
  std::string key;
  // "certificate", "key", "issuer_serial" or "der_only".
  std::string kind;
  // How a message names the certificate: its signed-body hash, or for a
  // der_only revocation the DER hash that matched.
  std::string certificate;
};

// Decides which certificate of a chain is revoked. Implementations are
// immutable and thread-safe.
class RevocationChecker {
 public:
  virtual ~RevocationChecker() = default;
  // The first certificate of `chain` (facts leaf first, anchor last, as
  // RevocationFactsOf(chain) gives them) that a revocation matches, or
  // nullopt when none does.
  virtual std::optional<RevokedCertificate> FirstRevoked(
      const std::vector<RevocationFacts>& chain) const = 0;
};

// "<certificate> (<kind> revocation)", e.g. "3f..9a (key revocation)".
std::string DescribeRevoked(const RevokedCertificate& revoked);

// What the leaf is used for; checked against its extended key usage.
enum class ChainPurpose { kAny, kTlsClient, kTlsServer };

struct VerifyRequest {
  Certificate leaf;
  // Untrusted intermediates offered by the peer (may be empty; may include
  // the leaf again or roots, which are ignored as trust anchors).
  std::vector<Certificate> intermediates;
  // Verification time, normally the injected clock's now. REQUIRES: finite;
  // the InfinitePast default is rejected with INVALID_ARGUMENT, so a
  // forgotten clock fails loudly instead of verifying at a meaningless time.
  absl::Time at = absl::InfinitePast();
  ChainPurpose purpose = ChainPurpose::kAny;
  // Revocations; any certificate of the built chain (leaf, intermediates,
  // anchor) it finds revoked fails verification. May be null (no check).
  const RevocationChecker* revoked = nullptr;
  // When non-empty, the leaf must carry this DNS SAN (exact, case-insensitive
  // per RFC 6125, no wildcards).
  std::string dns_name;
};

struct VerifiedChain {
  // Leaf first, trust anchor last.
  std::vector<Certificate> chain;
  const Certificate& anchor() const { return chain.back(); }
};

// An immutable set of trust anchors.
class RootStore {
 public:
  // INVALID_ARGUMENT when `roots` is empty. Roots need not be CA
  // certificates (a pinned self-signed signing certificate is allowed); the
  // caller enforces its own structural rules.
  static absl::StatusOr<std::shared_ptr<const RootStore>> Create(
      const std::vector<Certificate>& roots);

  ~RootStore();
  RootStore(const RootStore&) = delete;
  RootStore& operator=(const RootStore&) = delete;

  // Verifies with OpenSSL's X509_verify_cert (partial chains off, time
  // `req.at`, purpose), then key strength, then the revocation set, then the
  // DNS name. Returns UNAUTHENTICATED with a stable reason:
  //   "certificate has expired", "certificate is not yet valid",
  //   "unable to get local issuer certificate" (no path to a root, e.g. a
  //     missing intermediate or a foreign root),
  //   "self-signed certificate" (an untrusted self-signed leaf),
  //   "self-signed certificate in certificate chain",
  //   "invalid ca certificate" (intermediate without CA:TRUE),
  //   "path length constraint exceeded",
  //   "unsupported certificate purpose" (EKU lacks the TLS client/server use),
  //   "certificate signature failure",
  //   "certificate verification failed: <openssl reason>" (anything else),
  //   "weak key: <reason>" (a chain certificate fails CheckKeyStrength),
  //   "certificate revoked: <hash> (<kind> revocation)" (see DescribeRevoked),
  //   "dns name mismatch: want fe1.contoso.test".
  // INVALID_ARGUMENT when `req.at` is not finite. Thread-safe.
  absl::StatusOr<VerifiedChain> Verify(const VerifyRequest& req) const;

  const std::vector<Certificate>& roots() const { return roots_; }

 private:
  RootStore(X509StorePtr store, std::vector<Certificate> roots);
  // Never mutated after Create: OpenSSL allows concurrent verifications
  // against one X509_STORE only while nobody adds to it.
  const X509StorePtr store_;
  const std::vector<Certificate> roots_;
};

}  // namespace trustfabric::pki

#endif  // TRUSTFABRIC_COMMON_PKI_VERIFY_H_
