// TrustSource's accepted-chain observer: called with the verified chain
// (leaf, intermediate, anchor) when PeerVerifier or VerifyServer accepts a
// chain by verifying it, not on a cache hit and never for a refusal.
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/tls/peer_verifier.h"
#include "common/tls/trust_source.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/tls/tls_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::testing {
namespace {

// Records the DER hashes of every observed chain.
class Observed {
 public:
  void Attach(tls::TrustSource& source) {
    source.set_accepted_chain_observer([this](const std::vector<pki::Certificate>& chain) {
      std::vector<std::string> hashes;
      for (const pki::Certificate& c : chain) hashes.push_back(c.Sha256Hex());
      absl::MutexLock lock(&mu_);
      chains_.push_back(std::move(hashes));
    });
  }
  std::vector<std::vector<std::string>> chains() const {
    absl::MutexLock lock(&mu_);
    return chains_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::vector<std::string>> chains_ ABSL_GUARDED_BY(mu_);
};

class AcceptedChainObserverTest : public ContosoEdgeTest {
 protected:
  void SetUp() override {
    ContosoEdgeTest::SetUp();
    observed_.Attach(*source_);
  }

  Observed observed_;
};

TEST_F(AcceptedChainObserverTest, AnAcceptedPartnerChainIsObservedOnceNotOnCacheHits) {
  tls::PeerVerifier verifier(tls::Listener::kFederation, source_);
  const pki::IssuedCertificate edge = fabrikam_->IssueNode("edge", "edge1", "edge1.fabrikam.test");
  for (int i = 0; i < 3; ++i) {
    ASSERT_THAT(verifier.VerifyPeer(edge.certificate.ToPem(),
                                    fabrikam_->intermediate().certificate.ToPem()),
                IsOk());
  }
  EXPECT_THAT(observed_.chains(),
              ElementsAre(ElementsAre(edge.certificate.Sha256Hex(),
                                      fabrikam_->intermediate().certificate.Sha256Hex(),
                                      fabrikam_->root().certificate.Sha256Hex())));
}

TEST_F(AcceptedChainObserverTest, ARefusedChainIsNotObserved) {
  tls::PeerVerifier verifier(tls::Listener::kFederation, source_);
  // Off the trusted server list.
  const pki::IssuedCertificate edge = fabrikam_->IssueNode("edge", "edge9", "edge9.fabrikam.test");
  EXPECT_THAT(
      verifier.VerifyPeer(edge.certificate.ToPem(), fabrikam_->intermediate().certificate.ToPem()),
      StatusIs(absl::StatusCode::kPermissionDenied, "trusted_server_list"));
  // Of an unknown root.
  const TestDomain impostor("fabrikam.test");
  const pki::IssuedCertificate fake = impostor.IssueNode("edge", "edge1", "edge1.fabrikam.test");
  EXPECT_THAT(
      verifier.VerifyPeer(fake.certificate.ToPem(), impostor.intermediate().certificate.ToPem()),
      StatusIs(absl::StatusCode::kUnauthenticated, "chain"));
  EXPECT_THAT(observed_.chains(), IsEmpty());
}

TEST_F(AcceptedChainObserverTest, AServerChainAcceptedByAClientIsObserved) {
  const pki::IssuedCertificate edge = fabrikam_->IssueNode("edge", "edge1", "edge1.fabrikam.test");
  ASSERT_THAT(tls::VerifyServer(*source_, "fabrikam.test", "edge1.fabrikam.test", edge.certificate,
                                {fabrikam_->intermediate().certificate}),
              IsOk());
  EXPECT_THAT(tls::VerifyServer(*source_, "fabrikam.test", "edge2.fabrikam.test", edge.certificate,
                                {fabrikam_->intermediate().certificate}),
              StatusIs(absl::StatusCode::kUnauthenticated, "chain"));
  ASSERT_EQ(observed_.chains().size(), 1u);
  EXPECT_EQ(observed_.chains()[0].front(), edge.certificate.Sha256Hex());
}

}  // namespace
}  // namespace trustfabric::testing
