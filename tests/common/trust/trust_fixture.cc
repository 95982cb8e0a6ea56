// Shared fixtures of the common/trust tests; see trust_fixture.h.
#include "tests/common/trust/trust_fixture.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/pki/encoding.h"
#include "common/pki/private_key.h"
#include "gtest/gtest.h"

namespace trustfabric::trust {
namespace {

pki::IssuedCertificate TokenSigningLeaf(const pki::IssuedCertificate& ca, const std::string& cn,
                                        pki::KeyType key_type) {
  pki::CertificateSpec spec;
  spec.common_name = cn;
  spec.signing_only = true;
  spec.key_type = key_type;
  return MustIssue(spec, &ca);
}

pki::IssuedCertificate TokenRoot() {
  pki::CertificateSpec spec;
  spec.common_name = "contoso token signing ca";
  spec.is_ca = true;
  return MustIssue(spec, nullptr);
}

}  // namespace

TrustPki::TrustPki()
    : token_root(TokenRoot()),
      hr_signing(testing::SigningCertUnder(token_root, "hr-app signing")),
      ec_signing(TokenSigningLeaf(token_root, "broker signing", pki::KeyType::kEcP256)),
      ed_signing(TokenSigningLeaf(token_root, "ed signing", pki::KeyType::kEd25519)),
      addin_signing(testing::SelfSignedSigningCert("addin signing")) {}

const TrustPki& Pki() {
  static const TrustPki* const pki = new TrustPki();
  return *pki;
}

std::string RegisteredName(const std::string& guid) { return absl::StrCat(guid, "@", kRealm); }

v1::RootAuthority MakeRoot(const std::string& name, const std::string& trust_domain,
                           const std::string& pem, const std::vector<v1::Purpose>& purposes) {
  v1::RootAuthority root;
  root.set_name(name);
  root.set_trust_domain(trust_domain);
  root.set_certificates_pem(pem);
  for (v1::Purpose purpose : purposes) root.add_purposes(purpose);
  return root;
}

v1::TokenIssuer MakeIssuer(const std::string& name, const std::string& guid,
                           const std::vector<std::string>& signing_pems,
                           const std::vector<v1::SigningAlgorithm>& algorithms) {
  v1::TokenIssuer issuer;
  issuer.set_name(name);
  issuer.set_registered_issuer_name(RegisteredName(guid));
  for (const std::string& pem : signing_pems) issuer.add_signing_certificates_pem(pem);
  for (v1::SigningAlgorithm algorithm : algorithms) issuer.add_algorithms(algorithm);
  return issuer;
}

v1::FederationPeer MakePeer(const std::string& trust_domain,
                            const std::vector<std::string>& root_names) {
  v1::FederationPeer peer;
  peer.set_trust_domain(trust_domain);
  for (const std::string& name : root_names) peer.add_root_authority_names(name);
  v1::Endpoint* endpoint = peer.add_endpoints();
  endpoint->set_address("127.0.0.13:7443");
  endpoint->set_server_name(absl::StrCat("edge1.", trust_domain));
  peer.add_allowed_server_names(absl::StrCat("edge1.", trust_domain));
  peer.set_enabled(true);
  return peer;
}

v1::Revocation MakeRevocation(const std::string& sha256_hex) {
  v1::Revocation revocation;
  revocation.set_sha256_hex(sha256_hex);
  revocation.set_reason("key compromise");
  revocation.mutable_revoked_at()->set_seconds(1700000000);
  return revocation;
}

v1::Revocation CertificateRevocation(const pki::Certificate& cert) {
  v1::Revocation revocation = MakeRevocation("");
  revocation.set_kind(v1::REVOCATION_CERTIFICATE);
  revocation.set_tbs_sha256_hex(cert.TbsSha256Hex());
  revocation.set_sha256_hex(cert.Sha256Hex());
  revocation.set_subject(cert.Subject());
  return revocation;
}

v1::Revocation KeyRevocation(const pki::Certificate& cert) {
  v1::Revocation revocation = MakeRevocation("");
  revocation.set_kind(v1::REVOCATION_KEY);
  revocation.set_spki_sha256_hex(cert.SpkiSha256Hex());
  return revocation;
}

v1::Revocation IssuerSerialRevocation(const pki::Certificate& cert,
                                      const pki::Certificate& issuer) {
  v1::Revocation revocation = MakeRevocation("");
  revocation.set_kind(v1::REVOCATION_ISSUER_SERIAL);
  revocation.set_issuer_spki_sha256_hex(issuer.SpkiSha256Hex());
  revocation.set_serial_hex(*pki::CanonicalSerialHex(cert.SerialHex()));
  return revocation;
}

v1::TrustSnapshot WithRequiredFeatures(v1::TrustSnapshot proto) {
  proto.clear_required_features();
  for (const std::string& feature : RequiredFeatures(proto)) proto.add_required_features(feature);
  return proto;
}

v1::TrustSnapshot EmptySnapshot(uint64_t revision) {
  v1::TrustSnapshot proto;
  proto.set_revision(revision);
  proto.set_trust_domain(kDomain);
  proto.set_realm(kRealm);
  return proto;
}

v1::TrustSnapshot ValidSnapshot(uint64_t revision) {
  const TrustPki& pki = Pki();
  v1::TrustSnapshot proto = EmptySnapshot(revision);
  *proto.add_roots() = MakeRoot(
      "contoso-root", kDomain,
      pki::ToPemBundle({pki.contoso.root().certificate, pki.contoso.intermediate().certificate}),
      {v1::MTLS});
  *proto.add_roots() =
      MakeRoot("token-root", kDomain, pki.token_root.certificate.ToPem(), {v1::TOKEN_SIGNING});
  *proto.add_roots() =
      MakeRoot("addin-root", kDomain, pki.addin_signing.certificate.ToPem(), {v1::TOKEN_SIGNING});
  *proto.add_roots() = MakeRoot("fabrikam-root", kPartner, pki.fabrikam.RootPem(), {v1::MTLS});
  *proto.add_issuers() =
      MakeIssuer("hr-app", kHrGuid, {pki.hr_signing.certificate.ToPem()}, {v1::RS256});
  *proto.add_issuers() =
      MakeIssuer("addin", kAddinGuid, {pki.addin_signing.certificate.ToPem()}, {v1::RS256});
  v1::TokenIssuer broker =
      MakeIssuer("broker", kBrokerGuid, {pki.ec_signing.certificate.ToPem()}, {v1::ES256});
  broker.set_trust_broker(true);
  broker.add_broker_client_ids(kClientA);
  broker.add_broker_client_ids(kClientB);
  *proto.add_issuers() = broker;
  *proto.add_peers() = MakePeer(kPartner, {"fabrikam-root"});
  *proto.add_revocations() = MakeRevocation(pki::HexEncode(pki::Sha256("revoked")));
  return proto;
}

std::shared_ptr<const TrustSnapshot> MustCreate(v1::TrustSnapshot proto) {
  absl::StatusOr<std::shared_ptr<const TrustSnapshot>> snapshot =
      TrustSnapshot::Create(std::move(proto));
  if (!snapshot.ok()) {
    ADD_FAILURE() << "snapshot rejected: " << snapshot.status();
    return nullptr;
  }
  return *std::move(snapshot);
}

void ExpectPartnerInertWithoutItsRoot(const TrustSnapshot& snapshot) {
  const PeerEntry* peer = snapshot.FindPeer(kPartner);
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(peer->inert_reason,
            "federation peer fabrikam.test is inert: root authority fabrikam-root was removed");
  EXPECT_EQ(peer->roots, nullptr);
}

std::string StatusText(const absl::Status& status) {
  if (status.ok()) return "OK";
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message());
}

void ExpectTrustDomainsRefused(const std::vector<std::string>& domains,
                               const std::function<std::string(const std::string&)>& error_for) {
  for (const std::string& domain : domains) {
    EXPECT_EQ(error_for(domain), absl::StrCat("INVALID_ARGUMENT: trust_domain: \"", domain,
                                              "\" is not a valid dns name"));
  }
}

pki::IssuedCertificate MustIssue(const pki::CertificateSpec& spec,
                                 const pki::IssuedCertificate* issuer) {
  absl::StatusOr<pki::IssuedCertificate> issued = pki::Issue(spec, issuer);
  if (!issued.ok()) {
    std::fprintf(stderr, "trust fixture: issuing %s: %s\n", spec.common_name.c_str(),
                 issued.status().ToString().c_str());
    std::abort();
  }
  return *std::move(issued);
}

pki::IssuedCertificate MustIssueWithWeakKey(pki::CertificateSpec spec,
                                            const pki::IssuedCertificate* issuer) {
  absl::StatusOr<pki::PrivateKey> weak = pki::PrivateKey::GenerateRsa(1024);
  if (!weak.ok()) {
    std::fprintf(stderr, "trust fixture: 1024-bit key: %s\n", weak.status().ToString().c_str());
    std::abort();
  }
  spec.key = *std::move(weak);
  return MustIssue(spec, issuer);
}

}  // namespace trustfabric::trust
