#include "common/trust/admission.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/pki/issue.h"
#include "common/trust/delta.h"
#include "common/trust/snapshot.h"
#include "gtest/gtest.h"
#include "tests/common/trust/trust_fixture.h"

namespace trustfabric::trust {
namespace {

AdmissionOptions Now(bool force = false) {
  AdmissionOptions opts;
  opts.force = force;
  opts.now = absl::Now();
  return opts;
}

// An RSA-2048 token-signing certificate under `ca` that expired a day ago.
pki::IssuedCertificate ExpiredSigningCertificate(const pki::IssuedCertificate& ca) {
  return testing::SigningCertificate("expired signing", pki::KeyType::kRsa2048, &ca,
                                     absl::Now() - absl::Hours(48), absl::Now() - absl::Hours(24));
}

std::string Admit(const TrustSnapshot& current, const v1::TrustChange& change,
                  const AdmissionOptions& opts = Now()) {
  return StatusText(CheckAdmission(current, change, opts));
}

// Admit's refusal of issuer payroll whose signing certificate `index`,
// `cert`, does not chain to a token-signing root, because `why`.
std::string NotChained(int index, const pki::Certificate& cert, absl::string_view why) {
  return absl::StrCat("FAILED_PRECONDITION: issuer payroll: signing certificate ", index,
                      " (sha256 ", cert.Sha256Hex(),
                      ") does not chain to a token-signing root authority: ", why);
}

class AdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    current_ = MustCreate(ValidSnapshot(5));
    ASSERT_NE(current_, nullptr);
  }

  // A new per-application issuer signing with `cert`.
  static v1::TokenIssuer NewIssuer(const pki::Certificate& cert) {
    return MakeIssuer("payroll", "66666666-6666-4666-8666-666666666666", {cert.ToPem()},
                      {v1::RS256});
  }

  std::shared_ptr<const TrustSnapshot> current_;
};

// ---- put_root ----

TEST_F(AdmissionTest, PutRootAddsANewRoot) {
  EXPECT_EQ(Admit(*current_, PutRoot(MakeRoot("northwind-root", "northwind.test",
                                              Pki().contoso.RootPem(), {v1::MTLS}))),
            "OK");
}

TEST_F(AdmissionTest, PutRootNeverReplaces) {
  v1::RootAuthority root = current_->proto().roots(0);
  EXPECT_EQ(Admit(*current_, PutRoot(root)),
            "ALREADY_EXISTS: root authority contoso-root already exists; root authorities are "
            "added and removed, not replaced");
}

TEST_F(AdmissionTest, PutRootChecksStructure) {
  v1::RootAuthority root = MakeRoot("northwind-root", "northwind.test",
                                    Pki().hr_signing.certificate.ToPem(), {v1::MTLS});
  EXPECT_EQ(Admit(*current_, PutRoot(root)),
            "INVALID_ARGUMENT: root authority northwind-root: certificates_pem: pem block 1: not "
            "a ca certificate (only a self-signed certificate in a root whose only purpose is "
            "token-signing may lack ca:true)");
  root.set_name("North Wind");
  EXPECT_EQ(Admit(*current_, PutRoot(root)),
            "INVALID_ARGUMENT: root authority \"North Wind\": name: \"North Wind\" must be "
            "1..128 characters of [a-z0-9._-]");
}

// ---- put_issuer ----

TEST_F(AdmissionTest, PutIssuerChainingToTokenSigningRoot) {
  pki::IssuedCertificate cert = testing::SigningCertUnder(Pki().token_root, "payroll signing");
  EXPECT_EQ(Admit(*current_, PutIssuer(NewIssuer(cert.certificate))), "OK");
}

TEST_F(AdmissionTest, PutIssuerWithRegisteredSelfSignedCertificate) {
  // The add-in model: the self-signed certificate is its own root authority.
  pki::IssuedCertificate cert = testing::SelfSignedSigningCert("payroll add-in");
  v1::TrustSnapshot proto = current_->proto();
  *proto.add_roots() =
      MakeRoot("payroll-root", kDomain, cert.certificate.ToPem(), {v1::TOKEN_SIGNING});
  std::shared_ptr<const TrustSnapshot> with_root = MustCreate(proto);
  ASSERT_NE(with_root, nullptr);
  EXPECT_EQ(Admit(*with_root, PutIssuer(NewIssuer(cert.certificate))), "OK");

  // Not registered: refused.
  EXPECT_EQ(Admit(*current_, PutIssuer(NewIssuer(cert.certificate))),
            NotChained(0, cert.certificate, "self-signed certificate"));
}

TEST_F(AdmissionTest, PutIssuerRefusesCertificateOfAnotherCa) {
  // contoso-root anchors mtls only; a signing certificate under it is not
  // trusted for tokens.
  pki::IssuedCertificate cert =
      testing::SigningCertUnder(Pki().contoso.intermediate(), "payroll signing");
  EXPECT_EQ(Admit(*current_, PutIssuer(NewIssuer(cert.certificate))),
            NotChained(0, cert.certificate, "unable to get local issuer certificate"));
}

TEST_F(AdmissionTest, PutIssuerNamesTheFailingCertificate) {
  pki::IssuedCertificate good = testing::SigningCertUnder(Pki().token_root, "payroll signing");
  pki::IssuedCertificate bad =
      testing::SigningCertUnder(Pki().fabrikam.intermediate(), "payroll signing 2");
  v1::TokenIssuer issuer = NewIssuer(good.certificate);
  issuer.add_signing_certificates_pem(bad.certificate.ToPem());
  EXPECT_EQ(Admit(*current_, PutIssuer(issuer)),
            NotChained(1, bad.certificate, "unable to get local issuer certificate"));
}

TEST_F(AdmissionTest, PutIssuerChecksChainsAtTheGivenTime) {
  pki::CertificateSpec ca_spec;
  ca_spec.common_name = "older token ca";
  ca_spec.is_ca = true;
  ca_spec.not_before = absl::Now() - absl::Hours(72);
  ca_spec.not_after = absl::Now() + absl::Hours(72);
  pki::IssuedCertificate ca = MustIssue(ca_spec, nullptr);
  pki::IssuedCertificate expired = ExpiredSigningCertificate(ca);
  v1::TrustSnapshot proto = current_->proto();
  *proto.add_roots() = MakeRoot("older-root", kDomain, ca.certificate.ToPem(), {v1::TOKEN_SIGNING});
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);

  EXPECT_EQ(Admit(*snapshot, PutIssuer(NewIssuer(expired.certificate))),
            NotChained(0, expired.certificate, "certificate has expired"));
  AdmissionOptions then;
  then.now = absl::Now() - absl::Hours(36);
  EXPECT_EQ(Admit(*snapshot, PutIssuer(NewIssuer(expired.certificate)), then), "OK");
}

TEST_F(AdmissionTest, PutIssuerRefusesRevokedCertificate) {
  pki::IssuedCertificate revoked = testing::SigningCertUnder(Pki().token_root, "revoked signing");
  v1::TrustSnapshot proto = current_->proto();
  *proto.add_revocations() = MakeRevocation(revoked.certificate.Sha256Hex());
  std::shared_ptr<const TrustSnapshot> with_revocation = MustCreate(proto);
  ASSERT_NE(with_revocation, nullptr);
  EXPECT_EQ(Admit(*with_revocation, PutIssuer(NewIssuer(revoked.certificate))),
            NotChained(0, revoked.certificate,
                       absl::StrCat("certificate revoked: ", revoked.certificate.Sha256Hex(),
                                    " (der_only revocation)")));
}

TEST_F(AdmissionTest, PutIssuerRefusesASigningCertificateRevokedByAnyKind) {
  pki::IssuedCertificate revoked = testing::SigningCertUnder(Pki().token_root, "revoked signing");
  const pki::Certificate& cert = revoked.certificate;
  // Each kind, and the self-signed (add-in) path, where the certificate is
  // its own chain and its own issuer.
  struct Case {
    v1::Revocation revocation;
    std::string described;
  };
  const std::vector<Case> cases = {
      {CertificateRevocation(cert), cert.TbsSha256Hex() + " (certificate revocation)"},
      {KeyRevocation(cert), cert.TbsSha256Hex() + " (key revocation)"},
      {IssuerSerialRevocation(cert, Pki().token_root.certificate),
       cert.TbsSha256Hex() + " (issuer_serial revocation)"},
      // The issuing CA's key: every chain through it.
      {KeyRevocation(Pki().token_root.certificate),
       Pki().token_root.certificate.TbsSha256Hex() + " (key revocation)"},
  };
  for (const Case& c : cases) {
    v1::TrustSnapshot proto = current_->proto();
    *proto.add_revocations() = c.revocation;
    std::shared_ptr<const TrustSnapshot> with_revocation = MustCreate(WithRequiredFeatures(proto));
    ASSERT_NE(with_revocation, nullptr);
    EXPECT_EQ(Admit(*with_revocation, PutIssuer(NewIssuer(cert))),
              NotChained(0, cert, absl::StrCat("certificate revoked: ", c.described)));
  }
  // The add-in model: a self-signed certificate registered as its own root.
  const pki::Certificate& addin = Pki().addin_signing.certificate;
  for (const v1::Revocation& revocation :
       {KeyRevocation(addin), IssuerSerialRevocation(addin, addin)}) {
    v1::TrustSnapshot proto = current_->proto();
    *proto.add_revocations() = revocation;
    std::shared_ptr<const TrustSnapshot> with_revocation = MustCreate(WithRequiredFeatures(proto));
    ASSERT_NE(with_revocation, nullptr);
    EXPECT_NE(Admit(*with_revocation, PutIssuer(NewIssuer(addin))).find("certificate revoked: "),
              std::string::npos)
        << RevocationKey(revocation);
  }
}

TEST_F(AdmissionTest, PutIssuerWithoutAnyTokenSigningRoot) {
  std::shared_ptr<const TrustSnapshot> empty = MustCreate(EmptySnapshot(1));
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(Admit(*empty, PutIssuer(NewIssuer(Pki().hr_signing.certificate))),
            NotChained(0, Pki().hr_signing.certificate,
                       "the snapshot has no token-signing root authority"));
}

TEST_F(AdmissionTest, PutIssuerNeverReplacesNorReusesARegisteredName) {
  EXPECT_EQ(Admit(*current_, PutIssuer(current_->proto().issuers(0))),
            "ALREADY_EXISTS: issuer hr-app already exists");
  v1::TokenIssuer copy = current_->proto().issuers(0);
  copy.set_name("hr-app-2");
  EXPECT_EQ(Admit(*current_, PutIssuer(copy)),
            absl::StrCat("ALREADY_EXISTS: issuer hr-app-2: registered issuer name ",
                         RegisteredName(kHrGuid), " is already used by issuer hr-app"));
}

TEST_F(AdmissionTest, PutIssuerChecksStructureAgainstTheCurrentRealm) {
  v1::TokenIssuer issuer = NewIssuer(Pki().hr_signing.certificate);
  issuer.set_registered_issuer_name(
      absl::StrCat("66666666-6666-4666-8666-666666666666@", kClientA));
  EXPECT_EQ(Admit(*current_, PutIssuer(issuer)),
            absl::StrCat("INVALID_ARGUMENT: issuer payroll: registered_issuer_name: realm ",
                         kClientA, " does not match the snapshot realm ", kRealm));
}

TEST_F(AdmissionTest, PutIssuerNeedsTheTime) {
  AdmissionOptions unset;
  EXPECT_EQ(Admit(*current_, PutIssuer(NewIssuer(Pki().hr_signing.certificate)), unset),
            "INVALID_ARGUMENT: admission options: now is not set; it is needed to check "
            "certificate chains");
}

// ---- put_peer ----

TEST_F(AdmissionTest, PutPeerInsertsOrReplaces) {
  v1::FederationPeer peer = current_->proto().peers(0);
  peer.set_enabled(false);
  EXPECT_EQ(Admit(*current_, PutPeer(peer)), "OK");
}

TEST_F(AdmissionTest, PutPeerNeedsExistingMtlsRootsOfItsDomain) {
  EXPECT_EQ(Admit(*current_, PutPeer(MakePeer(kPartner, {"fabrikam-root", "fabrikam-2"}))),
            "NOT_FOUND: federation peer fabrikam.test: root authority fabrikam-2 does not exist");
  EXPECT_EQ(Admit(*current_, PutPeer(MakePeer(kPartner, {"contoso-root"}))),
            "FAILED_PRECONDITION: federation peer fabrikam.test: root authority contoso-root "
            "anchors trust domain contoso.test, not fabrikam.test");

  v1::TrustSnapshot proto = current_->proto();
  *proto.add_roots() =
      MakeRoot("fabrikam-tokens", kPartner, Pki().fabrikam.RootPem(), {v1::TOKEN_SIGNING});
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(Admit(*snapshot, PutPeer(MakePeer(kPartner, {"fabrikam-tokens"}))),
            "FAILED_PRECONDITION: federation peer fabrikam.test: root authority fabrikam-tokens "
            "does not have purpose mtls");
}

TEST_F(AdmissionTest, PutPeerChecksStructure) {
  EXPECT_EQ(Admit(*current_, PutPeer(MakePeer(kDomain, {"contoso-root"}))),
            "INVALID_ARGUMENT: federation peer contoso.test: trust_domain: contoso.test is the "
            "local trust domain, not a partner");
}

// ---- revocations, removals ----

TEST_F(AdmissionTest, PutRevocation) {
  EXPECT_EQ(Admit(*current_, PutRevocation(MakeRevocation(std::string(64, 'a')))), "OK");
  std::string existing = current_->proto().revocations(0).sha256_hex();
  EXPECT_EQ(Admit(*current_, PutRevocation(MakeRevocation(existing))),
            absl::StrCat("ALREADY_EXISTS: revocation ", existing, " already exists"));
  EXPECT_EQ(Admit(*current_, PutRevocation(MakeRevocation("ABC"))),
            "INVALID_ARGUMENT: revocation \"ABC\": sha256_hex: \"ABC\" must be 64 lower-case hex "
            "characters");
}

TEST_F(AdmissionTest, PutAndRemoveRevocationByKey) {
  const pki::Certificate& cert = Pki().contoso.intermediate().certificate;
  v1::TrustSnapshot proto = current_->proto();
  *proto.add_revocations() = KeyRevocation(cert);
  std::shared_ptr<const TrustSnapshot> with_key = MustCreate(WithRequiredFeatures(proto));
  ASSERT_NE(with_key, nullptr);
  const std::string key = "key:" + cert.SpkiSha256Hex();
  // The same key again, whatever else differs: already exists, named by key.
  v1::Revocation again = KeyRevocation(cert);
  again.set_reason("again");
  EXPECT_EQ(Admit(*with_key, PutRevocation(again)),
            absl::StrCat("ALREADY_EXISTS: revocation ", key, " already exists"));
  // Other kinds for the same certificate are other revocations.
  EXPECT_EQ(Admit(*with_key, PutRevocation(CertificateRevocation(cert))), "OK");
  EXPECT_EQ(Admit(*with_key, PutRevocation(MakeRevocation(cert.Sha256Hex()))), "OK");
  EXPECT_EQ(Admit(*with_key, RemoveRevocation(key)), "OK");
  // Removal names the key, not the hash inside it.
  EXPECT_EQ(Admit(*with_key, RemoveRevocation(cert.SpkiSha256Hex())),
            absl::StrCat("NOT_FOUND: revocation ", cert.SpkiSha256Hex(), " does not exist"));
  EXPECT_EQ(Admit(*with_key, RemoveRevocation("certificate:" + cert.TbsSha256Hex())),
            absl::StrCat("NOT_FOUND: revocation certificate:", cert.TbsSha256Hex(),
                         " does not exist"));
  EXPECT_EQ(Admit(*with_key, RemoveRevocation("key:\n")),
            "NOT_FOUND: revocation \"key:\\n\" does not exist");
  // A malformed revocation of a new kind is named by its (quoted) key.
  v1::Revocation bad;
  bad.set_kind(v1::REVOCATION_KEY);
  bad.set_spki_sha256_hex("xyz");
  EXPECT_EQ(Admit(*with_key, PutRevocation(bad)),
            "INVALID_ARGUMENT: revocation \"key:xyz\": spki_sha256_hex: \"xyz\" must be 64 "
            "lower-case hex characters");
}

TEST_F(AdmissionTest, RemovalsOfMissingObjectsAreNotFound) {
  EXPECT_EQ(Admit(*current_, RemoveIssuer("payroll")), "NOT_FOUND: issuer payroll does not exist");
  EXPECT_EQ(Admit(*current_, RemovePeer("northwind.test")),
            "NOT_FOUND: federation peer northwind.test does not exist");
  EXPECT_EQ(Admit(*current_, RemoveRevocation(std::string(64, 'a'))),
            absl::StrCat("NOT_FOUND: revocation ", std::string(64, 'a'), " does not exist"));
  EXPECT_EQ(Admit(*current_, RemoveRoot("northwind-root")),
            "NOT_FOUND: root authority northwind-root does not exist");
}

TEST_F(AdmissionTest, RemovalsOfExistingObjects) {
  EXPECT_EQ(Admit(*current_, RemoveIssuer("hr-app")), "OK");
  EXPECT_EQ(Admit(*current_, RemovePeer(kPartner)), "OK");
  EXPECT_EQ(Admit(*current_, RemoveRevocation(current_->proto().revocations(0).sha256_hex())),
            "OK");
  // Nothing depends on the local mtls root (connected nodes are the control
  // plane's own check).
  EXPECT_EQ(Admit(*current_, RemoveRoot("contoso-root")), "OK");
}

TEST_F(AdmissionTest, EmptyChangeIsInvalid) {
  EXPECT_EQ(Admit(*current_, v1::TrustChange()), "INVALID_ARGUMENT: change: no change is set");
}

// ---- remove_root and its dependents ----

TEST_F(AdmissionTest, RemoveRootNeededByIssuersIsRefused) {
  EXPECT_EQ(Admit(*current_, RemoveRoot("token-root")),
            "FAILED_PRECONDITION: root authority token-root is still needed by issuers hr-app, "
            "broker; remove them first or force the removal");
  EXPECT_EQ(Admit(*current_, RemoveRoot("addin-root")),
            "FAILED_PRECONDITION: root authority addin-root is still needed by issuers addin; "
            "remove them first or force the removal");
}

TEST_F(AdmissionTest, RemoveRootNeededByPeerIsRefused) {
  EXPECT_EQ(Admit(*current_, RemoveRoot("fabrikam-root")),
            "FAILED_PRECONDITION: root authority fabrikam-root is still needed by federation "
            "peers fabrikam.test; remove them first or force the removal");
}

TEST_F(AdmissionTest, RemoveRootListsIssuersAndPeers) {
  const TrustPki& pki = Pki();
  pki::IssuedCertificate partner_signing =
      testing::SigningCertUnder(pki.fabrikam.root(), "fabrikam signing");
  v1::TrustSnapshot proto = current_->proto();
  proto.mutable_roots(3)->add_purposes(v1::TOKEN_SIGNING);
  *proto.add_issuers() = MakeIssuer("partner-app", "77777777-7777-4777-8777-777777777777",
                                    {partner_signing.certificate.ToPem()}, {v1::RS256});
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(Admit(*snapshot, RemoveRoot("fabrikam-root")),
            "FAILED_PRECONDITION: root authority fabrikam-root is still needed by issuers "
            "partner-app and by federation peers fabrikam.test; remove them first or force the "
            "removal");
}

TEST_F(AdmissionTest, RemoveRootThatAnotherRootDuplicatesIsAllowed) {
  // During rotation the same anchor may be registered twice; removing one
  // copy strands nobody.
  v1::TrustSnapshot proto = current_->proto();
  v1::RootAuthority copy = proto.roots(1);
  copy.set_name("token-root-2");
  *proto.add_roots() = copy;
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(Admit(*snapshot, RemoveRoot("token-root")), "OK");
}

TEST_F(AdmissionTest, RemoveRootIgnoresIssuersThatAlreadyFailToChain) {
  // An issuer whose only certificate has expired does not need any root.
  pki::IssuedCertificate expired = ExpiredSigningCertificate(Pki().token_root);
  v1::TrustSnapshot proto = EmptySnapshot(3);
  *proto.add_roots() = current_->proto().roots(1);
  *proto.add_issuers() = NewIssuer(expired.certificate);
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(Admit(*snapshot, RemoveRoot("token-root")), "OK");
}

TEST_F(AdmissionTest, RemoveRootCapsTheListOfDependents) {
  v1::TrustSnapshot proto = EmptySnapshot(3);
  *proto.add_roots() = current_->proto().roots(1);
  for (int i = 0; i < 25; ++i) {
    *proto.add_issuers() = MakeIssuer(absl::StrFormat("app-%02d", i),
                                      absl::StrFormat("%08x-0000-4000-8000-%012x", i, i),
                                      {Pki().hr_signing.certificate.ToPem()}, {v1::RS256});
  }
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);
  std::vector<std::string> listed;
  for (int i = 0; i < 20; ++i) listed.push_back(absl::StrFormat("app-%02d", i));
  EXPECT_EQ(Admit(*snapshot, RemoveRoot("token-root")),
            absl::StrCat("FAILED_PRECONDITION: root authority token-root is still needed by "
                         "issuers ",
                         absl::StrJoin(listed, ", "),
                         " and 5 more; remove them first or force the removal"));
}

TEST_F(AdmissionTest, RemoveTokenRootNeedsTheTime) {
  AdmissionOptions unset;
  EXPECT_EQ(Admit(*current_, RemoveRoot("token-root"), unset),
            "INVALID_ARGUMENT: admission options: now is not set; it is needed to check "
            "certificate chains");
  // Forced, or a root no issuer could depend on: no chains to check.
  unset.force = true;
  EXPECT_EQ(Admit(*current_, RemoveRoot("token-root"), unset), "OK");
  EXPECT_EQ(Admit(*current_, RemoveRoot("contoso-root"), AdmissionOptions()), "OK");
}

TEST_F(AdmissionTest, ForcedRootRemovalLeavesInertDependentsInAValidSnapshot) {
  EXPECT_EQ(Admit(*current_, RemoveRoot("fabrikam-root"), Now(/*force=*/true)), "OK");
  EXPECT_EQ(Admit(*current_, RemoveRoot("token-root"), Now(/*force=*/true)), "OK");

  absl::StatusOr<v1::TrustSnapshot> next =
      ApplyChanges(current_->proto(), {RemoveRoot("fabrikam-root"), RemoveRoot("token-root")});
  ASSERT_TRUE(next.ok()) << next.status();
  next->set_revision(6);
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(*next);
  ASSERT_NE(snapshot, nullptr);
  ExpectPartnerInertWithoutItsRoot(*snapshot);
  // The issuer stays registered; its tokens fail the chain check at
  // verification time, since nothing anchors its certificate any more.
  const IssuerEntry* hr = snapshot->FindIssuerByName("hr-app");
  ASSERT_NE(hr, nullptr);
  pki::VerifyRequest request{hr->signing_certificates[0]};
  request.at = absl::Now();
  ASSERT_NE(snapshot->TokenSigningRoots(), nullptr);  // addin-root remains
  EXPECT_FALSE(snapshot->TokenSigningRoots()->Verify(request).ok());
}

}  // namespace
}  // namespace trustfabric::trust
