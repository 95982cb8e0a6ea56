#include "common/pki/verify.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/pki/issue.h"
#include "common/pki/spiffe.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::pki {
namespace {

constexpr auto kUnauth = absl::StatusCode::kUnauthenticated;
constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

class PkiVerifyTest : public ::testing::Test {
 protected:
  std::shared_ptr<const RootStore> Store(const std::vector<Certificate>& roots) {
    absl::StatusOr<std::shared_ptr<const RootStore>> store = RootStore::Create(roots);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? *store : nullptr;
  }
  std::shared_ptr<const RootStore> ContosoStore() {
    return Store({contoso_->root().certificate});
  }

  VerifyRequest Request(const IssuedCertificate& leaf,
                        std::vector<Certificate> intermediates) const {
    VerifyRequest req{leaf.certificate};
    req.intermediates = std::move(intermediates);
    req.at = absl::Now();
    return req;
  }
  VerifyRequest NodeRequest(const IssuedCertificate& leaf) const {
    return Request(leaf, {contoso_->intermediate().certificate});
  }

  // A CA signed by `issuer` with the given shape.
  static IssuedCertificate Ca(const std::string& cn, const IssuedCertificate& issuer,
                              bool is_ca, bool omit_bc, int path_length = -1) {
    CertificateSpec spec;
    spec.common_name = cn;
    spec.is_ca = is_ca;
    spec.omit_basic_constraints = omit_bc;
    spec.path_length = path_length;
    absl::StatusOr<IssuedCertificate> ca = Issue(spec, &issuer);
    EXPECT_THAT(ca, IsOk());
    return *std::move(ca);
  }
  // A self-signed CA of `key_type` (the test domains' CAs are EC P-256).
  static absl::StatusOr<IssuedCertificate> SelfSignedCa(const std::string& cn, KeyType key_type) {
    CertificateSpec spec;
    spec.common_name = cn;
    spec.is_ca = true;
    spec.key_type = key_type;
    return Issue(spec, nullptr);
  }
  // `spec` issued by `issuer` with a fresh 1024-bit RSA key, below the
  // 2048-bit minimum.
  static absl::StatusOr<IssuedCertificate> IssueWithWeakKey(CertificateSpec spec,
                                                            const IssuedCertificate& issuer) {
    absl::StatusOr<PrivateKey> weak = PrivateKey::GenerateRsa(1024);
    if (!weak.ok()) return weak.status();
    spec.key = *std::move(weak);
    return Issue(spec, &issuer);
  }
  static IssuedCertificate Leaf(const std::string& dns, const IssuedCertificate& issuer) {
    CertificateSpec spec;
    spec.common_name = dns;
    spec.dns_names = {dns};
    spec.uri_names = {"spiffe://contoso.test/frontend/fe1"};
    absl::StatusOr<IssuedCertificate> leaf = Issue(spec, &issuer);
    EXPECT_THAT(leaf, IsOk());
    return *std::move(leaf);
  }

  // Generated once per test binary (testing::SharedTestDomain).
  const TestDomain* const contoso_ = &testing::SharedTestDomain("contoso.test");
  const TestDomain* const fabrikam_ = &testing::SharedTestDomain("fabrikam.test");
};

TEST_F(PkiVerifyTest, CreateRejectsEmptyRoots) {
  EXPECT_THAT(RootStore::Create({}), StatusIs(kInvalid, "root store: no roots"));
}

TEST_F(PkiVerifyTest, ValidChainReturnsLeafToAnchor) {
  IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  auto store = ContosoStore();
  absl::StatusOr<VerifiedChain> v = store->Verify(NodeRequest(leaf));
  ASSERT_THAT(v, IsOk());
  ASSERT_THAT(v->chain, SizeIs(3));
  EXPECT_EQ(v->chain[0], leaf.certificate);
  EXPECT_EQ(v->chain[1], contoso_->intermediate().certificate);
  EXPECT_EQ(v->anchor(), contoso_->root().certificate);
  EXPECT_THAT(store->roots(), SizeIs(1));
}

TEST_F(PkiVerifyTest, TlsPurposesForNodeCertificates) {
  IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  auto store = ContosoStore();
  for (ChainPurpose p : {ChainPurpose::kAny, ChainPurpose::kTlsClient, ChainPurpose::kTlsServer}) {
    VerifyRequest req = NodeRequest(leaf);
    req.purpose = p;
    EXPECT_THAT(store->Verify(req), IsOk());
  }
}

TEST_F(PkiVerifyTest, CaCertificateIsNotATlsLeaf) {
  auto store = ContosoStore();
  VerifyRequest req = Request(contoso_->intermediate(), {});
  EXPECT_THAT(store->Verify(req), IsOk());
  req.purpose = ChainPurpose::kTlsServer;
  EXPECT_THAT(store->Verify(req), StatusIs(kUnauth, "unsupported certificate purpose"));
  req.purpose = ChainPurpose::kTlsClient;
  EXPECT_THAT(store->Verify(req), StatusIs(kUnauth, "unsupported certificate purpose"));
}

TEST_F(PkiVerifyTest, ExpiredLeaf) {
  testing::LeafOptions opts;
  opts.not_after = absl::Now() - absl::Hours(24);
  IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test", opts);
  EXPECT_THAT(ContosoStore()->Verify(NodeRequest(leaf)), StatusIs(kUnauth, "certificate has expired"));
}

TEST_F(PkiVerifyTest, NotYetValidLeaf) {
  testing::LeafOptions opts;
  opts.not_before = absl::Now() + absl::Hours(24);
  IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test", opts);
  EXPECT_THAT(ContosoStore()->Verify(NodeRequest(leaf)),
              StatusIs(kUnauth, "certificate is not yet valid"));
}

TEST_F(PkiVerifyTest, VerificationTimeIsTheRequestedOne) {
  IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  auto store = ContosoStore();
  VerifyRequest req = NodeRequest(leaf);
  req.at = leaf.certificate.NotAfter() + absl::Seconds(1);
  EXPECT_THAT(store->Verify(req), StatusIs(kUnauth, "certificate has expired"));
  req.at = leaf.certificate.NotBefore() - absl::Seconds(1);
  EXPECT_THAT(store->Verify(req), StatusIs(kUnauth, "certificate is not yet valid"));
  req.at = absl::InfinitePast();
  EXPECT_THAT(store->Verify(req), StatusIs(kInvalid, "verification time not set"));
}

TEST_F(PkiVerifyTest, WrongRoot) {
  IssuedCertificate leaf = fabrikam_->IssueNode("edge", "edge1", "edge1.fabrikam.test");
  VerifyRequest req = Request(leaf, {fabrikam_->intermediate().certificate});
  EXPECT_THAT(ContosoStore()->Verify(req),
              StatusIs(kUnauth, "unable to get local issuer certificate"));
}

TEST_F(PkiVerifyTest, PeerOfferedRootIsNotAnAnchor) {
  IssuedCertificate leaf = fabrikam_->IssueNode("edge", "edge1", "edge1.fabrikam.test");
  VerifyRequest req = Request(
      leaf, {fabrikam_->intermediate().certificate, fabrikam_->root().certificate});
  EXPECT_THAT(ContosoStore()->Verify(req),
              StatusIs(kUnauth, "self-signed certificate in certificate chain"));
}

TEST_F(PkiVerifyTest, SameNamedImpostorIntermediateIsRejected) {
  TestDomain impostor("contoso.test");
  IssuedCertificate leaf = impostor.IssueNode("frontend", "fe1", "fe1.contoso.test");
  VerifyRequest req = Request(leaf, {impostor.intermediate().certificate});
  absl::StatusOr<VerifiedChain> v = ContosoStore()->Verify(req);
  EXPECT_THAT(v, StatusIs(kUnauth, "unable to get local issuer certificate"));
  // Even when offered the real intermediate, the impostor leaf's signature fails.
  req.intermediates = {contoso_->intermediate().certificate};
  EXPECT_FALSE(ContosoStore()->Verify(req).ok());
}

TEST_F(PkiVerifyTest, MissingIntermediate) {
  IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  EXPECT_THAT(ContosoStore()->Verify(Request(leaf, {})),
              StatusIs(kUnauth, "unable to get local issuer certificate"));
}

TEST_F(PkiVerifyTest, PartialChainsAreOff) {
  IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  auto store = Store({contoso_->intermediate().certificate});
  EXPECT_THAT(store->Verify(Request(leaf, {})),
              StatusIs(kUnauth, "unable to get local issuer certificate"));
}

// Revokes the certificate whose signed-body hash is `tbs`, and records the
// facts it was asked about.
class FakeChecker : public RevocationChecker {
 public:
  explicit FakeChecker(std::string tbs) : tbs_(std::move(tbs)) {}
  std::optional<RevokedCertificate> FirstRevoked(
      const std::vector<RevocationFacts>& chain) const override {
    seen_ = chain;
    for (size_t i = 0; i < chain.size(); ++i) {
      if (chain[i].tbs_sha256 == tbs_) return RevokedCertificate{i, "certificate:" + tbs_, "certificate", tbs_};
    }
    return std::nullopt;
  }
  const std::vector<RevocationFacts>& seen() const { return seen_; }

 private:
  std::string tbs_;
  mutable std::vector<RevocationFacts> seen_;
};

TEST_F(PkiVerifyTest, RevokedLeafIntermediateAndRoot) {
  IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  auto store = ContosoStore();
  const std::vector<const Certificate*> chain = {
      &leaf.certificate, &contoso_->intermediate().certificate, &contoso_->root().certificate};
  for (const Certificate* c : chain) {
    FakeChecker revoked(c->TbsSha256Hex());
    VerifyRequest req = NodeRequest(leaf);
    req.revoked = &revoked;
    EXPECT_THAT(store->Verify(req),
                StatusIs(kUnauth, "certificate revoked: " + c->TbsSha256Hex() +
                                      " (certificate revocation)"));
  }
  FakeChecker unrelated(std::string(64, 'a'));
  VerifyRequest req = NodeRequest(leaf);
  req.revoked = &unrelated;
  EXPECT_THAT(store->Verify(req), IsOk());
  // The checker saw the whole built chain, each certificate with its issuer.
  ASSERT_THAT(unrelated.seen(), SizeIs(3));
  for (size_t i = 0; i < chain.size(); ++i) {
    const RevocationFacts& facts = unrelated.seen()[i];
    const Certificate& issuer = *chain[std::min(i + 1, chain.size() - 1)];
    EXPECT_EQ(facts.der_sha256, chain[i]->Sha256Hex());
    EXPECT_EQ(facts.tbs_sha256, chain[i]->TbsSha256Hex());
    EXPECT_EQ(facts.spki_sha256, chain[i]->SpkiSha256Hex());
    EXPECT_EQ(facts.issuer_spki_sha256, issuer.SpkiSha256Hex()) << i;
    EXPECT_EQ(facts.serial, *CanonicalSerialHex(chain[i]->SerialHex()));
    EXPECT_EQ(facts.subject, chain[i]->Subject());
  }
}

TEST_F(PkiVerifyTest, RevocationFactsOfACertificateWithoutItsIssuer) {
  IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  RevocationFacts facts = RevocationFactsOf(leaf.certificate, nullptr);
  EXPECT_EQ(facts.tbs_sha256, leaf.certificate.TbsSha256Hex());
  EXPECT_EQ(facts.issuer_spki_sha256, "");
  EXPECT_EQ(RevocationFactsOf(std::vector<Certificate>{}).size(), 0u);
  EXPECT_EQ(DescribeRevoked(RevokedCertificate{0, "k", "key", "abc"}), "abc (key revocation)");
}

TEST_F(PkiVerifyTest, IntermediateWithoutCaTrue) {
  IssuedCertificate not_ca = Ca("not a ca", contoso_->root(), /*is_ca=*/false, /*omit_bc=*/false);
  IssuedCertificate leaf = Leaf("fe1.contoso.test", not_ca);
  EXPECT_THAT(ContosoStore()->Verify(Request(leaf, {not_ca.certificate})),
              StatusIs(kUnauth, "invalid ca certificate"));
}

TEST_F(PkiVerifyTest, IntermediateWithoutBasicConstraints) {
  IssuedCertificate no_bc = Ca("no bc", contoso_->root(), /*is_ca=*/true, /*omit_bc=*/true);
  EXPECT_FALSE(no_bc.certificate.IsCa());
  IssuedCertificate leaf = Leaf("fe1.contoso.test", no_bc);
  EXPECT_THAT(ContosoStore()->Verify(Request(leaf, {no_bc.certificate})),
              StatusIs(kUnauth, "invalid ca certificate"));
}

TEST_F(PkiVerifyTest, PathLengthConstraint) {
  // The test intermediate has pathlen 0: it may not sign another CA.
  IssuedCertificate sub = Ca("sub ca", contoso_->intermediate(), /*is_ca=*/true, false);
  IssuedCertificate leaf = Leaf("fe1.contoso.test", sub);
  EXPECT_THAT(ContosoStore()->Verify(
                  Request(leaf, {sub.certificate, contoso_->intermediate().certificate})),
              StatusIs(kUnauth, "path length constraint exceeded"));
}

TEST_F(PkiVerifyTest, WeakLeafKey) {
  CertificateSpec spec;
  spec.common_name = "fe1.contoso.test";
  spec.dns_names = {"fe1.contoso.test"};
  absl::StatusOr<IssuedCertificate> leaf = IssueWithWeakKey(spec, contoso_->intermediate());
  ASSERT_THAT(leaf, IsOk());
  EXPECT_THAT(ContosoStore()->Verify(NodeRequest(*leaf)),
              StatusIs(kUnauth, "weak key: rsa key of 1024 bits is below the minimum of 2048"));
}

TEST_F(PkiVerifyTest, WeakIntermediateKey) {
  CertificateSpec spec;
  spec.common_name = "weak intermediate";
  spec.is_ca = true;
  absl::StatusOr<IssuedCertificate> inter = IssueWithWeakKey(spec, contoso_->root());
  ASSERT_THAT(inter, IsOk());
  IssuedCertificate leaf = Leaf("fe1.contoso.test", *inter);
  EXPECT_THAT(ContosoStore()->Verify(Request(leaf, {inter->certificate})),
              StatusIs(kUnauth, "weak key: rsa key of 1024 bits"));
}

TEST_F(PkiVerifyTest, DnsNameCheck) {
  IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  auto store = ContosoStore();
  VerifyRequest req = NodeRequest(leaf);
  req.dns_name = "fe1.contoso.test";
  EXPECT_THAT(store->Verify(req), IsOk());
  req.dns_name = "FE1.Contoso.Test";
  EXPECT_THAT(store->Verify(req), IsOk());
  req.dns_name = "fe2.contoso.test";
  EXPECT_THAT(store->Verify(req), StatusIs(kUnauth, "dns name mismatch: want fe2.contoso.test"));
  req.dns_name = "contoso.test";
  EXPECT_THAT(store->Verify(req), StatusIs(kUnauth, "dns name mismatch"));
}

TEST_F(PkiVerifyTest, DnsNameIgnoresWildcardsAndSubject) {
  auto store = ContosoStore();
  CertificateSpec spec;
  spec.common_name = "fe1.contoso.test";
  spec.dns_names = {"*.contoso.test"};
  absl::StatusOr<IssuedCertificate> wildcard = Issue(spec, &contoso_->intermediate());
  ASSERT_THAT(wildcard, IsOk());
  VerifyRequest req = NodeRequest(*wildcard);
  req.dns_name = "fe1.contoso.test";
  // Matches neither the wildcard SAN nor the subject CN.
  EXPECT_THAT(store->Verify(req), StatusIs(kUnauth, "dns name mismatch"));
}

TEST_F(PkiVerifyTest, PinnedSelfSignedSigningCertificate) {
  IssuedCertificate signing = testing::SelfSignedSigningCert("app1 signing");
  auto pinned = Store({signing.certificate});
  absl::StatusOr<VerifiedChain> v = pinned->Verify(Request(signing, {}));
  ASSERT_THAT(v, IsOk());
  ASSERT_THAT(v->chain, SizeIs(1));
  EXPECT_EQ(v->anchor(), signing.certificate);
  EXPECT_THAT(ContosoStore()->Verify(Request(signing, {})),
              StatusIs(kUnauth, "self-signed certificate"));
}

TEST_F(PkiVerifyTest, SigningCertificateUnderRoot) {
  IssuedCertificate signing = testing::SigningCertUnder(contoso_->root(), "app2 signing");
  absl::StatusOr<VerifiedChain> v = ContosoStore()->Verify(Request(signing, {}));
  ASSERT_THAT(v, IsOk());
  EXPECT_THAT(v->chain, SizeIs(2));
}

TEST_F(PkiVerifyTest, EveryKeyTypeVerifies) {
  auto store = ContosoStore();
  for (KeyType t : {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048, KeyType::kRsa3072,
                    KeyType::kEd25519}) {
    testing::LeafOptions opts;
    opts.key_type = t;
    IssuedCertificate leaf = contoso_->IssueNode("edge", "edge1", "edge1.contoso.test", opts);
    VerifyRequest req = NodeRequest(leaf);
    req.purpose = ChainPurpose::kTlsServer;
    EXPECT_THAT(store->Verify(req), IsOk()) << static_cast<int>(t);
  }
}

TEST_F(PkiVerifyTest, Ed25519CaChain) {
  absl::StatusOr<IssuedCertificate> root = SelfSignedCa("ed root", KeyType::kEd25519);
  ASSERT_THAT(root, IsOk());
  IssuedCertificate leaf = Leaf("fe1.contoso.test", *root);
  EXPECT_THAT(Store({root->certificate})->Verify(Request(leaf, {})), IsOk());
}

TEST_F(PkiVerifyTest, SeveralRootsInOneStore) {
  auto store = Store({contoso_->root().certificate, fabrikam_->root().certificate});
  IssuedCertificate c = contoso_->IssueNode("edge", "edge1", "edge1.contoso.test");
  IssuedCertificate f = fabrikam_->IssueNode("edge", "edge1", "edge1.fabrikam.test");
  absl::StatusOr<VerifiedChain> vc = store->Verify(NodeRequest(c));
  ASSERT_THAT(vc, IsOk());
  EXPECT_EQ(vc->anchor(), contoso_->root().certificate);
  absl::StatusOr<VerifiedChain> vf =
      store->Verify(Request(f, {fabrikam_->intermediate().certificate}));
  ASSERT_THAT(vf, IsOk());
  EXPECT_EQ(vf->anchor(), fabrikam_->root().certificate);
}

TEST_F(PkiVerifyTest, TwoUriSansAreVisibleForSpiffeLevelRejection) {
  testing::LeafOptions opts;
  opts.extra_uri_names = {"spiffe://contoso.test/admin/admin1"};
  IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test", opts);
  // The chain itself is valid; the identity is ambiguous, which the
  // exactly-one-SPIFFE-ID rule of the TLS layer rejects.
  ASSERT_THAT(ContosoStore()->Verify(NodeRequest(leaf)), IsOk());
  std::vector<std::string> uris = leaf.certificate.UriNames();
  ASSERT_THAT(uris, SizeIs(2));
  int spiffe_ids = 0;
  for (const std::string& u : uris) spiffe_ids += ParseSpiffeId(u).ok() ? 1 : 0;
  EXPECT_EQ(spiffe_ids, 2);
}

TEST_F(PkiVerifyTest, MalformedSpiffeUriSurvivesChainButFailsParsing) {
  testing::LeafOptions opts;
  opts.no_uri = true;
  opts.extra_uri_names = {"spiffe://Contoso.test/frontend/fe1"};
  IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test", opts);
  ASSERT_THAT(ContosoStore()->Verify(NodeRequest(leaf)), IsOk());
  ASSERT_THAT(leaf.certificate.UriNames(), SizeIs(1));
  EXPECT_THAT(ParseSpiffeId(leaf.certificate.UriNames()[0]),
              StatusIs(kInvalid, "not a valid lower-case dns name"));
}

TEST_F(PkiVerifyTest, ConcurrentVerificationsShareOneStore) {
  auto store = ContosoStore();
  IssuedCertificate good = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  IssuedCertificate foreign = fabrikam_->IssueNode("edge", "edge1", "edge1.fabrikam.test");
  std::atomic<int> ok{0};
  std::atomic<int> rejected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (store->Verify(NodeRequest(good)).ok()) ok++;
        if (!store->Verify(Request(foreign, {fabrikam_->intermediate().certificate})).ok()) {
          rejected++;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_EQ(rejected.load(), 400);
}

}  // namespace
}  // namespace trustfabric::pki
