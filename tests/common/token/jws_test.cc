#include "common/token/jws.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/pki/encoding.h"
#include "common/pki/openssl_ptr.h"
#include "common/pki/private_key.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::token {
namespace {

// RFC 7515 Appendix A.2 / A.3 and RFC 8037 Appendix A: published example
// keys and signatures (public test vectors, not secrets).
constexpr char kRfcPayloadB64[] =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlf"
    "Q";

constexpr char kRsaN[] =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-"
    "4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_"
    "7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-"
    "UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_"
    "h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
constexpr char kRsaE[] = "AQAB";
constexpr char kRsaD[] =
    "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-"
    "7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-"
    "GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_"
    "0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_"
    "jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
constexpr char kRsaP[] =
    "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_"
    "Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
constexpr char kRsaQ[] =
    "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_"
    "YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
constexpr char kRsaDp[] =
    "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-"
    "FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0";
constexpr char kRsaDq[] =
    "h_96-mK1R_"
    "7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-"
    "NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU";
constexpr char kRsaQi[] =
    "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_"
    "QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U";
constexpr char kRs256Jws[] =
    "eyJhbGciOiJSUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    "."
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5j"
    "ujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L"
    "07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEU"
    "ipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

constexpr char kEcX[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
constexpr char kEcY[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
constexpr char kEcD[] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
constexpr char kEs256Jws[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    "."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

constexpr char kEdD[] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr char kEdX[] = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr char kEdDsaJws[] =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

std::string B64(absl::string_view text) {
  absl::StatusOr<std::string> raw = pki::Base64UrlDecode(text);
  EXPECT_TRUE(raw.ok()) << raw.status();
  return raw.ok() ? *raw : std::string();
}

using ParamBldPtr = pki::OpenSslPtr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using ParamPtr = pki::OpenSslPtr<OSSL_PARAM, OSSL_PARAM_free>;

pki::BignumPtr Bn(absl::string_view b64) {
  std::string raw = B64(b64);
  return pki::BignumPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()),
                                  static_cast<int>(raw.size()), nullptr));
}

pki::EvpPkeyPtr FromData(const char* type, ParamBldPtr bld, bool private_key) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  pki::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  EXPECT_EQ(EVP_PKEY_fromdata_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_fromdata(ctx.get(), &pkey,
                              private_key ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()),
            1);
  return pki::EvpPkeyPtr(pkey);
}

pki::EvpPkeyPtr RfcRsaKey(bool private_key) {
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  pki::BignumPtr n = Bn(kRsaN), e = Bn(kRsaE), d = Bn(kRsaD), p = Bn(kRsaP), q = Bn(kRsaQ),
                 dp = Bn(kRsaDp), dq = Bn(kRsaDq), qi = Bn(kRsaQi);
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
  if (private_key) {
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, d.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR1, p.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR2, q.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1, dp.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2, dq.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qi.get());
  }
  return FromData("RSA", std::move(bld), private_key);
}

pki::EvpPkeyPtr RfcEcKey(bool private_key) {
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  std::string point = "\x04" + B64(kEcX) + B64(kEcY);
  pki::BignumPtr d = Bn(kEcD);
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  if (private_key) OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get());
  return FromData("EC", std::move(bld), private_key);
}

pki::EvpPkeyPtr RfcEdKey(bool private_key) {
  std::string raw = B64(private_key ? kEdD : kEdX);
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  return pki::EvpPkeyPtr(
      private_key ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, bytes, raw.size())
                  : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes, raw.size()));
}

absl::Status VerifyCompact(JwsAlgorithm alg, EVP_PKEY* key, absl::string_view compact) {
  absl::StatusOr<CompactJws> jws = ParseCompactJws(compact);
  if (!jws.ok()) return jws.status();
  return VerifyJwsSignature(alg, key, jws->signing_input, jws->signature);
}

// Signing input and signature of a compact JWS whose payload need not be
// JSON (the RFC 8037 example signs plain text).
struct RawJws {
  std::string signing_input;
  std::string signature;
};
RawJws SplitRaw(absl::string_view compact) {
  size_t dot = compact.rfind('.');
  return RawJws{std::string(compact.substr(0, dot)), B64(compact.substr(dot + 1))};
}

// Checks that the RFC's public key for `alg` (`key(false)`) verifies the
// signature of the RFC's compact JWS `rfc_jws`, then returns a fresh
// signature of `input` by the RFC's private key (`key(true)`).
absl::StatusOr<std::string> VerifyRfcThenSign(JwsAlgorithm alg, pki::EvpPkeyPtr (*key)(bool),
                                              absl::string_view rfc_jws, absl::string_view input) {
  pki::EvpPkeyPtr pub = key(false);
  pki::EvpPkeyPtr priv = key(true);
  EXPECT_TRUE(pub && priv);
  if (!pub || !priv) return absl::InternalError("the RFC key could not be made");
  RawJws raw = SplitRaw(rfc_jws);
  EXPECT_TRUE(VerifyJwsSignature(alg, pub.get(), raw.signing_input, raw.signature).ok());
  return SignJwsInput(alg, priv.get(), input);
}

std::string FlipBit(std::string s, size_t byte, int bit) {
  s[byte] = static_cast<char>(s[byte] ^ (1 << bit));
  return s;
}

TEST(JwsRfcVectors, Rfc7515A2Rs256VerifiesAndSignsIdentically) {
  // PKCS#1 v1.5 is deterministic: signing the same input reproduces the RFC.
  std::string input = absl::StrCat("eyJhbGciOiJSUzI1NiJ9.", kRfcPayloadB64);
  absl::StatusOr<std::string> sig =
      VerifyRfcThenSign(JwsAlgorithm::kRs256, RfcRsaKey, kRs256Jws, input);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(absl::StrCat(input, ".", pki::Base64UrlEncode(*sig)), kRs256Jws);

  absl::StatusOr<CompactJws> jws = ParseCompactJws(kRs256Jws);
  ASSERT_TRUE(jws.ok()) << jws.status();
  EXPECT_EQ(jws->header.Find("alg")->string_value(), "RS256");
  EXPECT_EQ(jws->payload.Find("iss")->string_value(), "joe");
  EXPECT_EQ(jws->payload.Find("exp")->integer_value(), 1300819380);
  EXPECT_TRUE(jws->payload.Find("http://example.com/is_root")->bool_value());
}

TEST(JwsRfcVectors, Rfc7515A3Es256Verifies) {
  EXPECT_TRUE(ParseCompactJws(kEs256Jws).ok());
  // ECDSA is randomized: a fresh signature differs but verifies.
  std::string input = absl::StrCat("eyJhbGciOiJFUzI1NiJ9.", kRfcPayloadB64);
  absl::StatusOr<std::string> sig =
      VerifyRfcThenSign(JwsAlgorithm::kEs256, RfcEcKey, kEs256Jws, input);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(sig->size(), 64u);
  EXPECT_TRUE(VerifyJwsSignature(JwsAlgorithm::kEs256, RfcEcKey(false).get(), input, *sig).ok());
}

TEST(JwsRfcVectors, Rfc8037Ed25519VerifiesAndSignsIdentically) {
  std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  absl::StatusOr<std::string> sig =
      VerifyRfcThenSign(JwsAlgorithm::kEdDsa, RfcEdKey, kEdDsaJws, input);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(absl::StrCat(input, ".", pki::Base64UrlEncode(*sig)), kEdDsaJws);
  // The RFC 8037 payload is not JSON, so it is not a JWT.
  EXPECT_THAT(std::string(ParseCompactJws(kEdDsaJws).status().message()),
              StartsWith("payload: json:"));
}

TEST(JwsRfcVectors, FlippedBitsInEveryPartFailVerification) {
  pki::EvpPkeyPtr rsa = RfcRsaKey(false);
  pki::EvpPkeyPtr ec = RfcEcKey(false);
  pki::EvpPkeyPtr ed = RfcEdKey(false);
  struct Case {
    JwsAlgorithm alg;
    EVP_PKEY* key;
    const char* jws;
  };
  for (const Case& c : {Case{JwsAlgorithm::kRs256, rsa.get(), kRs256Jws},
                        Case{JwsAlgorithm::kEs256, ec.get(), kEs256Jws},
                        Case{JwsAlgorithm::kEdDsa, ed.get(), kEdDsaJws}}) {
    std::optional<RawJws> jws = SplitRaw(c.jws);
    size_t dot = jws->signing_input.find('.');
    for (size_t pos : {size_t{3}, dot + 5, jws->signing_input.size() - 1}) {
      absl::Status s =
          VerifyJwsSignature(c.alg, c.key, FlipBit(jws->signing_input, pos, 1), jws->signature);
      EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
      EXPECT_EQ(s.message(), "signature invalid");
    }
    for (size_t pos : {size_t{0}, jws->signature.size() / 2, jws->signature.size() - 1}) {
      absl::Status s =
          VerifyJwsSignature(c.alg, c.key, jws->signing_input, FlipBit(jws->signature, pos, 0));
      EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
      EXPECT_THAT(std::string(s.message()), StartsWith("signature invalid"));
    }
  }
}

TEST(JwsAlgorithms, NamesAreCaseSensitive) {
  EXPECT_EQ(JwsAlgorithmFromName("RS256"), JwsAlgorithm::kRs256);
  EXPECT_EQ(JwsAlgorithmFromName("ES256"), JwsAlgorithm::kEs256);
  EXPECT_EQ(JwsAlgorithmFromName("EdDSA"), JwsAlgorithm::kEdDsa);
  EXPECT_EQ(JwsAlgorithmFromName("none"), JwsAlgorithm::kNone);
  for (const char* bad : {"None", "NONE", "nOnE", "rs256", "HS256", "PS256", "ES384", "EDDSA",
                          "Ed25519", "", "RS256 "}) {
    EXPECT_FALSE(JwsAlgorithmFromName(bad).has_value()) << bad;
  }
  for (JwsAlgorithm a :
       {JwsAlgorithm::kNone, JwsAlgorithm::kRs256, JwsAlgorithm::kEs256, JwsAlgorithm::kEdDsa}) {
    EXPECT_EQ(JwsAlgorithmFromName(JwsAlgorithmName(a)), a);
  }
}

TEST(JwsAlgorithms, KeyTypeMustMatchAlgorithm) {
  pki::EvpPkeyPtr rsa = RfcRsaKey(false);
  pki::EvpPkeyPtr ec = RfcEcKey(false);
  pki::EvpPkeyPtr ed = RfcEdKey(false);
  EXPECT_EQ(AlgorithmForKey(rsa.get()), JwsAlgorithm::kRs256);
  EXPECT_EQ(AlgorithmForKey(ec.get()), JwsAlgorithm::kEs256);
  EXPECT_EQ(AlgorithmForKey(ed.get()), JwsAlgorithm::kEdDsa);
  absl::StatusOr<pki::PrivateKey> p384 = pki::PrivateKey::Generate(pki::KeyType::kEcP384);
  ASSERT_TRUE(p384.ok());
  EXPECT_FALSE(AlgorithmForKey(p384->get()).has_value());

  absl::StatusOr<CompactJws> jws = ParseCompactJws(kRs256Jws);
  ASSERT_TRUE(jws.ok());
  absl::Status s =
      VerifyJwsSignature(JwsAlgorithm::kEs256, rsa.get(), jws->signing_input, jws->signature);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "key does not fit alg ES256");
  EXPECT_EQ(VerifyJwsSignature(JwsAlgorithm::kNone, rsa.get(), jws->signing_input, "").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignJwsInput(JwsAlgorithm::kEdDsa, RfcRsaKey(true).get(), "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(JwsEs256, RejectsOutOfRangeAndMalformedSignatures) {
  pki::EvpPkeyPtr ec = RfcEcKey(false);
  absl::StatusOr<CompactJws> jws = ParseCompactJws(kEs256Jws);
  ASSERT_TRUE(jws.ok());
  const std::string& good = jws->signature;
  std::string r = good.substr(0, 32), s = good.substr(32);
  std::string zero(32, '\0');
  std::string order = B64("_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE");
  ASSERT_EQ(order.size(), 32u);
  std::string all_ff(32, '\xff');
  struct Case {
    const char* name;
    std::string sig;
    const char* reason;
  };
  const Case cases[] = {
      {"r = s = 0", zero + zero, "signature invalid: r or s out of range"},
      {"r = 0", zero + s, "signature invalid: r or s out of range"},
      {"s = 0", r + zero, "signature invalid: r or s out of range"},
      {"r = n", order + s, "signature invalid: r or s out of range"},
      {"s = n", r + order, "signature invalid: r or s out of range"},
      {"s > n", r + all_ff, "signature invalid: r or s out of range"},
      {"63 bytes", good.substr(0, 63), "signature invalid: wrong length"},
      {"65 bytes", good + "\x01", "signature invalid: wrong length"},
      {"empty", "", "signature invalid: wrong length"},
  };
  for (const Case& c : cases) {
    absl::Status st = VerifyJwsSignature(JwsAlgorithm::kEs256, ec.get(), jws->signing_input, c.sig);
    EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated) << c.name;
    EXPECT_EQ(st.message(), c.reason) << c.name;
  }
  // A DER signature in the JWS slot is the wrong form (ASN.1 is not R‖S).
  absl::StatusOr<std::string> der = Es256RawToDer(good);
  ASSERT_TRUE(der.ok());
  EXPECT_THAT(
      std::string(
          VerifyJwsSignature(JwsAlgorithm::kEs256, ec.get(), jws->signing_input, *der).message()),
      StartsWith("signature invalid"));
}

TEST(JwsEs256, DerConversionRoundTripsAndValidates) {
  absl::StatusOr<CompactJws> jws = ParseCompactJws(kEs256Jws);
  ASSERT_TRUE(jws.ok());
  absl::StatusOr<std::string> der = Es256RawToDer(jws->signature);
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(static_cast<unsigned char>((*der)[0]), 0x30);
  absl::StatusOr<std::string> raw = Es256DerToRaw(*der);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*raw, jws->signature);

  EXPECT_THAT(std::string(Es256RawToDer(std::string(64, '\0')).status().message()),
              HasSubstr("r or s out of range"));
  EXPECT_THAT(std::string(Es256RawToDer("short").status().message()),
              HasSubstr("must be 64 bytes"));
  EXPECT_THAT(std::string(Es256DerToRaw("\x30\x00").status().message()),
              HasSubstr("not valid der"));
  EXPECT_THAT(std::string(Es256DerToRaw(*der + "x").status().message()),
              HasSubstr("not valid der"));
  // r, s = 1, 0 in DER.
  EXPECT_THAT(
      std::string(
          Es256DerToRaw(std::string("\x30\x06\x02\x01\x01\x02\x01\x00", 8)).status().message()),
      HasSubstr("out of range"));
}

TEST(JwsRs256, WrongLengthIsRejectedBeforeTheMath) {
  pki::EvpPkeyPtr rsa = RfcRsaKey(false);
  absl::StatusOr<CompactJws> jws = ParseCompactJws(kRs256Jws);
  ASSERT_TRUE(jws.ok());
  for (std::string sig :
       {jws->signature.substr(1), jws->signature + std::string(1, '\0'), std::string()}) {
    EXPECT_EQ(
        VerifyJwsSignature(JwsAlgorithm::kRs256, rsa.get(), jws->signing_input, sig).message(),
        "signature invalid: wrong length");
  }
}

TEST(JwsParse, RejectsMalformedCompactForms) {
  auto reason = [](absl::string_view t) {
    absl::StatusOr<CompactJws> j = ParseCompactJws(t);
    if (j.ok()) return std::string("ok");
    EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(j.status().message());
  };
  std::string h = pki::Base64UrlEncode(R"({"alg":"none"})");
  std::string p = pki::Base64UrlEncode(R"({"a":1})");
  EXPECT_EQ(reason(h + "." + p + "."), "ok");
  EXPECT_EQ(reason(""), "empty");
  EXPECT_EQ(reason(h + "." + p), "expected 3 segments, found 2");
  EXPECT_EQ(reason(h), "expected 3 segments, found 1");
  EXPECT_EQ(reason(h + "." + p + ".."), "expected 3 segments, found 4");
  EXPECT_EQ(reason(h + "." + p + ".a.b.c"), "expected 3 segments, found 5");
  EXPECT_EQ(reason("." + p + "."), "header: empty segment");
  EXPECT_EQ(reason(h + ".."), "payload: empty segment");
  EXPECT_EQ(reason(h + "=." + p + "."), absl::StrCat("invalid character at offset ", h.size()));
  EXPECT_EQ(reason(" " + h + "." + p + "."), "invalid character at offset 0");
  EXPECT_EQ(reason(h + "." + p + ".\n"),
            absl::StrCat("invalid character at offset ", h.size() + p.size() + 2));
  EXPECT_THAT(reason(h + "+." + p + "."), HasSubstr("invalid character"));
  EXPECT_THAT(reason(h + "." + p + "/."), HasSubstr("invalid character"));
  EXPECT_EQ(reason(std::string(kDefaultMaxJwsBytes + 1, 'a')),
            absl::StrCat("too large (", kDefaultMaxJwsBytes + 1, " bytes, limit 16384)"));
  // Non-canonical base64url: the same bytes with non-zero unused bits in
  // the last character must not decode.
  std::string non_canonical = p;
  non_canonical.back() = static_cast<char>(non_canonical.back() ^ 1);
  EXPECT_THAT(reason(h + "." + non_canonical + "."), StartsWith("payload: "));
  EXPECT_EQ(reason(pki::Base64UrlEncode("[1]") + "." + p + "."), "header: not a json object");
  EXPECT_EQ(reason(h + "." + pki::Base64UrlEncode("\"s\"") + "."), "payload: not a json object");
  EXPECT_THAT(reason(pki::Base64UrlEncode(R"({"alg":"none","alg":"RS256"})") + "." + p + "."),
              StartsWith("header: json: duplicate key \"alg\""));
  EXPECT_EQ(reason(h + "." + pki::Base64UrlEncode(R"({"exp":1.7e9} )") + "."), "ok");
}

TEST(JwsSignCompact, ProducesVerifiableTokensForEachAlgorithm) {
  Json payload = Json::MakeObject();
  payload.Set("iss", Json::String("x"));
  for (pki::KeyType type :
       {pki::KeyType::kRsa2048, pki::KeyType::kEcP256, pki::KeyType::kEd25519}) {
    absl::StatusOr<pki::PrivateKey> key = pki::PrivateKey::Generate(type);
    ASSERT_TRUE(key.ok());
    std::optional<JwsAlgorithm> alg = AlgorithmForKey(key->get());
    ASSERT_TRUE(alg.has_value());
    Json header = Json::MakeObject();
    header.Set("alg", Json::String(std::string(JwsAlgorithmName(*alg))));
    absl::StatusOr<std::string> compact = SignCompactJws(header, payload, key->get());
    ASSERT_TRUE(compact.ok()) << compact.status();
    EXPECT_TRUE(VerifyCompact(*alg, key->get(), *compact).ok());
  }
  Json none = Json::MakeObject();
  none.Set("alg", Json::String("none"));
  absl::StatusOr<std::string> unsigned_token = SignCompactJws(none, payload, nullptr);
  ASSERT_TRUE(unsigned_token.ok());
  EXPECT_EQ(unsigned_token->back(), '.');
  EXPECT_TRUE(ParseCompactJws(*unsigned_token)->signature.empty());
  Json hs = Json::MakeObject();
  hs.Set("alg", Json::String("HS256"));
  EXPECT_EQ(SignCompactJws(hs, payload, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace trustfabric::token
