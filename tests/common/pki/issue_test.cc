#include "common/pki/issue.h"

#include <openssl/x509v3.h>

#include <string>

#include "common/pki/openssl_ptr.h"
#include "common/pki/verify.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::pki {
namespace {

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

CertificateSpec RootSpec() {
  CertificateSpec spec;
  spec.common_name = "contoso root";
  spec.organization = "contoso.test";
  spec.is_ca = true;
  return spec;
}

bool HasExtension(const Certificate& c, int nid) {
  return X509_get_ext_by_NID(c.get(), nid, -1) >= 0;
}

TEST(PkiIssue, SelfSignedRoot) {
  absl::StatusOr<IssuedCertificate> root = Issue(RootSpec(), nullptr);
  ASSERT_THAT(root, IsOk());
  const Certificate& c = root->certificate;
  EXPECT_TRUE(c.IsCa());
  EXPECT_TRUE(c.IsSelfSigned());
  EXPECT_EQ(c.Subject(), "CN=contoso root,O=contoso.test");
  EXPECT_EQ(c.Issuer(), c.Subject());
  EXPECT_TRUE(root->key.Matches(c));
  EXPECT_EQ(X509_get_key_usage(c.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_FALSE(HasExtension(c, NID_ext_key_usage));
  EXPECT_TRUE(HasExtension(c, NID_subject_key_identifier));
  EXPECT_TRUE(HasExtension(c, NID_authority_key_identifier));
  EXPECT_EQ(X509_get_pathlen(c.get()), -1);
  // Default validity: an hour back, a year ahead.
  EXPECT_LE(c.NotBefore(), absl::Now() - absl::Minutes(59));
  EXPECT_GE(c.NotAfter(), absl::Now() + absl::Hours(24 * 364));
}

TEST(PkiIssue, IntermediateAndLeafWithSans) {
  absl::StatusOr<IssuedCertificate> root = Issue(RootSpec(), nullptr);
  ASSERT_THAT(root, IsOk());
  CertificateSpec ispec;
  ispec.common_name = "contoso intermediate";
  ispec.is_ca = true;
  ispec.path_length = 0;
  absl::StatusOr<IssuedCertificate> inter = Issue(ispec, &*root);
  ASSERT_THAT(inter, IsOk());
  EXPECT_EQ(X509_get_pathlen(inter->certificate.get()), 0);
  EXPECT_EQ(inter->certificate.Issuer(), root->certificate.Subject());
  EXPECT_FALSE(inter->certificate.IsSelfSigned());

  CertificateSpec lspec;
  lspec.common_name = "fe1.contoso.test";
  lspec.dns_names = {"fe1.contoso.test", "fe.contoso.test"};
  lspec.uri_names = {"spiffe://contoso.test/frontend/fe1"};
  absl::StatusOr<IssuedCertificate> leaf = Issue(lspec, &*inter);
  ASSERT_THAT(leaf, IsOk());
  EXPECT_THAT(leaf->certificate.DnsNames(), ElementsAre("fe1.contoso.test", "fe.contoso.test"));
  EXPECT_THAT(leaf->certificate.UriNames(), ElementsAre("spiffe://contoso.test/frontend/fe1"));
  EXPECT_FALSE(leaf->certificate.IsCa());
  EXPECT_TRUE(HasExtension(leaf->certificate, NID_basic_constraints));
  EXPECT_EQ(X509_get_extended_key_usage(leaf->certificate.get()),
            static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  EXPECT_EQ(X509_get_key_usage(leaf->certificate.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));

  absl::StatusOr<std::shared_ptr<const RootStore>> store = RootStore::Create({root->certificate});
  ASSERT_THAT(store, IsOk());
  VerifyRequest req{leaf->certificate};
  req.intermediates = {inter->certificate};
  req.at = absl::Now();
  req.purpose = ChainPurpose::kTlsServer;
  EXPECT_THAT((*store)->Verify(req), IsOk());
}

TEST(PkiIssue, RsaLeafAlsoAllowsKeyEncipherment) {
  CertificateSpec spec;
  spec.common_name = "rsa leaf";
  spec.key_type = KeyType::kRsa2048;
  absl::StatusOr<IssuedCertificate> leaf = Issue(spec, nullptr);
  ASSERT_THAT(leaf, IsOk());
  EXPECT_EQ(X509_get_key_usage(leaf->certificate.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
}

TEST(PkiIssue, SigningOnlyHasNoTlsUsage) {
  CertificateSpec spec;
  spec.common_name = "app signing";
  spec.signing_only = true;
  spec.key_type = KeyType::kRsa2048;
  absl::StatusOr<IssuedCertificate> cert = Issue(spec, nullptr);
  ASSERT_THAT(cert, IsOk());
  EXPECT_FALSE(HasExtension(cert->certificate, NID_ext_key_usage));
  EXPECT_EQ(X509_get_key_usage(cert->certificate.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_TRUE(cert->certificate.IsSelfSigned());
  EXPECT_FALSE(cert->certificate.IsCa());
}

TEST(PkiIssue, OmitBasicConstraints) {
  CertificateSpec spec = RootSpec();
  spec.omit_basic_constraints = true;
  absl::StatusOr<IssuedCertificate> cert = Issue(spec, nullptr);
  ASSERT_THAT(cert, IsOk());
  EXPECT_FALSE(HasExtension(cert->certificate, NID_basic_constraints));
  EXPECT_FALSE(cert->certificate.IsCa());
}

TEST(PkiIssue, EveryKeyTypeAsIssuerAndSubject) {
  for (KeyType type : {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048,
                       KeyType::kRsa3072, KeyType::kEd25519}) {
    CertificateSpec spec = RootSpec();
    spec.key_type = type;
    absl::StatusOr<IssuedCertificate> root = Issue(spec, nullptr);
    ASSERT_THAT(root, IsOk());
    EXPECT_TRUE(root->certificate.IsSelfSigned()) << static_cast<int>(type);
    CertificateSpec leaf_spec;
    leaf_spec.common_name = "leaf";
    absl::StatusOr<IssuedCertificate> leaf = Issue(leaf_spec, &*root);
    ASSERT_THAT(leaf, IsOk());
    EXPECT_EQ(X509_verify(leaf->certificate.get(), X509_get0_pubkey(root->certificate.get())), 1);
  }
}

TEST(PkiIssue, UsesTheGivenKey) {
  absl::StatusOr<PrivateKey> key = PrivateKey::GenerateRsa(1024);
  ASSERT_THAT(key, IsOk());
  CertificateSpec spec;
  spec.common_name = "weak";
  spec.key = *key;
  absl::StatusOr<IssuedCertificate> cert = Issue(spec, nullptr);
  ASSERT_THAT(cert, IsOk());
  EXPECT_TRUE(key->Matches(cert->certificate));
  EXPECT_EQ(cert->key.get(), key->get());
  EXPECT_EQ(cert->certificate.key_bits(), 1024);
}

TEST(PkiIssue, SerialsAreRandomAndPositive) {
  absl::StatusOr<IssuedCertificate> a = Issue(RootSpec(), nullptr);
  absl::StatusOr<IssuedCertificate> b = Issue(RootSpec(), nullptr);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(a->certificate.SerialHex(), b->certificate.SerialHex());
  EXPECT_EQ(a->certificate.SerialHex().size(), 32u);
  EXPECT_NE(a->certificate.SerialHex()[0], '-');
}

TEST(PkiIssue, ValidityRules) {
  const absl::Time t0 = absl::FromUnixSeconds(1750000000);
  CertificateSpec spec;
  spec.common_name = "v";
  spec.lifetime = absl::Hours(10);

  spec.not_after = t0;
  absl::StatusOr<IssuedCertificate> only_after = Issue(spec, nullptr);
  ASSERT_THAT(only_after, IsOk());
  EXPECT_EQ(only_after->certificate.NotBefore(), t0 - absl::Hours(10));
  EXPECT_EQ(only_after->certificate.NotAfter(), t0);

  spec.not_after = absl::InfinitePast();
  spec.not_before = t0;
  absl::StatusOr<IssuedCertificate> only_before = Issue(spec, nullptr);
  ASSERT_THAT(only_before, IsOk());
  EXPECT_EQ(only_before->certificate.NotBefore(), t0);
  EXPECT_EQ(only_before->certificate.NotAfter(), t0 + absl::Hours(10));

  spec.not_after = t0;
  EXPECT_THAT(Issue(spec, nullptr),
              StatusIs(kInvalid, "certificate spec: not_after: not after not_before"));
  spec.not_before = absl::FromUnixSeconds(-1000000000000);
  EXPECT_THAT(Issue(spec, nullptr), StatusIs(kInvalid, "not_before: out of range"));
  spec.not_before = absl::InfinitePast();
  spec.not_after = absl::InfinitePast();
  spec.lifetime = -absl::Hours(1);
  EXPECT_THAT(Issue(spec, nullptr), StatusIs(kInvalid, "lifetime: must be positive"));
}

TEST(PkiIssue, RejectsBadSpecs) {
  CertificateSpec spec;
  EXPECT_THAT(Issue(spec, nullptr), StatusIs(kInvalid, "certificate spec: common_name: empty"));
  spec.common_name = std::string(65, 'c');
  EXPECT_THAT(Issue(spec, nullptr), StatusIs(kInvalid, "common_name: longer than 64 bytes"));
  spec.common_name = "ok";
  spec.dns_names = {"good.test", "bad..test"};
  EXPECT_THAT(Issue(spec, nullptr), StatusIs(kInvalid, "dns_names[1]: not a dns name"));
  spec.dns_names = {"has space.test"};
  EXPECT_THAT(Issue(spec, nullptr), StatusIs(kInvalid, "dns_names[0]"));
  spec.dns_names = {"-lead.test"};
  EXPECT_THAT(Issue(spec, nullptr), StatusIs(kInvalid, "dns_names[0]"));
  spec.dns_names = {"localhost", "*.contoso.test", "Mixed.Case.test"};
  EXPECT_THAT(Issue(spec, nullptr), IsOk());
  spec.dns_names = {};
  spec.uri_names = {"spiffe://contoso.test/frontend/fe 1"};
  EXPECT_THAT(Issue(spec, nullptr), StatusIs(kInvalid, "uri_names[0]: not a uri"));
  spec.uri_names = {"no-scheme"};
  EXPECT_THAT(Issue(spec, nullptr), StatusIs(kInvalid, "uri_names[0]: not a uri"));
  spec.uri_names = {"spiffe://Contoso.test/Frontend/x"};
  EXPECT_THAT(Issue(spec, nullptr), IsOk());
  spec.uri_names = {};
  spec.path_length = 2;
  EXPECT_THAT(Issue(spec, nullptr), StatusIs(kInvalid, "path_length: only allowed for ca"));
  spec.is_ca = true;
  spec.path_length = -2;
  EXPECT_THAT(Issue(spec, nullptr), StatusIs(kInvalid, "path_length: must be -1 or >= 0"));
}

TEST(PkiIssue, RejectsIssuerWhoseKeyDoesNotMatch) {
  absl::StatusOr<IssuedCertificate> root = Issue(RootSpec(), nullptr);
  absl::StatusOr<IssuedCertificate> other = Issue(RootSpec(), nullptr);
  ASSERT_THAT(root, IsOk());
  ASSERT_THAT(other, IsOk());
  IssuedCertificate mixed{root->certificate, other->key};
  CertificateSpec spec;
  spec.common_name = "leaf";
  EXPECT_THAT(Issue(spec, &mixed), StatusIs(kInvalid, "issuer: key does not match"));
}

}  // namespace
}  // namespace trustfabric::pki
