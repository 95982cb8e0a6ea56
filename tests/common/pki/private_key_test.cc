#include "common/pki/private_key.h"

#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include <memory>
#include <string>
#include <vector>

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

std::string Traditional(const PrivateKey& key, const EVP_CIPHER* cipher,
                        const std::string& pass) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  const auto* kstr = reinterpret_cast<const unsigned char*>(pass.data());
  if (PEM_write_bio_PrivateKey_traditional(bio.get(), key.get(), cipher, kstr,
                                           static_cast<int>(pass.size()), nullptr,
                                           nullptr) != 1) {
    return "";
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

class PkiPrivateKeyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    domain_ = std::make_unique<TestDomain>("contoso.test");
    leaf_ = std::make_unique<IssuedCertificate>(
        domain_->IssueNode("frontend", "fe1", "fe1.contoso.test"));
  }
  static void TearDownTestSuite() {
    leaf_.reset();
    domain_.reset();
  }
  static inline std::unique_ptr<TestDomain> domain_;
  static inline std::unique_ptr<IssuedCertificate> leaf_;
};

TEST_F(PkiPrivateKeyTest, GeneratesEveryType) {
  for (const KeyTypeCase& c : kKeyTypeCases) {
    SCOPED_TRACE(c.bits);
    absl::StatusOr<PrivateKey> key = PrivateKey::Generate(c.type);
    ASSERT_THAT(key, IsOk());
    EXPECT_EQ(key->algorithm(), c.algorithm);
    EXPECT_EQ(key->bits(), c.bits);
  }
}

TEST_F(PkiPrivateKeyTest, GenerateRsaBounds) {
  absl::StatusOr<PrivateKey> weak = PrivateKey::GenerateRsa(1024);
  ASSERT_THAT(weak, IsOk());
  EXPECT_EQ(weak->bits(), 1024);
  EXPECT_THAT(PrivateKey::GenerateRsa(256), StatusIs(kInvalid, "rsa key size 256 is outside"));
  EXPECT_THAT(PrivateKey::GenerateRsa(1 << 20), StatusIs(kInvalid, "is outside 512..16384"));
}

TEST_F(PkiPrivateKeyTest, PemRoundTripMatchesCertificate) {
  const std::string pem = leaf_->key.ToPem();
  EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u);
  absl::StatusOr<PrivateKey> key = PrivateKey::FromPem(pem);
  ASSERT_THAT(key, IsOk());
  EXPECT_TRUE(key->Matches(leaf_->certificate));
  EXPECT_FALSE(key->Matches(domain_->root().certificate));
  // A passphrase given for an unencrypted key is harmless.
  EXPECT_THAT(PrivateKey::FromPem(pem, "unused"), IsOk());
}

TEST_F(PkiPrivateKeyTest, EncryptedPemRightAndWrongPassphrase) {
  const std::string pem = leaf_->key.ToPem("correct horse");
  EXPECT_EQ(pem.rfind("-----BEGIN ENCRYPTED PRIVATE KEY-----\n", 0), 0u);
  absl::StatusOr<PrivateKey> key = PrivateKey::FromPem(pem, "correct horse");
  ASSERT_THAT(key, IsOk());
  EXPECT_TRUE(key->Matches(leaf_->certificate));
  EXPECT_THAT(PrivateKey::FromPem(pem, "battery staple"),
              StatusIs(kInvalid, "private key: wrong passphrase or corrupt key"));
  EXPECT_THAT(PrivateKey::FromPem(pem), StatusIs(kInvalid, "encrypted key needs a passphrase"));
}

TEST_F(PkiPrivateKeyTest, TraditionalFormatsPlainAndEncrypted) {
  for (KeyType type : {KeyType::kEcP256, KeyType::kRsa2048}) {
    absl::StatusOr<PrivateKey> key = PrivateKey::Generate(type);
    ASSERT_THAT(key, IsOk());
    const std::string plain = Traditional(*key, nullptr, "");
    ASSERT_FALSE(plain.empty());
    EXPECT_TRUE(plain.find("RSA PRIVATE KEY") != std::string::npos ||
                plain.find("EC PRIVATE KEY") != std::string::npos);
    absl::StatusOr<PrivateKey> loaded = PrivateKey::FromPem(plain);
    ASSERT_THAT(loaded, IsOk());
    EXPECT_EQ(EVP_PKEY_eq(loaded->get(), key->get()), 1);

    const std::string encrypted = Traditional(*key, EVP_aes_128_cbc(), "s3cret");
    EXPECT_NE(encrypted.find("Proc-Type: 4,ENCRYPTED"), std::string::npos);
    EXPECT_THAT(PrivateKey::FromPem(encrypted, "s3cret"), IsOk());
    EXPECT_THAT(PrivateKey::FromPem(encrypted, "wrong"),
                StatusIs(kInvalid, "wrong passphrase or corrupt key"));
    EXPECT_THAT(PrivateKey::FromPem(encrypted), StatusIs(kInvalid, "needs a passphrase"));
  }
}

TEST_F(PkiPrivateKeyTest, FromPemRejectsMalformedInput) {
  const std::string pem = leaf_->key.ToPem();
  EXPECT_THAT(PrivateKey::FromPem(""), StatusIs(kInvalid, "private key: pem: empty input"));
  EXPECT_THAT(PrivateKey::FromPem(std::string(kMaxPemBytes + 1, 'A')),
              StatusIs(kInvalid, "exceeds the limit"));
  EXPECT_THAT(PrivateKey::FromPem(pem + pem),
              StatusIs(kInvalid, "expected one pem block, got 2"));
  EXPECT_THAT(PrivateKey::FromPem(domain_->RootPem()),
              StatusIs(kInvalid, "pem block 1: certificate is not a private key"));
  EXPECT_THAT(PrivateKey::FromPem(pem.substr(0, pem.size() / 2)),
              StatusIs(kInvalid, "truncated"));
  EXPECT_THAT(PrivateKey::FromPem(pem + "trailing"), StatusIs(kInvalid, "trailing garbage"));
  EXPECT_THAT(PrivateKey::FromPem(PemEncode("PRIVATE KEY", "not a key at all")),
              StatusIs(kInvalid, "key does not decode"));
  EXPECT_THAT(PrivateKey::FromPem(pem, std::string(2000, 'p')),
              StatusIs(kInvalid, "passphrase: longer than 1024 bytes"));
}

TEST_F(PkiPrivateKeyTest, EveryTruncationIsRejected) {
  const std::string pem = leaf_->key.ToPem();
  for (size_t cut = 0; cut + 1 < pem.size(); ++cut) {
    ASSERT_THAT(PrivateKey::FromPem(pem.substr(0, cut)), StatusIs(kInvalid, "private key: "))
        << "cut at " << cut;
  }
  absl::StatusOr<std::string> p12 = MakePkcs12(leaf_->key, leaf_->certificate, {}, "pw");
  ASSERT_THAT(p12, IsOk());
  for (size_t cut = 0; cut < p12->size(); cut += 7) {
    ASSERT_THAT(ParsePkcs12(p12->substr(0, cut), "pw"), StatusIs(kInvalid, "pkcs#12"))
        << "cut at " << cut;
  }
}

TEST_F(PkiPrivateKeyTest, ErrorsNeverEchoTheKey) {
  std::string pem = leaf_->key.ToPem();
  const std::string body_fragment = pem.substr(30, 24);
  for (const std::string& input :
       {pem + pem, pem + "x", pem.substr(0, pem.size() - 30), std::string("x") + pem}) {
    absl::Status s = PrivateKey::FromPem(input).status();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.message().find(body_fragment), absl::string_view::npos) << s;
  }
}

TEST_F(PkiPrivateKeyTest, Pkcs12RightAndWrongPassword) {
  absl::StatusOr<std::string> p12 =
      MakePkcs12(leaf_->key, leaf_->certificate, {domain_->intermediate().certificate}, "changeit");
  ASSERT_THAT(p12, IsOk());
  absl::StatusOr<Pkcs12Contents> contents = ParsePkcs12(*p12, "changeit");
  ASSERT_THAT(contents, IsOk());
  EXPECT_EQ(contents->certificate, leaf_->certificate);
  EXPECT_TRUE(contents->key.Matches(leaf_->certificate));
  ASSERT_THAT(contents->chain, SizeIs(1));
  EXPECT_EQ(contents->chain[0], domain_->intermediate().certificate);

  EXPECT_THAT(ParsePkcs12(*p12, "changeme"), StatusIs(kInvalid, "wrong pkcs#12 password"));
  EXPECT_THAT(ParsePkcs12(*p12, ""), StatusIs(kInvalid, "wrong pkcs#12 password"));
}

TEST_F(PkiPrivateKeyTest, Pkcs12RsaSigningCertificate) {
  IssuedCertificate signing = testing::SelfSignedSigningCert("app signing");
  absl::StatusOr<std::string> p12 = MakePkcs12(signing.key, signing.certificate, {}, "pw");
  ASSERT_THAT(p12, IsOk());
  absl::StatusOr<Pkcs12Contents> contents = ParsePkcs12(*p12, "pw");
  ASSERT_THAT(contents, IsOk());
  EXPECT_EQ(contents->key.algorithm(), KeyAlgorithm::kRsa);
  EXPECT_EQ(contents->key.bits(), 2048);
  EXPECT_TRUE(contents->chain.empty());
}

TEST_F(PkiPrivateKeyTest, Pkcs12RejectsMalformedFiles) {
  absl::StatusOr<std::string> p12 = MakePkcs12(leaf_->key, leaf_->certificate, {}, "pw");
  ASSERT_THAT(p12, IsOk());
  EXPECT_THAT(ParsePkcs12("", "pw"), StatusIs(kInvalid, "pkcs#12: empty input"));
  EXPECT_THAT(ParsePkcs12("definitely not der", "pw"), StatusIs(kInvalid, "pkcs#12: malformed file"));
  EXPECT_THAT(ParsePkcs12(p12->substr(0, p12->size() / 2), "pw"),
              StatusIs(kInvalid, "pkcs#12: malformed file"));
  EXPECT_THAT(ParsePkcs12(*p12 + "x", "pw"), StatusIs(kInvalid, "trailing bytes"));
  EXPECT_THAT(ParsePkcs12(std::string(kMaxPemBytes + 1, '0'), "pw"),
              StatusIs(kInvalid, "exceeds the limit"));
  EXPECT_THAT(ParsePkcs12(leaf_->certificate.der(), "pw"), StatusIs(kInvalid, "malformed file"));
}

TEST_F(PkiPrivateKeyTest, Pkcs12WithoutKeyIsRejected) {
  Pkcs12Ptr p12(PKCS12_create("pw", nullptr, nullptr, leaf_->certificate.get(), nullptr,
                              NID_aes_256_cbc, NID_aes_256_cbc, 0, 0, 0));
  ASSERT_NE(p12, nullptr);
  const int len = i2d_PKCS12(p12.get(), nullptr);
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  ASSERT_EQ(i2d_PKCS12(p12.get(), &p), len);
  EXPECT_THAT(ParsePkcs12(der, "pw"), StatusIs(kInvalid, "pkcs#12: no private key"));
}

TEST_F(PkiPrivateKeyTest, Pkcs12WithoutPasswordOpensWithEmptyPassword) {
  Pkcs12Ptr p12(PKCS12_create(nullptr, nullptr, leaf_->key.get(), leaf_->certificate.get(),
                              nullptr, NID_aes_256_cbc, NID_aes_256_cbc, 0, 0, 0));
  ASSERT_NE(p12, nullptr);
  const int len = i2d_PKCS12(p12.get(), nullptr);
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  ASSERT_EQ(i2d_PKCS12(p12.get(), &p), len);
  absl::StatusOr<Pkcs12Contents> contents = ParsePkcs12(der, "");
  ASSERT_THAT(contents, IsOk());
  EXPECT_EQ(contents->certificate, leaf_->certificate);
  EXPECT_THAT(ParsePkcs12(der, "x"), StatusIs(kInvalid, "wrong pkcs#12 password"));
}

TEST_F(PkiPrivateKeyTest, MakePkcs12ChecksInputs) {
  EXPECT_THAT(MakePkcs12(leaf_->key, domain_->root().certificate, {}, "pw"),
              StatusIs(kInvalid, "private key does not match the certificate"));
  EXPECT_THAT(MakePkcs12(leaf_->key, leaf_->certificate, {}, ""),
              StatusIs(kInvalid, "pkcs#12 password: empty"));
}

}  // namespace
}  // namespace trustfabric::pki
