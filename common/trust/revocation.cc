// Revocation keys, features and the revocation index; see revocation.h.
#include "common/trust/revocation.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "common/trust/validation.h"

namespace trustfabric::trust {
namespace {

constexpr absl::string_view kCertificatePrefix = "certificate:";
constexpr absl::string_view kKeyPrefix = "key:";
constexpr absl::string_view kSerialPrefix = "serial:";

std::string IssuerSerial(absl::string_view issuer_spki, absl::string_view serial) {
  return absl::StrCat(issuer_spki, ":", serial);
}

// Each kind of revocation this build knows: the prefix of its key (none for
// DER-only, whose key is the bare hash), the feature it needs, and the fields
// its key is made of. An unknown kind is keyed like DER-only.
struct KindFacts {
  v1::RevocationKind kind;
  absl::string_view key_prefix;
  absl::string_view feature;
  absl::string_view key_fields;
};
constexpr KindFacts kKinds[] = {
    {v1::REVOCATION_DER_ONLY, "", "", "sha256_hex"},
    {v1::REVOCATION_CERTIFICATE, kCertificatePrefix, kFeatureRevocationCertificate,
     "tbs_sha256_hex"},
    {v1::REVOCATION_KEY, kKeyPrefix, kFeatureRevocationKey, "spki_sha256_hex"},
    {v1::REVOCATION_ISSUER_SERIAL, kSerialPrefix, kFeatureRevocationIssuerSerial,
     "issuer_spki_sha256_hex and serial_hex"},
};

const KindFacts* FactsOfKind(int kind) {
  for (const KindFacts& facts : kKinds) {
    if (facts.kind == kind) return &facts;
  }
  return nullptr;
}

bool IsCanonicalSerial(absl::string_view serial) {
  if (serial.empty()) return false;
  absl::StatusOr<std::string> canonical = pki::CanonicalSerialHex(serial);
  return canonical.ok() && *canonical == serial;
}

}  // namespace

std::string RevocationKey(const v1::Revocation& revocation) {
  switch (revocation.kind()) {
    case v1::REVOCATION_DER_ONLY:
      return revocation.sha256_hex();
    case v1::REVOCATION_CERTIFICATE:
      return absl::StrCat(kCertificatePrefix, revocation.tbs_sha256_hex());
    case v1::REVOCATION_KEY:
      return absl::StrCat(kKeyPrefix, revocation.spki_sha256_hex());
    case v1::REVOCATION_ISSUER_SERIAL:
      return absl::StrCat(kSerialPrefix,
                          IssuerSerial(revocation.issuer_spki_sha256_hex(), revocation.serial_hex()));
    default:
      return absl::StrCat("kind", static_cast<int>(revocation.kind()), ":",
                          revocation.sha256_hex());
  }
}

bool IsRevocationKey(absl::string_view key) {
  if (IsSha256Hex(key)) return true;
  if (absl::ConsumePrefix(&key, kCertificatePrefix) || absl::ConsumePrefix(&key, kKeyPrefix)) {
    return IsSha256Hex(key);
  }
  if (!absl::ConsumePrefix(&key, kSerialPrefix) || key.size() < 65 || key[64] != ':') {
    return false;
  }
  return IsSha256Hex(key.substr(0, 64)) && IsCanonicalSerial(key.substr(65));
}

std::string RevocationKindName(int kind) {
  return ProtoEnumName(*v1::RevocationKind_descriptor(), kind, "REVOCATION_", '_', "kind");
}

const std::vector<std::string>& SupportedFeatures() {
  static const std::vector<std::string>* const kSupported = [] {
    auto* features = new std::vector<std::string>{std::string(kFeatureRevocationCertificate),
                                                  std::string(kFeatureRevocationIssuerSerial),
                                                  std::string(kFeatureRevocationKey)};
    std::sort(features->begin(), features->end());
    return features;
  }();
  return *kSupported;
}

absl::string_view FeatureOf(int kind) {
  const KindFacts* facts = FactsOfKind(kind);
  return facts != nullptr ? facts->feature : "";
}

absl::string_view FeatureOfRevocationKey(absl::string_view key) {
  for (const KindFacts& facts : kKinds) {
    if (!facts.key_prefix.empty() && absl::StartsWith(key, facts.key_prefix)) return facts.feature;
  }
  return "";
}

absl::string_view KeyFieldsOf(int kind) {
  const KindFacts* facts = FactsOfKind(kind);
  return facts != nullptr ? facts->key_fields : kKinds[0].key_fields;
}

std::vector<std::string> RequiredFeatures(const v1::TrustSnapshot& snapshot) {
  std::vector<std::string> features;
  for (const v1::Revocation& revocation : snapshot.revocations()) {
    absl::string_view feature = FeatureOf(revocation.kind());
    if (feature.empty()) continue;
    if (std::find(features.begin(), features.end(), feature) == features.end()) {
      features.emplace_back(feature);
    }
  }
  std::sort(features.begin(), features.end());
  return features;
}

absl::Status CheckRequiredFeatures(const v1::TrustSnapshot& snapshot) {
  const auto& listed = snapshot.required_features();
  if (listed.size() > kMaxRequiredFeatures) {
    return absl::InvalidArgumentError(absl::StrCat("required_features: ", listed.size(),
                                                   " entries exceed the limit of ",
                                                   kMaxRequiredFeatures));
  }
  const std::vector<std::string>& supported = SupportedFeatures();
  for (int i = 0; i < listed.size(); ++i) {
    const std::string& feature = listed[i];
    if (feature.size() > kMaxFeatureNameBytes ||
        !std::binary_search(supported.begin(), supported.end(), feature)) {
      return absl::InvalidArgumentError(absl::StrCat("required_features: feature ",
                                                     QuoteForMessage(feature),
                                                     " is not supported by this node"));
    }
    if (i > 0 && listed[i - 1] >= feature) {
      return absl::InvalidArgumentError(
          listed[i - 1] == feature
              ? absl::StrCat("required_features[", i, "]: duplicate \"", feature, "\"")
              : absl::StrCat("required_features: not sorted (\"", listed[i - 1], "\" before \"",
                             feature, "\")"));
    }
  }
  for (int i = 0; i < snapshot.revocations_size(); ++i) {
    absl::string_view feature = FeatureOf(snapshot.revocations(i).kind());
    if (feature.empty()) continue;
    if (std::find(listed.begin(), listed.end(), feature) == listed.end()) {
      return absl::InvalidArgumentError(absl::StrCat("required_features: revocations[", i,
                                                     "] needs feature \"", feature,
                                                     "\", which is not listed"));
    }
  }
  return absl::OkStatus();
}

bool RevocationIndex::Add(const v1::Revocation& revocation) {
  if (!keys_.insert(RevocationKey(revocation)).second) return false;
  switch (revocation.kind()) {
    case v1::REVOCATION_DER_ONLY:
      der_.insert(revocation.sha256_hex());
      break;
    case v1::REVOCATION_CERTIFICATE:
      tbs_.insert(revocation.tbs_sha256_hex());
      break;
    case v1::REVOCATION_KEY:
      spki_.insert(revocation.spki_sha256_hex());
      break;
    case v1::REVOCATION_ISSUER_SERIAL:
      issuer_serial_.insert(
          IssuerSerial(revocation.issuer_spki_sha256_hex(), revocation.serial_hex()));
      break;
    default:
      break;
  }
  return true;
}

std::vector<std::string> RevocationIndex::SortedKeys() const {
  std::vector<std::string> keys(keys_.begin(), keys_.end());
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::optional<pki::RevokedCertificate> RevocationIndex::FirstRevoked(
    const std::vector<pki::RevocationFacts>& chain) const {
  if (keys_.empty()) return std::nullopt;
  for (size_t i = 0; i < chain.size(); ++i) {
    const pki::RevocationFacts& c = chain[i];
    pki::RevokedCertificate revoked;
    revoked.index = i;
    revoked.certificate = c.tbs_sha256;
    // Empty facts (a certificate that did not parse that far) never match:
    // every stored value is a non-empty, validated hash.
    if (!c.tbs_sha256.empty() && tbs_.contains(c.tbs_sha256)) {
      revoked.kind = RevocationKindName(v1::REVOCATION_CERTIFICATE);
      revoked.key = absl::StrCat(kCertificatePrefix, c.tbs_sha256);
      return revoked;
    }
    if (!c.spki_sha256.empty() && spki_.contains(c.spki_sha256)) {
      revoked.kind = RevocationKindName(v1::REVOCATION_KEY);
      revoked.key = absl::StrCat(kKeyPrefix, c.spki_sha256);
      return revoked;
    }
    if (!issuer_serial_.empty() && !c.issuer_spki_sha256.empty() && !c.serial.empty()) {
      std::string issuer_serial = IssuerSerial(c.issuer_spki_sha256, c.serial);
      if (issuer_serial_.contains(issuer_serial)) {
        revoked.kind = RevocationKindName(v1::REVOCATION_ISSUER_SERIAL);
        revoked.key = absl::StrCat(kSerialPrefix, issuer_serial);
        return revoked;
      }
    }
    if (!c.der_sha256.empty() && der_.contains(c.der_sha256)) {
      revoked.kind = RevocationKindName(v1::REVOCATION_DER_ONLY);
      revoked.key = c.der_sha256;
      revoked.certificate = c.der_sha256;
      return revoked;
    }
  }
  return std::nullopt;
}

std::optional<pki::RevokedCertificate> RevocationIndex::FirstRevoked(
    const std::vector<pki::Certificate>& chain) const {
  if (keys_.empty()) return std::nullopt;
  return FirstRevoked(pki::RevocationFactsOf(chain));
}

}  // namespace trustfabric::trust
