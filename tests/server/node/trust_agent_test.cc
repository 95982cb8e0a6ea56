// The trust agent against a scripted control plane over real mutual TLS:
// the stream (Subscribe, reconnection, failover, backoff, Stop), the peer
// certificates it reports, staleness (ServingStatus), and that the updates
// it receives reach its UpdateApplier and their ACKs/NACKs the control
// plane. Every rule of update handling is tested on the applier alone
// (update_applier_test.cc).
#include "server/node/trust_agent.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/node/last_known_good.h"
#include "tests/common/tls/tls_env.h"
#include "tests/server/node/scripted_watch_server.h"
#include "tests/testing/eventually.h"
#include "tests/testing/movable_clock.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::testing {
namespace {

// A port on 127.0.0.1 that refuses connections: bound, never listening, so
// no other test can take it meanwhile.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    address_ = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  }
  ~RefusingPort() { ::close(fd_); }
  const std::string& address() const { return address_; }

 private:
  int fd_;
  std::string address_;
};

// A node under test: its own holder, trust source (with the bootstrap
// bundle) and agent.
struct Node {
  trust::SnapshotHolder holder;
  std::shared_ptr<tls::TrustSource> source;
  std::unique_ptr<node::TrustAgent> agent;

  uint64_t held_revision() const {
    std::shared_ptr<const trust::TrustSnapshot> snapshot = holder.Get();
    return snapshot ? snapshot->revision() : 0;
  }
};

// The control plane's side is ContosoEdgeTest's: contoso's state (revision
// 1) in holder_ and source_, which the scripted control plane serves with.
class TrustAgentTest : public ContosoEdgeTest {
 protected:
  static void SetUpTestSuite() {
    ContosoEdgeTest::SetUpTestSuite();
    impostor_ = std::make_unique<TestDomain>("contoso.test");  // same name, another root
  }
  static void TearDownTestSuite() { impostor_.reset(); }

  void SetUp() override {
    ContosoEdgeTest::SetUp();
    cp_files_.emplace(WriteNode(*contoso_, dir_, "cp1",
                                contoso_->IssueNode("control", "cp1", "cp1.contoso.test")));
    node_files_.emplace(WriteNode(*contoso_, dir_, "fe1",
                                  contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test")));
    bootstrap_file_ = dir_.Write("bootstrap.pem", contoso_->RootPem());
    state_dir_ = absl::StrCat(dir_.path(), "/state");
  }

  static v1::TrustSnapshot State(uint64_t revision) {
    return ContosoState(*contoso_, *fabrikam_, revision);
  }

  v1::TrustAgentConfig Config(const std::vector<std::string>& addresses) const {
    v1::TrustAgentConfig config;
    for (const std::string& address : addresses) {
      v1::Endpoint* endpoint = config.add_control_planes();
      endpoint->set_address(address);
      endpoint->set_server_name("cp1.contoso.test");
    }
    config.set_bootstrap_bundle_file(bootstrap_file_);
    config.set_state_dir(state_dir_);
    config.set_backoff_initial_ms(20);
    config.set_backoff_max_ms(200);
    return config;
  }

  static node::TrustAgentOptions TestOptions() {
    node::TrustAgentOptions options;
    options.connect_timeout = absl::Seconds(5);
    options.idle_timeout = absl::Seconds(60);
    options.confirmation_persist_interval = absl::ZeroDuration();
    options.max_snapshot_bytes = 64 << 10;
    options.max_snapshot_chunks = 16;
    return options;
  }

  std::unique_ptr<Node> MakeNode(const v1::TrustAgentConfig& config,
                                 Clock clock = RealClock(),
                                 node::TrustAgentOptions options = TestOptions()) {
    auto node = std::make_unique<Node>();
    absl::StatusOr<std::shared_ptr<const pki::RootStore>> bootstrap =
        node::TrustAgent::LoadBootstrapRoots(config);
    EXPECT_TRUE(bootstrap.ok()) << bootstrap.status();
    node->source = std::make_shared<tls::TrustSource>(&node->holder, "contoso.test",
                                                      bootstrap.ok() ? *bootstrap : nullptr);
    absl::StatusOr<std::unique_ptr<node::TrustAgent>> agent =
        node::TrustAgent::Create(config, {node_files_->certificate_file, node_files_->key_file, 1},
                                 &node->holder, node->source, std::move(clock), std::move(options));
    EXPECT_TRUE(agent.ok()) << agent.status();
    if (agent.ok()) node->agent = *std::move(agent);
    return node;
  }

  std::unique_ptr<Node> StartNode(const v1::TrustAgentConfig& config,
                                  Clock clock = RealClock(),
                                  node::TrustAgentOptions options = TestOptions()) {
    std::unique_ptr<Node> node = MakeNode(config, std::move(clock), std::move(options));
    if (node->agent) {
      EXPECT_THAT(node->agent->Start(), IsOk());
    }
    return node;
  }

  std::unique_ptr<ScriptedWatchServer> StartControlPlane(const std::string& address = "127.0.0.1:0") {
    return std::make_unique<ScriptedWatchServer>(source_, *cp_files_, address);
  }

  static void ExpectAck(ScriptedWatchServer& cp, uint64_t revision) {
    std::optional<v1::WatchRequest> reply = cp.NextReply();
    ASSERT_TRUE(reply.has_value()) << "no reply within " << kWait;
    ASSERT_TRUE(reply->has_ack()) << reply->ShortDebugString();
    EXPECT_EQ(reply->ack().revision(), revision);
  }

  static void ExpectNack(ScriptedWatchServer& cp, uint64_t revision, const std::string& reason) {
    std::optional<v1::WatchRequest> reply = cp.NextReply();
    ASSERT_TRUE(reply.has_value()) << "no reply within " << kWait;
    ASSERT_TRUE(reply->has_nack()) << reply->ShortDebugString();
    EXPECT_EQ(reply->nack().revision(), revision);
    EXPECT_THAT(reply->nack().reason(), HasSubstr(reason));
  }

  // The first snapshot, at `revision`, in two chunks.
  static void Bootstrap(ScriptedWatchServer& cp, uint64_t revision = 2) {
    ASSERT_TRUE(cp.WaitForSubscribe(1).has_value());
    cp.SendSnapshot(State(revision), 2);
    ExpectAck(cp, revision);
  }

  uint64_t PersistedRevision() const {
    absl::StatusOr<node::LastKnownGood> lkg = node::LastKnownGoodFile(state_dir_).Load();
    return lkg.ok() ? lkg->snapshot.revision() : 0;
  }

  static inline std::unique_ptr<TestDomain> impostor_;

  std::optional<NodeFiles> cp_files_;
  std::optional<NodeFiles> node_files_;
  std::string bootstrap_file_;
  std::string state_dir_;
};

TEST_F(TrustAgentTest, FirstSnapshotInChunksIsAppliedPersistedAndAckedAfterBootstrap) {
  std::unique_ptr<ScriptedWatchServer> cp = StartControlPlane();
  std::unique_ptr<Node> node = StartNode(Config({cp->address()}));

  std::optional<v1::Subscribe> subscribe = cp->WaitForSubscribe(1);
  ASSERT_TRUE(subscribe.has_value());
  EXPECT_EQ(subscribe->last_applied_revision(), 0u);
  EXPECT_FALSE(subscribe->agent().empty());
  EXPECT_THAT(node->agent->ServingStatus(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "no trust state yet"));

  cp->SendSnapshot(State(2), 3);
  std::optional<v1::WatchRequest> reply = cp->NextReply();
  // Checked the moment the ACK arrives: by then the snapshot must be both
  // visible and durable.
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(node->held_revision(), 2u);
  EXPECT_EQ(PersistedRevision(), 2u);
  ASSERT_TRUE(reply->has_ack()) << reply->ShortDebugString();
  EXPECT_EQ(reply->ack().revision(), 2u);

  node::TrustAgentStatus status = node->agent->status();
  EXPECT_EQ(status.applied_revision, 2u);
  EXPECT_EQ(status.updates_applied, 1u);
  EXPECT_EQ(status.updates_nacked, 0u);
  EXPECT_TRUE(status.connected);
  EXPECT_EQ(status.endpoint, absl::StrCat("cp1.contoso.test at ", cp->address()));
  EXPECT_THAT(node->agent->ServingStatus(), IsOk());
}

TEST_F(TrustAgentTest, AcceptedPeerChainsAreReportedOnceEachOnTheWatchStream) {
  std::unique_ptr<ScriptedWatchServer> cp = StartControlPlane();
  std::unique_ptr<Node> node = MakeNode(Config({cp->address()}));
  ASSERT_NE(node->agent, nullptr);
  node::TrustAgent* agent = node->agent.get();
  node->source->set_accepted_chain_observer(
      [agent](const std::vector<pki::Certificate>& chain) { agent->ReportAcceptedChain(chain); });
  ASSERT_THAT(agent->Start(), IsOk());
  ASSERT_TRUE(cp->WaitForSubscribe(1).has_value());
  cp->SendSnapshot(State(2), 1);
  ExpectAck(*cp, 2);

  // The control plane's own chain, as the agent verified it (leaf,
  // intermediate, anchor), once although it was verified again after the
  // snapshot.
  std::vector<std::string> reported = cp->WaitForReported(3);
  ASSERT_EQ(reported.size(), 3u);
  EXPECT_EQ(reported[0], cp_files_->issued.certificate.der());
  EXPECT_EQ(reported[1], contoso_->intermediate().certificate.der());
  EXPECT_EQ(reported[2], contoso_->root().certificate.der());

  // Peers accepted elsewhere in the node: at most 256 per message, each
  // certificate once.
  std::vector<pki::Certificate> partners = {fabrikam_->intermediate().certificate};
  for (int i = 0; i < 300; ++i) {
    partners.push_back(
        fabrikam_->IssueNode("edge", absl::StrCat("e", i), "e.fabrikam.test").certificate);
  }
  agent->ReportAcceptedChain(partners);
  agent->ReportAcceptedChain({partners[0], partners[1]});
  reported = cp->WaitForReported(3 + partners.size());
  ASSERT_EQ(reported.size(), 3 + partners.size());
  for (size_t i = 0; i < partners.size(); ++i) EXPECT_EQ(reported[3 + i], partners[i].der());
  EXPECT_LE(cp->max_report_size(), 256u);
  EXPECT_GE(cp->reports(), 3);

  // ACKs go on as before.
  cp->Send(DeltaMessage(RevocationDelta(2, 3)));
  ExpectAck(*cp, 3);
  EXPECT_EQ(cp->WaitForReported(0).size(), 3 + partners.size());
  EXPECT_EQ(agent->status().peer_certificates_reported, 3 + partners.size());
}

// The applier's refusals reach the control plane and the agent's status
// (update_applier_test covers every refusal).
TEST_F(TrustAgentTest, RefusedUpdateIsNackedOnTheStreamAndReported) {
  std::unique_ptr<ScriptedWatchServer> cp = StartControlPlane();
  std::unique_ptr<Node> node = StartNode(Config({cp->address()}));
  Bootstrap(*cp, 2);

  cp->Send(DeltaMessage(RevocationDelta(5, 6)));
  ExpectNack(*cp, 6, "delta: base revision 5 is not the applied revision 2");
  EXPECT_EQ(node->held_revision(), 2u);
  EXPECT_EQ(PersistedRevision(), 2u);
  EXPECT_EQ(node->agent->updates_nacked(), 1u);
  node::TrustAgentStatus status = node->agent->status();
  EXPECT_EQ(status.last_nack_revision, 6u);
  EXPECT_THAT(status.last_nack_reason, HasSubstr("base revision 5"));
  EXPECT_THAT(node->agent->last_error(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "base revision 5"));

  // The stream is still usable.
  cp->Send(DeltaMessage(RevocationDelta(2, 3)));
  ExpectAck(*cp, 3);
  EXPECT_EQ(node->held_revision(), 3u);
  EXPECT_TRUE(node->holder.Get()->revocation_index().Contains(std::string(64, 'a')));
  EXPECT_EQ(PersistedRevision(), 3u);
  EXPECT_EQ(node->agent->updates_applied(), 2u);
}

TEST_F(TrustAgentTest, ReconnectsAfterControlPlaneRestartAndResumesFromAppliedRevision) {
  std::unique_ptr<ScriptedWatchServer> cp = StartControlPlane();
  const std::string address = cp->address();
  std::unique_ptr<Node> node = StartNode(Config({address}));
  Bootstrap(*cp, 2);
  ASSERT_TRUE(Eventually([&] { return node->agent->connected(); }, kWait));

  cp.reset();
  ASSERT_TRUE(Eventually([&] { return !node->agent->connected(); }, kWait));
  EXPECT_THAT(node->agent->last_error(),
              StatusIs(absl::StatusCode::kUnavailable, "cp1.contoso.test"));
  EXPECT_EQ(node->held_revision(), 2u);

  cp = StartControlPlane(address);
  std::optional<v1::Subscribe> subscribe = cp->WaitForSubscribe(1);
  ASSERT_TRUE(subscribe.has_value());
  EXPECT_EQ(subscribe->last_applied_revision(), 2u);
  cp->Send(DeltaMessage(RevocationDelta(2, 3)));
  ExpectAck(*cp, 3);
  EXPECT_EQ(node->held_revision(), 3u);
  EXPECT_TRUE(node->agent->connected());
}

TEST_F(TrustAgentTest, ReconnectsWhenTheControlPlaneEndsTheStream) {
  std::unique_ptr<ScriptedWatchServer> cp = StartControlPlane();
  std::unique_ptr<Node> node = StartNode(Config({cp->address()}));
  Bootstrap(*cp, 2);

  cp->EndStreams(grpc::Status(grpc::StatusCode::UNAVAILABLE, "leader changed"));
  std::optional<v1::Subscribe> again = cp->WaitForSubscribe(2);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->last_applied_revision(), 2u);
  EXPECT_THAT(node->agent->last_error(),
              StatusIs(absl::StatusCode::kUnavailable, "leader changed"));
  EXPECT_GE(node->agent->status().streams_opened, 2u);
}

TEST_F(TrustAgentTest, FailsOverToTheNextEndpointWhenTheFirstIsDown) {
  RefusingPort down;
  std::unique_ptr<ScriptedWatchServer> cp = StartControlPlane();
  std::unique_ptr<Node> node = StartNode(Config({down.address(), cp->address()}));

  Bootstrap(*cp, 2);
  EXPECT_EQ(node->held_revision(), 2u);
  EXPECT_EQ(node->agent->endpoint(), absl::StrCat("cp1.contoso.test at ", cp->address()));
  EXPECT_TRUE(node->agent->connected());
  // The first endpoint was tried, and why it failed was kept.
  EXPECT_THAT(node->agent->last_error(), StatusIs(absl::StatusCode::kUnavailable, down.address()));
}

TEST_F(TrustAgentTest, RestartWithoutControlPlaneServesFromLastKnownGood) {
  MovableClock clock(absl::FromUnixSeconds(1700000000));
  {
    std::unique_ptr<ScriptedWatchServer> cp = StartControlPlane();
    std::unique_ptr<Node> node = StartNode(Config({cp->address()}), clock.AsClock());
    Bootstrap(*cp, 5);
    node->agent->Stop();
  }
  clock.Advance(absl::Minutes(10));

  RefusingPort down;
  std::unique_ptr<Node> restarted = MakeNode(Config({down.address()}), clock.AsClock());
  // Before Start, before any control plane: the node already serves.
  EXPECT_EQ(restarted->held_revision(), 5u);
  EXPECT_EQ(restarted->agent->applied_revision(), 5u);
  node::TrustAgentStatus status = restarted->agent->status();
  EXPECT_EQ(status.last_known_good_revision, 5u);
  EXPECT_EQ(status.last_confirmed, absl::FromUnixSeconds(1700000000));
  EXPECT_THAT(status.last_error, IsOk());
  EXPECT_THAT(restarted->agent->ServingStatus(), IsOk());

  ASSERT_THAT(restarted->agent->Start(), IsOk());
  ASSERT_TRUE(Eventually([&] { return restarted->agent->status().streams_opened >= 2; }, kWait));
  EXPECT_EQ(restarted->held_revision(), 5u);
  EXPECT_FALSE(restarted->agent->connected());
}

// A refused last-known-good file leaves the node without state, says why,
// and is replaced by the first snapshot (update_applier_test covers every
// kind of corruption).
TEST_F(TrustAgentTest, CorruptLastKnownGoodIsRefusedAndReplacedByTheNextSnapshot) {
  ASSERT_EQ(::mkdir(state_dir_.c_str(), 0700), 0);
  const std::string path = dir_.Write("state/trust_snapshot.lkg", "not a snapshot at all", 0600);
  {
    std::unique_ptr<Node> node = MakeNode(Config({"127.0.0.1:1"}));
    ASSERT_NE(node->agent, nullptr);
    EXPECT_EQ(node->agent->last_known_good_path(), path);
    EXPECT_EQ(node->held_revision(), 0u);
    EXPECT_EQ(node->agent->applied_revision(), 0u);
    EXPECT_THAT(node->agent->last_error(),
                StatusIs(absl::StatusCode::kDataLoss, "not a trustfabric last-known-good file"));
    EXPECT_THAT(node->agent->last_error(), StatusIs(absl::StatusCode::kDataLoss, path));
    EXPECT_THAT(node->agent->ServingStatus(),
                StatusIs(absl::StatusCode::kFailedPrecondition, "no trust state yet"));
  }

  // The node still bootstraps from its control plane and rewrites the file.
  std::unique_ptr<ScriptedWatchServer> cp = StartControlPlane();
  std::unique_ptr<Node> node = StartNode(Config({cp->address()}));
  Bootstrap(*cp, 2);
  EXPECT_EQ(PersistedRevision(), 2u);
}

TEST_F(TrustAgentTest, FailClosedRefusesPastMaxStalenessUntilTheControlPlaneConfirms) {
  MovableClock clock(absl::FromUnixSeconds(1700000000));
  v1::TrustAgentConfig config;
  std::unique_ptr<ScriptedWatchServer> cp = StartControlPlane();
  config = Config({cp->address()});
  config.set_max_staleness_seconds(3600);
  config.set_staleness_policy(v1::FAIL_CLOSED);
  std::unique_ptr<Node> node = StartNode(config, clock.AsClock());
  Bootstrap(*cp, 2);
  EXPECT_EQ(node->agent->last_confirmed(), clock.Now());
  EXPECT_THAT(node->agent->ServingStatus(), IsOk());

  clock.Advance(absl::Seconds(3600));
  EXPECT_THAT(node->agent->ServingStatus(), IsOk());  // at the limit, not past it
  clock.Advance(absl::Hours(2));
  EXPECT_THAT(node->agent->ServingStatus(),
              StatusIs(absl::StatusCode::kUnavailable,
                       "trust state is stale: last confirmed by the control plane 3h ago "
                       "(policy fail_closed)"));

  // A keepalive confirms the state again, in memory and on disk.
  cp->Send(Keepalive());
  ASSERT_TRUE(Eventually([&] { return node->agent->last_confirmed() == clock.Now(); }, kWait));
  EXPECT_THAT(node->agent->ServingStatus(), IsOk());
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<node::LastKnownGood> lkg = node::LastKnownGoodFile(state_dir_).Load();
    return lkg.ok() && lkg->confirmed_at == clock.Now();
  }, kWait));
}

TEST_F(TrustAgentTest, FailStaticKeepsServingPastMaxStaleness) {
  MovableClock clock(absl::FromUnixSeconds(1700000000));
  std::unique_ptr<ScriptedWatchServer> cp = StartControlPlane();
  v1::TrustAgentConfig config = Config({cp->address()});
  config.set_max_staleness_seconds(3600);
  config.set_staleness_policy(v1::FAIL_STATIC);
  std::unique_ptr<Node> node = StartNode(config, clock.AsClock());
  Bootstrap(*cp, 2);

  clock.Advance(absl::Hours(30));
  EXPECT_THAT(node->agent->ServingStatus(), IsOk());
  EXPECT_EQ(node->agent->last_confirmed(), absl::FromUnixSeconds(1700000000));
}

TEST_F(TrustAgentTest, RestartedNodeKnowsHowOldItsLastKnownGoodIs) {
  ASSERT_EQ(::mkdir(state_dir_.c_str(), 0700), 0);
  const absl::Time confirmed = absl::FromUnixSeconds(1700000000);
  ASSERT_THAT(node::LastKnownGoodFile(state_dir_).Save(State(7), confirmed), IsOk());
  MovableClock clock(confirmed + absl::Hours(2) + absl::Minutes(5));

  v1::TrustAgentConfig config = Config({"127.0.0.1:1"});
  config.set_max_staleness_seconds(3600);
  config.set_staleness_policy(v1::FAIL_CLOSED);
  std::unique_ptr<Node> closed = MakeNode(config, clock.AsClock());
  EXPECT_EQ(closed->held_revision(), 7u);
  EXPECT_EQ(closed->agent->last_confirmed(), confirmed);
  EXPECT_THAT(closed->agent->ServingStatus(),
              StatusIs(absl::StatusCode::kUnavailable,
                       "trust state is stale: last confirmed by the control plane 2h5m ago "
                       "(policy fail_closed)"));

  config.set_staleness_policy(v1::STALENESS_POLICY_UNSPECIFIED);  // means fail_static
  std::unique_ptr<Node> unspecified = MakeNode(config, clock.AsClock());
  EXPECT_THAT(unspecified->agent->ServingStatus(), IsOk());

  config.set_staleness_policy(v1::FAIL_CLOSED);
  config.set_max_staleness_seconds(0);  // unlimited
  std::unique_ptr<Node> unlimited = MakeNode(config, clock.AsClock());
  EXPECT_THAT(unlimited->agent->ServingStatus(), IsOk());
}

TEST_F(TrustAgentTest, ControlPlaneNoLongerTrustedByTheNewStateIsDropped) {
  std::unique_ptr<ScriptedWatchServer> cp = StartControlPlane();
  v1::TrustAgentConfig config = Config({cp->address()});
  // A long pause after the stream ends keeps its reason as the last error.
  config.set_backoff_initial_ms(10000);
  config.set_backoff_max_ms(10000);
  std::unique_ptr<Node> node = StartNode(config);
  Bootstrap(*cp, 2);

  // Valid, but its local root is not the one that issued the control
  // plane's certificate.
  v1::TrustSnapshot rotated = State(3);
  rotated.mutable_roots(0)->set_certificates_pem(impostor_->RootPem());
  cp->SendSnapshot(rotated, 1);
  ASSERT_TRUE(Eventually(
      [&] { return node->held_revision() == 3 && !node->agent->connected(); }, kWait));
  EXPECT_THAT(node->agent->last_error(),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       absl::StrCat("control plane cp1.contoso.test at ", cp->address(),
                                    " is not trusted by revision 3: chain:")));
}

// Each state below would last an hour on its own (backoff, connect timeout),
// far beyond the binary's ctest timeout: Stop returning at all shows that it
// interrupts the state and joins the agent's thread. No clock is read.
TEST_F(TrustAgentTest, StopInterruptsEveryState) {
  constexpr uint32_t kHourMs = 60 * 60 * 1000;
  struct Case {
    std::string name;
    std::function<std::unique_ptr<Node>()> start;
  };
  std::unique_ptr<ScriptedWatchServer> cp = StartControlPlane();
  RefusingPort down;
  const std::vector<Case> cases = {
      {"streaming",
       [&] {
         std::unique_ptr<Node> node = StartNode(Config({cp->address()}));
         EXPECT_TRUE(Eventually([&] { return node->agent->connected(); }, kWait));
         return node;
       }},
      {"backing off",
       [&] {
         v1::TrustAgentConfig config = Config({down.address()});
         config.set_backoff_initial_ms(kHourMs);
         config.set_backoff_max_ms(kHourMs);
         std::unique_ptr<Node> node = StartNode(config);
         EXPECT_TRUE(Eventually([&] { return !node->agent->last_error().ok(); }, kWait));
         return node;
       }},
      {"connecting",
       [&] {
         // A non-routable address: the connection attempt hangs where the
         // network drops it, and fails at once where it is unreachable.
         node::TrustAgentOptions options = TestOptions();
         options.connect_timeout = absl::Milliseconds(kHourMs);
         std::unique_ptr<Node> node =
             StartNode(Config({"10.255.255.1:7443"}), RealClock(), options);
         EXPECT_TRUE(Eventually([&] { return node->agent->status().streams_opened >= 1; }, kWait));
         return node;
       }},
      {"never started", [&] { return MakeNode(Config({cp->address()})); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::unique_ptr<Node> node = c.start();
    ASSERT_NE(node->agent, nullptr);
    node->agent->Stop();
    EXPECT_FALSE(node->agent->connected());
    node->agent->Stop();  // idempotent
    EXPECT_THAT(node->agent->Start(), StatusIs(absl::StatusCode::kFailedPrecondition, "stopped"));
  }
}

TEST_F(TrustAgentTest, StartTwiceIsRefused) {
  std::unique_ptr<Node> node = StartNode(Config({"127.0.0.1:1"}));
  EXPECT_THAT(node->agent->Start(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "already started"));
}

TEST_F(TrustAgentTest, ConfigurationErrorsNameTheField) {
  auto create = [&](const v1::TrustAgentConfig& config) {
    Node node;
    node.source = std::make_shared<tls::TrustSource>(&node.holder, "contoso.test", nullptr);
    return node::TrustAgent::Create(config,
                                    {node_files_->certificate_file, node_files_->key_file, 1},
                                    &node.holder, node.source)
        .status();
  };
  v1::TrustAgentConfig config = Config({});
  EXPECT_THAT(create(config),
              StatusIs(absl::StatusCode::kInvalidArgument, "trust_agent.control_planes:"));
  config = Config({"not an address"});
  EXPECT_THAT(create(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                       "trust_agent.control_planes[0].address:"));
  config = Config({"127.0.0.1:7443"});
  config.mutable_control_planes(0)->set_server_name("");
  EXPECT_THAT(create(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                       "trust_agent.control_planes[0].server_name:"));
  config = Config({"127.0.0.1:7443"});
  config.clear_state_dir();
  EXPECT_THAT(create(config),
              StatusIs(absl::StatusCode::kInvalidArgument, "trust_agent.state_dir: required"));
  config = Config({"127.0.0.1:7443"});
  config.set_state_dir(bootstrap_file_);  // a file, not a directory
  EXPECT_THAT(create(config),
              StatusIs(absl::StatusCode::kInvalidArgument, "trust_agent.state_dir:"));
  config = Config({"127.0.0.1:7443"});
  config.set_backoff_initial_ms(500);
  config.set_backoff_max_ms(100);
  EXPECT_THAT(create(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                       "trust_agent.backoff_max_ms: 100 is less than "
                                       "backoff_initial_ms 500"));
  config = Config({"127.0.0.1:7443"});
  config.set_staleness_policy(static_cast<v1::StalenessPolicy>(7));
  EXPECT_THAT(create(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                       "trust_agent.staleness_policy: unknown value 7"));

  // The identity must be usable.
  Node node;
  node.source = std::make_shared<tls::TrustSource>(&node.holder, "contoso.test", nullptr);
  EXPECT_THAT(node::TrustAgent::Create(Config({"127.0.0.1:7443"}),
                                       {node_files_->certificate_file, cp_files_->key_file, 1},
                                       &node.holder, node.source)
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "identity"));
  // The source must be built on the holder.
  trust::SnapshotHolder other;
  EXPECT_THAT(node::TrustAgent::Create(Config({"127.0.0.1:7443"}),
                                       {node_files_->certificate_file, node_files_->key_file, 1},
                                       &other, node.source)
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "snapshot holder"));
}

TEST_F(TrustAgentTest, BootstrapBundleErrorsNameTheField) {
  v1::TrustAgentConfig config = Config({"127.0.0.1:7443"});
  EXPECT_THAT(node::TrustAgent::LoadBootstrapRoots(config), IsOk());

  config.clear_bootstrap_bundle_file();
  EXPECT_THAT(
      node::TrustAgent::LoadBootstrapRoots(config),
      StatusIs(absl::StatusCode::kInvalidArgument, "trust_agent.bootstrap_bundle_file: required"));
  config.set_bootstrap_bundle_file(absl::StrCat(dir_.path(), "/missing.pem"));
  EXPECT_THAT(node::TrustAgent::LoadBootstrapRoots(config),
              StatusIs(absl::StatusCode::kInvalidArgument, "trust_agent.bootstrap_bundle_file"));
  config.set_bootstrap_bundle_file(dir_.Write("garbage.pem", "not pem"));
  EXPECT_THAT(node::TrustAgent::LoadBootstrapRoots(config),
              StatusIs(absl::StatusCode::kInvalidArgument, "trust_agent.bootstrap_bundle_file"));
  // A leaf is not a root.
  config.set_bootstrap_bundle_file(dir_.Write("leaf.pem", node_files_->issued.certificate.ToPem()));
  EXPECT_THAT(node::TrustAgent::LoadBootstrapRoots(config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "trust_agent.bootstrap_bundle_file: certificate 1"));
}

TEST_F(TrustAgentTest, BootstrapBundleOfAnotherRootCannotReachTheControlPlane) {
  std::unique_ptr<ScriptedWatchServer> cp = StartControlPlane();
  v1::TrustAgentConfig config = Config({cp->address()});
  config.set_bootstrap_bundle_file(dir_.Write("impostor.pem", impostor_->RootPem()));
  std::unique_ptr<Node> node = StartNode(config);
  ASSERT_TRUE(Eventually([&] { return node->agent->status().streams_opened >= 2; }, kWait));
  EXPECT_EQ(cp->subscribes(), 0);
  EXPECT_FALSE(node->agent->connected());
  EXPECT_THAT(node->agent->last_error(), StatusIs(absl::StatusCode::kUnavailable, "cp1"));
}

}  // namespace
}  // namespace trustfabric::testing
