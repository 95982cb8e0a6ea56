// Revocations: their keys, the features a snapshot requires to enforce
// them, and the index every chain decision goes through (docs/design.md §3).
//
// A revocation names what it revokes by kind (trust.proto RevocationKind):
// the signed body of a certificate, a key, an issuer + serial, or (legacy,
// weak) one DER encoding. Each has one key, used wherever revocations are
// stored, diffed, admitted or removed:
//
//   std::string key = trust::RevocationKey(revocation);  // "key:3f2a..."
//
// A snapshot lists the features its content needs (required_features);
// a node that does not know one refuses the snapshot rather than enforce
// part of it (proto3 drops unknown fields, so an older node would fail open):
//
//   std::vector<std::string> needed = trust::RequiredFeatures(proto);
//   TF_RETURN_IF_ERROR(trust::CheckRequiredFeatures(proto));
//
// The index answers "which certificate of this verified chain is revoked":
//
//   if (std::optional<pki::RevokedCertificate> r =
//           snapshot->revocation_index().FirstRevoked(chain)) { refuse }
#ifndef TRUSTFABRIC_COMMON_TRUST_REVOCATION_H_
#define TRUSTFABRIC_COMMON_TRUST_REVOCATION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/pki/certificate.h"
#include "common/pki/verify.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::trust {

// The key of a revocation: sha256_hex for DER_ONLY (legacy revocations keep
// their key), "certificate:<tbs_sha256_hex>", "key:<spki_sha256_hex>",
// "serial:<issuer_spki_sha256_hex>:<serial_hex>". A revocation of an
// unknown kind gets "kind<n>:" followed by its sha256_hex (ValidateRevocation
// refuses it; the key only has to be deterministic).
std::string RevocationKey(const v1::Revocation& revocation);

// True when `key` has the form RevocationKey gives a valid revocation (so
// it can appear verbatim in a message).
bool IsRevocationKey(absl::string_view key);

// "der_only", "certificate", "key", "issuer_serial", or "kind <n>".
std::string RevocationKindName(int kind);

// Feature names (TrustSnapshot.required_features).
inline constexpr absl::string_view kFeatureRevocationCertificate = "revocation.certificate";
inline constexpr absl::string_view kFeatureRevocationKey = "revocation.key";
inline constexpr absl::string_view kFeatureRevocationIssuerSerial = "revocation.issuer_serial";
// Most features a snapshot may list, and longest feature name.
inline constexpr int kMaxRequiredFeatures = 64;
inline constexpr size_t kMaxFeatureNameBytes = 128;

// The features this build enforces, sorted.
const std::vector<std::string>& SupportedFeatures();

// The feature a revocation of `kind` needs; "" for DER_ONLY and for kinds
// this build does not know.
absl::string_view FeatureOf(int kind);

// The feature a revocation whose key (RevocationKey) is `key` needs; "" for
// a DER-only key and for keys of no known kind. Lets a store that keeps
// revocations by key know the features of its state without parsing them.
absl::string_view FeatureOfRevocationKey(absl::string_view key);

// The fields of a revocation of `kind` its key is made of, for messages:
// "tbs_sha256_hex", "spki_sha256_hex", "issuer_spki_sha256_hex and
// serial_hex", or "sha256_hex" (DER-only and kinds this build does not know).
absl::string_view KeyFieldsOf(int kind);

// The features the content of `snapshot` needs, sorted, no duplicates
// (its required_features field is not read).
std::vector<std::string> RequiredFeatures(const v1::TrustSnapshot& snapshot);

// The required_features rule: the list is sorted without duplicates, every
// feature in it is supported by this build, and every feature the content
// needs is in it. INVALID_ARGUMENT otherwise, e.g.
//   required_features: feature "revocation.ocsp" is not supported by this node
//   required_features: revocations[3] needs feature "revocation.key", which is not listed
//   required_features: not sorted ("revocation.key" before "revocation.certificate")
absl::Status CheckRequiredFeatures(const v1::TrustSnapshot& snapshot);

// The revocations of one snapshot, by what each kind matches. Immutable once
// built; shared read-only by every verifying thread.
class RevocationIndex final : public pki::RevocationChecker {
 public:
  // Adds a revocation that passed ValidateRevocation. False (nothing added)
  // when a revocation with the same key is already present.
  bool Add(const v1::Revocation& revocation);

  bool Contains(absl::string_view key) const { return keys_.contains(key); }
  size_t size() const { return keys_.size(); }
  // Every key, sorted.
  std::vector<std::string> SortedKeys() const;

  // For each certificate in order, the first match among: its signed body
  // (certificate), its key (key), its issuer's key and serial
  // (issuer_serial), its DER encoding (der_only).
  std::optional<pki::RevokedCertificate> FirstRevoked(
      const std::vector<pki::RevocationFacts>& chain) const override;
  // The same for a verified chain, leaf first, anchor last.
  std::optional<pki::RevokedCertificate> FirstRevoked(
      const std::vector<pki::Certificate>& chain) const;

 private:
  absl::flat_hash_set<std::string> keys_;
  absl::flat_hash_set<std::string> der_;
  absl::flat_hash_set<std::string> tbs_;
  absl::flat_hash_set<std::string> spki_;
  // "<issuer spki sha256>:<serial>"
  absl::flat_hash_set<std::string> issuer_serial_;
};

}  // namespace trustfabric::trust

#endif  // TRUSTFABRIC_COMMON_TRUST_REVOCATION_H_
