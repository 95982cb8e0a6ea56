// A node's TrustDistribution.Watch stream ends at its certificate's
// notAfter (docs/design.md §4), on the control plane's own clock (injected
// through ServerOptions::clock), with no trust change to trigger it: the
// listener's checker wakes on its own, cancels the stream with
// UNAUTHENTICATED "chain: certificate has expired ...", and the control
// plane lists the node as disconnected. A node whose certificate is still
// valid keeps its stream and goes on receiving revisions.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/time/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/control/control_test_env.h"
#include "tests/testing/eventually.h"
#include "tests/testing/movable_clock.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::control {
namespace {

using ::trustfabric::testing::MovableClock;

constexpr char kShortLivedId[] = "spiffe://contoso.test/frontend/fe-short";
constexpr char kLongLivedId[] = "spiffe://contoso.test/frontend/fe-long";

ServerOptions WithClock(MovableClock* clock) {
  ServerOptions options;
  options.clock = [clock] { return clock->Now(); };
  return options;
}

class WatchExpiryTest : public ::testing::Test {
 protected:
  WatchExpiryTest() : env_(WithClock(&clock_)) {}

  void SetUp() override {
    env_.Start();
    admin_ = env_.AdminStub();
  }

  // Adds a partner root through the admin API; returns the new revision.
  uint64_t AddRoot(const std::string& name) {
    v1::AddRootAuthorityRequest req;
    req.mutable_root()->set_name(name);
    req.mutable_root()->set_trust_domain("fabrikam.test");
    req.mutable_root()->set_certificates_pem(
        testing::TestDomain(absl::StrCat(name, ".test")).RootPem());
    req.mutable_root()->add_purposes(v1::MTLS);
    v1::MutationResponse resp;
    grpc::Status s = admin_->AddRootAuthority(Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return resp.revision();
  }

  // The control plane's entry for `spiffe_id`; fails the test when absent.
  v1::NodeStatus NodeStatusOf(const std::string& spiffe_id) {
    v1::GetPropagationStatusResponse resp;
    grpc::Status s = admin_->GetPropagationStatus(Context().get(), {}, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const v1::NodeStatus& n : resp.nodes()) {
      if (n.spiffe_id() == spiffe_id) return n;
    }
    ADD_FAILURE() << spiffe_id << " is not listed";
    return v1::NodeStatus();
  }

  // Polls until the control plane lists `spiffe_id` as (dis)connected
  // (bounded); whether it did.
  ::testing::AssertionResult AwaitConnected(const std::string& spiffe_id, bool connected) {
    return testing::Eventually([&] { return NodeStatusOf(spiffe_id).connected() == connected; });
  }

  // Declared first: the control plane reads it until it is destroyed.
  MovableClock clock_;
  ControlEnv env_;
  std::unique_ptr<v1::ControlPlane::Stub> admin_;
};

TEST_F(WatchExpiryTest, NodeStreamEndsAtCertificateNotAfterAndNodeIsDisconnected) {
  // fe-short's leaf expires 5 minutes from now (whole seconds, as X.509
  // holds it); its intermediate and root much later.
  const absl::Time not_after =
      absl::FromUnixSeconds(absl::ToUnixSeconds(clock_.Now())) + absl::Minutes(5);
  testing::LeafOptions short_lived;
  short_lived.not_after = not_after;
  const pki::IssuedCertificate leaf =
      Contoso().IssueNode("frontend", "fe-short", "fe-short.contoso.test", short_lived);
  tls::ClientIdentity identity;
  identity.certificate_file = env_.dir().Write("fe-short/node.crt", Contoso().ChainPem(leaf));
  identity.key_file = env_.dir().Write("fe-short/node.key", leaf.key.ToPem(), 0600);

  TestWatcher fe_short(env_.Channel(identity), {});
  TestWatcher fe_long(env_.Channel("frontend", "fe-long"), {});
  ASSERT_TRUE(fe_short.WaitApplied(1));
  ASSERT_TRUE(fe_long.WaitApplied(1));
  ASSERT_TRUE(AwaitConnected(kShortLivedId, true));
  EXPECT_EQ(FromProtoTime(NodeStatusOf(kShortLivedId).identity_not_after()), not_after);

  // Before notAfter the stream is served: a revision reaches both nodes.
  clock_.Advance(absl::Minutes(4));
  const uint64_t before = AddRoot("partner-before");
  ASSERT_TRUE(fe_short.WaitApplied(before));
  ASSERT_TRUE(fe_long.WaitApplied(before));

  // Only time passes, past notAfter: no trust change, no explicit re-check.
  // The listener's checker wakes on its own (within its 2 s bound) and
  // ends the stream.
  clock_.Advance(absl::Minutes(2));
  ASSERT_TRUE(fe_short.WaitEnded(absl::Seconds(30)));
  grpc::Status ended = fe_short.Close();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED) << ended.error_message();
  EXPECT_THAT(ended.error_message(), HasSubstr("chain: certificate has expired"));
  EXPECT_THAT(ended.error_message(),
              HasSubstr(absl::StrCat("valid until ", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                                                      not_after,
                                                                      absl::UTCTimeZone()))));

  // The control plane lists the node, disconnected, still at the revision
  // it applied; the other node stays connected and gets the next revision.
  ASSERT_TRUE(AwaitConnected(kShortLivedId, false));
  EXPECT_EQ(NodeStatusOf(kShortLivedId).applied_revision(), before);
  const uint64_t after = AddRoot("partner-after");
  ASSERT_TRUE(fe_long.WaitApplied(after));
  EXPECT_TRUE(NodeStatusOf(kLongLivedId).connected());
  EXPECT_EQ(fe_short.applied(), before);
}

}  // namespace
}  // namespace trustfabric::control
