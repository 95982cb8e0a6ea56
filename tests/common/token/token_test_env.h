// Shared fixture for the token tests: a generated token-signing PKI, a trust
// snapshot registering its issuers, and credentials and options to mint and
// verify with.
//
//   const TokenPki& pki = SharedTokenPki();
//   auto snapshot = MustCreateSnapshot(BaseSnapshot(pki));
//   std::string t = *MintAppOnlyToken(AppOptions(now), Credentials(pki.app));
//
// Issuers of the base snapshot:
//   app-a   per-application, RS256, two certificates (rotation), self-signed
//           and registered as their own TOKEN_SIGNING root, allows delegation
//   broker  trust broker for kBrokerClient, ES256, certificate issued by the
//           contoso root (MTLS + TOKEN_SIGNING), allows delegation
//   app-ed  per-application, EdDSA, self-signed, does not allow delegation
//   other   per-application, RS256, self-signed
//
// GTest-free on purpose: bench/token_bench.cc measures verification on this
// same state (it links tf_domain_pki and tf_token, not the tests).
#ifndef TRUSTFABRIC_TESTS_COMMON_TOKEN_TOKEN_TEST_ENV_H_
#define TRUSTFABRIC_TESTS_COMMON_TOKEN_TOKEN_TEST_ENV_H_

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/pki/issue.h"
#include "common/token/mint.h"
#include "common/token/verifier.h"
#include "common/trust/snapshot.h"
#include "tests/testing/test_pki.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::token::test {

inline constexpr char kRealm[] = "6c9a3f4e-1b2d-4e5f-8a7b-9c0d1e2f3a4b";
inline constexpr char kOtherRealm[] = "0f0e0d0c-0b0a-4090-8070-605040302010";
inline constexpr char kAppGuid[] = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
inline constexpr char kBrokerGuid[] = "b0b0b0b0-0000-4000-8000-00000000b0b0";
inline constexpr char kBrokerClient[] = "c1c1c1c1-0000-4000-8000-00000000c1c1";
inline constexpr char kEdGuid[] = "edededed-0000-4000-8000-00000000eded";
inline constexpr char kOtherGuid[] = "0dd0dd0d-0000-4000-8000-000000000dd0";
inline constexpr char kHost[] = "fe1.contoso.test";

template <typename T>
T OrDie(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::cerr << what << ": " << v.status() << "\n";
    std::abort();
  }
  return *std::move(v);
}

using testing::SigningCertificate;

struct TokenPki {
  testing::TestDomain domain{"contoso.test"};
  pki::IssuedCertificate app = testing::SelfSignedSigningCert("app-a");
  pki::IssuedCertificate app_next = testing::SelfSignedSigningCert("app-a next");
  pki::IssuedCertificate broker =
      SigningCertificate("broker", pki::KeyType::kEcP256, &domain.root());
  pki::IssuedCertificate ed = SigningCertificate("app-ed", pki::KeyType::kEd25519);
  pki::IssuedCertificate other = testing::SelfSignedSigningCert("other");
};

// Generated once per test binary (RSA key generation is slow).
inline const TokenPki& SharedTokenPki() {
  static const TokenPki* pki = new TokenPki();
  return *pki;
}

inline void AddRoot(v1::TrustSnapshot* s, const std::string& name, const std::string& pem,
                    bool mtls = false) {
  v1::RootAuthority* r = s->add_roots();
  r->set_name(name);
  r->set_trust_domain("contoso.test");
  r->set_certificates_pem(pem);
  if (mtls) r->add_purposes(v1::MTLS);
  r->add_purposes(v1::TOKEN_SIGNING);
}

inline v1::TokenIssuer* AddIssuer(v1::TrustSnapshot* s, const std::string& name,
                                  const std::string& guid,
                                  std::initializer_list<const pki::IssuedCertificate*> certs,
                                  v1::SigningAlgorithm alg, bool allow_delegation) {
  v1::TokenIssuer* i = s->add_issuers();
  i->set_name(name);
  i->set_registered_issuer_name(absl::StrCat(guid, "@", kRealm));
  for (const pki::IssuedCertificate* c : certs)
    i->add_signing_certificates_pem(c->certificate.ToPem());
  i->add_algorithms(alg);
  i->set_allow_user_delegation(allow_delegation);
  return i;
}

inline v1::TrustSnapshot BaseSnapshot(const TokenPki& pki, uint64_t revision = 1) {
  v1::TrustSnapshot s;
  s.set_revision(revision);
  s.set_trust_domain("contoso.test");
  s.set_realm(kRealm);
  AddRoot(&s, "contoso-root", pki.domain.RootPem(), /*mtls=*/true);
  AddRoot(&s, "app-a-signing", pki::ToPemBundle({pki.app.certificate, pki.app_next.certificate}));
  AddRoot(&s, "app-ed-signing", pki.ed.certificate.ToPem());
  AddRoot(&s, "other-signing", pki.other.certificate.ToPem());
  AddIssuer(&s, "app-a", kAppGuid, {&pki.app, &pki.app_next}, v1::RS256, true);
  v1::TokenIssuer* broker = AddIssuer(&s, "broker", kBrokerGuid, {&pki.broker}, v1::ES256, true);
  broker->set_trust_broker(true);
  broker->add_broker_client_ids(kBrokerClient);
  AddIssuer(&s, "app-ed", kEdGuid, {&pki.ed}, v1::EDDSA, false);
  AddIssuer(&s, "other", kOtherGuid, {&pki.other}, v1::RS256, false);
  return s;
}

inline std::shared_ptr<const trust::TrustSnapshot> MustCreateSnapshot(v1::TrustSnapshot proto) {
  return OrDie(trust::TrustSnapshot::Create(std::move(proto)), "create snapshot");
}

inline SigningCredentials Credentials(const pki::IssuedCertificate& cert) {
  return OrDie(SigningCredentials::Create(cert.key, cert.certificate), "signing credentials");
}

// Mint options for an issuer GUID and client id (same for per-app issuers).
inline MintOptions Options(absl::Time now, const std::string& issuer_guid,
                           const std::string& client_id) {
  MintOptions o;
  o.issuer_id = issuer_guid;
  o.client_id = client_id;
  o.realm = kRealm;
  o.host = kHost;
  o.now = now;
  o.lifetime = absl::Hours(1);
  return o;
}
inline MintOptions AppOptions(absl::Time now) { return Options(now, kAppGuid, kAppGuid); }
inline MintOptions BrokerOptions(absl::Time now) {
  return Options(now, kBrokerGuid, kBrokerClient);
}
inline MintOptions EdOptions(absl::Time now) { return Options(now, kEdGuid, kEdGuid); }

// A verifier for kHost whose clock reads *clock. The token tests cover the
// whole add-in profile, unsigned outer tokens included, unless they ask for
// the signed policy.
inline std::unique_ptr<TokenVerifier> MakeVerifier(
    const absl::Time* clock, size_t cache_capacity = 10000,
    OuterTokenPolicy outer_token = OuterTokenPolicy::kUnsignedAllowed) {
  VerifierOptions o;
  o.hosts = {kHost};
  o.outer_token = outer_token;
  o.clock = [clock] { return *clock; };
  o.cache_capacity = cache_capacity;
  return OrDie(TokenVerifier::Create(std::move(o)), "verifier");
}

// Whole seconds, like token timestamps.
inline absl::Time TestNow() { return absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())); }

}  // namespace trustfabric::token::test

#endif  // TRUSTFABRIC_TESTS_COMMON_TOKEN_TOKEN_TEST_ENV_H_
