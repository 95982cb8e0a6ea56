// PeerVerifier without gRPC: bundle selection, bootstrap, cache behaviour.
#include "common/tls/peer_verifier.h"

#include <memory>
#include <optional>
#include <utility>
#include <vector>
#include <string>

#include "absl/strings/str_cat.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/tls/tls_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace trustfabric::testing {
namespace {

class PeerVerifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    contoso_ = new TestDomain("contoso.test");
    fabrikam_ = new TestDomain("fabrikam.test");
  }

  std::string Pem(const pki::IssuedCertificate& leaf) { return leaf.certificate.ToPem(); }
  std::string Intermediate(const TestDomain& d) { return d.intermediate().certificate.ToPem(); }

  // contoso's state (revision 1) installed, as a source of contoso.test.
  std::shared_ptr<tls::TrustSource> ContosoSource() {
    Install(&holder_, ContosoState(*contoso_, *fabrikam_, 1));
    return std::make_shared<tls::TrustSource>(&holder_, "contoso.test", nullptr);
  }

  static TestDomain* contoso_;
  static TestDomain* fabrikam_;
  trust::SnapshotHolder holder_;
};

TestDomain* PeerVerifierTest::contoso_ = nullptr;
TestDomain* PeerVerifierTest::fabrikam_ = nullptr;

TEST_F(PeerVerifierTest, BootstrapBundleAnchorsLocalPeersUntilFirstSnapshot) {
  auto bootstrap = pki::RootStore::Create({contoso_->root().certificate});
  ASSERT_TRUE(bootstrap.ok());
  auto source = std::make_shared<tls::TrustSource>(&holder_, "contoso.test", *bootstrap);
  tls::PeerVerifier verifier(tls::Listener::kInternal, source);
  auto cp = contoso_->IssueNode("control", "control1", "control1.contoso.test");

  auto peer = verifier.VerifyPeer(Pem(cp), Intermediate(*contoso_));
  ASSERT_THAT(peer, IsOk());
  EXPECT_EQ((*peer)->anchoring_root, "bootstrap");
  EXPECT_EQ((*peer)->spiffe_id.ToString(), "spiffe://contoso.test/control/control1");
  EXPECT_EQ((*peer)->chain_sha256.size(), 3u);

  // Without a snapshot, partners are never trusted.
  tls::PeerVerifier federation(tls::Listener::kFederation, source);
  auto edge = fabrikam_->IssueNode("edge", "edge1", "edge1.fabrikam.test");
  EXPECT_THAT(federation.VerifyPeer(Pem(edge), Intermediate(*fabrikam_)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "no_snapshot"));

  // Once a snapshot is applied it rules, not the bootstrap bundle.
  Install(&holder_, ContosoState(*contoso_, *fabrikam_, 1));
  peer = verifier.VerifyPeer(Pem(cp), Intermediate(*contoso_));
  ASSERT_THAT(peer, IsOk());
  EXPECT_EQ((*peer)->anchoring_root, "contoso.test-root");
}

TEST_F(PeerVerifierTest, NoSnapshotAndNoBootstrapRefuses) {
  auto source = std::make_shared<tls::TrustSource>(&holder_, "contoso.test", nullptr);
  tls::PeerVerifier verifier(tls::Listener::kInternal, source);
  auto fe = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  EXPECT_THAT(verifier.VerifyPeer(Pem(fe), Intermediate(*contoso_)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "no_snapshot: no trust snapshot yet and no bootstrap bundle"));
}

TEST_F(PeerVerifierTest, CacheServesRepeatsAndSurvivesUnrelatedChanges) {
  Install(&holder_, ContosoState(*contoso_, *fabrikam_, 1));
  auto source = std::make_shared<tls::TrustSource>(&holder_, "contoso.test", nullptr);
  tls::PeerVerifier verifier(tls::Listener::kInternal, source);
  auto fe = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  for (int i = 0; i < 5; ++i)
    ASSERT_THAT(verifier.VerifyPeer(Pem(fe), Intermediate(*contoso_)), IsOk());
  EXPECT_EQ(verifier.cache_misses(), 1u);
  EXPECT_EQ(verifier.cache_hits(), 4u);

  // A change that does not touch what contoso's peers are verified with
  // (here: the fabrikam federation peer) reuses the cached result.
  v1::TrustSnapshot state = ContosoState(*contoso_, *fabrikam_, 2);
  state.mutable_peers(0)->set_enabled(false);
  Install(&holder_, state);
  ASSERT_THAT(verifier.VerifyPeer(Pem(fe), Intermediate(*contoso_)), IsOk());
  EXPECT_EQ(verifier.cache_misses(), 1u);

  // A revocation is not part of what a cached chain is keyed by: the chain
  // is checked against the current revocations on every lookup, so the
  // revoked peer is refused from the cache and an unrelated cached chain
  // stays cached.
  auto fe2 = contoso_->IssueNode("frontend", "fe2", "fe2.contoso.test");
  ASSERT_THAT(verifier.VerifyPeer(Pem(fe2), Intermediate(*contoso_)), IsOk());
  EXPECT_EQ(verifier.cache_misses(), 2u);
  state.set_revision(3);
  state.add_revocations()->set_sha256_hex(fe.certificate.Sha256Hex());
  Install(&holder_, state);
  EXPECT_THAT(verifier.VerifyPeer(Pem(fe), Intermediate(*contoso_)),
              StatusIs(absl::StatusCode::kUnauthenticated, "revoked: certificate"));
  ASSERT_THAT(verifier.VerifyPeer(Pem(fe2), Intermediate(*contoso_)), IsOk());
  EXPECT_EQ(verifier.cache_misses(), 2u);
  // Unrevoked, it is accepted again, still from the cache.
  state.set_revision(4);
  state.clear_revocations();
  Install(&holder_, state);
  ASSERT_THAT(verifier.VerifyPeer(Pem(fe), Intermediate(*contoso_)), IsOk());
  EXPECT_EQ(verifier.cache_misses(), 2u);
}

// A trust source whose snapshot changes between the moment a verification
// reads it and the moment it reads the clock (a swap from another thread,
// made deterministic: the clock itself installs the next snapshot once).
class SwappingClock {
 public:
  explicit SwappingClock(trust::SnapshotHolder* holder) : holder_(holder) {}
  void SwapAtNextRead(v1::TrustSnapshot next) { pending_ = std::move(next); }
  absl::Time Now() {
    if (pending_.has_value()) {
      v1::TrustSnapshot next = *std::move(pending_);
      pending_.reset();
      Install(holder_, std::move(next));
    }
    return absl::Now();
  }

 private:
  trust::SnapshotHolder* holder_;
  std::optional<v1::TrustSnapshot> pending_;
};

// deny (rev 1) -> allow (rev 2, installed mid-verification) -> deny (rev 3,
// the same content as rev 1): a result computed from rev 2 but stored as
// rev 1's would be reused at rev 3 and let the peer in.
TEST_F(PeerVerifierTest, AResultIsNeverCachedUnderARevisionItWasNotComputedFrom) {
  auto fe = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  v1::TrustSnapshot allow = ContosoState(*contoso_, *fabrikam_, 2);
  struct Case {
    std::string name;
    v1::TrustSnapshot deny;
    std::string reason;
  };
  std::vector<Case> cases;
  {
    v1::TrustSnapshot no_root = ContosoState(*contoso_, *fabrikam_, 1);
    no_root.mutable_roots()->erase(no_root.mutable_roots()->begin());
    cases.push_back({"root removed", no_root, "chain: no mtls root authority for contoso.test"});
    v1::TrustSnapshot revoked = ContosoState(*contoso_, *fabrikam_, 1);
    revoked.add_revocations()->set_sha256_hex(fe.certificate.Sha256Hex());
    cases.push_back({"revoked", revoked, "revoked: certificate"});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    trust::SnapshotHolder holder;
    Install(&holder, c.deny);
    auto clock = std::make_shared<SwappingClock>(&holder);
    auto source = std::make_shared<tls::TrustSource>(&holder, "contoso.test", nullptr,
                                                     [clock] { return clock->Now(); });
    tls::PeerVerifier verifier(tls::Listener::kInternal, source);

    clock->SwapAtNextRead(allow);
    // Decided on the snapshot current when the verification began.
    EXPECT_THAT(verifier.VerifyPeer(Pem(fe), Intermediate(*contoso_)),
                StatusIs(absl::StatusCode::kUnauthenticated, c.reason));
    ASSERT_EQ(holder.Get()->revision(), 2u);

    v1::TrustSnapshot deny_again = c.deny;
    deny_again.set_revision(3);
    Install(&holder, deny_again);
    EXPECT_THAT(verifier.VerifyPeer(Pem(fe), Intermediate(*contoso_)),
                StatusIs(absl::StatusCode::kUnauthenticated, c.reason));
  }
}

TEST_F(PeerVerifierTest, ARevisionOfAnotherGenerationIsNotTheCachedOne) {
  // A restored store (docs/design.md §5) numbers its revisions again: the
  // node's revision 2 of epoch 1 and revision 2 of epoch 2 are different
  // states.
  auto fe = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  v1::TrustSnapshot allow = ContosoState(*contoso_, *fabrikam_, 2);
  allow.mutable_generation()->set_epoch(1);
  allow.mutable_generation()->set_id(std::string(32, 'a'));
  Install(&holder_, allow);
  auto source = std::make_shared<tls::TrustSource>(&holder_, "contoso.test", nullptr);
  tls::PeerVerifier verifier(tls::Listener::kInternal, source);
  ASSERT_THAT(verifier.VerifyPeer(Pem(fe), Intermediate(*contoso_)), IsOk());

  v1::TrustSnapshot restored = allow;
  restored.mutable_generation()->set_epoch(2);
  restored.mutable_generation()->set_id(std::string(32, 'b'));
  restored.mutable_roots()->erase(restored.mutable_roots()->begin());
  Install(&holder_, restored);
  ASSERT_EQ(holder_.Get()->revision(), 2u);
  EXPECT_THAT(verifier.VerifyPeer(Pem(fe), Intermediate(*contoso_)),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       "chain: no mtls root authority for contoso.test"));
}

TEST_F(PeerVerifierTest, InertPeerIsRefusedWithItsReason) {
  v1::TrustSnapshot state = ContosoState(*contoso_, *fabrikam_, 1);
  state.mutable_roots()->RemoveLast();  // fabrikam.test-root, as a forced removal leaves it
  Install(&holder_, state);
  auto source = std::make_shared<tls::TrustSource>(&holder_, "contoso.test", nullptr);
  tls::PeerVerifier verifier(tls::Listener::kFederation, source);
  auto edge = fabrikam_->IssueNode("edge", "edge1", "edge1.fabrikam.test");
  auto result = verifier.VerifyPeer(Pem(edge), Intermediate(*fabrikam_));
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnauthenticated, "federation_peer: "));
  EXPECT_THAT(std::string(result.status().message()), ::testing::HasSubstr("fabrikam.test-root"));
}

TEST_F(PeerVerifierTest, GarbageInputIsRefusedNotCrashed) {
  Install(&holder_, ContosoState(*contoso_, *fabrikam_, 1));
  auto source = std::make_shared<tls::TrustSource>(&holder_, "contoso.test", nullptr);
  tls::PeerVerifier verifier(tls::Listener::kInternal, source);
  EXPECT_THAT(verifier.VerifyPeer("", ""),
              StatusIs(absl::StatusCode::kUnauthenticated, "certificate:"));
  EXPECT_THAT(
      verifier.VerifyPeer("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", ""),
      StatusIs(absl::StatusCode::kUnauthenticated, "certificate:"));
  auto fe = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  EXPECT_THAT(verifier.VerifyPeer(Pem(fe), "not pem"),
              StatusIs(absl::StatusCode::kUnauthenticated, "certificate: chain:"));
}

// Acceptances and refusals are cached in separate areas: however many
// distinct junk chains arrive, a trusted peer's result stays cached (the
// refusals only displace each other, one at a time).
TEST_F(PeerVerifierTest, JunkChainsCannotEvictATrustedPeersResult) {
  tls::PeerVerifier verifier(tls::Listener::kInternal, ContosoSource(), {/*accepted=*/4, /*refused=*/16});
  auto fe = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  ASSERT_THAT(verifier.VerifyPeer(Pem(fe), Intermediate(*contoso_)), IsOk());
  ASSERT_EQ(verifier.cache_misses(), 1u);

  absl::StatusOr<pki::PrivateKey> key = pki::PrivateKey::Generate(pki::KeyType::kEcP256);
  ASSERT_THAT(key, IsOk());
  constexpr int kJunk = 2000;
  for (int i = 0; i < kJunk; ++i) {
    ASSERT_THAT(verifier.VerifyPeer(Pem(JunkClient(*key, i)), ""),
                StatusIs(absl::StatusCode::kUnauthenticated, "chain:"));
  }
  EXPECT_EQ(verifier.cache_misses(), 1u + kJunk);
  tls::PeerVerifier::CacheCounts counts = verifier.cache_counts();
  EXPECT_EQ(counts.refused, 16u);
  EXPECT_EQ(counts.refused_evictions, kJunk - 16u);
  EXPECT_EQ(counts.accepted, 1u);
  EXPECT_EQ(counts.accepted_evictions, 0u);

  const uint64_t hits = verifier.cache_hits();
  ASSERT_THAT(verifier.VerifyPeer(Pem(fe), Intermediate(*contoso_)), IsOk());
  EXPECT_EQ(verifier.cache_hits(), hits + 1);
  EXPECT_EQ(verifier.cache_misses(), 1u + kJunk);
}

// Trusted peers displace each other one at a time, the least recently seen
// first; a peer that keeps calling stays.
TEST_F(PeerVerifierTest, AcceptedResultsAreEvictedGradually) {
  tls::PeerVerifier verifier(tls::Listener::kInternal, ContosoSource(), {/*accepted=*/3, /*refused=*/1});
  auto busy = contoso_->IssueNode("frontend", "busy", "busy.contoso.test");
  ASSERT_THAT(verifier.VerifyPeer(Pem(busy), Intermediate(*contoso_)), IsOk());
  for (int i = 0; i < 10; ++i) {
    auto other = contoso_->IssueNode("frontend", absl::StrCat("fe", i),
                                     absl::StrCat("fe", i, ".contoso.test"));
    ASSERT_THAT(verifier.VerifyPeer(Pem(other), Intermediate(*contoso_)), IsOk());
    const uint64_t misses = verifier.cache_misses();
    ASSERT_THAT(verifier.VerifyPeer(Pem(busy), Intermediate(*contoso_)), IsOk());
    EXPECT_EQ(verifier.cache_misses(), misses) << "busy peer evicted after " << i;
    EXPECT_LE(verifier.cache_counts().accepted, 3u);
  }
  EXPECT_EQ(verifier.cache_counts().accepted, 3u);
  EXPECT_EQ(verifier.cache_counts().accepted_evictions, 8u);
}

// A chain lives in the area of its latest result: once revoked (and the
// refusal recomputed under a new anchor), it leaves the accepted area.
TEST_F(PeerVerifierTest, ARefusedChainLeavesTheAcceptedArea) {
  v1::TrustSnapshot state = ContosoState(*contoso_, *fabrikam_, 1);
  Install(&holder_, state);
  auto source = std::make_shared<tls::TrustSource>(&holder_, "contoso.test", nullptr);
  tls::PeerVerifier verifier(tls::Listener::kInternal, source);
  auto fe = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  ASSERT_THAT(verifier.VerifyPeer(Pem(fe), Intermediate(*contoso_)), IsOk());
  EXPECT_EQ(verifier.cache_counts().accepted, 1u);
  // Without an mtls root for contoso the anchor fingerprint changes: a
  // miss, refused.
  state.set_revision(2);
  state.mutable_roots(0)->set_purposes(0, v1::TOKEN_SIGNING);
  Install(&holder_, state);
  EXPECT_THAT(verifier.VerifyPeer(Pem(fe), Intermediate(*contoso_)),
              StatusIs(absl::StatusCode::kUnauthenticated, "chain:"));
  tls::PeerVerifier::CacheCounts counts = verifier.cache_counts();
  EXPECT_EQ(counts.accepted, 0u);
  EXPECT_EQ(counts.refused, 1u);
}

}  // namespace
}  // namespace trustfabric::testing
