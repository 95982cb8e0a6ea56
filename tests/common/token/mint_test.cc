#include "common/token/mint.h"

#include <string>

#include "absl/status/status.h"
#include "common/pki/encoding.h"
#include "common/token/jws.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/token/token_test_env.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::token {
namespace {

using test::kAppGuid;
using test::kRealm;

CompactJws Parse(const std::string& token) {
  absl::StatusOr<CompactJws> jws = ParseCompactJws(token);
  EXPECT_TRUE(jws.ok()) << jws.status();
  return jws.ok() ? *std::move(jws) : CompactJws{};
}

TEST(MintActorToken, HasTheAddInHeaderAndClaims) {
  const test::TokenPki& pki = test::SharedTokenPki();
  absl::Time now = absl::FromUnixSeconds(1700000000);
  MintOptions o = test::AppOptions(now);
  o.lifetime = absl::Hours(12);
  absl::StatusOr<std::string> token = MintActorToken(o, test::Credentials(pki.app), true);
  ASSERT_TRUE(token.ok()) << token.status();
  CompactJws jws = Parse(*token);
  EXPECT_EQ(jws.header.Serialize(),
            absl::StrCat(R"({"typ":"JWT","alg":"RS256","x5t":")",
                         pki::Base64UrlEncode(pki.app.certificate.Sha1()), R"("})"));
  EXPECT_EQ(jws.payload.Serialize(),
            absl::StrCat(R"({"aud":"00000003-0000-0ff1-ce00-000000000000/fe1.contoso.test@)",
                         kRealm, R"(","iss":")", kAppGuid, "@", kRealm,
                         R"(","nbf":1700000000,"exp":1700043200,"nameid":")", kAppGuid, "@", kRealm,
                         R"(","trustedfordelegation":"true"})"));
  EXPECT_TRUE(
      VerifyJwsSignature(JwsAlgorithm::kRs256, pki.app.key.get(), jws.signing_input, jws.signature)
          .ok());
}

TEST(MintAppOnlyToken, IsNotTrustedForDelegation) {
  const test::TokenPki& pki = test::SharedTokenPki();
  absl::StatusOr<std::string> token =
      MintAppOnlyToken(test::AppOptions(absl::Now()), test::Credentials(pki.app));
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(Parse(*token).payload.Find("trustedfordelegation")->string_value(), "false");
}

TEST(MintActorToken, AlgorithmFollowsTheKey) {
  const test::TokenPki& pki = test::SharedTokenPki();
  struct Case {
    const pki::IssuedCertificate* cert;
    const char* alg;
    size_t sig_size;
  };
  for (const Case& c :
       {Case{&pki.app, "RS256", 256}, Case{&pki.broker, "ES256", 64}, Case{&pki.ed, "EdDSA", 64}}) {
    MintOptions o = test::BrokerOptions(absl::Now());
    o.with_x5t_s256 = true;
    o.with_x5t = false;
    absl::StatusOr<std::string> token = MintAppOnlyToken(o, test::Credentials(*c.cert));
    ASSERT_TRUE(token.ok()) << token.status();
    CompactJws jws = Parse(*token);
    EXPECT_EQ(jws.header.Find("alg")->string_value(), c.alg);
    EXPECT_EQ(jws.header.Find("x5t"), nullptr);
    EXPECT_EQ(jws.header.Find("x5t#S256")->string_value(),
              pki::Base64UrlEncode(c.cert->certificate.Sha256()));
    EXPECT_EQ(jws.signature.size(), c.sig_size);
  }
}

TEST(MintUserToken, WrapsAnActorTrustedForDelegationInAnUnsignedOuterToken) {
  const test::TokenPki& pki = test::SharedTokenPki();
  UserClaims alice;
  alice.name_id = "s-1-5-21-100";
  alice.name_id_issuer = "urn:office:idp:activedirectory";
  alice.upn = "alice@contoso.test";
  absl::StatusOr<std::string> token =
      MintUserToken(test::BrokerOptions(absl::Now()), test::Credentials(pki.broker), alice);
  ASSERT_TRUE(token.ok()) << token.status();
  CompactJws outer = Parse(*token);
  EXPECT_EQ(outer.header.Serialize(), R"({"typ":"JWT","alg":"none"})");
  EXPECT_TRUE(outer.signature.empty());
  EXPECT_EQ(token->back(), '.');
  EXPECT_EQ(outer.payload.Find("iss")->string_value(),
            absl::StrCat(test::kBrokerClient, "@", kRealm));
  EXPECT_EQ(outer.payload.Find("upn")->string_value(), "alice@contoso.test");
  EXPECT_EQ(outer.payload.Find("nii")->string_value(), "urn:office:idp:activedirectory");
  EXPECT_EQ(outer.payload.Find("smtp"), nullptr);
  CompactJws actor = Parse(outer.payload.Find("actortoken")->string_value());
  EXPECT_EQ(actor.header.Find("alg")->string_value(), "ES256");
  EXPECT_EQ(actor.payload.Find("iss")->string_value(),
            absl::StrCat(test::kBrokerGuid, "@", kRealm));
  EXPECT_EQ(actor.payload.Find("nameid")->string_value(),
            outer.payload.Find("iss")->string_value());
  EXPECT_EQ(actor.payload.Find("aud")->string_value(), outer.payload.Find("aud")->string_value());
  EXPECT_EQ(actor.payload.Find("trustedfordelegation")->string_value(), "true");

  absl::StatusOr<std::string> signed_outer = MintUserToken(
      test::BrokerOptions(absl::Now()), test::Credentials(pki.broker), alice, /*sign_outer=*/true);
  ASSERT_TRUE(signed_outer.ok());
  CompactJws s = Parse(*signed_outer);
  EXPECT_EQ(s.header.Find("alg")->string_value(), "ES256");
  EXPECT_TRUE(
      VerifyJwsSignature(JwsAlgorithm::kEs256, pki.broker.key.get(), s.signing_input, s.signature)
          .ok());
}

TEST(MintOptions, RejectsMalformedInputs) {
  const test::TokenPki& pki = test::SharedTokenPki();
  SigningCredentials creds = test::Credentials(pki.app);
  auto error = [&](MintOptions o) {
    absl::StatusOr<std::string> t = MintAppOnlyToken(o, creds);
    EXPECT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(t.status().message());
  };
  MintOptions o = test::AppOptions(absl::Now());
  o.issuer_id = "11111111-2222-4333-8444-55555555555A";
  EXPECT_EQ(error(o), "issuer_id: must be a lower-case guid");
  o = test::AppOptions(absl::Now());
  o.client_id = "app";
  EXPECT_EQ(error(o), "client_id: must be a lower-case guid");
  o = test::AppOptions(absl::Now());
  o.realm = "";
  EXPECT_EQ(error(o), "realm: must be a lower-case guid");
  o = test::AppOptions(absl::Now());
  o.host = "fe1.contoso.test/evil";
  EXPECT_THAT(error(o), HasSubstr("audience: "));
  o = test::AppOptions(absl::Now());
  o.principal = "";
  EXPECT_THAT(error(o), HasSubstr("audience: principal"));
  o = test::AppOptions(absl::Now());
  o.lifetime = absl::ZeroDuration();
  EXPECT_THAT(error(o), HasSubstr("lifetime"));
  o.lifetime = absl::Hours(25);
  EXPECT_THAT(error(o), HasSubstr("lifetime"));

  absl::StatusOr<std::string> no_user =
      MintUserToken(test::AppOptions(absl::Now()), creds, UserClaims{});
  EXPECT_EQ(no_user.status().message(), "user: user token names no user");
  UserClaims bad;
  bad.upn = "alice\n@contoso.test";
  EXPECT_EQ(MintUserToken(test::AppOptions(absl::Now()), creds, bad).status().message(),
            "user: upn is malformed");
  bad.upn = "\xc0\xaf";
  EXPECT_EQ(MintUserToken(test::AppOptions(absl::Now()), creds, bad).status().message(),
            "user: upn is not valid utf-8");
}

TEST(SigningCredentials, LoadsPemAndPkcs12) {
  const test::TokenPki& pki = test::SharedTokenPki();
  std::string chain = pki::ToPemBundle({pki.domain.root().certificate, pki.broker.certificate});
  absl::StatusOr<SigningCredentials> pem =
      SigningCredentials::FromPem(pki.broker.key.ToPem(), chain);
  ASSERT_TRUE(pem.ok()) << pem.status();
  EXPECT_EQ(pem->certificate(), pki.broker.certificate);
  EXPECT_EQ(pem->algorithm(), JwsAlgorithm::kEs256);

  absl::StatusOr<SigningCredentials> encrypted = SigningCredentials::FromPem(
      pki.app.key.ToPem("secret"), pki.app.certificate.ToPem(), "secret");
  ASSERT_TRUE(encrypted.ok()) << encrypted.status();
  EXPECT_EQ(encrypted->algorithm(), JwsAlgorithm::kRs256);
  EXPECT_FALSE(
      SigningCredentials::FromPem(pki.app.key.ToPem("secret"), pki.app.certificate.ToPem(), "wrong")
          .ok());

  absl::StatusOr<std::string> pfx = pki::MakePkcs12(pki.app.key, pki.app.certificate, {}, "pw");
  ASSERT_TRUE(pfx.ok()) << pfx.status();
  absl::StatusOr<SigningCredentials> p12 = SigningCredentials::FromPkcs12(*pfx, "pw");
  ASSERT_TRUE(p12.ok()) << p12.status();
  EXPECT_EQ(p12->certificate(), pki.app.certificate);
  absl::StatusOr<SigningCredentials> wrong = SigningCredentials::FromPkcs12(*pfx, "nope");
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("pkcs#12: "));

  absl::StatusOr<SigningCredentials> mismatch =
      SigningCredentials::FromPem(pki.app.key.ToPem(), pki.broker.certificate.ToPem());
  EXPECT_EQ(mismatch.status().message(), "signing key does not belong to the certificate");
  EXPECT_FALSE(SigningCredentials::Create(pki.app.key, pki.other.certificate).ok());

  pki::IssuedCertificate p384 = test::SigningCertificate("p384", pki::KeyType::kEcP384);
  absl::StatusOr<SigningCredentials> unusable =
      SigningCredentials::Create(p384.key, p384.certificate);
  EXPECT_THAT(std::string(unusable.status().message()), HasSubstr("cannot sign tokens"));
}

}  // namespace
}  // namespace trustfabric::token
