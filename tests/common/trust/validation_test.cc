#include "common/trust/validation.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/pki/issue.h"
#include "common/pki/private_key.h"
#include "gtest/gtest.h"
#include "tests/common/trust/trust_fixture.h"

namespace trustfabric::trust {
namespace {

TEST(NamesTest, LowerCaseGuid) {
  EXPECT_TRUE(IsLowerCaseGuid("3f2504e0-4f89-11d3-9a0c-0305e82c3301"));
  EXPECT_FALSE(IsLowerCaseGuid("3F2504E0-4F89-11D3-9A0C-0305E82C3301"));
  EXPECT_FALSE(IsLowerCaseGuid("3f2504e0-4f89-11d3-9a0c-0305e82c330A"));  // one upper-case digit
  EXPECT_FALSE(IsLowerCaseGuid("{3f2504e0-4f89-11d3-9a0c-0305e82c3301}"));
  EXPECT_FALSE(IsLowerCaseGuid("3f2504e04f8911d39a0c0305e82c3301"));
  EXPECT_FALSE(IsLowerCaseGuid("3f2504e0-4f89-11d3-9a0c-0305e82c330"));
  EXPECT_FALSE(IsLowerCaseGuid("3f2504e0-4f8911-d3-9a0c-0305e82c3301"));
  EXPECT_FALSE(IsLowerCaseGuid("3f2504e0-4f89-11d3-9a0c-0305e82c330g"));
  EXPECT_FALSE(IsLowerCaseGuid(""));
}

TEST(NamesTest, ObjectName) {
  EXPECT_TRUE(IsValidObjectName("contoso-root"));
  EXPECT_TRUE(IsValidObjectName("hr_app.v2"));
  EXPECT_TRUE(IsValidObjectName(std::string(128, 'a')));
  EXPECT_FALSE(IsValidObjectName(std::string(129, 'a')));
  EXPECT_FALSE(IsValidObjectName(""));
  EXPECT_FALSE(IsValidObjectName("Contoso-Root"));
  EXPECT_FALSE(IsValidObjectName("contoso root"));
  EXPECT_FALSE(IsValidObjectName("contoso/root"));
}

TEST(NamesTest, Sha256Hex) {
  EXPECT_TRUE(IsSha256Hex(std::string(64, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'A')));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(65, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'g')));
}

TEST(NamesTest, EndpointAddress) {
  using std::string_literals::operator""s;
  for (const char* good : {"127.0.0.13:7443", "edge1.fabrikam.test:443", "[::1]:7443",
                           "[2001:db8::7]:1", "localhost:65535"}) {
    EXPECT_TRUE(IsValidEndpointAddress(good)) << good;
  }
  for (const char* bad :
       {"edge1.fabrikam.test", "edge1.fabrikam.test:", ":443", "edge1.fabrikam.test:0",
        "edge1.fabrikam.test:65536", "edge1.fabrikam.test:080", "edge1.fabrikam.test:+80",
        "Edge1.fabrikam.test:443", "-edge.fabrikam.test:443", "edge..test:443", "::1:443",
        "[::1]443", "[zz]:443", "999.1.1.1:443", "1.2.3:443", "edge_1.test:443", ""}) {
    EXPECT_FALSE(IsValidEndpointAddress(bad)) << bad;
  }
  EXPECT_FALSE(IsValidEndpointAddress("127.0.0.1\0x:443"s));
  EXPECT_FALSE(IsValidEndpointAddress("[::1\0x]:443"s));
}

TEST(NamesTest, QuoteForMessageEscapesAndCuts) {
  EXPECT_EQ(QuoteForMessage("a\nb\"c"), "\"a\\nb\\\"c\"");
  EXPECT_EQ(QuoteForMessage(std::string(70, 'x')),
            absl::StrCat("\"", std::string(64, 'x'), "...\""));
}

// ---- root authorities ----

v1::RootAuthority GoodRoot() {
  return MakeRoot("contoso-root", kDomain, Pki().contoso.RootPem(), {v1::MTLS});
}

std::string RootError(const v1::RootAuthority& root) {
  return StatusText(ValidateRoot(root).status());
}

TEST(ValidateRootTest, AcceptsCaBundleAndReturnsCertificatesInOrder) {
  const TrustPki& pki = Pki();
  v1::RootAuthority root = GoodRoot();
  root.set_certificates_pem(
      pki::ToPemBundle({pki.contoso.root().certificate, pki.contoso.intermediate().certificate}));
  root.add_purposes(v1::TOKEN_SIGNING);
  absl::StatusOr<std::vector<pki::Certificate>> certs = ValidateRoot(root);
  ASSERT_TRUE(certs.ok()) << certs.status();
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ((*certs)[0], pki.contoso.root().certificate);
  EXPECT_EQ((*certs)[1], pki.contoso.intermediate().certificate);
}

TEST(ValidateRootTest, RejectsBadName) {
  v1::RootAuthority root = GoodRoot();
  root.set_name("Contoso Root");
  EXPECT_EQ(RootError(root),
            "INVALID_ARGUMENT: name: \"Contoso Root\" must be 1..128 characters of [a-z0-9._-]");
  root.set_name("");
  EXPECT_EQ(RootError(root),
            "INVALID_ARGUMENT: name: \"\" must be 1..128 characters of [a-z0-9._-]");
  root.set_name(std::string(129, 'r'));
  EXPECT_EQ(RootError(root), absl::StrCat("INVALID_ARGUMENT: name: \"", std::string(64, 'r'),
                                          "...\" must be 1..128 characters of [a-z0-9._-]"));
}

TEST(ValidateRootTest, RejectsBadTrustDomain) {
  v1::RootAuthority root = GoodRoot();
  ExpectTrustDomainsRefused({"Contoso.test", "contoso"}, [&root](const std::string& domain) {
    root.set_trust_domain(domain);
    return RootError(root);
  });
}

TEST(ValidateRootTest, RejectsMissingUnspecifiedUnknownAndDuplicatePurposes) {
  v1::RootAuthority root = GoodRoot();
  root.clear_purposes();
  EXPECT_EQ(RootError(root), "INVALID_ARGUMENT: purposes: at least one is required");
  root.add_purposes(v1::MTLS);
  root.add_purposes(v1::PURPOSE_UNSPECIFIED);
  EXPECT_EQ(RootError(root), "INVALID_ARGUMENT: purposes[1]: purpose-unspecified is not allowed");
  root.set_purposes(1, static_cast<v1::Purpose>(9));
  EXPECT_EQ(RootError(root), "INVALID_ARGUMENT: purposes[1]: purpose 9 is not allowed");
  root.set_purposes(1, v1::MTLS);
  EXPECT_EQ(RootError(root), "INVALID_ARGUMENT: purposes[1]: duplicate mtls");
}

TEST(ValidateRootTest, RejectsPemThatDoesNotParse) {
  v1::RootAuthority root = GoodRoot();
  root.set_certificates_pem("");
  EXPECT_EQ(RootError(root), "INVALID_ARGUMENT: certificates_pem: pem: empty input");

  std::string key_pem = Pki().contoso.root().key.ToPem();
  root.set_certificates_pem(absl::StrCat(Pki().contoso.RootPem(), key_pem));
  std::string error = RootError(root);
  EXPECT_EQ(error,
            "INVALID_ARGUMENT: certificates_pem: pem block 2: private key is not a certificate");

  root.set_certificates_pem(absl::StrCat(Pki().contoso.RootPem(), "trailing"));
  EXPECT_EQ(RootError(root).rfind("INVALID_ARGUMENT: certificates_pem: pem: trailing garbage", 0),
            0u)
      << RootError(root);
}

TEST(ValidateRootTest, RejectsWeakKey) {
  pki::CertificateSpec spec;
  spec.common_name = "weak root";
  spec.is_ca = true;
  pki::IssuedCertificate cert = MustIssueWithWeakKey(spec, nullptr);
  v1::RootAuthority root = GoodRoot();
  root.set_certificates_pem(pki::ToPemBundle({Pki().contoso.root().certificate, cert.certificate}));
  EXPECT_EQ(RootError(root),
            "INVALID_ARGUMENT: certificates_pem: pem block 2: rsa key of 1024 bits is below the "
            "minimum of 2048");
}

TEST(ValidateRootTest, RejectsNonCaCertificates) {
  const TrustPki& pki = Pki();
  const std::string expected =
      "INVALID_ARGUMENT: certificates_pem: pem block 1: not a ca certificate (only a self-signed "
      "certificate in a root whose only purpose is token-signing may lack ca:true)";
  // A node leaf.
  v1::RootAuthority root = GoodRoot();
  root.set_certificates_pem(
      pki.contoso.IssueNode("frontend", "fe1", "fe1.contoso.test").certificate.ToPem());
  EXPECT_EQ(RootError(root), expected);
  // A leaf signed by a CA, even for token signing only.
  root.set_certificates_pem(pki.hr_signing.certificate.ToPem());
  root.set_purposes(0, v1::TOKEN_SIGNING);
  EXPECT_EQ(RootError(root), expected);
  // A self-signed certificate without basic constraints, for mtls.
  pki::CertificateSpec spec;
  spec.common_name = "no constraints";
  spec.omit_basic_constraints = true;
  root.set_certificates_pem(MustIssue(spec, nullptr).certificate.ToPem());
  root.set_purposes(0, v1::MTLS);
  EXPECT_EQ(RootError(root), expected);
}

TEST(ValidateRootTest, SelfSignedSigningCertificateOnlyAsTokenSigningOnlyRoot) {
  v1::RootAuthority root =
      MakeRoot("addin-root", kDomain, Pki().addin_signing.certificate.ToPem(), {v1::TOKEN_SIGNING});
  EXPECT_EQ(RootError(root), "OK");
  root.add_purposes(v1::MTLS);
  EXPECT_EQ(RootError(root),
            "INVALID_ARGUMENT: certificates_pem: pem block 1: not a ca certificate (only a "
            "self-signed certificate in a root whose only purpose is token-signing may lack "
            "ca:true)");
}

TEST(ValidateRootTest, RejectsTooManyCertificates) {
  std::string pem;
  for (int i = 0; i <= kMaxCertificatesPerRoot; ++i) pem += Pki().contoso.RootPem();
  v1::RootAuthority root = GoodRoot();
  root.set_certificates_pem(pem);
  EXPECT_EQ(RootError(root),
            "INVALID_ARGUMENT: certificates_pem: 101 certificates exceed the limit of 100");
}

// ---- token issuers ----

v1::TokenIssuer GoodIssuer() {
  return MakeIssuer("hr-app", kHrGuid, {Pki().hr_signing.certificate.ToPem()}, {v1::RS256});
}

std::string IssuerError(const v1::TokenIssuer& issuer) {
  return StatusText(ValidateIssuer(issuer, kRealm).status());
}

TEST(ValidateIssuerTest, AcceptsPerApplicationIssuerAndBuildsEntry) {
  absl::StatusOr<IssuerEntry> entry = ValidateIssuer(GoodIssuer(), kRealm);
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->proto.name(), "hr-app");
  EXPECT_EQ(entry->issuer_guid, kHrGuid);
  EXPECT_EQ(entry->realm, kRealm);
  ASSERT_EQ(entry->signing_certificates.size(), 1u);
  EXPECT_EQ(entry->signing_certificates[0], Pki().hr_signing.certificate);
  EXPECT_EQ(entry->algorithms, (absl::flat_hash_set<int>{v1::RS256}));
  EXPECT_TRUE(entry->broker_client_ids.empty());
}

TEST(ValidateIssuerTest, AcceptsRotationAndMixedAlgorithms) {
  const TrustPki& pki = Pki();
  v1::TokenIssuer issuer =
      MakeIssuer("hr-app", kHrGuid,
                 {pki.hr_signing.certificate.ToPem(), pki.addin_signing.certificate.ToPem(),
                  pki.ec_signing.certificate.ToPem(), pki.ed_signing.certificate.ToPem()},
                 {v1::RS256, v1::ES256, v1::EDDSA});
  absl::StatusOr<IssuerEntry> entry = ValidateIssuer(issuer, kRealm);
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->signing_certificates.size(), 4u);
  EXPECT_EQ(entry->algorithms, (absl::flat_hash_set<int>{v1::RS256, v1::ES256, v1::EDDSA}));
}

TEST(ValidateIssuerTest, AcceptsSelfSignedCaAsSigningCertificate) {
  v1::TokenIssuer issuer =
      MakeIssuer("app", kHrGuid, {Pki().token_root.certificate.ToPem()}, {v1::ES256});
  EXPECT_EQ(IssuerError(issuer), "OK");
}

TEST(ValidateIssuerTest, RejectsBadName) {
  v1::TokenIssuer issuer = GoodIssuer();
  issuer.set_name("HR App");
  EXPECT_EQ(IssuerError(issuer),
            "INVALID_ARGUMENT: name: \"HR App\" must be 1..128 characters of [a-z0-9._-]");
}

TEST(ValidateIssuerTest, RejectsMalformedRegisteredIssuerName) {
  v1::TokenIssuer issuer = GoodIssuer();
  for (const std::string& bad : std::vector<std::string>{
           absl::AsciiStrToUpper(RegisteredName(kHrGuid)), std::string(kHrGuid),
           absl::StrCat(kHrGuid, "@", kRealm, "@", kRealm),
           absl::StrCat("{", kHrGuid, "}@", kRealm), absl::StrCat(kHrGuid, "@contoso.test"),
           absl::StrCat("@", kRealm)}) {
    issuer.set_registered_issuer_name(bad);
    EXPECT_EQ(IssuerError(issuer),
              absl::StrCat("INVALID_ARGUMENT: registered_issuer_name: ", QuoteForMessage(bad),
                           " must be <issuer-guid>@<realm> with lower-case guids"));
  }
}

TEST(ValidateIssuerTest, RejectsRealmOfAnotherDomain) {
  v1::TokenIssuer issuer = GoodIssuer();
  issuer.set_registered_issuer_name(absl::StrCat(kHrGuid, "@", kClientA));
  EXPECT_EQ(IssuerError(issuer),
            absl::StrCat("INVALID_ARGUMENT: registered_issuer_name: realm ", kClientA,
                         " does not match the snapshot realm ", kRealm));
}

TEST(ValidateIssuerTest, RejectsMissingBadWeakAndCaSigningCertificates) {
  v1::TokenIssuer issuer = GoodIssuer();
  issuer.clear_signing_certificates_pem();
  EXPECT_EQ(IssuerError(issuer),
            "INVALID_ARGUMENT: signing_certificates_pem: at least one is required");

  issuer = GoodIssuer();
  issuer.add_signing_certificates_pem("not pem");
  EXPECT_EQ(IssuerError(issuer).rfind("INVALID_ARGUMENT: signing_certificates_pem[1]: pem: ", 0),
            0u)
      << IssuerError(issuer);

  issuer = GoodIssuer();
  issuer.set_signing_certificates_pem(
      0, pki::ToPemBundle({Pki().hr_signing.certificate, Pki().token_root.certificate}));
  EXPECT_EQ(IssuerError(issuer),
            "INVALID_ARGUMENT: signing_certificates_pem[0]: pem: expected exactly one "
            "certificate, got 2");

  pki::CertificateSpec spec;
  spec.common_name = "weak signing";
  spec.signing_only = true;
  issuer = GoodIssuer();
  issuer.set_signing_certificates_pem(
      0, MustIssueWithWeakKey(spec, &Pki().token_root).certificate.ToPem());
  EXPECT_EQ(IssuerError(issuer),
            "INVALID_ARGUMENT: signing_certificates_pem[0]: rsa key of 1024 bits is below the "
            "minimum of 2048");

  issuer = MakeIssuer("hr-app", kHrGuid, {Pki().contoso.intermediate().certificate.ToPem()},
                      {v1::ES256});
  EXPECT_EQ(IssuerError(issuer),
            "INVALID_ARGUMENT: signing_certificates_pem[0]: is a ca certificate; a signing "
            "certificate must be a leaf or self-signed");
}

TEST(ValidateIssuerTest, RejectsTooManySigningCertificates) {
  v1::TokenIssuer issuer = GoodIssuer();
  for (int i = 0; i < kMaxSigningCertificates; ++i) {
    issuer.add_signing_certificates_pem(Pki().hr_signing.certificate.ToPem());
  }
  EXPECT_EQ(IssuerError(issuer),
            "INVALID_ARGUMENT: signing_certificates_pem: 17 entries exceed the limit of 16");
}

TEST(ValidateIssuerTest, RejectsMissingUnspecifiedAndDuplicateAlgorithms) {
  v1::TokenIssuer issuer = GoodIssuer();
  issuer.clear_algorithms();
  EXPECT_EQ(IssuerError(issuer), "INVALID_ARGUMENT: algorithms: at least one is required");
  issuer.add_algorithms(v1::SIGNING_ALGORITHM_UNSPECIFIED);
  EXPECT_EQ(IssuerError(issuer),
            "INVALID_ARGUMENT: algorithms[0]: signing-algorithm-unspecified is not allowed");
  issuer.set_algorithms(0, static_cast<v1::SigningAlgorithm>(42));
  EXPECT_EQ(IssuerError(issuer), "INVALID_ARGUMENT: algorithms[0]: algorithm 42 is not allowed");
  issuer.set_algorithms(0, v1::RS256);
  issuer.add_algorithms(v1::RS256);
  EXPECT_EQ(IssuerError(issuer), "INVALID_ARGUMENT: algorithms[1]: duplicate rs256");
}

TEST(ValidateIssuerTest, RejectsAlgorithmWithoutMatchingKey) {
  const TrustPki& pki = Pki();
  v1::TokenIssuer issuer = GoodIssuer();
  issuer.add_algorithms(v1::ES256);
  EXPECT_EQ(IssuerError(issuer),
            "INVALID_ARGUMENT: algorithms[1]: es256 needs an ec p-256 signing certificate and the "
            "issuer has none");
  issuer.set_algorithms(1, v1::EDDSA);
  EXPECT_EQ(IssuerError(issuer),
            "INVALID_ARGUMENT: algorithms[1]: eddsa needs an ed25519 signing certificate and the "
            "issuer has none");
  issuer = MakeIssuer("hr-app", kHrGuid, {pki.ec_signing.certificate.ToPem()}, {v1::RS256});
  EXPECT_EQ(IssuerError(issuer),
            "INVALID_ARGUMENT: algorithms[0]: rs256 needs an rsa signing certificate and the "
            "issuer has none");
}

TEST(ValidateIssuerTest, RejectsCertificateNoAlgorithmCanUse) {
  const TrustPki& pki = Pki();
  v1::TokenIssuer issuer = GoodIssuer();
  issuer.add_signing_certificates_pem(pki.ec_signing.certificate.ToPem());
  EXPECT_EQ(IssuerError(issuer),
            "INVALID_ARGUMENT: signing_certificates_pem[1]: ec p-256 key cannot sign with any of "
            "the issuer's algorithms");

  issuer = GoodIssuer();
  issuer.add_signing_certificates_pem(
      testing::SigningCertificate("p-384 signing", pki::KeyType::kEcP384, &pki.token_root)
          .certificate.ToPem());
  EXPECT_EQ(IssuerError(issuer),
            "INVALID_ARGUMENT: signing_certificates_pem[1]: ec p-384 key cannot sign with any of "
            "the issuer's algorithms");
}

TEST(ValidateIssuerTest, PerApplicationIssuerListsNoClientIds) {
  v1::TokenIssuer issuer = GoodIssuer();
  issuer.add_broker_client_ids(kClientA);
  EXPECT_EQ(IssuerError(issuer),
            "INVALID_ARGUMENT: broker_client_ids: only a trust broker lists client ids (the "
            "client id of a per-application issuer is its issuer guid)");
}

TEST(ValidateIssuerTest, TrustBrokerClientIds) {
  v1::TokenIssuer issuer = GoodIssuer();
  issuer.set_trust_broker(true);
  EXPECT_EQ(IssuerError(issuer),
            "INVALID_ARGUMENT: broker_client_ids: a trust broker needs at least one client id");

  issuer.add_broker_client_ids(kClientA);
  issuer.add_broker_client_ids(absl::AsciiStrToUpper(kClientB));
  EXPECT_EQ(IssuerError(issuer),
            absl::StrCat("INVALID_ARGUMENT: broker_client_ids[1]: \"",
                         absl::AsciiStrToUpper(kClientB), "\" is not a lower-case guid"));

  issuer.set_broker_client_ids(1, kClientA);
  EXPECT_EQ(IssuerError(issuer),
            absl::StrCat("INVALID_ARGUMENT: broker_client_ids[1]: duplicate ", kClientA));

  issuer.set_broker_client_ids(1, kClientB);
  absl::StatusOr<IssuerEntry> entry = ValidateIssuer(issuer, kRealm);
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->broker_client_ids, (absl::flat_hash_set<std::string>{kClientA, kClientB}));
}

// ---- federation peers ----

std::string PeerError(const v1::FederationPeer& peer) {
  return StatusText(ValidatePeer(peer, kDomain));
}

TEST(ValidatePeerTest, AcceptsPeerAndInboundOnlyPeer) {
  v1::FederationPeer peer = MakePeer(kPartner, {"fabrikam-root"});
  EXPECT_EQ(PeerError(peer), "OK");
  peer.clear_endpoints();
  EXPECT_EQ(PeerError(peer), "OK");
  peer.clear_allowed_server_names();
  EXPECT_EQ(PeerError(peer), "OK");
}

TEST(ValidatePeerTest, RejectsBadOrLocalTrustDomain) {
  v1::FederationPeer peer = MakePeer("fabrikam", {"fabrikam-root"});
  EXPECT_EQ(PeerError(peer),
            "INVALID_ARGUMENT: trust_domain: \"fabrikam\" is not a valid dns name");
  peer.set_trust_domain(kDomain);
  EXPECT_EQ(PeerError(peer),
            "INVALID_ARGUMENT: trust_domain: contoso.test is the local trust domain, not a "
            "partner");
}

TEST(ValidatePeerTest, RejectsMissingBadDuplicateAndTooManyRootNames) {
  v1::FederationPeer peer = MakePeer(kPartner, {});
  EXPECT_EQ(PeerError(peer), "INVALID_ARGUMENT: root_authority_names: at least one is required");
  peer.add_root_authority_names("fabrikam-root");
  peer.add_root_authority_names("Fabrikam Root");
  EXPECT_EQ(PeerError(peer),
            "INVALID_ARGUMENT: root_authority_names[1]: \"Fabrikam Root\" must be 1..128 "
            "characters of [a-z0-9._-]");
  peer.set_root_authority_names(1, "fabrikam-root");
  EXPECT_EQ(PeerError(peer), "INVALID_ARGUMENT: root_authority_names[1]: duplicate fabrikam-root");
  peer.clear_root_authority_names();
  for (int i = 0; i <= kMaxPeerRootNames; ++i) {
    peer.add_root_authority_names(absl::StrCat("root-", i));
  }
  EXPECT_EQ(PeerError(peer),
            "INVALID_ARGUMENT: root_authority_names: 65 entries exceed the limit of 64");
}

TEST(ValidatePeerTest, RejectsBadEndpoints) {
  v1::FederationPeer peer = MakePeer(kPartner, {"fabrikam-root"});
  for (const char* bad :
       {"edge1.fabrikam.test", "edge1.fabrikam.test:0", "edge1.fabrikam.test:65536"}) {
    peer.mutable_endpoints(0)->set_address(bad);
    EXPECT_EQ(PeerError(peer),
              absl::StrCat("INVALID_ARGUMENT: endpoints[0]: address: \"", bad,
                           "\" must be host:port or [ipv6]:port with a port in 1..65535"));
  }
  peer.mutable_endpoints(0)->set_address("[::1]:7443");
  peer.mutable_endpoints(0)->set_server_name("EDGE1");
  EXPECT_EQ(PeerError(peer),
            "INVALID_ARGUMENT: endpoints[0]: server_name: \"EDGE1\" is not a valid dns name");
  peer.mutable_endpoints(0)->set_server_name("edge1.fabrikam.test");
  EXPECT_EQ(PeerError(peer), "OK");
  for (int i = 0; i < kMaxPeerEndpoints; ++i) *peer.add_endpoints() = peer.endpoints(0);
  EXPECT_EQ(PeerError(peer), "INVALID_ARGUMENT: endpoints: 65 entries exceed the limit of 64");
}

TEST(ValidatePeerTest, RejectsBadAndDuplicateAllowedServerNames) {
  v1::FederationPeer peer = MakePeer(kPartner, {"fabrikam-root"});
  peer.add_allowed_server_names("*.fabrikam.test");
  EXPECT_EQ(PeerError(peer),
            "INVALID_ARGUMENT: allowed_server_names[1]: \"*.fabrikam.test\" is not a valid dns "
            "name");
  peer.set_allowed_server_names(1, "edge1.fabrikam.test");
  EXPECT_EQ(PeerError(peer),
            "INVALID_ARGUMENT: allowed_server_names[1]: duplicate edge1.fabrikam.test");
  peer.clear_allowed_server_names();
  for (int i = 0; i <= kMaxAllowedServerNames; ++i) {
    peer.add_allowed_server_names(absl::StrCat("edge", i, ".fabrikam.test"));
  }
  EXPECT_EQ(PeerError(peer),
            "INVALID_ARGUMENT: allowed_server_names: 1025 entries exceed the limit of 1024");
}

// ---- revocations ----

TEST(ValidateRevocationTest, AcceptsAndRejects) {
  v1::Revocation revocation = MakeRevocation(std::string(64, 'a'));
  EXPECT_EQ(StatusText(ValidateRevocation(revocation)), "OK");
  revocation.set_sha256_hex(std::string(64, 'A'));
  EXPECT_EQ(StatusText(ValidateRevocation(revocation)),
            absl::StrCat("INVALID_ARGUMENT: sha256_hex: \"", std::string(64, 'A'),
                         "\" must be 64 lower-case hex characters"));
  revocation.set_sha256_hex(std::string(63, 'a'));
  EXPECT_EQ(StatusText(ValidateRevocation(revocation)),
            absl::StrCat("INVALID_ARGUMENT: sha256_hex: \"", std::string(63, 'a'),
                         "\" must be 64 lower-case hex characters"));
  revocation.set_sha256_hex(std::string(64, 'a'));
  revocation.set_reason(std::string(kMaxTextBytes + 1, 'r'));
  EXPECT_EQ(StatusText(ValidateRevocation(revocation)),
            "INVALID_ARGUMENT: reason: 1025 bytes exceed the limit of 1024");
  revocation.clear_reason();
  revocation.set_subject(std::string(kMaxTextBytes + 1, 's'));
  EXPECT_EQ(StatusText(ValidateRevocation(revocation)),
            "INVALID_ARGUMENT: subject: 1025 bytes exceed the limit of 1024");
}

TEST(ValidateRevocationTest, EachKindNeedsItsOwnFieldsWellFormed) {
  const std::string a(64, 'a');
  const std::string bad = "ABC";
  auto error = [](const v1::Revocation& r) { return StatusText(ValidateRevocation(r)); };

  v1::Revocation certificate;
  certificate.set_kind(v1::REVOCATION_CERTIFICATE);
  EXPECT_EQ(error(certificate),
            "INVALID_ARGUMENT: tbs_sha256_hex: \"\" must be 64 lower-case hex characters");
  certificate.set_tbs_sha256_hex(bad);
  EXPECT_EQ(error(certificate),
            "INVALID_ARGUMENT: tbs_sha256_hex: \"ABC\" must be 64 lower-case hex characters");
  certificate.set_tbs_sha256_hex(a);
  EXPECT_EQ(error(certificate), "OK");
  certificate.set_sha256_hex(a);  // the DER hash it was resolved from
  EXPECT_EQ(error(certificate), "OK");
  certificate.set_sha256_hex(bad);
  EXPECT_EQ(error(certificate),
            "INVALID_ARGUMENT: sha256_hex: \"ABC\" must be 64 lower-case hex characters");
  certificate.clear_sha256_hex();
  certificate.set_spki_sha256_hex(a);
  EXPECT_EQ(error(certificate),
            "INVALID_ARGUMENT: spki_sha256_hex: must be empty when kind is certificate");

  v1::Revocation key;
  key.set_kind(v1::REVOCATION_KEY);
  EXPECT_EQ(error(key),
            "INVALID_ARGUMENT: spki_sha256_hex: \"\" must be 64 lower-case hex characters");
  key.set_spki_sha256_hex(a);
  EXPECT_EQ(error(key), "OK");
  key.set_tbs_sha256_hex(a);
  EXPECT_EQ(error(key), "INVALID_ARGUMENT: tbs_sha256_hex: must be empty when kind is key");
  key.clear_tbs_sha256_hex();
  key.set_serial_hex("1");
  EXPECT_EQ(error(key), "INVALID_ARGUMENT: serial_hex: must be empty when kind is key");

  v1::Revocation serial;
  serial.set_kind(v1::REVOCATION_ISSUER_SERIAL);
  serial.set_serial_hex("1f");
  EXPECT_EQ(error(serial),
            "INVALID_ARGUMENT: issuer_spki_sha256_hex: \"\" must be 64 lower-case hex "
            "characters");
  serial.set_issuer_spki_sha256_hex(a);
  EXPECT_EQ(error(serial), "OK");
  for (const char* noncanonical : {"", "01f", "1F", "1f:00", "0x1f", "-0"}) {
    serial.set_serial_hex(noncanonical);
    EXPECT_EQ(error(serial),
              absl::StrCat("INVALID_ARGUMENT: serial_hex: \"", noncanonical,
                           "\" must be lower-case hex without leading zeros or separators"));
  }
  serial.set_serial_hex("-1f");
  EXPECT_EQ(error(serial), "OK");
  serial.set_serial_hex(std::string(65, '1'));
  EXPECT_NE(error(serial), "OK");
  serial.set_serial_hex("0");
  EXPECT_EQ(error(serial), "OK");
  serial.set_tbs_sha256_hex(a);
  EXPECT_EQ(error(serial),
            "INVALID_ARGUMENT: tbs_sha256_hex: must be empty when kind is issuer_serial");

  v1::Revocation der_only = MakeRevocation(a);
  der_only.set_tbs_sha256_hex(a);
  EXPECT_EQ(error(der_only),
            "INVALID_ARGUMENT: tbs_sha256_hex: must be empty when kind is der_only");
  der_only = MakeRevocation(a);
  der_only.set_issuer_spki_sha256_hex(a);
  EXPECT_EQ(error(der_only),
            "INVALID_ARGUMENT: issuer_spki_sha256_hex: must be empty when kind is der_only");

  v1::Revocation unknown = MakeRevocation(a);
  unknown.set_kind(static_cast<v1::RevocationKind>(9));
  EXPECT_EQ(error(unknown), "INVALID_ARGUMENT: kind: 9 is not a known revocation kind");

  // The bounds on reason and subject hold for every kind.
  key.clear_serial_hex();
  key.set_subject(std::string(kMaxTextBytes + 1, 's'));
  EXPECT_EQ(error(key), "INVALID_ARGUMENT: subject: 1025 bytes exceed the limit of 1024");
}

}  // namespace
}  // namespace trustfabric::trust
