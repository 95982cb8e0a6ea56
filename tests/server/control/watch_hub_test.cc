// TrustDistribution.Watch and the admin API over real mutual-TLS gRPC
// streams: fan-out to several watchers, resume by delta or snapshot, NACKs,
// coalescing of a slow watcher, a 10,000-issuer snapshot in chunks,
// propagation waits, keepalives, protocol errors and authorization, node
// identities and peer certificate reports feeding the certificate index.
#include "server/control/watch_hub.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/pki/issue.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/control/sqlite_store.h"
#include "tests/server/control/control_test_env.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::control {
namespace {

using google::protobuf::util::MessageDifferencer;
using testing::Eventually;

constexpr char kAliceId[] = "spiffe://contoso.test/admin/alice";

// A partner root authority (a fresh CA each call, so names never clash).
v1::RootAuthority PartnerRoot(const std::string& name) {
  pki::CertificateSpec spec;
  spec.common_name = absl::StrCat(name, " ca");
  spec.is_ca = true;
  absl::StatusOr<pki::IssuedCertificate> ca = pki::Issue(spec, nullptr);
  EXPECT_TRUE(ca.ok()) << ca.status();
  v1::RootAuthority root;
  root.set_name(name);
  root.set_trust_domain("fabrikam.test");
  if (ca.ok()) root.set_certificates_pem(ca->certificate.ToPem());
  root.add_purposes(v1::MTLS);
  return root;
}

// What a watcher that joined at revision 1 received: the snapshot of
// revision 1, then one delta from 1 to `revision`.
void ExpectSnapshotThenDelta(const std::vector<TestWatcher::Received>& got, uint64_t revision) {
  ASSERT_THAT(got, SizeIs(2));
  EXPECT_TRUE(got[0].snapshot);
  EXPECT_EQ(got[0].revision, 1u);
  EXPECT_FALSE(got[1].snapshot);
  EXPECT_EQ(got[1].base_revision, 1u);
  EXPECT_EQ(got[1].revision, revision);
}

class WatchHubTest : public ::testing::Test {
 protected:
  explicit WatchHubTest(ServerOptions options = {}) : env_(std::move(options)) {}

  void SetUp() override {
    env_.Start();
    admin_ = env_.AdminStub();
  }

  // Adds a partner root through the admin API; returns the new revision.
  uint64_t AddRoot(const std::string& name, const v1::MutationOptions& options = {}) {
    v1::AddRootAuthorityRequest req;
    *req.mutable_root() = PartnerRoot(name);
    *req.mutable_options() = options;
    v1::MutationResponse resp;
    grpc::Status s = admin_->AddRootAuthority(Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return resp.revision();
  }

  v1::TrustSnapshot Snapshot() {
    v1::TrustSnapshot snap;
    grpc::Status s = admin_->GetSnapshot(Context().get(), {}, &snap);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return snap;
  }

  v1::GetPropagationStatusResponse Status() {
    v1::GetPropagationStatusResponse resp;
    grpc::Status s = admin_->GetPropagationStatus(Context().get(), {}, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // Polls propagation status until `done` holds (bounded); the last status.
  v1::GetPropagationStatusResponse AwaitStatus(
      const std::function<bool(const v1::GetPropagationStatusResponse&)>& done) {
    v1::GetPropagationStatusResponse status;
    EXPECT_TRUE(Eventually([&]() -> ::testing::AssertionResult {
      status = Status();
      if (done(status)) return ::testing::AssertionSuccess();
      return ::testing::AssertionFailure() << "propagation status " << status.ShortDebugString();
    }));
    return status;
  }

  // Whether `status` lists `spiffe_id` with applied revision `revision`.
  static bool Applied(const v1::GetPropagationStatusResponse& status, const std::string& spiffe_id,
                      uint64_t revision) {
    for (const v1::NodeStatus& n : status.nodes()) {
      if (n.spiffe_id() == spiffe_id) return n.applied_revision() == revision;
    }
    return false;
  }

  std::unique_ptr<TestWatcher> Watch(const std::string& role, const std::string& name,
                                     TestWatcher::Options options = {}) {
    return std::make_unique<TestWatcher>(env_.Channel(role, name), std::move(options));
  }

  ControlEnv env_;
  std::unique_ptr<v1::ControlPlane::Stub> admin_;
};

TEST_F(WatchHubTest, AMutationReachesEveryWatcherAndStatusShowsThem) {
  auto fe1 = Watch("frontend", "fe1");
  auto edge1 = Watch("edge", "edge1");
  auto reg1 = Watch("registrar", "reg1");
  for (TestWatcher* w : {fe1.get(), edge1.get(), reg1.get()}) ASSERT_TRUE(w->WaitApplied(1));
  // Three streams needed the full snapshot of revision 1: serialized once.
  EXPECT_EQ(env_.server().control_plane().updates().snapshot_serializations(), 1u);

  const uint64_t revision = AddRoot("partner-a");
  ASSERT_EQ(revision, 2u);
  const v1::TrustSnapshot expected = Snapshot();
  for (TestWatcher* w : {fe1.get(), edge1.get(), reg1.get()}) {
    ASSERT_TRUE(w->WaitApplied(2));
    ASSERT_NO_FATAL_FAILURE(ExpectSnapshotThenDelta(w->received(), 2));
    EXPECT_TRUE(MessageDifferencer::Equals(w->state(), expected));
  }

  v1::GetPropagationStatusResponse status = AwaitStatus([](const auto& st) {
    int applied = 0;
    for (const v1::NodeStatus& n : st.nodes()) applied += n.applied_revision() == 2 ? 1 : 0;
    return applied == 3;
  });
  EXPECT_EQ(status.revision(), 2u);
  ASSERT_EQ(status.nodes_size(), 3);
  EXPECT_EQ(status.nodes(0).spiffe_id(), "spiffe://contoso.test/edge/edge1");
  EXPECT_EQ(status.nodes(0).role(), "edge");
  EXPECT_EQ(status.nodes(0).dns_name(), "edge1.contoso.test");
  EXPECT_EQ(status.nodes(0).anchoring_root(), "contoso-root");
  EXPECT_EQ(status.nodes(0).chain_sha256_size(), 3);
  EXPECT_EQ(status.nodes(0).chain_sha256(2), Contoso().root().certificate.Sha256Hex());
  EXPECT_TRUE(status.nodes(0).has_identity_not_after());
  for (const v1::NodeStatus& n : status.nodes()) {
    EXPECT_TRUE(n.connected()) << n.spiffe_id();
    EXPECT_EQ(n.applied_revision(), 2u) << n.spiffe_id();
  }

  // The admin's identity is the audit actor.
  v1::GetAuditLogResponse audit;
  v1::GetAuditLogRequest since_seed;
  since_seed.set_since_revision(1);
  ASSERT_TRUE(admin_->GetAuditLog(Context().get(), since_seed, &audit).ok());
  ASSERT_EQ(audit.records_size(), 1);
  EXPECT_EQ(audit.records(0).actor(), kAliceId);
  EXPECT_EQ(audit.records(0).operation(), "root.add");

  // A node that goes away is kept, disconnected.
  EXPECT_TRUE(reg1->Close().ok());
  auto reg1_connected = [](const v1::GetPropagationStatusResponse& st) {
    for (const v1::NodeStatus& n : st.nodes()) {
      if (n.spiffe_id() == "spiffe://contoso.test/registrar/reg1") return n.connected();
    }
    return true;
  };
  status = AwaitStatus([&](const auto& st) { return !reg1_connected(st); });
  EXPECT_FALSE(reg1_connected(status));
  EXPECT_EQ(status.nodes_size(), 3);
}

class ShortHistoryTest : public WatchHubTest {
 protected:
  void SetUp() override {
    env_.config().set_history_revisions(2);
    WatchHubTest::SetUp();
  }
};

TEST_F(ShortHistoryTest, ANodeOfAnotherGenerationGetsTheSnapshotEvenWithinHistory) {
  for (int i = 0; i < 3; ++i) AddRoot(absl::StrCat("partner-", i));
  const v1::TrustSnapshot current = Snapshot();
  ASSERT_EQ(current.revision(), 4u);
  ASSERT_EQ(current.generation().epoch(), 1u);
  // Revision 3 is within the history, but of another store's generation
  // (or of none, a node from before generations): its deltas do not apply.
  v1::Generation other = current.generation();
  other.set_id(std::string(32, 'f'));
  for (const v1::Generation& generation : {other, v1::Generation()}) {
    SCOPED_TRACE(generation.ShortDebugString());
    TestWatcher::Options opts;
    opts.last_applied_revision = 3;
    *opts.initial.mutable_generation() = generation;
    auto w = Watch("frontend", absl::StrCat("fe-", generation.epoch()), opts);
    ASSERT_TRUE(w->WaitApplied(4));
    std::vector<TestWatcher::Received> got = w->received();
    ASSERT_THAT(got, SizeIs(1));
    EXPECT_TRUE(got[0].snapshot);
    EXPECT_TRUE(MessageDifferencer::Equals(w->state(), current));
  }
}

TEST_F(ShortHistoryTest, ResumeWithinHistoryGetsADeltaAndOlderGetsTheSnapshot) {
  std::vector<v1::TrustSnapshot> at = {v1::TrustSnapshot(), Snapshot()};  // at[r]: revision r
  for (int i = 0; i < 4; ++i) {
    AddRoot(absl::StrCat("partner-", i));
    at.push_back(Snapshot());
  }
  ASSERT_EQ(at.back().revision(), 5u);
  // History holds the deltas 3->4 and 4->5.
  struct Case {
    uint64_t from;
    bool snapshot;
  };
  for (const Case& c : {Case{4, false}, Case{3, false}, Case{2, true}, Case{0, true}}) {
    SCOPED_TRACE(c.from);
    TestWatcher::Options opts;
    opts.last_applied_revision = c.from;
    opts.initial = at[c.from];
    auto w = Watch("frontend", absl::StrCat("fe-from-", c.from), opts);
    ASSERT_TRUE(w->WaitApplied(5));
    std::vector<TestWatcher::Received> got = w->received();
    ASSERT_THAT(got, SizeIs(1));
    EXPECT_EQ(got[0].snapshot, c.snapshot);
    if (!c.snapshot) {
      EXPECT_EQ(got[0].base_revision, c.from);
    }
    EXPECT_TRUE(MessageDifferencer::Equals(w->state(), at[5]));
  }
  // A node that is current gets nothing but is counted as applied.
  TestWatcher::Options current;
  current.last_applied_revision = 5;
  current.initial = at[5];
  auto w = Watch("frontend", "fe-current", current);
  const char kCurrent[] = "spiffe://contoso.test/frontend/fe-current";
  EXPECT_TRUE(
      Applied(AwaitStatus([&](const auto& st) { return Applied(st, kCurrent, 5); }), kCurrent, 5));
  EXPECT_THAT(w->received(), SizeIs(0));
  AddRoot("partner-last");
  ASSERT_TRUE(w->WaitApplied(6));
  std::vector<TestWatcher::Received> got = w->received();
  ASSERT_THAT(got, SizeIs(1));
  EXPECT_EQ(got[0].base_revision, 5u);
}

TEST_F(WatchHubTest, ANackIsRecordedAndTheNodeGetsTheNextRevisionFromWhereItStayed) {
  TestWatcher::Options opts;
  opts.nack_revisions = {2};
  opts.nack_reason = "roots[1]: certificates_pem: not today";
  auto fe1 = Watch("frontend", "fe1", opts);
  ASSERT_TRUE(fe1->WaitApplied(1));
  AddRoot("partner-a");
  ASSERT_TRUE(fe1->WaitReceived(2));

  v1::GetPropagationStatusResponse status = AwaitStatus(
      [](const auto& st) { return st.nodes_size() == 1 && st.nodes(0).last_nack_revision() == 2; });
  ASSERT_EQ(status.nodes_size(), 1);
  const v1::NodeStatus& node = status.nodes(0);
  EXPECT_EQ(node.last_nack_revision(), 2u);
  EXPECT_EQ(node.last_nack_reason(), "roots[1]: certificates_pem: not today");
  EXPECT_EQ(node.applied_revision(), 1u);
  EXPECT_EQ(fe1->applied(), 1u);
  EXPECT_EQ(env_.server().nodes().nacks_total(), 1u);

  // Revision 2 is not resent; revision 3 comes as one delta from 1.
  AddRoot("partner-b");
  ASSERT_TRUE(fe1->WaitApplied(3));
  std::vector<TestWatcher::Received> got = fe1->received();
  ASSERT_THAT(got, SizeIs(3));
  EXPECT_EQ(got[2].base_revision, 1u);
  EXPECT_EQ(got[2].revision, 3u);
  EXPECT_TRUE(MessageDifferencer::Equals(fe1->state(), Snapshot()));
}

TEST_F(WatchHubTest, ASlowWatcherIsCoalescedAndDoesNotHoldUpTheOthers) {
  TestWatcher::Options slow_opts;
  slow_opts.auto_ack = false;
  auto slow = Watch("frontend", "slow", slow_opts);
  auto fe1 = Watch("frontend", "fe1");
  auto fe2 = Watch("frontend", "fe2");
  auto edge1 = Watch("edge", "edge1");
  ASSERT_TRUE(slow->WaitReceived(1));
  for (TestWatcher* w : {fe1.get(), fe2.get(), edge1.get()}) ASSERT_TRUE(w->WaitApplied(1));

  for (int i = 0; i < 5; ++i) AddRoot(absl::StrCat("partner-", i));
  const v1::TrustSnapshot latest = Snapshot();
  for (TestWatcher* w : {fe1.get(), fe2.get(), edge1.get()}) {
    ASSERT_TRUE(w->WaitApplied(6));
    // Between one and five deltas: a watcher busy with one update gets the
    // next ones merged.
    EXPECT_GE(w->received().size(), 2u);
    EXPECT_LE(w->received().size(), 6u);
    EXPECT_TRUE(MessageDifferencer::Equals(w->state(), latest));
  }
  // The slow watcher still has only its first update, unacknowledged.
  EXPECT_THAT(slow->received(), SizeIs(1));
  EXPECT_EQ(slow->applied(), 0u);

  ASSERT_TRUE(slow->AckPending());
  ASSERT_TRUE(slow->WaitReceived(2));
  ASSERT_TRUE(slow->AckPending());
  ASSERT_TRUE(slow->WaitApplied(6));
  ASSERT_NO_FATAL_FAILURE(ExpectSnapshotThenDelta(slow->received(), 6));
  EXPECT_TRUE(MessageDifferencer::Equals(slow->state(), Snapshot()));
}

TEST_F(WatchHubTest, PropagationWaitSucceedsAndTimesOutAgainstRealStreams) {
  TestWatcher::Options manual;
  manual.auto_ack = false;
  auto fe1 = Watch("frontend", "fe1");
  auto fe2 = Watch("frontend", "fe2");
  auto lazy = Watch("edge", "lazy", manual);
  ASSERT_TRUE(fe1->WaitApplied(1));
  ASSERT_TRUE(fe2->WaitApplied(1));
  ASSERT_TRUE(lazy->WaitReceived(1));
  ASSERT_TRUE(lazy->AckPending());
  AwaitStatus([](const auto& st) {
    int applied = 0;
    for (const v1::NodeStatus& n : st.nodes()) applied += n.applied_revision() == 1 ? 1 : 0;
    return applied == 3;
  });

  // min_nodes: two nodes apply at once.
  v1::MutationOptions two;
  two.mutable_wait()->set_min_nodes(2);
  two.mutable_wait()->mutable_timeout()->set_seconds(20);
  v1::AddRootAuthorityRequest req;
  *req.mutable_root() = PartnerRoot("partner-a");
  *req.mutable_options() = two;
  v1::MutationResponse resp;
  grpc::Status s = admin_->AddRootAuthority(Context().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.revision(), 2u);
  EXPECT_EQ(resp.connected_nodes(), 3u);
  EXPECT_GE(resp.applied_nodes(), 2u);

  // all_nodes: the lazy node never answers revision 3 in time.
  ASSERT_TRUE(lazy->WaitReceived(2));
  ASSERT_TRUE(lazy->AckPending());
  ASSERT_TRUE(lazy->WaitApplied(2));
  v1::MutationOptions all;
  all.mutable_wait()->set_all_nodes(true);
  all.mutable_wait()->mutable_timeout()->set_nanos(500000000);
  *req.mutable_root() = PartnerRoot("partner-b");
  *req.mutable_options() = all;
  s = admin_->AddRootAuthority(Context().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(s.error_message(), "revision 3 committed; 2 of 3 nodes applied it within 500ms");
  EXPECT_EQ(Snapshot().revision(), 3u);

  // "All nodes" are those connected at commit time: without the lazy one,
  // the wait succeeds.
  ASSERT_TRUE(lazy->Close().ok());
  ASSERT_TRUE(Eventually([&] { return env_.server().nodes().connected_count() == 2; }));
  *req.mutable_root() = PartnerRoot("partner-c");
  all.mutable_wait()->mutable_timeout()->set_seconds(20);
  *req.mutable_options() = all;
  s = admin_->AddRootAuthority(Context().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.revision(), 4u);
  EXPECT_EQ(resp.connected_nodes(), 2u);
  EXPECT_EQ(resp.applied_nodes(), 2u);
}

TEST_F(WatchHubTest, AForcedRevocationOfANodesCertificateCancelsItsStream) {
  auto fe1 = Watch("frontend", "fe1");
  auto fe2 = Watch("frontend", "fe2");
  ASSERT_TRUE(fe1->WaitApplied(1));
  ASSERT_TRUE(fe2->WaitApplied(1));
  v1::GetPropagationStatusResponse status = Status();
  std::string fe1_leaf;
  for (const v1::NodeStatus& n : status.nodes()) {
    if (n.spiffe_id() == "spiffe://contoso.test/frontend/fe1") fe1_leaf = n.chain_sha256(0);
  }
  ASSERT_FALSE(fe1_leaf.empty());

  v1::RevokeCertificateRequest req;
  req.set_sha256_hex(fe1_leaf);
  req.set_reason("key compromise");
  v1::MutationResponse resp;
  grpc::Status s = admin_->RevokeCertificate(Context().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("spiffe://contoso.test/frontend/fe1"));

  req.set_force(true);
  s = admin_->RevokeCertificate(Context().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // The transport ends the revoked node's open stream, telling it why
  // (docs/design.md §4); the other one carries on and gets the revision.
  ASSERT_TRUE(fe1->WaitEnded());
  const grpc::Status ended = fe1->Close();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED) << ended.error_message();
  EXPECT_THAT(ended.error_message(), HasSubstr("revoked: certificate"));
  ASSERT_TRUE(fe2->WaitApplied(resp.revision()));
  status = AwaitStatus([](const auto& st) {
    for (const v1::NodeStatus& n : st.nodes()) {
      if (n.spiffe_id() == "spiffe://contoso.test/frontend/fe1") return !n.connected();
    }
    return false;
  });
  EXPECT_EQ(env_.server().nodes().connected_count(), 1u);
}

TEST_F(WatchHubTest, NonAdminCallersOfTheAdminApiAreDenied) {
  auto node = v1::ControlPlane::NewStub(env_.Channel("frontend", "fe1"));
  v1::ListRootAuthoritiesResponse list;
  grpc::Status s = node->ListRootAuthorities(Context().get(), {}, &list);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("role frontend of contoso.test may not call"));
  v1::AddRootAuthorityRequest req;
  *req.mutable_root() = PartnerRoot("sneaky");
  v1::MutationResponse resp;
  s = node->AddRootAuthority(Context().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Snapshot().revision(), 1u);

  // And an administrator may not watch.
  auto admin_watch = Watch("admin", "bob");
  EXPECT_TRUE(admin_watch->WaitEnded());
  EXPECT_EQ(admin_watch->Close().error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(WatchHubTest, ProtocolErrorsEndTheStreamWithInvalidArgument) {
  {
    // An ACK before subscribing: a raw stream without TestWatcher's subscribe.
    auto stub = v1::TrustDistribution::NewStub(env_.Channel("frontend", "raw"));
    auto ctx = Context();
    auto stream = stub->Watch(ctx.get());
    v1::WatchRequest ack;
    ack.mutable_ack()->set_revision(1);
    ASSERT_TRUE(stream->Write(ack));
    v1::WatchResponse resp;
    while (stream->Read(&resp)) {
    }
    grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "watch: the first message must be subscribe");
  }
  TestWatcher::Options manual;
  manual.auto_ack = false;
  auto w = Watch("frontend", "fe1", manual);
  ASSERT_TRUE(w->WaitReceived(1));
  v1::WatchRequest wrong;
  wrong.mutable_ack()->set_revision(7);
  ASSERT_TRUE(w->Send(wrong));
  ASSERT_TRUE(w->WaitEnded());
  grpc::Status s = w->Close();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "watch: ack of revision 7 but revision 1 is in flight");
}

// A partner edge's certificate and its intermediate, as a node that
// accepted the edge reports them.
v1::WatchRequest PeerReport(const std::vector<std::string>& ders) {
  v1::WatchRequest report;
  for (const std::string& der : ders) report.mutable_peer_certificates()->add_certificates_der(der);
  return report;
}

const testing::TestDomain& Fabrikam() {
  static const testing::TestDomain* domain = new testing::TestDomain("fabrikam.test");
  return *domain;
}

TEST_F(WatchHubTest, AnIdentityChainIsIndexedWhenItsStreamStarts) {
  auto fe1 = Watch("frontend", "fe1");
  ASSERT_TRUE(fe1->WaitApplied(1));
  std::vector<std::string> chain;
  const v1::GetPropagationStatusResponse status = Status();
  for (const v1::NodeStatus& n : status.nodes()) {
    if (n.spiffe_id() == "spiffe://contoso.test/frontend/fe1") {
      chain.assign(n.chain_sha256().begin(), n.chain_sha256().end());
    }
  }
  ASSERT_THAT(chain, SizeIs(3));
  CertificateIndex& index = env_.server().control_plane().certificates();
  std::optional<CertificateFacts> leaf = index.Find(chain[0]);
  ASSERT_TRUE(leaf.has_value());
  EXPECT_EQ(leaf->source, CertificateSource::kNodeIdentity);
  EXPECT_EQ(leaf->issuer_spki_sha256_hex, Contoso().intermediate().certificate.SpkiSha256Hex());
  EXPECT_EQ(index.Find(chain[1])->tbs_sha256_hex,
            Contoso().intermediate().certificate.TbsSha256Hex());
  // The anchor is the seed root, known from the trust state.
  EXPECT_EQ(index.Find(chain[2])->source, CertificateSource::kRoot);
}

TEST_F(WatchHubTest, APeerCertificatesReportIsIndexedWithoutDisturbingAcks) {
  TestWatcher::Options manual;
  manual.auto_ack = false;
  auto edge = Watch("edge", "edge1", manual);
  // The report arrives while revision 1 awaits its ACK.
  ASSERT_TRUE(edge->WaitReceived(1));
  const pki::IssuedCertificate partner =
      Fabrikam().IssueNode("edge", "edge1", "edge1.fabrikam.test");
  ASSERT_TRUE(edge->Send(
      PeerReport({partner.certificate.der(), Fabrikam().intermediate().certificate.der()})));
  ASSERT_TRUE(edge->AckPending());
  CertificateIndex& index = env_.server().control_plane().certificates();
  ASSERT_TRUE(Eventually([&] { return index.Find(partner.certificate.Sha256Hex()).has_value(); }));
  std::optional<CertificateFacts> facts = index.Find(partner.certificate.Sha256Hex());
  EXPECT_EQ(facts->source, CertificateSource::kPeerReport);
  EXPECT_EQ(facts->reporter, "spiffe://contoso.test/edge/edge1");
  EXPECT_EQ(facts->tbs_sha256_hex, partner.certificate.TbsSha256Hex());
  EXPECT_EQ(facts->issuer_spki_sha256_hex, Fabrikam().intermediate().certificate.SpkiSha256Hex());

  // The next update and its ACK go through as before.
  const uint64_t revision = AddRoot("partner-a");
  ASSERT_TRUE(edge->WaitReceived(2));
  ASSERT_TRUE(edge->AckPending());
  AwaitStatus([&](const auto& st) {
    return Applied(st, "spiffe://contoso.test/edge/edge1", revision);
  });
  EXPECT_TRUE(Applied(Status(), "spiffe://contoso.test/edge/edge1", revision));

  // The partner's DER hash now resolves to its signed body.
  v1::RevokeCertificateRequest req;
  req.set_sha256_hex(partner.certificate.Sha256Hex());
  v1::MutationResponse resp;
  grpc::Status s = admin_->RevokeCertificate(Context().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::ListRevocationsResponse listed;
  ASSERT_TRUE(admin_->ListRevocations(Context().get(), {}, &listed).ok());
  ASSERT_THAT(listed.revocations(), SizeIs(1));
  EXPECT_EQ(listed.revocations(0).key(),
            absl::StrCat("certificate:", partner.certificate.TbsSha256Hex()));
  EXPECT_FALSE(listed.revocations(0).weak());
}

TEST_F(WatchHubTest, OversizedAndMalformedReportsAreBoundedAndTheStreamStays) {
  auto edge = Watch("edge", "edge1");
  ASSERT_TRUE(edge->WaitApplied(1));
  const pki::IssuedCertificate partner =
      Fabrikam().IssueNode("edge", "edge2", "edge2.fabrikam.test");
  std::vector<std::string> ders = {partner.certificate.der(), "", "\x30\x82\xff\xff",
                                   partner.certificate.der().substr(0, 200),
                                   std::string(70 * 1024, '\x30')};
  while (ders.size() < 300) ders.push_back("not a certificate");
  CertificateIndex& index = env_.server().control_plane().certificates();
  const CertificateIndex::Counters before = index.counters();
  ASSERT_TRUE(edge->Send(PeerReport(ders)));
  ASSERT_TRUE(Eventually([&] { return index.counters().reported_dropped > before.reported_dropped; }));
  const CertificateIndex::Counters after = index.counters();
  // 256 looked at: one certificate, 255 malformed; 44 dropped unread.
  EXPECT_EQ(after.reported_added - before.reported_added, 1u);
  EXPECT_EQ(after.reported_malformed - before.reported_malformed, 255u);
  EXPECT_EQ(after.reported_dropped - before.reported_dropped, 44u);
  EXPECT_TRUE(index.Find(partner.certificate.Sha256Hex()).has_value());
  // The stream carries on.
  const uint64_t revision = AddRoot("partner-b");
  EXPECT_TRUE(edge->WaitApplied(revision));
}

TEST_F(WatchHubTest, AReportBeforeSubscribingEndsTheStream) {
  auto stub = v1::TrustDistribution::NewStub(env_.Channel("edge", "raw"));
  auto ctx = Context();
  auto stream = stub->Watch(ctx.get());
  ASSERT_TRUE(stream->Write(PeerReport({Fabrikam().intermediate().certificate.der()})));
  v1::WatchResponse resp;
  while (stream->Read(&resp)) {
  }
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "watch: the first message must be subscribe");
  EXPECT_FALSE(env_.server().control_plane().certificates().Find(
      Fabrikam().intermediate().certificate.Sha256Hex()).has_value());
}

ServerOptions FastTimers() {
  ServerOptions options;
  options.keepalive_interval = absl::Milliseconds(100);
  options.subscribe_timeout = absl::Milliseconds(300);
  return options;
}

class KeepaliveTest : public WatchHubTest {
 protected:
  KeepaliveTest() : WatchHubTest(FastTimers()) {}
};

TEST_F(KeepaliveTest, AnIdleStreamGetsKeepalives) {
  auto w = Watch("frontend", "fe1");
  ASSERT_TRUE(w->WaitApplied(1));
  EXPECT_TRUE(w->WaitKeepalives(3, absl::Seconds(20)));
  // Keepalives do not disturb updates.
  AddRoot("partner-a");
  EXPECT_TRUE(w->WaitApplied(2));
}

TEST_F(KeepaliveTest, AStreamThatNeverSubscribesIsEnded) {
  auto stub = v1::TrustDistribution::NewStub(env_.Channel("frontend", "mute"));
  auto ctx = Context();
  auto stream = stub->Watch(ctx.get());
  v1::WatchResponse resp;
  int messages = 0;
  while (stream->Read(&resp)) ++messages;
  grpc::Status s = stream->Finish();
  EXPECT_EQ(messages, 0);  // no keepalives before a subscription either
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(s.error_message(), "watch: no subscribe within 300ms");
}

TEST_F(WatchHubTest, ShutdownEndsStreamsWithUnavailable) {
  auto w = Watch("frontend", "fe1");
  ASSERT_TRUE(w->WaitApplied(1));
  env_.Stop();
  ASSERT_TRUE(w->WaitEnded());
  EXPECT_EQ(w->Close().error_code(), grpc::StatusCode::UNAVAILABLE);
}

// The full state of a large domain: 1,000 roots (distinct CAs) and 10,000
// issuers, committed straight into the store before the server starts.
void PopulateLargeStore(const std::string& path) {
  std::vector<v1::TrustChange> changes;
  v1::TrustChange seed;
  v1::RootAuthority* contoso = seed.mutable_put_root();
  contoso->set_name("contoso-root");
  contoso->set_trust_domain(testing::kContosoDomain);
  contoso->set_certificates_pem(Contoso().RootPem());
  contoso->add_purposes(v1::MTLS);
  contoso->add_purposes(v1::TOKEN_SIGNING);
  changes.push_back(seed);
  for (int i = 0; i < 1000; ++i) {
    pki::CertificateSpec spec;
    spec.common_name = absl::StrCat("bulk root ", i);
    spec.is_ca = true;
    absl::StatusOr<pki::IssuedCertificate> ca = pki::Issue(spec, nullptr);
    ASSERT_TRUE(ca.ok()) << ca.status();
    v1::TrustChange c;
    v1::RootAuthority* root = c.mutable_put_root();
    root->set_name(absl::StrCat("bulk-root-", i));
    root->set_trust_domain(testing::kContosoDomain);
    root->set_certificates_pem(ca->certificate.ToPem());
    root->add_purposes(i % 2 == 0 ? v1::MTLS : v1::TOKEN_SIGNING);
    changes.push_back(c);
  }
  pki::CertificateSpec ca_spec;
  ca_spec.common_name = "bulk token ca";
  ca_spec.is_ca = true;
  absl::StatusOr<pki::IssuedCertificate> token_ca = pki::Issue(ca_spec, nullptr);
  ASSERT_TRUE(token_ca.ok()) << token_ca.status();
  std::vector<std::string> signing;
  for (int i = 0; i < 50; ++i) {
    pki::CertificateSpec spec;
    spec.common_name = absl::StrCat("bulk signing ", i);
    spec.signing_only = true;
    absl::StatusOr<pki::IssuedCertificate> cert = pki::Issue(spec, &*token_ca);
    ASSERT_TRUE(cert.ok()) << cert.status();
    signing.push_back(cert->certificate.ToPem());
  }
  for (int i = 0; i < 10000; ++i) {
    v1::TrustChange c;
    v1::TokenIssuer* issuer = c.mutable_put_issuer();
    issuer->set_name(absl::StrCat("app-", i));
    issuer->set_registered_issuer_name(
        absl::StrFormat("%08x-0000-4000-8000-%012x@%s", i, i, testing::kContosoRealm));
    issuer->add_signing_certificates_pem(signing[i % signing.size()]);
    issuer->add_algorithms(v1::ES256);
    changes.push_back(c);
  }
  SqliteStore::Options opts;
  opts.path = path;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(opts);
  ASSERT_TRUE(store.ok()) << store.status();
  Mutation m;
  m.trust_domain = testing::kContosoDomain;
  m.realm = testing::kContosoRealm;
  m.changes = std::move(changes);
  m.time = absl::Now();
  m.audit.emplace_back().set_operation("bulk.load");
  absl::StatusOr<uint64_t> revision = (*store)->Commit(m);
  ASSERT_TRUE(revision.ok()) << revision.status();
}

TEST(WatchHubLargeTest, TenThousandIssuersAndAThousandRootsGoThroughInChunks) {
  ControlEnv env;
  PopulateLargeStore(env.config().sqlite_path());
  if (::testing::Test::HasFatalFailure()) return;
  const absl::Time start = absl::Now();
  env.Start();
  if (::testing::Test::HasFatalFailure()) return;
  std::printf("loaded 11,001 objects and started in %s\n",
              absl::FormatDuration(absl::Now() - start).c_str());

  auto w1 = std::make_unique<TestWatcher>(env.Channel("edge", "edge1"), TestWatcher::Options{});
  auto w2 = std::make_unique<TestWatcher>(env.Channel("frontend", "fe1"), TestWatcher::Options{});
  ASSERT_TRUE(w1->WaitApplied(1, absl::Seconds(120)));
  ASSERT_TRUE(w2->WaitApplied(1, absl::Seconds(120)));
  std::vector<TestWatcher::Received> got = w1->received();
  ASSERT_THAT(got, SizeIs(1));
  EXPECT_TRUE(got[0].snapshot);
  EXPECT_GE(got[0].chunks, 8);
  EXPECT_LE(got[0].largest_message, kDefaultChunkBytes + 64);
  EXPECT_EQ(env.server().control_plane().updates().snapshot_serializations(), 1u);

  const v1::TrustSnapshot state = w1->state();
  EXPECT_EQ(state.issuers_size(), 10000);
  EXPECT_EQ(state.roots_size(), 1001);
  // Larger than gRPC's default 4 MiB message limit.
  EXPECT_GT(state.ByteSizeLong(), size_t{4} << 20);
  EXPECT_TRUE(MessageDifferencer::Equals(state, env.server().control_plane().GetSnapshot()));
  EXPECT_TRUE(MessageDifferencer::Equals(w2->state(), state));

  // A mutation on top of it travels as a small delta.
  auto admin = env.AdminStub();
  v1::AddRootAuthorityRequest req;
  *req.mutable_root() = PartnerRoot("partner-a");
  v1::MutationResponse resp;
  grpc::Status s = admin->AddRootAuthority(Context().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(w1->WaitApplied(2));
  got = w1->received();
  ASSERT_THAT(got, SizeIs(2));
  EXPECT_FALSE(got[1].snapshot);
  EXPECT_LT(got[1].largest_message, size_t{4096});
}

}  // namespace
}  // namespace trustfabric::control
