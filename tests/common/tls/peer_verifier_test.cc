// PeerVerifier without gRPC: bundle selection, bootstrap, cache behaviour.
#include "common/tls/peer_verifier.h"

#include <memory>
#include <optional>
#include <utility>
#include <vector>
#include <string>

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

}  // namespace
}  // namespace trustfabric::testing
