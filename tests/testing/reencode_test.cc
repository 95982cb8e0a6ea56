// Tests of the ECDSA signature re-encoding helper.
#include "tests/testing/reencode.h"

#include <openssl/x509.h>

#include <string>

#include "common/pki/certificate.h"
#include "common/pki/issue.h"
#include "common/pki/openssl_ptr.h"
#include "gtest/gtest.h"
#include "tests/testing/test_pki.h"

namespace trustfabric::testing {
namespace {

// X509_verify of `cert` under `issuer`'s public key.
bool VerifiesUnder(const pki::Certificate& cert, const pki::Certificate& issuer) {
  return X509_verify(cert.get(), X509_get0_pubkey(issuer.get())) == 1;
}

void ExpectSameCertificateOtherEncoding(const pki::Certificate& original,
                                        const pki::Certificate& issuer) {
  absl::StatusOr<std::string> der = ReencodeEcdsaSignature(original.der());
  ASSERT_TRUE(der.ok()) << der.status();
  absl::StatusOr<pki::Certificate> twin = pki::Certificate::FromDer(*der);
  ASSERT_TRUE(twin.ok()) << twin.status();
  EXPECT_NE(twin->der(), original.der());
  EXPECT_NE(twin->Sha256Hex(), original.Sha256Hex());
  EXPECT_EQ(twin->TbsSha256Hex(), original.TbsSha256Hex());
  EXPECT_EQ(twin->SpkiSha256Hex(), original.SpkiSha256Hex());
  EXPECT_EQ(twin->SerialHex(), original.SerialHex());
  EXPECT_EQ(twin->Subject(), original.Subject());
  EXPECT_TRUE(VerifiesUnder(original, issuer));
  EXPECT_TRUE(VerifiesUnder(*twin, issuer));
  // (r, n - (n - s)) is (r, s): twice gives the original back.
  absl::StatusOr<std::string> back = ReencodeEcdsaSignature(*der);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, original.der());
}

TEST(ReencodeEcdsaSignatureTest, P256LeafAndIntermediateStayValidUnderTheirIssuer) {
  TestDomain domain("contoso.test");
  pki::IssuedCertificate leaf = domain.IssueNode("edge", "edge1", "edge1.contoso.test");
  ExpectSameCertificateOtherEncoding(leaf.certificate, domain.intermediate().certificate);
  ExpectSameCertificateOtherEncoding(domain.intermediate().certificate,
                                     domain.root().certificate);
  ExpectSameCertificateOtherEncoding(domain.root().certificate, domain.root().certificate);
}

TEST(ReencodeEcdsaSignatureTest, P384IssuerIsRecognised) {
  pki::CertificateSpec spec;
  spec.common_name = "p384 root";
  spec.is_ca = true;
  spec.key_type = pki::KeyType::kEcP384;
  absl::StatusOr<pki::IssuedCertificate> root = pki::Issue(spec, nullptr);
  ASSERT_TRUE(root.ok()) << root.status();
  spec = {};
  spec.common_name = "p256 leaf";
  absl::StatusOr<pki::IssuedCertificate> leaf = pki::Issue(spec, &*root);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  ExpectSameCertificateOtherEncoding(leaf->certificate, root->certificate);
}

TEST(ReencodeEcdsaSignatureTest, RefusesWhatItCannotRewrite) {
  EXPECT_EQ(ReencodeEcdsaSignature("not der").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReencodeEcdsaSignature("").status().code(), absl::StatusCode::kInvalidArgument);
  pki::IssuedCertificate rsa = SelfSignedSigningCert("rsa signer");
  EXPECT_EQ(ReencodeEcdsaSignature(rsa.certificate.der()).status().message(),
            "reencode: the certificate is not signed with ecdsa");
  TestDomain domain("contoso.test");
  std::string der = domain.root().certificate.der();
  der.push_back('\0');
  EXPECT_EQ(ReencodeEcdsaSignature(der).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace trustfabric::testing
