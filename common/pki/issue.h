// Certificate issuance for development PKIs and tests.
//
//   pki::CertificateSpec spec;
//   spec.common_name = "contoso root"; spec.is_ca = true;
//   TF_ASSIGN_OR_RETURN(pki::IssuedCertificate root, pki::Issue(spec, nullptr));
//   spec = {}; spec.common_name = "fe1.contoso.test";
//   spec.dns_names = {"fe1.contoso.test"};
//   spec.uri_names = {"spiffe://contoso.test/frontend/fe1"};
//   TF_ASSIGN_OR_RETURN(pki::IssuedCertificate leaf, pki::Issue(spec, &root));
#ifndef TRUSTFABRIC_COMMON_PKI_ISSUE_H_
#define TRUSTFABRIC_COMMON_PKI_ISSUE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/pki/certificate.h"
#include "common/pki/private_key.h"

namespace trustfabric::pki {

struct IssuedCertificate {
  Certificate certificate;
  PrivateKey key;
};

struct CertificateSpec {
  std::string common_name;
  std::string organization;
  std::vector<std::string> dns_names;
  std::vector<std::string> uri_names;
  // basicConstraints CA:TRUE (critical) with keyCertSign|cRLSign usage when
  // true; otherwise CA:FALSE with digitalSignature (+keyEncipherment for
  // RSA) and extendedKeyUsage serverAuth+clientAuth (unless `signing_only`,
  // used for token-signing certificates).
  bool is_ca = false;
  // pathLenConstraint for CA certificates; -1 for none.
  int path_length = -1;
  // Omit basicConstraints entirely (tests of malformed chains).
  bool omit_basic_constraints = false;
  // Token-signing certificate: digitalSignature only, no TLS EKU.
  bool signing_only = false;
  // Validity. Both unset (InfinitePast): now - 1 h .. now + `lifetime`; only
  // one set: the other is `lifetime` away from it (so an expired or a
  // not-yet-valid certificate needs just one field). INVALID_ARGUMENT unless
  // not_before < not_after.
  absl::Time not_before = absl::InfinitePast();
  absl::Time not_after = absl::InfinitePast();
  absl::Duration lifetime = absl::Hours(24 * 365);
  KeyType key_type = KeyType::kEcP256;
  // Use this key instead of generating one (e.g. a weak RSA key in tests).
  std::optional<PrivateKey> key;
};

// Issues a certificate signed by `issuer`, or self-signed when null. The
// issuer need not be a CA (tests build invalid chains on purpose).
// SHA-256 signatures (none for Ed25519), a random positive 16-byte serial,
// subject and authority key identifiers. INVALID_ARGUMENT ("certificate
// spec: <field>: <reason>") on a bad spec (e.g. an empty common name, a
// malformed SAN) and when the issuer's key does not match its certificate.
// SANs are checked for shape only: a URI SAN need not be a valid SPIFFE ID,
// a DNS SAN may be "localhost" or a wildcard.
absl::StatusOr<IssuedCertificate> Issue(const CertificateSpec& spec,
                                        const IssuedCertificate* issuer);

}  // namespace trustfabric::pki

#endif  // TRUSTFABRIC_COMMON_PKI_ISSUE_H_
