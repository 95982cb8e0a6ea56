// Certificate chain verification against a set of roots.
//
// A RootStore is built once (e.g. per trust snapshot and trust domain) and
// shared read-only by every verifying thread:
//
//   TF_ASSIGN_OR_RETURN(auto store, pki::RootStore::Create(roots));
//   pki::VerifyRequest req{.leaf = leaf, .intermediates = chain_rest,
//                          .at = absl::Now(), .revoked = &revoked_set};
//   absl::StatusOr<pki::VerifiedChain> v = store->Verify(req);
#ifndef TRUSTFABRIC_COMMON_PKI_VERIFY_H_
#define TRUSTFABRIC_COMMON_PKI_VERIFY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/pki/certificate.h"
#include "common/pki/openssl_ptr.h"

namespace trustfabric::pki {

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
  // SHA-256 hex of revoked certificates; any certificate of the built chain
  // (leaf, intermediates, root) found here fails verification. May be null.
  const absl::flat_hash_set<std::string>* revoked = nullptr;
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
  //   "certificate revoked: <sha256-hex>",
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
