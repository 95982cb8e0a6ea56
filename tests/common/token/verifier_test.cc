#include "common/token/verifier.h"

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/pki/encoding.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/token/token_test_env.h"
#include "tests/testing/reencode.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::token {
namespace {

using test::kAppGuid;
using test::kBrokerClient;
using test::kBrokerGuid;
using test::kHost;
using test::kRealm;

class VerifierTest : public ::testing::Test {
 protected:
  VerifierTest()
      : pki_(test::SharedTokenPki()),
        now_(test::TestNow()),
        snapshot_(test::MustCreateSnapshot(test::BaseSnapshot(pki_))),
        verifier_(test::MakeVerifier(&now_)) {}

  std::string Reason(absl::string_view token) { return Reason(token, snapshot_); }
  std::string Reason(absl::string_view token,
                     const std::shared_ptr<const trust::TrustSnapshot>& snapshot) {
    absl::StatusOr<TokenIdentity> id = verifier_->Verify(token, snapshot);
    if (id.ok()) return "ok";
    EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated) << id.status();
    return std::string(id.status().message());
  }

  const test::TokenPki& pki_;
  absl::Time now_;
  std::shared_ptr<const trust::TrustSnapshot> snapshot_;
  std::unique_ptr<TokenVerifier> verifier_;
};

TEST_F(VerifierTest, AcceptsAppOnlyTokenOfPerApplicationIssuer) {
  std::string token = *MintAppOnlyToken(test::AppOptions(now_), test::Credentials(pki_.app));
  absl::StatusOr<TokenIdentity> id = verifier_->Verify(token, snapshot_);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->kind, TokenKind::kAppOnly);
  EXPECT_EQ(id->issuer, absl::StrCat(kAppGuid, "@", kRealm));
  EXPECT_EQ(id->issuer_name, "app-a");
  EXPECT_FALSE(id->trust_broker);
  EXPECT_EQ(id->client_id, kAppGuid);
  EXPECT_EQ(id->realm, kRealm);
  EXPECT_EQ(id->audience, absl::StrCat(kSharePointPrincipal, "/", kHost, "@", kRealm));
  EXPECT_EQ(id->host, kHost);
  EXPECT_EQ(id->not_before, now_);
  EXPECT_EQ(id->expires, now_ + absl::Hours(1));
  EXPECT_FALSE(id->trusted_for_delegation);
  EXPECT_FALSE(id->user.has_value());
  EXPECT_EQ(id->algorithm, JwsAlgorithm::kRs256);
  EXPECT_EQ(id->signing_certificate_sha256, pki_.app.certificate.Sha256Hex());
}

TEST_F(VerifierTest, AcceptsEachAlgorithmAndKeySelection) {
  // Broker, ES256, selected by x5t#S256 only.
  MintOptions broker = test::BrokerOptions(now_);
  broker.with_x5t = false;
  broker.with_x5t_s256 = true;
  absl::StatusOr<TokenIdentity> b =
      verifier_->Verify(*MintAppOnlyToken(broker, test::Credentials(pki_.broker)), snapshot_);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(b->trust_broker);
  EXPECT_EQ(b->client_id, kBrokerClient);
  EXPECT_EQ(b->issuer, absl::StrCat(kBrokerGuid, "@", kRealm));
  EXPECT_EQ(b->algorithm, JwsAlgorithm::kEs256);

  // EdDSA.
  absl::StatusOr<TokenIdentity> e = verifier_->Verify(
      *MintAppOnlyToken(test::EdOptions(now_), test::Credentials(pki_.ed)), snapshot_);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->algorithm, JwsAlgorithm::kEdDsa);

  // No x5t at all: the key is found among the issuer's certificates of the
  // right type (here the second, during rotation).
  MintOptions bare = test::AppOptions(now_);
  bare.with_x5t = false;
  absl::StatusOr<TokenIdentity> r =
      verifier_->Verify(*MintAppOnlyToken(bare, test::Credentials(pki_.app_next)), snapshot_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->signing_certificate_sha256, pki_.app_next.certificate.Sha256Hex());
}

TEST_F(VerifierTest, AcceptsUnsignedUserTokenWrappingDelegatedActor) {
  UserClaims alice;
  alice.name_id = "s-1-5-21-100";
  alice.upn = "alice@contoso.test";
  alice.smtp = "alice@contoso.test";
  std::string token =
      *MintUserToken(test::BrokerOptions(now_), test::Credentials(pki_.broker), alice);
  absl::StatusOr<TokenIdentity> id = verifier_->Verify(token, snapshot_);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->kind, TokenKind::kUserAndApp);
  EXPECT_EQ(id->client_id, kBrokerClient);
  EXPECT_TRUE(id->trusted_for_delegation);
  EXPECT_FALSE(id->outer_signed);
  ASSERT_TRUE(id->user.has_value());
  EXPECT_EQ(*id->user, alice);
  EXPECT_EQ(TokenKindName(id->kind), "user+app");
}

TEST_F(VerifierTest, AcceptsSignedUserToken) {
  UserClaims bob;
  bob.upn = "bob@contoso.test";
  std::string token = *MintUserToken(test::AppOptions(now_), test::Credentials(pki_.app), bob,
                                     /*sign_outer=*/true);
  absl::StatusOr<TokenIdentity> id = verifier_->Verify(token, snapshot_);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(id->outer_signed);
  EXPECT_EQ(id->user->upn, "bob@contoso.test");
}

// The outer token of `token` with its payload changed by `edit`, kept
// unsigned (the forgery any holder of a user token can make).
std::string RewriteUnsignedOuter(const std::string& token, const std::function<void(Json*)>& edit) {
  absl::StatusOr<CompactJws> outer = ParseCompactJws(token);
  EXPECT_TRUE(outer.ok()) << outer.status();
  Json payload = outer->payload;
  edit(&payload);
  return *SignCompactJws(MakeTokenHeader(JwsAlgorithm::kNone, nullptr, false, false), payload,
                         nullptr);
}

TEST_F(VerifierTest, SignedPolicyRefusesAnUnsignedOuterTokenAndItsRewrite) {
  std::unique_ptr<TokenVerifier> strict =
      test::MakeVerifier(&now_, 10000, OuterTokenPolicy::kSigned);
  std::unique_ptr<TokenVerifier> lenient =
      test::MakeVerifier(&now_, 10000, OuterTokenPolicy::kUnsignedAllowed);
  UserClaims alice;
  alice.upn = "alice@contoso.test";
  std::string unsigned_token =
      *MintUserToken(test::AppOptions(now_), test::Credentials(pki_.app), alice);
  // The attack: keep the valid actor token, name another user.
  std::string rewritten = RewriteUnsignedOuter(
      unsigned_token, [](Json* p) { p->Set("upn", Json::String("ceo@contoso.test")); });

  // Under unsigned_allowed (the add-in model) the rewrite is accepted as the
  // other user: the trade-off docs/outer-token.md describes.
  absl::StatusOr<TokenIdentity> forged = lenient->Verify(rewritten, snapshot_);
  ASSERT_TRUE(forged.ok()) << forged.status();
  EXPECT_EQ(forged->user->upn, "ceo@contoso.test");

  // Under signed neither the original nor the rewrite is accepted.
  for (const std::string& t : {unsigned_token, rewritten}) {
    absl::StatusOr<TokenIdentity> id = strict->Verify(t, snapshot_);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(id.status().message(),
              "token: unsigned outer token is not accepted (outer token policy: signed)");
    EXPECT_EQ(RejectionLabel(id.status()), "outer_unsigned");
  }
  EXPECT_EQ(strict->CachedResults(), 0u);
}

TEST_F(VerifierTest, SignedPolicyAcceptsASignedOuterTokenAndRefusesItsRewrite) {
  std::unique_ptr<TokenVerifier> strict =
      test::MakeVerifier(&now_, 10000, OuterTokenPolicy::kSigned);
  UserClaims alice;
  alice.upn = "alice@contoso.test";
  std::string token = *MintUserToken(test::BrokerOptions(now_), test::Credentials(pki_.broker),
                                     alice, /*sign_outer=*/true);
  absl::StatusOr<TokenIdentity> id = strict->Verify(token, snapshot_);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(id->outer_signed);
  EXPECT_EQ(id->user->upn, "alice@contoso.test");

  // Rewriting the signed payload breaks its signature ...
  absl::StatusOr<CompactJws> outer = ParseCompactJws(token);
  ASSERT_TRUE(outer.ok());
  Json payload = outer->payload;
  payload.Set("upn", Json::String("ceo@contoso.test"));
  std::string tampered = pki::Base64UrlEncode(outer->header.Serialize()) + "." +
                         pki::Base64UrlEncode(payload.Serialize()) + "." +
                         pki::Base64UrlEncode(outer->signature);
  EXPECT_EQ(strict->Verify(tampered, snapshot_).status().message(), "token: signature invalid");
  // ... and stripping the signature (alg none) is what the policy refuses.
  std::string stripped =
      RewriteUnsignedOuter(token, [](Json* p) { p->Set("upn", Json::String("ceo@contoso.test")); });
  EXPECT_EQ(RejectionLabel(strict->Verify(stripped, snapshot_).status()), "outer_unsigned");
}

TEST_F(VerifierTest, SignedOuterTokenMayUseAnotherCertificateOfTheActorsIssuer) {
  // Mid-rotation: the actor token signed with app-a's old key, the outer
  // token with its new one. Both are the issuer's registered certificates.
  std::unique_ptr<TokenVerifier> strict =
      test::MakeVerifier(&now_, 10000, OuterTokenPolicy::kSigned);
  UserClaims alice;
  alice.upn = "alice@contoso.test";
  std::string token = *MintUserToken(test::AppOptions(now_), test::Credentials(pki_.app), alice,
                                     /*sign_outer=*/true);
  absl::StatusOr<CompactJws> outer = ParseCompactJws(token);
  ASSERT_TRUE(outer.ok());
  auto resign = [&](const pki::IssuedCertificate& with) {
    return *SignCompactJws(MakeTokenHeader(JwsAlgorithm::kRs256, &with.certificate, true, false),
                           outer->payload, with.key.get());
  };
  absl::StatusOr<TokenIdentity> id = strict->Verify(resign(pki_.app_next), snapshot_);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(id->outer_signed);
  // A key of another registered issuer does not sign for app-a's actor.
  EXPECT_EQ(strict->Verify(resign(pki_.other), snapshot_).status().message(),
            absl::StrCat("token: header: x5t does not name a certificate of issuer ", kAppGuid, "@",
                         kRealm));
}

TEST(OuterTokenPolicyTest, DefaultIsSignedAndNamesAreStable) {
  EXPECT_EQ(VerifierOptions().outer_token, OuterTokenPolicy::kSigned);
  EXPECT_EQ(OuterTokenPolicyName(OuterTokenPolicy::kSigned), "signed");
  EXPECT_EQ(OuterTokenPolicyName(OuterTokenPolicy::kUnsignedAllowed), "unsigned_allowed");
}

TEST_F(VerifierTest, ClockSkewEdgesAreInclusive) {
  absl::Time minted = now_;
  std::string token = *MintAppOnlyToken(test::AppOptions(minted), test::Credentials(pki_.app));
  std::unique_ptr<TokenVerifier> uncached = test::MakeVerifier(&now_, /*cache_capacity=*/0);
  struct Case {
    absl::Duration offset;
    const char* reason;
  };
  for (const Case& c :
       {Case{-absl::Minutes(5), "ok"},
        Case{-absl::Minutes(5) - absl::Seconds(1), "token: not yet valid"},
        Case{absl::Hours(1) + absl::Minutes(5), "ok"},
        Case{absl::Hours(1) + absl::Minutes(5) + absl::Seconds(1), "token: expired"}}) {
    now_ = minted + c.offset;
    for (TokenVerifier* v : {verifier_.get(), uncached.get()}) {
      absl::StatusOr<TokenIdentity> id = v->Verify(token, snapshot_);
      EXPECT_EQ(id.ok() ? "ok" : std::string(id.status().message()), c.reason)
          << absl::FormatDuration(c.offset);
    }
  }
}

TEST_F(VerifierTest, MaximumLifetimeIsInclusive) {
  MintOptions o = test::AppOptions(now_);
  o.lifetime = absl::Hours(12);
  EXPECT_EQ(Reason(*MintAppOnlyToken(o, test::Credentials(pki_.app))), "ok");
  o.lifetime = absl::Hours(12) + absl::Seconds(1);
  EXPECT_EQ(Reason(*MintAppOnlyToken(o, test::Credentials(pki_.app))),
            "token: lifetime exceeds the maximum of 12h");
}

TEST_F(VerifierTest, ConfiguredSkewAndLifetimeApply) {
  VerifierOptions o;
  o.hosts = {"lb.contoso.test", kHost};
  o.clock_skew = absl::ZeroDuration();
  o.max_lifetime = absl::Minutes(30);
  o.clock = [this] { return now_; };
  std::unique_ptr<TokenVerifier> strict = *TokenVerifier::Create(o);
  std::string token = *MintAppOnlyToken(test::AppOptions(now_), test::Credentials(pki_.app));
  EXPECT_EQ(strict->Verify(token, snapshot_).status().message(),
            "token: lifetime exceeds the maximum of 30m");
  MintOptions m = test::AppOptions(now_);
  m.lifetime = absl::Minutes(30);
  m.host = "lb.contoso.test";
  token = *MintAppOnlyToken(m, test::Credentials(pki_.app));
  EXPECT_TRUE(strict->Verify(token, snapshot_).ok());
  absl::Time minted = now_;
  now_ = minted + absl::Minutes(30) + absl::Seconds(1);
  EXPECT_EQ(strict->Verify(token, snapshot_).status().message(), "token: expired");
  now_ = minted;
}

TEST_F(VerifierTest, NullSnapshotIsAPrecondition) {
  std::string token = *MintAppOnlyToken(test::AppOptions(now_), test::Credentials(pki_.app));
  EXPECT_EQ(verifier_->Verify(token, nullptr).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(VerifierOptionsTest, CreateValidatesOptions) {
  auto error = [](VerifierOptions o) {
    return std::string(TokenVerifier::Create(std::move(o)).status().message());
  };
  VerifierOptions o;
  EXPECT_EQ(error(o), "hosts: at least one is required");
  o.hosts = {"fe1.contoso.test", "bad host"};
  EXPECT_EQ(error(o), "hosts[1]: malformed host");
  o.hosts = {"fe1.contoso.test"};
  o.principal = "a/b";
  EXPECT_THAT(error(o), StartsWith("principal:"));
  o.principal = kSharePointPrincipal;
  o.clock_skew = -absl::Seconds(1);
  EXPECT_THAT(error(o), StartsWith("clock_skew:"));
  o.clock_skew = absl::Minutes(5);
  o.max_lifetime = absl::ZeroDuration();
  EXPECT_THAT(error(o), StartsWith("max_lifetime:"));
  o.max_lifetime = absl::Hours(12);
  EXPECT_TRUE(TokenVerifier::Create(o).ok());
}

TEST_F(VerifierTest, CachedResultIsAHitUntilItsWindowCloses) {
  std::string token = *MintAppOnlyToken(test::AppOptions(now_), test::Credentials(pki_.app));
  EXPECT_EQ(Reason(token), "ok");
  EXPECT_EQ(verifier_->CachedResults(), 1u);
  EXPECT_EQ(Reason(token), "ok");
  EXPECT_EQ(verifier_->CachedResults(), 1u);
  absl::Time minted = now_;
  now_ = minted + absl::Hours(1) + absl::Minutes(5) + absl::Seconds(1);
  EXPECT_EQ(Reason(token), "token: expired");
  // The clock going backwards before nbf - skew must not be answered from
  // the cache either.
  now_ = minted;
  EXPECT_EQ(Reason(token), "ok");
  now_ = minted - absl::Minutes(6);
  EXPECT_EQ(Reason(token), "token: not yet valid");
  now_ = minted;
}

TEST_F(VerifierTest, NewerSnapshotWithoutIssuerRejectsCachedTokenAtOnce) {
  std::string token = *MintAppOnlyToken(test::AppOptions(now_), test::Credentials(pki_.app));
  ASSERT_EQ(Reason(token), "ok");
  ASSERT_EQ(Reason(token), "ok");  // now cached
  v1::TrustSnapshot next = test::BaseSnapshot(pki_, /*revision=*/2);
  next.mutable_issuers()->DeleteSubrange(0, 1);  // app-a
  auto without_issuer = test::MustCreateSnapshot(next);
  EXPECT_EQ(Reason(token, without_issuer),
            absl::StrCat("token: issuer ", kAppGuid, "@", kRealm, " is not registered"));
  // A reader still on the old revision keeps its answer.
  EXPECT_EQ(Reason(token, snapshot_), "ok");
}

TEST_F(VerifierTest, NewerSnapshotWithoutRootRejectsCachedTokenAtOnce) {
  MintOptions o = test::BrokerOptions(now_);
  std::string token = *MintAppOnlyToken(o, test::Credentials(pki_.broker));
  ASSERT_EQ(Reason(token), "ok");
  ASSERT_EQ(Reason(token), "ok");
  // Forced removal of the contoso root: the broker stays registered but its
  // certificate no longer chains to a TOKEN_SIGNING root.
  v1::TrustSnapshot next = test::BaseSnapshot(pki_, /*revision=*/2);
  next.mutable_roots()->DeleteSubrange(0, 1);
  EXPECT_THAT(Reason(token, test::MustCreateSnapshot(next)),
              StartsWith("token: signing certificate does not chain to a token-signing root: "));
}

TEST_F(VerifierTest, NewerSnapshotRevokingTheCertificateRejectsAtOnce) {
  std::string token = *MintAppOnlyToken(test::AppOptions(now_), test::Credentials(pki_.app));
  ASSERT_EQ(Reason(token), "ok");
  v1::TrustSnapshot next = test::BaseSnapshot(pki_, /*revision=*/2);
  next.add_revocations()->set_sha256_hex(pki_.app.certificate.Sha256Hex());
  EXPECT_EQ(Reason(token, test::MustCreateSnapshot(next)), "token: signing certificate is revoked");
}

// A KEY revocation refuses every certificate of the key, token-signing
// certificates included, whether self-signed (the add-in model) or chained.
TEST_F(VerifierTest, KeyRevocationOfTheSigningKeyRefusesItsTokens) {
  std::string app_token =
      *MintAppOnlyToken(test::AppOptions(now_), test::Credentials(pki_.app));
  std::string broker_token =
      *MintAppOnlyToken(test::BrokerOptions(now_), test::Credentials(pki_.broker));
  ASSERT_EQ(Reason(app_token), "ok");
  ASSERT_EQ(Reason(broker_token), "ok");
  for (const pki::IssuedCertificate* signer : {&pki_.app, &pki_.broker}) {
    v1::TrustSnapshot next = test::BaseSnapshot(pki_, /*revision=*/2);
    v1::Revocation* r = next.add_revocations();
    r->set_kind(v1::REVOCATION_KEY);
    r->set_spki_sha256_hex(signer->certificate.SpkiSha256Hex());
    next.add_required_features("revocation.key");
    auto revoked = test::MustCreateSnapshot(next);
    const std::string& token = signer == &pki_.app ? app_token : broker_token;
    absl::Status status = verifier_->Verify(token, revoked).status();
    EXPECT_EQ(status.message(), "token: signing certificate is revoked");
    EXPECT_EQ(RejectionLabel(status), "certificate_revoked");
    // The other signer's tokens are unaffected.
    const std::string& other = signer == &pki_.app ? broker_token : app_token;
    EXPECT_EQ(Reason(other, revoked), "ok");
  }
  // The key of the CA above the broker: its whole chain.
  v1::TrustSnapshot next = test::BaseSnapshot(pki_, /*revision=*/2);
  v1::Revocation* r = next.add_revocations();
  r->set_kind(v1::REVOCATION_KEY);
  r->set_spki_sha256_hex(pki_.domain.root().certificate.SpkiSha256Hex());
  next.add_required_features("revocation.key");
  absl::Status status = verifier_->Verify(broker_token, test::MustCreateSnapshot(next)).status();
  EXPECT_EQ(status.message(), "token: signing certificate chain includes a revoked certificate");
  EXPECT_EQ(RejectionLabel(status), "certificate_revoked");
}

// The broker's certificate re-encoded ((r, s) -> (r, n - s)) and registered
// as such: a revocation made from the original certificate's signed body
// still refuses it; one of the original DER encoding does not.
TEST_F(VerifierTest, ReencodedSigningCertificateRevokedByItsSignedBodyIsRefused) {
  absl::StatusOr<std::string> der = testing::ReencodeEcdsaSignature(pki_.broker.certificate.der());
  ASSERT_TRUE(der.ok()) << der.status();
  absl::StatusOr<pki::Certificate> twin = pki::Certificate::FromDer(*der);
  ASSERT_TRUE(twin.ok()) << twin.status();
  v1::TrustSnapshot base = test::BaseSnapshot(pki_, /*revision=*/2);
  for (v1::TokenIssuer& issuer : *base.mutable_issuers()) {
    if (issuer.name() == "broker") issuer.set_signing_certificates_pem(0, twin->ToPem());
  }
  std::string token = *MintAppOnlyToken(
      test::BrokerOptions(now_),
      test::OrDie(SigningCredentials::Create(pki_.broker.key, *twin), "credentials"));
  ASSERT_EQ(Reason(token, test::MustCreateSnapshot(base)), "ok");

  v1::TrustSnapshot der_only = base;
  der_only.set_revision(3);
  der_only.add_revocations()->set_sha256_hex(pki_.broker.certificate.Sha256Hex());
  EXPECT_EQ(Reason(token, test::MustCreateSnapshot(der_only)), "ok");  // the weakness

  v1::TrustSnapshot by_body = base;
  by_body.set_revision(3);
  v1::Revocation* r = by_body.add_revocations();
  r->set_kind(v1::REVOCATION_CERTIFICATE);
  r->set_tbs_sha256_hex(pki_.broker.certificate.TbsSha256Hex());
  r->set_sha256_hex(pki_.broker.certificate.Sha256Hex());
  by_body.add_required_features("revocation.certificate");
  absl::Status status = verifier_->Verify(token, test::MustCreateSnapshot(by_body)).status();
  EXPECT_EQ(status.message(), "token: signing certificate is revoked");
  EXPECT_EQ(RejectionLabel(status), "certificate_revoked");

  // Issuer + serial, the issuer named by its key.
  v1::TrustSnapshot by_serial = base;
  by_serial.set_revision(3);
  r = by_serial.add_revocations();
  r->set_kind(v1::REVOCATION_ISSUER_SERIAL);
  r->set_issuer_spki_sha256_hex(pki_.domain.root().certificate.SpkiSha256Hex());
  r->set_serial_hex(*pki::CanonicalSerialHex(pki_.broker.certificate.SerialHex()));
  by_serial.add_required_features("revocation.issuer_serial");
  status = verifier_->Verify(token, test::MustCreateSnapshot(by_serial)).status();
  EXPECT_EQ(status.message(), "token: signing certificate is revoked");
  EXPECT_EQ(RejectionLabel(status), "certificate_revoked");
}

TEST_F(VerifierTest, SameRevisionWithDifferentContentIsNotConfused) {
  std::string token = *MintAppOnlyToken(test::AppOptions(now_), test::Credentials(pki_.app));
  ASSERT_EQ(Reason(token), "ok");
  v1::TrustSnapshot same_revision = test::BaseSnapshot(pki_, /*revision=*/1);
  same_revision.mutable_issuers()->DeleteSubrange(0, 1);
  EXPECT_THAT(Reason(token, test::MustCreateSnapshot(same_revision)), HasSubstr("not registered"));
}

TEST_F(VerifierTest, CacheIsBounded) {
  std::unique_ptr<TokenVerifier> small = test::MakeVerifier(&now_, /*cache_capacity=*/64);
  SigningCredentials creds = test::Credentials(pki_.ed);
  for (int i = 0; i < 300; ++i) {
    MintOptions o = test::EdOptions(now_ - absl::Seconds(i));
    ASSERT_TRUE(small->Verify(*MintAppOnlyToken(o, creds), snapshot_).ok());
  }
  EXPECT_LE(small->CachedResults(), 64u);
  EXPECT_GT(small->CachedResults(), 0u);
  std::unique_ptr<TokenVerifier> none = test::MakeVerifier(&now_, /*cache_capacity=*/0);
  ASSERT_TRUE(none->Verify(*MintAppOnlyToken(test::EdOptions(now_), creds), snapshot_).ok());
  EXPECT_EQ(none->CachedResults(), 0u);
}

// A full cache evicts one result at a time: it stays full, and a token that
// keeps being presented stays cached however many other tokens, valid or
// junk, arrive in between.
TEST_F(VerifierTest, AFullCacheEvictsGraduallyAndKeepsATokenInUse) {
  std::unique_ptr<TokenVerifier> small = test::MakeVerifier(&now_, /*cache_capacity=*/64);
  SigningCredentials creds = test::Credentials(pki_.ed);
  const std::string hot = *MintAppOnlyToken(test::AppOptions(now_), test::Credentials(pki_.app));
  ASSERT_TRUE(small->Verify(hot, snapshot_).ok());
  for (int i = 0; i < 1000; ++i) {
    std::string other = *MintAppOnlyToken(test::EdOptions(now_ - absl::Seconds(i)), creds);
    ASSERT_TRUE(small->Verify(other, snapshot_).ok());
    std::string junk = other;
    junk.back() = junk.back() == 'A' ? 'B' : 'A';
    ASSERT_FALSE(small->Verify(junk, snapshot_).ok());
    const uint64_t misses = small->cache_misses();
    ASSERT_TRUE(small->Verify(hot, snapshot_).ok());
    ASSERT_EQ(small->cache_misses(), misses) << "evicted after " << i << " other tokens";
  }
  EXPECT_EQ(small->CachedResults(), 64u);
}

TEST_F(VerifierTest, RejectionsAreNotCached) {
  std::string token = *MintAppOnlyToken(test::AppOptions(now_), test::Credentials(pki_.app));
  token.back() = token.back() == 'A' ? 'B' : 'A';
  EXPECT_THAT(Reason(token), StartsWith("token: signature"));
  EXPECT_EQ(verifier_->CachedResults(), 0u);
}

TEST_F(VerifierTest, ConcurrentVerificationAgrees) {
  std::vector<std::string> tokens;
  tokens.push_back(*MintAppOnlyToken(test::AppOptions(now_), test::Credentials(pki_.app)));
  tokens.push_back(*MintAppOnlyToken(test::BrokerOptions(now_), test::Credentials(pki_.broker)));
  tokens.push_back(*MintAppOnlyToken(test::EdOptions(now_), test::Credentials(pki_.ed)));
  std::string bad = tokens[0];
  bad[bad.size() - 3] = bad[bad.size() - 3] == 'A' ? 'B' : 'A';
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!verifier_->Verify(tokens[i % 3], snapshot_).ok()) ++failures;
        if (verifier_->Verify(bad, snapshot_).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(VerifierTest, RejectionsCarryAValueFreeLabel) {
  std::string token = *MintAppOnlyToken(test::AppOptions(now_), test::Credentials(pki_.app));
  absl::Time minted = now_;
  now_ = minted + absl::Hours(2);
  EXPECT_EQ(RejectionLabel(verifier_->Verify(token, snapshot_).status()), "expired");
  UserClaims alice;
  alice.upn = "alice@contoso.test";
  MintOptions o = test::BrokerOptions(minted);
  std::string user = *MintUserToken(o, test::Credentials(pki_.broker), alice);
  absl::Status actor_expired = verifier_->Verify(user, snapshot_).status();
  EXPECT_EQ(actor_expired.message(), "token: actor token: expired");
  EXPECT_EQ(RejectionLabel(actor_expired), "actor_expired");
  now_ = minted;
  v1::TrustSnapshot next = test::BaseSnapshot(pki_, /*revision=*/2);
  next.mutable_issuers()->DeleteSubrange(0, 1);
  EXPECT_EQ(RejectionLabel(verifier_->Verify(token, test::MustCreateSnapshot(next)).status()),
            "issuer_not_registered");
  EXPECT_EQ(RejectionLabel(verifier_->Verify(token, snapshot_).status()), "ok");
  EXPECT_EQ(RejectionLabel(absl::InternalError("x")), "other");
}

TEST(CheckSigningKeyStrengthTest, RefusesWeakRsa) {
  pki::CertificateSpec spec;
  spec.common_name = "weak";
  spec.signing_only = true;
  spec.key = *pki::PrivateKey::GenerateRsa(1024);
  absl::StatusOr<pki::IssuedCertificate> weak = pki::Issue(spec, nullptr);
  ASSERT_TRUE(weak.ok()) << weak.status();
  absl::Status s = CheckSigningKeyStrength(weak->certificate);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(s.message()), StartsWith("token: signing key is too weak: "));
  EXPECT_TRUE(CheckSigningKeyStrength(test::SharedTokenPki().app.certificate).ok());
}

}  // namespace
}  // namespace trustfabric::token
