#include "common/pki/certificate.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/pki/encoding.h"
#include "common/pki/issue.h"
#include "common/pki/openssl_ptr.h"
#include "common/pki/pem.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/pki/key_type_cases.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::pki {
namespace {

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

class PkiCertificateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { domain_ = new TestDomain("contoso.test"); }
  static void TearDownTestSuite() {
    delete domain_;
    domain_ = nullptr;
  }
  static TestDomain* domain_;
};
TestDomain* PkiCertificateTest::domain_ = nullptr;

TEST_F(PkiCertificateTest, ParsesBundleInOrder) {
  IssuedCertificate leaf = domain_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  absl::StatusOr<std::vector<Certificate>> certs = ParsePemBundle(domain_->ChainPem(leaf));
  ASSERT_THAT(certs, IsOk());
  ASSERT_THAT(*certs, SizeIs(2));
  EXPECT_EQ((*certs)[0], leaf.certificate);
  EXPECT_EQ((*certs)[1], domain_->intermediate().certificate);
  EXPECT_EQ(ToPemBundle(*certs), domain_->ChainPem(leaf));
}

TEST_F(PkiCertificateTest, BundleRejectsEmptyAndOversizedInput) {
  EXPECT_THAT(ParsePemBundle(""), StatusIs(kInvalid, "pem: empty input"));
  EXPECT_THAT(ParsePemBundle("\n\n  \n"), StatusIs(kInvalid, "pem: empty input"));
  std::string big = domain_->RootPem();
  while (big.size() <= kMaxPemBytes) big += domain_->RootPem();
  EXPECT_THAT(ParsePemBundle(big), StatusIs(kInvalid, "exceeds the limit of 1048576"));
}

TEST_F(PkiCertificateTest, BundleNamesTheNonCertificateBlock) {
  const std::string key_pem = domain_->root().key.ToPem();
  EXPECT_THAT(ParsePemBundle(domain_->RootPem() + key_pem),
              StatusIs(kInvalid, "pem block 2: private key is not a certificate"));
  EXPECT_THAT(ParsePemBundle(PemEncode("CERTIFICATE REQUEST", "x")),
              StatusIs(kInvalid, "pem block 1: certificate request is not a certificate"));
  // The message never carries the key itself.
  absl::Status s = ParsePemBundle(domain_->RootPem() + key_pem).status();
  EXPECT_EQ(s.message().find(key_pem.substr(40, 20)), absl::string_view::npos);
}

TEST_F(PkiCertificateTest, BundleRejectsTrailingGarbageAndTruncation) {
  const std::string root = domain_->RootPem();
  const std::string inter = domain_->intermediate().certificate.ToPem();
  EXPECT_THAT(ParsePemBundle(root + inter + "garbage\n"),
              StatusIs(kInvalid, "pem: trailing garbage after block 2"));
  EXPECT_THAT(ParsePemBundle(root + inter.substr(0, inter.size() / 2)),
              StatusIs(kInvalid, "pem block 2: truncated"));
  EXPECT_THAT(ParsePemBundle("some text\n" + root), StatusIs(kInvalid, "no BEGIN line"));
}

TEST_F(PkiCertificateTest, BundleRejectsBlocksThatDoNotDecode) {
  // Base64 of a truncated certificate, complete PEM framing.
  const std::string der = domain_->root().certificate.der();
  EXPECT_THAT(ParsePemBundle(PemEncode("CERTIFICATE", der.substr(0, der.size() - 10))),
              StatusIs(kInvalid, "pem block 1: certificate: der does not decode"));
  EXPECT_THAT(ParsePemBundle(domain_->RootPem() + PemEncode("CERTIFICATE", "not a cert")),
              StatusIs(kInvalid, "pem block 2: certificate: der does not decode"));
  EXPECT_THAT(ParsePemBundle(PemEncode("CERTIFICATE", der + "xx")),
              StatusIs(kInvalid, "pem block 1: certificate: 2 trailing bytes"));
  EXPECT_THAT(ParsePemBundle("-----BEGIN CERTIFICATE-----\nMII!\n-----END CERTIFICATE-----\n"),
              StatusIs(kInvalid, "pem block 1: base64: invalid character"));
}

TEST_F(PkiCertificateTest, FromPemWantsExactlyOne) {
  EXPECT_THAT(Certificate::FromPem(domain_->RootPem()), IsOk());
  EXPECT_THAT(Certificate::FromPem("\n" + domain_->RootPem() + "\n"), IsOk());
  const std::string two = domain_->RootPem() + domain_->intermediate().certificate.ToPem();
  EXPECT_THAT(Certificate::FromPem(two), StatusIs(kInvalid, "expected exactly one certificate, got 2"));
  EXPECT_THAT(Certificate::FromPem(""), StatusIs(kInvalid, "empty input"));
}

TEST_F(PkiCertificateTest, FromDerRejectsMalformedInput) {
  const std::string der = domain_->root().certificate.der();
  EXPECT_THAT(Certificate::FromDer(der), IsOk());
  EXPECT_THAT(Certificate::FromDer(""), StatusIs(kInvalid, "certificate: empty der"));
  EXPECT_THAT(Certificate::FromDer(der + std::string(1, '\0')),
              StatusIs(kInvalid, "1 trailing bytes after the der structure"));
  for (size_t cut : {size_t{1}, size_t{4}, der.size() / 2, der.size() - 1}) {
    EXPECT_THAT(Certificate::FromDer(der.substr(0, cut)),
                StatusIs(kInvalid, "certificate: der does not decode"))
        << "cut at " << cut;
  }
  EXPECT_THAT(Certificate::FromDer(std::string(kMaxPemBytes + 1, '0')),
              StatusIs(kInvalid, "exceeds the limit"));
  std::string flipped = der;
  flipped[0] = 0x31;  // SET instead of SEQUENCE
  EXPECT_THAT(Certificate::FromDer(flipped), StatusIs(kInvalid, "does not decode"));
}

TEST_F(PkiCertificateTest, EveryTruncationAndBitFlipIsHandled) {
  IssuedCertificate leaf = domain_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  const std::string der = leaf.certificate.der();
  for (size_t cut = 0; cut < der.size(); ++cut) {
    ASSERT_THAT(Certificate::FromDer(der.substr(0, cut)), StatusIs(kInvalid, "certificate: "))
        << "cut at " << cut;
  }
  const std::string pem = leaf.certificate.ToPem();
  for (size_t cut = 0; cut < pem.size() - 1; ++cut) {
    ASSERT_THAT(ParsePemBundle(pem.substr(0, cut)), StatusIs(kInvalid, "pem"))
        << "cut at " << cut;
  }
  // A flipped bit either still parses (the signature is not checked here)
  // or is rejected; it never crashes and never yields the original.
  for (size_t i = 0; i < der.size(); ++i) {
    std::string flipped = der;
    flipped[i] = static_cast<char>(flipped[i] ^ (1 << (i % 8)));
    absl::StatusOr<Certificate> c = Certificate::FromDer(flipped);
    if (c.ok()) {
      EXPECT_NE(*c, leaf.certificate);
      static_cast<void>(c->UriNames());
      static_cast<void>(c->Subject());
      static_cast<void>(c->NotAfter());
    } else {
      EXPECT_EQ(c.status().code(), kInvalid);
    }
  }
}

TEST_F(PkiCertificateTest, ExposesNamesInCertificateOrder) {
  testing::LeafOptions opts;
  opts.extra_uri_names = {"spiffe://contoso.test/frontend/fe2"};
  IssuedCertificate leaf = domain_->IssueNode("frontend", "fe1", "fe1.contoso.test", opts);
  EXPECT_THAT(leaf.certificate.DnsNames(), ElementsAre("fe1.contoso.test"));
  EXPECT_THAT(leaf.certificate.UriNames(), ElementsAre("spiffe://contoso.test/frontend/fe1",
                                                       "spiffe://contoso.test/frontend/fe2"));
  EXPECT_EQ(leaf.certificate.Subject(), "CN=fe1.contoso.test,O=contoso.test");
  EXPECT_EQ(leaf.certificate.Issuer(), domain_->intermediate().certificate.Subject());
  EXPECT_THAT(domain_->root().certificate.DnsNames(), ::testing::IsEmpty());
  EXPECT_THAT(domain_->root().certificate.UriNames(), ::testing::IsEmpty());
}

TEST_F(PkiCertificateTest, FingerprintsAndSerial) {
  const Certificate& c = domain_->root().certificate;
  EXPECT_EQ(c.Sha256Hex(), HexEncode(Sha256(c.der())));
  EXPECT_EQ(c.Sha256Hex().size(), 64u);
  EXPECT_EQ(c.Sha256(), Sha256(c.der()));
  EXPECT_EQ(c.Sha1(), Sha1(c.der()));
  EXPECT_EQ(c.SerialHex().size(), 32u);
  EXPECT_NE(c.SerialHex(), domain_->intermediate().certificate.SerialHex());
}

TEST_F(PkiCertificateTest, CopiesShareOneObjectAndRoundTrip) {
  const Certificate& c = domain_->root().certificate;
  Certificate copy = c;
  EXPECT_EQ(copy.get(), c.get());
  Certificate again = Certificate::FromX509(c.get());
  EXPECT_EQ(again, c);
  absl::StatusOr<Certificate> from_pem = Certificate::FromPem(c.ToPem());
  ASSERT_THAT(from_pem, IsOk());
  EXPECT_EQ(*from_pem, c);
  EXPECT_EQ(from_pem->Sha256Hex(), c.Sha256Hex());
}

TEST_F(PkiCertificateTest, CaAndSelfSignedFlags) {
  IssuedCertificate leaf = domain_->IssueNode("edge", "edge1", "edge1.contoso.test");
  EXPECT_TRUE(domain_->root().certificate.IsCa());
  EXPECT_TRUE(domain_->root().certificate.IsSelfSigned());
  EXPECT_TRUE(domain_->intermediate().certificate.IsCa());
  EXPECT_FALSE(domain_->intermediate().certificate.IsSelfSigned());
  EXPECT_FALSE(leaf.certificate.IsCa());
  EXPECT_FALSE(leaf.certificate.IsSelfSigned());
  IssuedCertificate signing = testing::SelfSignedSigningCert("app1 signing");
  EXPECT_FALSE(signing.certificate.IsCa());
  EXPECT_TRUE(signing.certificate.IsSelfSigned());
}

TEST_F(PkiCertificateTest, ValidityMatchesSpecToTheSecond) {
  const absl::Time nb = absl::FromUnixSeconds(1700000000);
  const absl::Time na = absl::FromUnixSeconds(1800000000);
  testing::LeafOptions opts;
  opts.not_before = nb;
  opts.not_after = na;
  IssuedCertificate leaf = domain_->IssueNode("edge", "edge1", "edge1.contoso.test", opts);
  EXPECT_EQ(leaf.certificate.NotBefore(), nb);
  EXPECT_EQ(leaf.certificate.NotAfter(), na);
  // After 2049 X.509 switches to GeneralizedTime.
  opts.not_after = absl::FromUnixSeconds(4102444800);  // 2100-01-01
  leaf = domain_->IssueNode("edge", "edge1", "edge1.contoso.test", opts);
  EXPECT_EQ(leaf.certificate.NotAfter(), opts.not_after);
  EXPECT_EQ(Asn1TimeToAbsl(nullptr), absl::InfinitePast());
}

TEST_F(PkiCertificateTest, KeyAlgorithmsAndStrength) {
  for (const KeyTypeCase& c : kKeyTypeCases) {
    SCOPED_TRACE(c.bits);
    testing::LeafOptions opts;
    opts.key_type = c.type;
    IssuedCertificate leaf = domain_->IssueNode("edge", "edge1", "edge1.contoso.test", opts);
    EXPECT_EQ(leaf.certificate.key_algorithm(), c.algorithm);
    EXPECT_EQ(leaf.certificate.key_bits(), c.bits);
    EXPECT_THAT(leaf.certificate.CheckKeyStrength(), IsOk());
  }
  EXPECT_EQ(KeyAlgorithmName(KeyAlgorithm::kEcP384), "ec p-384");
}

TEST_F(PkiCertificateTest, WeakKeysAreNamed) {
  CertificateSpec spec;
  spec.common_name = "weak";
  absl::StatusOr<PrivateKey> rsa1024 = PrivateKey::GenerateRsa(1024);
  ASSERT_THAT(rsa1024, IsOk());
  spec.key = *rsa1024;
  absl::StatusOr<IssuedCertificate> weak = Issue(spec, &domain_->intermediate());
  ASSERT_THAT(weak, IsOk());
  EXPECT_EQ(weak->certificate.key_algorithm(), KeyAlgorithm::kRsa);
  EXPECT_EQ(weak->certificate.key_bits(), 1024);
  EXPECT_THAT(weak->certificate.CheckKeyStrength(),
              StatusIs(kInvalid, "rsa key of 1024 bits is below the minimum of 2048"));

  EvpPkeyPtr k1(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp256k1"));
  ASSERT_NE(k1, nullptr);
  spec.key = PrivateKey::FromEvpPkey(k1.get());
  absl::StatusOr<IssuedCertificate> odd_curve = Issue(spec, &domain_->intermediate());
  ASSERT_THAT(odd_curve, IsOk());
  EXPECT_EQ(odd_curve->certificate.key_algorithm(), KeyAlgorithm::kOther);
  EXPECT_THAT(odd_curve->certificate.CheckKeyStrength(),
              StatusIs(kInvalid, "ec key on curve secp256k1 is not allowed"));
  EXPECT_THAT(CheckKeyStrength(nullptr), StatusIs(kInvalid, "key: missing"));
}

// ---- signed body, key and serial fingerprints ----

// The TBSCertificate as OpenSSL re-encodes it.
std::string ReencodedTbs(const Certificate& c) {
  unsigned char* out = nullptr;
  const int length = i2d_re_X509_tbs(c.get(), &out);
  std::string tbs = length > 0 ? std::string(reinterpret_cast<char*>(out), length) : "";
  OPENSSL_free(out);
  return tbs;
}

// The certificate's SubjectPublicKeyInfo exactly as encoded in it.
std::string EncodedSpki(const Certificate& c) {
  unsigned char* out = nullptr;
  const int length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c.get()), &out);
  std::string spki = length > 0 ? std::string(reinterpret_cast<char*>(out), length) : "";
  OPENSSL_free(out);
  return spki;
}

// A certificate carrying `key`'s public key with the EC point compressed,
// signed by `signer`.
Certificate CompressedPointCertificate(const PrivateKey& key, const IssuedCertificate& signer) {
  EvpPkeyPtr pub(EVP_PKEY_dup(key.get()));
  EXPECT_NE(pub, nullptr);
  EXPECT_EQ(EVP_PKEY_set_utf8_string_param(pub.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED),
            1);
  X509Ptr x509(X509_new());
  X509_set_version(x509.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x509.get()), 7);
  X509_set_issuer_name(x509.get(), X509_get_subject_name(signer.certificate.get()));
  X509_set_subject_name(x509.get(), X509_get_subject_name(signer.certificate.get()));
  X509_gmtime_adj(X509_getm_notBefore(x509.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x509.get()), 3600);
  EXPECT_EQ(X509_set_pubkey(x509.get(), pub.get()), 1);
  EXPECT_GT(X509_sign(x509.get(), signer.key.get(), EVP_sha256()), 0);
  unsigned char* out = nullptr;
  const int length = i2d_X509(x509.get(), &out);
  std::string der(reinterpret_cast<char*>(out), length > 0 ? length : 0);
  OPENSSL_free(out);
  absl::StatusOr<Certificate> cert = Certificate::FromDer(der);
  EXPECT_THAT(cert, IsOk());
  return *cert;
}

TEST_F(PkiCertificateTest, TbsSha256IsTheHashOfTheSignedBody) {
  IssuedCertificate leaf = domain_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  IssuedCertificate rsa = testing::SelfSignedSigningCert("rsa signer");
  for (const Certificate* c :
       std::vector<const Certificate*>{&leaf.certificate, &domain_->intermediate().certificate,
                                       &domain_->root().certificate, &rsa.certificate}) {
    const std::string tbs = ReencodedTbs(*c);
    ASSERT_FALSE(tbs.empty());
    EXPECT_EQ(c->TbsSha256Hex(), HexEncode(Sha256(tbs)));
    absl::StatusOr<absl::string_view> view = TbsCertificateOf(c->der());
    ASSERT_THAT(view, IsOk());
    EXPECT_EQ(*view, tbs);
  }
  EXPECT_NE(leaf.certificate.TbsSha256Hex(), leaf.certificate.Sha256Hex());
}

TEST_F(PkiCertificateTest, SpkiSha256IsTheHashOfTheKeyWhateverItsPointEncoding) {
  IssuedCertificate leaf = domain_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  EXPECT_EQ(leaf.certificate.SpkiSha256Hex(), HexEncode(Sha256(EncodedSpki(leaf.certificate))));
  IssuedCertificate rsa = testing::SelfSignedSigningCert("rsa signer");
  EXPECT_EQ(rsa.certificate.SpkiSha256Hex(), HexEncode(Sha256(EncodedSpki(rsa.certificate))));

  Certificate compressed = CompressedPointCertificate(leaf.key, domain_->intermediate());
  // The compressed encoding is really another SPKI (33-byte point, not 65)...
  EXPECT_LT(EncodedSpki(compressed).size(), EncodedSpki(leaf.certificate).size());
  EXPECT_NE(HexEncode(Sha256(EncodedSpki(compressed))), leaf.certificate.SpkiSha256Hex());
  // ...of the same key, with the same key fingerprint.
  EXPECT_EQ(compressed.SpkiSha256Hex(), leaf.certificate.SpkiSha256Hex());
  // Another key, another fingerprint.
  EXPECT_NE(domain_->intermediate().certificate.SpkiSha256Hex(),
            leaf.certificate.SpkiSha256Hex());
}

// The canonical serial, or "error: <message>".
std::string Canonical(absl::string_view hex) {
  absl::StatusOr<std::string> serial = CanonicalSerialHex(hex);
  return serial.ok() ? *serial : absl::StrCat("error: ", serial.status().message());
}

TEST_F(PkiCertificateTest, CanonicalSerialHex) {
  EXPECT_EQ(Canonical("00:AB:cd"), std::string("abcd"));
  EXPECT_EQ(Canonical("0"), std::string("0"));
  EXPECT_EQ(Canonical("0000"), std::string("0"));
  EXPECT_EQ(Canonical("-00fF"), std::string("-ff"));
  EXPECT_EQ(Canonical("-0"), std::string("0"));
  EXPECT_EQ(Canonical(std::string(10, '0') + std::string(64, 'f')), std::string(64, 'f'));
  EXPECT_THAT(CanonicalSerialHex(""), StatusIs(kInvalid, "serial: must not be empty"));
  EXPECT_THAT(CanonicalSerialHex(":"), StatusIs(kInvalid, "serial: must not be empty"));
  EXPECT_THAT(CanonicalSerialHex("12 34"), StatusIs(kInvalid, "serial: must be hex digits"));
  EXPECT_THAT(CanonicalSerialHex("0x12"), StatusIs(kInvalid, "serial: must be hex digits"));
  EXPECT_THAT(CanonicalSerialHex(std::string(65, '1')),
              StatusIs(kInvalid, "serial: more than 64 hex digits"));
  // The certificate's own serial, as printed, canonicalises to itself minus
  // leading zeros.
  const Certificate& c = domain_->root().certificate;
  absl::StatusOr<std::string> serial = CanonicalSerialHex(c.SerialHex());
  ASSERT_THAT(serial, IsOk());
  EXPECT_EQ(*serial, c.SerialHex().substr(c.SerialHex().find_first_not_of('0')));
}

TEST_F(PkiCertificateTest, TbsCertificateOfGarbage) {
  const std::string kNotASequence = "certificate: der is not a sequence";
  const std::string kNoTbs = "certificate: der has no tbs certificate";
  const struct {
    std::string der;
    std::string message;
  } kCases[] = {
      {"", kNotASequence},
      {"\x30", kNotASequence},
      {std::string("\x02\x01\x00", 3), kNotASequence},
      // Lengths longer than the input, in short and long form, and overlong.
      {std::string("\x30\x05\x30\x00", 4), kNotASequence},
      {std::string("\x30\x84\xff\xff\xff\xff\x30\x00", 8), kNotASequence},
      {std::string("\x30\x85\x00\x00\x00\x00\x02", 7), kNotASequence},
      // A sequence whose first element is not a sequence, or is cut short.
      {std::string("\x30\x03\x02\x01\x00", 5), kNoTbs},
      {std::string("\x30\x02\x30\x05", 4), kNoTbs},
      {std::string("\x30\x00", 2), kNoTbs},
  };
  for (const auto& c : kCases) {
    EXPECT_THAT(TbsCertificateOf(c.der), StatusIs(kInvalid, c.message)) << absl::CHexEscape(c.der);
  }
  // Every truncation of a real certificate is refused or yields a view
  // inside the input.
  const std::string der = domain_->root().certificate.der();
  for (size_t n = 0; n < der.size(); ++n) {
    absl::StatusOr<absl::string_view> tbs = TbsCertificateOf(absl::string_view(der).substr(0, n));
    if (tbs.ok()) {
      EXPECT_LE(tbs->size(), n);
    }
  }
}

}  // namespace
}  // namespace trustfabric::pki
