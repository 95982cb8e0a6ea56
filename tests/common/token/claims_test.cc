#include "common/token/claims.h"

#include <string>

#include "absl/status/status.h"
#include "common/pki/encoding.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trustfabric::token {
namespace {

constexpr char kGuid[] = "11111111-2222-4333-8444-555555555555";
constexpr char kRealm[] = "6c9a3f4e-1b2d-4e5f-8a7b-9c0d1e2f3a4b";

Json Obj(absl::string_view text) {
  absl::StatusOr<Json> j = ParseJson(text);
  EXPECT_TRUE(j.ok()) << j.status();
  return j.ok() ? *j : Json::MakeObject();
}

std::string HeaderError(absl::string_view text) {
  absl::StatusOr<TokenHeader> h = ParseTokenHeader(Obj(text));
  if (h.ok()) return "ok";
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(h.status().message());
}

TEST(Guids, CaseRules) {
  EXPECT_TRUE(IsGuid(kGuid));
  EXPECT_TRUE(IsGuid("11111111-2222-4333-8444-55555555555A"));
  EXPECT_FALSE(IsGuid("11111111-2222-4333-8444-5555555555555"));
  EXPECT_FALSE(IsGuid("11111111x2222-4333-8444-555555555555"));
  EXPECT_FALSE(IsGuid("{11111111-2222-4333-8444-55555555555}"));
  EXPECT_FALSE(IsGuid("g1111111-2222-4333-8444-555555555555"));
}

TEST(PrincipalNames, ParseGuidAtRealm) {
  absl::StatusOr<PrincipalName> n = ParsePrincipalName(absl::StrCat(kGuid, "@", kRealm));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->id, kGuid);
  EXPECT_EQ(n->realm, kRealm);
  EXPECT_EQ(n->ToString(), absl::StrCat(kGuid, "@", kRealm));
  EXPECT_FALSE(ParsePrincipalName(kGuid).ok());
  EXPECT_FALSE(ParsePrincipalName(absl::StrCat(kGuid, "@", kRealm, "@x")).ok());
  EXPECT_FALSE(ParsePrincipalName(absl::StrCat("app@", kRealm)).ok());
  EXPECT_FALSE(ParsePrincipalName(absl::StrCat(kGuid, "@contoso.test")).ok());
}

TEST(Audiences, ParsePrincipalHostRealm) {
  absl::StatusOr<Audience> a =
      ParseAudience(absl::StrCat(kSharePointPrincipal, "/fe1.contoso.test:8443@", kRealm));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->principal, kSharePointPrincipal);
  EXPECT_EQ(a->host, "fe1.contoso.test:8443");
  EXPECT_EQ(a->realm, kRealm);
  for (std::string bad : {absl::StrCat("p/host"), absl::StrCat("p@", kRealm),
                          absl::StrCat("/host@", kRealm), absl::StrCat("p/@", kRealm),
                          absl::StrCat("p/ho st@", kRealm), absl::StrCat("p/host:@", kRealm),
                          absl::StrCat("p/host:123456@", kRealm), absl::StrCat("p/a/b@", kRealm),
                          absl::StrCat("p/host@realm"), absl::StrCat("p q/host@", kRealm)}) {
    EXPECT_FALSE(ParseAudience(bad).ok()) << bad;
  }
}

TEST(TokenHeaders, AcceptsTheProfile) {
  std::string x5t = pki::Base64UrlEncode(std::string(20, 'a'));
  std::string s256 = pki::Base64UrlEncode(std::string(32, 'b'));
  absl::StatusOr<TokenHeader> h =
      ParseTokenHeader(Obj(absl::StrCat(R"({"typ":"JWT","alg":"RS256","kid":"k1","x5t":")", x5t,
                                        R"(","x5t#S256":")", s256, R"("})")));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->alg, JwsAlgorithm::kRs256);
  EXPECT_EQ(*h->x5t, std::string(20, 'a'));
  EXPECT_EQ(*h->x5t_s256, std::string(32, 'b'));
  EXPECT_EQ(HeaderError(R"({"typ":"JWT","alg":"none"})"), "ok");
  EXPECT_EQ(HeaderError(R"({"alg":"EdDSA","typ":"JWT"})"), "ok");
}

TEST(TokenHeaders, RejectsEverythingElse) {
  EXPECT_EQ(HeaderError(R"({"typ":"JWT"})"), "header: alg is missing");
  EXPECT_EQ(HeaderError(R"({"typ":"JWT","alg":1})"), "header: alg is not a string");
  for (const char* none : {"None", "NONE", "nOnE", "nonE"}) {
    EXPECT_EQ(HeaderError(absl::StrCat(R"({"typ":"JWT","alg":")", none, R"("})")),
              "header: alg none is not allowed");
  }
  EXPECT_EQ(HeaderError(R"({"typ":"JWT","alg":"HS256"})"), "header: alg HS256 is not supported");
  EXPECT_EQ(HeaderError(R"({"typ":"JWT","alg":"PS256"})"), "header: alg PS256 is not supported");
  EXPECT_EQ(HeaderError(R"({"typ":"JWT","alg":"RS256\n"})"), "header: alg is not supported");
  EXPECT_EQ(HeaderError(R"({"alg":"RS256"})"), "header: typ is missing");
  EXPECT_EQ(HeaderError(R"({"typ":"jwt","alg":"RS256"})"), "header: typ must be JWT");
  EXPECT_EQ(HeaderError(R"({"typ":"JWE","alg":"RS256"})"), "header: typ must be JWT");
  for (const char* param : {"jku", "x5u", "jwk", "x5c"}) {
    EXPECT_EQ(HeaderError(absl::StrCat(R"({"typ":"JWT","alg":"RS256",")", param, R"(":"x"})")),
              absl::StrCat("header: ", param, " is not allowed"));
  }
  EXPECT_EQ(HeaderError(R"({"typ":"JWT","alg":"RS256","crit":["exp"],"exp":1})"),
            "header: crit is not supported");
  EXPECT_EQ(HeaderError(R"({"typ":"JWT","alg":"RS256","crit":[]})"),
            "header: crit is not supported");
  EXPECT_EQ(HeaderError(R"({"typ":"JWT","alg":"RS256","cty":"JWT"})"),
            "header: cty is not allowed");
  EXPECT_EQ(HeaderError(R"({"typ":"JWT","alg":"RS256","x5t":"abc"})"), "header: x5t is malformed");
  EXPECT_EQ(HeaderError(R"({"typ":"JWT","alg":"RS256","x5t":7})"), "header: x5t is malformed");
  EXPECT_EQ(HeaderError(absl::StrCat(R"({"typ":"JWT","alg":"RS256","x5t#S256":")",
                                     pki::Base64UrlEncode(std::string(20, 'a')), R"("})")),
            "header: x5t#S256 is malformed");
}

TEST(Claims, TimeClaimsAreBoundedIntegers) {
  absl::StatusOr<Validity> v = ParseValidity(Obj(R"({"nbf":1700000000,"exp":1700003600})"));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->not_before, absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(v->expires, absl::FromUnixSeconds(1700003600));
  auto error = [](absl::string_view text) {
    return std::string(ParseValidity(Obj(text)).status().message());
  };
  EXPECT_EQ(error(R"({"exp":1700003600})"), "nbf is missing");
  EXPECT_EQ(error(R"({"nbf":1700000000})"), "exp is missing");
  EXPECT_EQ(error(R"({"nbf":1700000000,"exp":1700003600.0})"), "exp is not an integer");
  EXPECT_EQ(error(R"({"nbf":1700000000,"exp":1.7000036e9})"), "exp is not an integer");
  EXPECT_EQ(error(R"({"nbf":1700000000,"exp":"1700003600"})"), "exp is not an integer");
  EXPECT_EQ(error(R"({"nbf":null,"exp":1700003600})"), "nbf is not an integer");
  EXPECT_EQ(error(R"({"nbf":-1,"exp":1700003600})"), "nbf is out of range");
  EXPECT_EQ(error(R"({"nbf":1700000000,"exp":253402300800})"), "exp is out of range");
  EXPECT_TRUE(ParseValidity(Obj(R"({"nbf":0,"exp":253402300799})")).ok());
}

TEST(Claims, IssuerNameIdAudience) {
  Json p = Obj(absl::StrCat(R"({"iss":")", kGuid, "@", kRealm, R"(","nameid":7,"aud":"x"})"));
  EXPECT_EQ(ParseIssuerClaim(p)->id, kGuid);
  EXPECT_EQ(ParseNameIdClaim(p).status().message(), "nameid is not a string");
  EXPECT_EQ(ParseAudienceClaim(p).status().message(), "aud is malformed");
  EXPECT_EQ(ParseIssuerClaim(Obj("{}")).status().message(), "iss is missing");
  EXPECT_EQ(ParseIssuerClaim(Obj(R"({"iss":"joe"})")).status().message(), "iss is malformed");
  EXPECT_EQ(ParseAudienceClaim(Obj(R"({"aud":["a","b"]})")).status().message(),
            "aud is not a string");
}

TEST(Claims, TrustedForDelegationIsSharePointsString) {
  EXPECT_FALSE(*ParseTrustedForDelegation(Obj("{}")));
  EXPECT_TRUE(*ParseTrustedForDelegation(Obj(R"({"trustedfordelegation":"true"})")));
  EXPECT_FALSE(*ParseTrustedForDelegation(Obj(R"({"trustedfordelegation":"false"})")));
  for (const char* bad : {R"({"trustedfordelegation":true})", R"({"trustedfordelegation":"True"})",
                          R"({"trustedfordelegation":"1"})", R"({"trustedfordelegation":null})"}) {
    EXPECT_EQ(ParseTrustedForDelegation(Obj(bad)).status().message(),
              "trustedfordelegation is not \"true\" or \"false\"")
        << bad;
  }
}

TEST(Claims, UserClaims) {
  absl::StatusOr<UserClaims> u = ParseUserClaims(
      Obj(R"({"nameid":"s-1-5-21","nii":"urn:office:idp:activedirectory","upn":"a@b.c"})"));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->name_id, "s-1-5-21");
  EXPECT_EQ(u->name_id_issuer, "urn:office:idp:activedirectory");
  EXPECT_EQ(u->upn, "a@b.c");
  EXPECT_TRUE(u->smtp.empty());
  EXPECT_EQ(ParseUserClaims(Obj(R"({"nii":"x"})")).status().message(), "user token names no user");
  EXPECT_EQ(ParseUserClaims(Obj(R"({"smtp":""})")).status().message(), "smtp is malformed");
  EXPECT_EQ(ParseUserClaims(Obj(R"({"upn":"a\tb"})")).status().message(), "upn is malformed");
  EXPECT_EQ(ParseUserClaims(Obj(R"({"upn":["a"]})")).status().message(), "upn is not a string");
  EXPECT_EQ(ParseUserClaims(Obj(absl::StrCat(R"({"upn":")", std::string(257, 'a'), R"("})")))
                .status()
                .message(),
            "upn is malformed");
}

TEST(TokenHeaders, MakeTokenHeaderRoundTrips) {
  Json h = MakeTokenHeader(JwsAlgorithm::kEs256, nullptr, true, true);
  EXPECT_EQ(h.Serialize(), R"({"typ":"JWT","alg":"ES256"})");
  EXPECT_EQ(ParseTokenHeader(h)->alg, JwsAlgorithm::kEs256);
}

}  // namespace
}  // namespace trustfabric::token
