// Revocation keys, features and the revocation index: every kind matched
// on what a re-encoding of the certificate cannot change.
#include "common/trust/revocation.h"

#include <optional>
#include <string>
#include <vector>

#include "common/pki/certificate.h"
#include "common/pki/issue.h"
#include "gtest/gtest.h"
#include "tests/common/trust/trust_fixture.h"
#include "tests/testing/reencode.h"

namespace trustfabric::trust {
namespace {

pki::Certificate Reencoded(const pki::Certificate& cert) {
  absl::StatusOr<std::string> der = testing::ReencodeEcdsaSignature(cert.der());
  EXPECT_TRUE(der.ok()) << der.status();
  absl::StatusOr<pki::Certificate> twin = pki::Certificate::FromDer(der.ok() ? *der : "");
  EXPECT_TRUE(twin.ok()) << twin.status();
  return twin.ok() ? *twin : cert;
}

RevocationIndex IndexOf(const std::vector<v1::Revocation>& revocations) {
  RevocationIndex index;
  for (const v1::Revocation& r : revocations) EXPECT_TRUE(index.Add(r));
  return index;
}

// "<index> <kind> <key>" of the first revoked certificate, or "none".
std::string First(const RevocationIndex& index, const std::vector<pki::Certificate>& chain) {
  std::optional<pki::RevokedCertificate> r = index.FirstRevoked(chain);
  if (!r.has_value()) return "none";
  return absl::StrCat(r->index, " ", r->kind, " ", r->key);
}

TEST(RevocationKeyTest, EachKindHasItsKey) {
  const std::string a(64, 'a');
  const std::string b(64, 'b');
  v1::Revocation r;
  r.set_sha256_hex(a);
  EXPECT_EQ(RevocationKey(r), a);  // legacy revocations keep their key
  r.set_kind(v1::REVOCATION_CERTIFICATE);
  r.set_tbs_sha256_hex(b);
  EXPECT_EQ(RevocationKey(r), "certificate:" + b);  // sha256_hex is informational
  r = v1::Revocation();
  r.set_kind(v1::REVOCATION_KEY);
  r.set_spki_sha256_hex(b);
  EXPECT_EQ(RevocationKey(r), "key:" + b);
  r = v1::Revocation();
  r.set_kind(v1::REVOCATION_ISSUER_SERIAL);
  r.set_issuer_spki_sha256_hex(a);
  r.set_serial_hex("1f");
  EXPECT_EQ(RevocationKey(r), "serial:" + a + ":1f");
  r = v1::Revocation();
  r.set_kind(static_cast<v1::RevocationKind>(7));
  r.set_sha256_hex(a);
  EXPECT_EQ(RevocationKey(r), "kind7:" + a);

  EXPECT_TRUE(IsRevocationKey(a));
  EXPECT_TRUE(IsRevocationKey("certificate:" + b));
  EXPECT_TRUE(IsRevocationKey("key:" + b));
  EXPECT_TRUE(IsRevocationKey("serial:" + a + ":1f"));
  EXPECT_TRUE(IsRevocationKey("serial:" + a + ":-1f"));
  EXPECT_FALSE(IsRevocationKey("serial:" + a + ":01f"));
  EXPECT_FALSE(IsRevocationKey("serial:" + a + ":"));
  EXPECT_FALSE(IsRevocationKey("serial:" + a));
  EXPECT_FALSE(IsRevocationKey("key:" + b + "0"));
  EXPECT_FALSE(IsRevocationKey("KEY:" + b));
  EXPECT_FALSE(IsRevocationKey("kind7:" + a));
  EXPECT_FALSE(IsRevocationKey(""));
}

TEST(RevocationFeaturesTest, KindsFeaturesAndKeys) {
  EXPECT_EQ(SupportedFeatures(),
            (std::vector<std::string>{"revocation.certificate", "revocation.issuer_serial",
                                      "revocation.key"}));
  EXPECT_EQ(FeatureOf(v1::REVOCATION_DER_ONLY), "");
  EXPECT_EQ(FeatureOf(v1::REVOCATION_CERTIFICATE), "revocation.certificate");
  EXPECT_EQ(FeatureOf(v1::REVOCATION_KEY), "revocation.key");
  EXPECT_EQ(FeatureOf(v1::REVOCATION_ISSUER_SERIAL), "revocation.issuer_serial");
  EXPECT_EQ(FeatureOf(9), "");
  EXPECT_EQ(RevocationKindName(v1::REVOCATION_ISSUER_SERIAL), "issuer_serial");
  EXPECT_EQ(RevocationKindName(9), "kind 9");

  const pki::Certificate& cert = Pki().contoso.intermediate().certificate;
  for (const v1::Revocation& r :
       {MakeRevocation(cert.Sha256Hex()), CertificateRevocation(cert), KeyRevocation(cert),
        IssuerSerialRevocation(cert, Pki().contoso.root().certificate)}) {
    EXPECT_EQ(FeatureOfRevocationKey(RevocationKey(r)), FeatureOf(r.kind()));
  }

  v1::TrustSnapshot proto = ValidSnapshot();
  EXPECT_TRUE(RequiredFeatures(proto).empty());
  *proto.add_revocations() = KeyRevocation(cert);
  *proto.add_revocations() = CertificateRevocation(cert);
  *proto.add_revocations() = KeyRevocation(Pki().contoso.root().certificate);
  EXPECT_EQ(RequiredFeatures(proto),
            (std::vector<std::string>{"revocation.certificate", "revocation.key"}));
  proto.add_required_features("revocation.bogus");  // not read
  EXPECT_EQ(RequiredFeatures(proto).size(), 2u);
}

class RevocationIndexTest : public ::testing::Test {
 protected:
  const testing::TestDomain& contoso() { return Pki().contoso; }
  std::vector<pki::Certificate> Chain(const pki::Certificate& leaf) {
    return {leaf, contoso().intermediate().certificate, contoso().root().certificate};
  }
};

TEST_F(RevocationIndexTest, CertificateRevocationsMatchEveryEncodingOfTheBody) {
  pki::IssuedCertificate leaf = contoso().IssueNode("edge", "edge1", "edge1.contoso.test");
  const pki::Certificate& intermediate = contoso().intermediate().certificate;
  RevocationIndex index = IndexOf({CertificateRevocation(leaf.certificate)});
  const std::string key = "certificate:" + leaf.certificate.TbsSha256Hex();
  EXPECT_EQ(First(index, Chain(leaf.certificate)), "0 certificate " + key);
  EXPECT_EQ(First(index, Chain(Reencoded(leaf.certificate))), "0 certificate " + key);

  RevocationIndex of_intermediate = IndexOf({CertificateRevocation(intermediate)});
  std::vector<pki::Certificate> chain = {leaf.certificate, Reencoded(intermediate),
                                         contoso().root().certificate};
  EXPECT_EQ(First(of_intermediate, chain),
            "1 certificate certificate:" + intermediate.TbsSha256Hex());
  // Another certificate of the same key is not this certificate.
  pki::CertificateSpec spec;
  spec.common_name = "edge1.contoso.test";
  spec.key = leaf.key;
  pki::IssuedCertificate reissued = MustIssue(spec, &contoso().intermediate());
  EXPECT_EQ(First(index, Chain(reissued.certificate)), "none");
}

TEST_F(RevocationIndexTest, KeyRevocationsMatchEveryCertificateOfTheKey) {
  pki::IssuedCertificate leaf = contoso().IssueNode("edge", "edge1", "edge1.contoso.test");
  pki::CertificateSpec spec;
  spec.common_name = "edge1.contoso.test";
  spec.key = leaf.key;
  pki::IssuedCertificate reissued = MustIssue(spec, &contoso().intermediate());
  RevocationIndex index = IndexOf({KeyRevocation(leaf.certificate)});
  const std::string expected = "0 key key:" + leaf.certificate.SpkiSha256Hex();
  EXPECT_EQ(First(index, Chain(leaf.certificate)), expected);
  EXPECT_EQ(First(index, Chain(reissued.certificate)), expected);
  EXPECT_EQ(First(index, Chain(Reencoded(reissued.certificate))), expected);
  pki::IssuedCertificate other = contoso().IssueNode("edge", "edge2", "edge2.contoso.test");
  EXPECT_EQ(First(index, Chain(other.certificate)), "none");
}

TEST_F(RevocationIndexTest, IssuerSerialNamesTheIssuerByKey) {
  pki::IssuedCertificate leaf = contoso().IssueNode("edge", "edge1", "edge1.contoso.test");
  const pki::Certificate& intermediate = contoso().intermediate().certificate;
  RevocationIndex index = IndexOf({IssuerSerialRevocation(leaf.certificate, intermediate)});
  const std::string expected = absl::StrCat("0 issuer_serial serial:", intermediate.SpkiSha256Hex(),
                                            ":", *pki::CanonicalSerialHex(leaf.certificate.SerialHex()));
  EXPECT_EQ(First(index, Chain(leaf.certificate)), expected);
  EXPECT_EQ(First(index, Chain(Reencoded(leaf.certificate))), expected);
  // The same serial under an issuer of the same name but another key (a
  // same-named impostor domain) is not revoked.
  testing::TestDomain impostor(kDomain);
  RevocationIndex by_impostor = IndexOf(
      {IssuerSerialRevocation(leaf.certificate, impostor.intermediate().certificate)});
  EXPECT_EQ(impostor.intermediate().certificate.Subject(), intermediate.Subject());
  EXPECT_EQ(First(by_impostor, Chain(leaf.certificate)), "none");
  // The anchor is its own issuer.
  const pki::Certificate& root = contoso().root().certificate;
  RevocationIndex of_root = IndexOf({IssuerSerialRevocation(root, root)});
  EXPECT_EQ(First(of_root, Chain(leaf.certificate)).substr(0, 16), "2 issuer_serial ");
}

TEST_F(RevocationIndexTest, DerOnlyMatchesOneEncodingOnly) {
  pki::IssuedCertificate leaf = contoso().IssueNode("edge", "edge1", "edge1.contoso.test");
  RevocationIndex index = IndexOf({MakeRevocation(leaf.certificate.Sha256Hex())});
  EXPECT_EQ(First(index, Chain(leaf.certificate)), "0 der_only " + leaf.certificate.Sha256Hex());
  // The weakness DER-only revocations are marked for: a re-encoded copy of
  // the certificate is another encoding, not matched.
  EXPECT_EQ(First(index, Chain(Reencoded(leaf.certificate))), "none");
  std::optional<pki::RevokedCertificate> r = index.FirstRevoked(Chain(leaf.certificate));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->certificate, leaf.certificate.Sha256Hex());
  EXPECT_EQ(pki::DescribeRevoked(*r), leaf.certificate.Sha256Hex() + " (der_only revocation)");
}

TEST_F(RevocationIndexTest, FirstRevokedIsTheFirstInChainOrder) {
  pki::IssuedCertificate leaf = contoso().IssueNode("edge", "edge1", "edge1.contoso.test");
  RevocationIndex index = IndexOf({KeyRevocation(contoso().root().certificate),
                                   CertificateRevocation(contoso().intermediate().certificate)});
  EXPECT_EQ(First(index, Chain(leaf.certificate)).substr(0, 14), "1 certificate ");
  EXPECT_EQ(index.SortedKeys(),
            (std::vector<std::string>{
                "certificate:" + contoso().intermediate().certificate.TbsSha256Hex(),
                "key:" + contoso().root().certificate.SpkiSha256Hex()}));
  EXPECT_FALSE(index.Add(KeyRevocation(contoso().root().certificate)));
  EXPECT_EQ(index.size(), 2u);
  RevocationIndex empty;
  EXPECT_EQ(First(empty, Chain(leaf.certificate)), "none");
}

}  // namespace
}  // namespace trustfabric::trust
