// Test fixtures shared by the common/trust tests: one generated PKI per test
// binary and builders for trust objects and a valid contoso.test snapshot.
//
//   const TrustPki& pki = Pki();
//   v1::TrustSnapshot proto = ValidSnapshot();
//   proto.mutable_roots(0)->clear_purposes();
//   EXPECT_EQ(StatusText(TrustSnapshot::Create(proto).status()),
//             "INVALID_ARGUMENT: roots[0] (contoso-root): purposes: ...");
#ifndef TRUSTFABRIC_TESTS_COMMON_TRUST_TRUST_FIXTURE_H_
#define TRUSTFABRIC_TESTS_COMMON_TRUST_TRUST_FIXTURE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/pki/issue.h"
#include "common/trust/snapshot.h"
#include "tests/testing/test_pki.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::trust {

inline constexpr char kDomain[] = "contoso.test";
inline constexpr char kPartner[] = "fabrikam.test";
inline constexpr char kRealm[] = "9d4f3a2b-1c5e-4f6a-8b7c-0d1e2f3a4b5c";
inline constexpr char kHrGuid[] = "11111111-1111-4111-8111-111111111111";
inline constexpr char kAddinGuid[] = "22222222-2222-4222-8222-222222222222";
inline constexpr char kBrokerGuid[] = "33333333-3333-4333-8333-333333333333";
inline constexpr char kClientA[] = "44444444-4444-4444-8444-444444444444";
inline constexpr char kClientB[] = "5555aaaa-5555-4555-8555-55555555bbbb";

// Key material for the tests of one binary, generated on first use and
// never changed afterwards (safe to share between threads).
struct TrustPki {
  TrustPki();
  testing::TestDomain contoso{kDomain};
  testing::TestDomain fabrikam{kPartner};
  // A CA registered as the token-signing root of contoso.test.
  pki::IssuedCertificate token_root;
  // Token-signing leaves under token_root: RSA-2048, EC P-256, Ed25519.
  pki::IssuedCertificate hr_signing;
  pki::IssuedCertificate ec_signing;
  pki::IssuedCertificate ed_signing;
  // A self-signed RSA signing certificate (the add-in model).
  pki::IssuedCertificate addin_signing;
};
const TrustPki& Pki();

// "<guid>@<kRealm>".
std::string RegisteredName(const std::string& guid);

v1::RootAuthority MakeRoot(const std::string& name, const std::string& trust_domain,
                           const std::string& pem, const std::vector<v1::Purpose>& purposes);
v1::TokenIssuer MakeIssuer(const std::string& name, const std::string& guid,
                           const std::vector<std::string>& signing_pems,
                           const std::vector<v1::SigningAlgorithm>& algorithms);
// Enabled, with one endpoint edge1.<domain> at 127.0.0.13:7443 and that
// name on the trusted server list.
v1::FederationPeer MakePeer(const std::string& trust_domain,
                            const std::vector<std::string>& root_names);
// A DER_ONLY revocation (kind 0: what every revocation was before kinds).
v1::Revocation MakeRevocation(const std::string& sha256_hex);
// Revocations of `cert`'s signed body, of its key, and of its issuer
// (`issuer`'s key) + serial. Each carries a reason and revoked_at.
v1::Revocation CertificateRevocation(const pki::Certificate& cert);
v1::Revocation KeyRevocation(const pki::Certificate& cert);
v1::Revocation IssuerSerialRevocation(const pki::Certificate& cert,
                                      const pki::Certificate& issuer);
// `proto` with required_features set to what its content needs.
v1::TrustSnapshot WithRequiredFeatures(v1::TrustSnapshot proto);

// A valid contoso.test snapshot at `revision`:
//   roots   contoso-root (contoso root + intermediate, mtls),
//           token-root (token_root, token-signing),
//           addin-root (addin_signing, self-signed, token-signing),
//           fabrikam-root (fabrikam root, fabrikam.test, mtls);
//   issuers hr-app (hr_signing, rs256), addin (addin_signing, rs256),
//           broker (ec_signing, es256, trust broker for kClientA, kClientB);
//   peers   fabrikam.test (fabrikam-root);
//   revocations one (the sha256 of "revoked").
v1::TrustSnapshot ValidSnapshot(uint64_t revision = 1);

// The smallest valid snapshot: domain and realm only.
v1::TrustSnapshot EmptySnapshot(uint64_t revision);

// Creates the snapshot; fails the current test (and returns null) if rejected.
std::shared_ptr<const TrustSnapshot> MustCreate(v1::TrustSnapshot proto);

// Expects the peer kPartner of `snapshot` (ValidSnapshot's) listed but inert,
// its root authority fabrikam-root gone: the reason says so, no roots.
void ExpectPartnerInertWithoutItsRoot(const TrustSnapshot& snapshot);

// "OK" or "<CODE>: <message>", so tests compare both in one readable string.
std::string StatusText(const absl::Status& status);

// Expects error_for(domain), a StatusText, to be "INVALID_ARGUMENT:
// trust_domain: \"<domain>\" is not a valid dns name" for each of `domains`
// (a snapshot and a root refuse a bad trust domain alike).
void ExpectTrustDomainsRefused(const std::vector<std::string>& domains,
                               const std::function<std::string(const std::string&)>& error_for);

// A certificate issued by `issuer` (self-signed when null) from `spec`;
// aborts the binary on error, as a half-built PKI would make tests lie.
pki::IssuedCertificate MustIssue(const pki::CertificateSpec& spec,
                                 const pki::IssuedCertificate* issuer);

// MustIssue with a fresh 1024-bit RSA key in place of spec.key: a
// certificate whose key is below the 2048-bit minimum.
pki::IssuedCertificate MustIssueWithWeakKey(pki::CertificateSpec spec,
                                            const pki::IssuedCertificate* issuer);

// One-change TrustChange builders.
inline v1::TrustChange PutRoot(const v1::RootAuthority& root) {
  v1::TrustChange change;
  *change.mutable_put_root() = root;
  return change;
}
inline v1::TrustChange RemoveRoot(const std::string& name) {
  v1::TrustChange change;
  change.set_remove_root(name);
  return change;
}
inline v1::TrustChange PutIssuer(const v1::TokenIssuer& issuer) {
  v1::TrustChange change;
  *change.mutable_put_issuer() = issuer;
  return change;
}
inline v1::TrustChange RemoveIssuer(const std::string& name) {
  v1::TrustChange change;
  change.set_remove_issuer(name);
  return change;
}
inline v1::TrustChange PutPeer(const v1::FederationPeer& peer) {
  v1::TrustChange change;
  *change.mutable_put_peer() = peer;
  return change;
}
inline v1::TrustChange RemovePeer(const std::string& trust_domain) {
  v1::TrustChange change;
  change.set_remove_peer(trust_domain);
  return change;
}
inline v1::TrustChange PutRevocation(const v1::Revocation& revocation) {
  v1::TrustChange change;
  *change.mutable_put_revocation() = revocation;
  return change;
}
inline v1::TrustChange RemoveRevocation(const std::string& sha256_hex) {
  v1::TrustChange change;
  change.set_remove_revocation(sha256_hex);
  return change;
}

}  // namespace trustfabric::trust

#endif  // TRUSTFABRIC_TESTS_COMMON_TRUST_TRUST_FIXTURE_H_
