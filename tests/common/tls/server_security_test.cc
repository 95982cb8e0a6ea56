// The transport matrix against real gRPC servers and clients: every case
// asserts what the caller sees (status code and reason) and, for refused
// handshakes, the one-line rejection the server logged.
#include "common/tls/server_security.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/tls/client_security.h"
#include "common/tls/rejections.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/tls/tls_env.h"
#include "tests/testing/eventually.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"
#include "trustfabric/v1/control.grpc.pb.h"
#include "trustfabric/v1/node.grpc.pb.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

namespace trustfabric::testing {
namespace {

class TransportTest : public ContosoEdgeTest {
 protected:
  static void SetUpTestSuite() {
    ContosoEdgeTest::SetUpTestSuite();
    impostor_ = new TestDomain("contoso.test");  // same name, unknown root
  }

  void SetUp() override {
    ContosoEdgeTest::SetUp();
    StartEdge();
  }

  // A contoso client presenting `leaf` (issued by `domain`).
  std::unique_ptr<ClientSide> ContosoClient(const TestDomain& domain,
                                            const pki::IssuedCertificate& leaf,
                                            const std::string& name) {
    return MakeClient("contoso.test", ContosoState(*contoso_, *fabrikam_, 1),
                      WriteNode(domain, dir_, name, leaf));
  }
  std::unique_ptr<ClientSide> FabrikamClient(const pki::IssuedCertificate& leaf,
                                             const std::string& name) {
    return MakeClient("fabrikam.test", FabrikamState(*fabrikam_, *contoso_, 1),
                      WriteNode(*fabrikam_, dir_, name, leaf));
  }

  // Replaces contoso's trust state with `state` at the next revision.
  void Publish(v1::TrustSnapshot state) {
    state.set_revision(holder_.Get()->revision() + 1);
    Install(&holder_, std::move(state));
  }

  // A relay over `channel` is accepted: the server names the caller
  // `accepted_by`, on its `disposition` ("internal", "federation") listener.
  static void ExpectRelayed(const std::shared_ptr<grpc::Channel>& channel,
                            const std::string& accepted_by, const std::string& disposition) {
    v1::RelayResponse resp;
    grpc::Status s = Relay(channel, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.accepted_by(), accepted_by);
    EXPECT_EQ(resp.disposition(), disposition);
  }

  // Opens `fe`'s connection to the internal listener (one call accepted)
  // and publishes contoso's state as `change` makes it; the next call on
  // the same channel, the same connection, fails UNAUTHENTICATED with a
  // message holding `message`.
  void ExpectOpenConnectionRefusedAfter(const ClientSide& fe,
                                        const std::function<void(v1::TrustSnapshot&)>& change,
                                        const std::string& message) {
    std::shared_ptr<grpc::Channel> channel = fe.channels->Get(Internal());
    ASSERT_TRUE(Relay(channel).ok());
    v1::TrustSnapshot state = ContosoState(*contoso_, *fabrikam_, 1);
    change(state);
    Publish(state);
    grpc::Status s = Relay(channel);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_THAT(s.error_message(), HasSubstr(message));
  }

  static TestDomain* impostor_;
};

TestDomain* TransportTest::impostor_ = nullptr;

// A refused handshake reaches the caller only as UNAVAILABLE; the reason is
// in the server's rejection log line.
void ExpectHandshakeRefused(const grpc::Status& status, const std::string& needle,
                            const std::string& rule, const std::string& reason) {
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  tls::Rejection r = FindRejection(needle);
  EXPECT_EQ(r.method, "handshake");
  EXPECT_EQ(r.rule, rule);
  EXPECT_THAT(r.reason, HasSubstr(reason));
}

TEST_F(TransportTest, TrustedPeerIsAcceptedAndIdentified) {
  auto fe =
      ContosoClient(*contoso_, contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test"), "fe1");
  ExpectRelayed(fe->channels->Get(Internal()), "spiffe://contoso.test/frontend/fe1", "internal");
}

TEST_F(TransportTest, UnknownRootIsRefused) {
  auto fe = ContosoClient(
      *impostor_, impostor_->IssueNode("frontend", "fe-impostor", "fe-impostor.contoso.test"),
      "impostor");
  ExpectHandshakeRefused(Relay(fe->channels->Get(Internal())), "fe-impostor.contoso.test", "chain",
                         "unable to get local issuer certificate");
}

TEST_F(TransportTest, ExpiredAndNotYetValidAreRefused) {
  LeafOptions expired;
  expired.not_before = absl::Now() - absl::Hours(48);
  expired.not_after = absl::Now() - absl::Hours(24);
  auto a = ContosoClient(
      *contoso_, contoso_->IssueNode("frontend", "old", "old.contoso.test", expired), "old");
  ExpectHandshakeRefused(Relay(a->channels->Get(Internal())), "old.contoso.test", "chain",
                         "certificate has expired");

  LeafOptions future;
  future.not_before = absl::Now() + absl::Hours(24);
  future.not_after = absl::Now() + absl::Hours(48);
  auto b = ContosoClient(*contoso_,
                         contoso_->IssueNode("frontend", "new", "new.contoso.test", future), "new");
  ExpectHandshakeRefused(Relay(b->channels->Get(Internal())), "new.contoso.test", "chain",
                         "certificate is not yet valid");
}

TEST_F(TransportTest, ServerNameMustMatchDialedName) {
  auto fe =
      ContosoClient(*contoso_, contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test"), "fe1");
  // The server is edge1.contoso.test; dialing it as registrar1 must fail on
  // the client, with the reason in the caller's status.
  grpc::Status s = Relay(fe->channels->Get(Internal("registrar1.contoso.test")));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  tls::Rejection r = FindRejection("registrar1.contoso.test");
  EXPECT_EQ(r.listener, "outbound");
  EXPECT_EQ(r.rule, "chain");
  EXPECT_THAT(r.reason, HasSubstr("dns name mismatch"));
}

TEST_F(TransportTest, NoClientCertificateIsRefused) {
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = contoso_->RootPem();
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("edge1.contoso.test");
  auto channel =
      grpc::CreateCustomChannel(server_->internal_address(), grpc::SslCredentials(opts), args);
  EXPECT_EQ(Relay(channel).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TransportTest, ClientCertificateNeedsExactlyOneSpiffeId) {
  LeafOptions none;
  none.no_uri = true;
  auto a = ContosoClient(
      *contoso_, contoso_->IssueNode("frontend", "nouri", "nouri.contoso.test", none), "nouri");
  ExpectHandshakeRefused(Relay(a->channels->Get(Internal())), "nouri.contoso.test", "identity",
                         "no spiffe:// uri san");

  LeafOptions two;
  two.extra_uri_names = {"spiffe://contoso.test/admin/root"};
  auto b = ContosoClient(
      *contoso_, contoso_->IssueNode("frontend", "twouri", "twouri.contoso.test", two), "twouri");
  ExpectHandshakeRefused(Relay(b->channels->Get(Internal())), "twouri.contoso.test", "identity",
                         "2 spiffe:// uri sans");
}

TEST_F(TransportTest, PartnerOnInternalListenerIsRefused) {
  auto edge =
      FabrikamClient(fabrikam_->IssueNode("edge", "edge1", "edge1.fabrikam.test"), "fedge1");
  ExpectHandshakeRefused(Relay(edge->channels->Get(Internal())), "edge1.fabrikam.test", "listener",
                         "partner domain fabrikam.test is not accepted on the internal listener");
}

TEST_F(TransportTest, PartnerOnFederationListenerIsAccepted) {
  auto edge =
      FabrikamClient(fabrikam_->IssueNode("edge", "edge1", "edge1.fabrikam.test"), "fedge1");
  ExpectRelayed(edge->channels->Get(Federation()), "spiffe://fabrikam.test/edge/edge1",
                "federation");
}

TEST_F(TransportTest, PartnerServerNotOnTrustedServerListIsRefused) {
  auto edge =
      FabrikamClient(fabrikam_->IssueNode("edge", "edge9", "edge9.fabrikam.test"), "fedge9");
  ExpectHandshakeRefused(Relay(edge->channels->Get(Federation())), "edge9.fabrikam.test",
                         "trusted_server_list", "not on the trusted server list of fabrikam.test");
  EXPECT_EQ(FindRejection("edge9.fabrikam.test").code, absl::StatusCode::kPermissionDenied);
}

TEST_F(TransportTest, DisabledPartnerIsRefused) {
  v1::TrustSnapshot state = ContosoState(*contoso_, *fabrikam_, 1);
  state.mutable_peers(0)->set_enabled(false);
  Publish(state);
  auto edge =
      FabrikamClient(fabrikam_->IssueNode("edge", "edge1", "edge1.fabrikam.test"), "fedge1");
  ExpectHandshakeRefused(Relay(edge->channels->Get(Federation())),
                         "federation peer fabrikam.test is disabled", "federation_peer",
                         "federation peer fabrikam.test is disabled");
}

TEST_F(TransportTest, LocalPeerOnFederationListenerIsRefused) {
  auto fe =
      ContosoClient(*contoso_, contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test"), "fe1");
  ExpectHandshakeRefused(Relay(fe->channels->Get(Federation())), "fe1.contoso.test", "listener",
                         "not accepted on the federation listener");
}

TEST_F(TransportTest, RevokedLeafFailsNextCallOnOpenConnection) {
  pki::IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe2", "fe2.contoso.test");
  auto fe = ContosoClient(*contoso_, leaf, "fe2");
  ExpectOpenConnectionRefusedAfter(
      *fe,
      [&leaf](v1::TrustSnapshot& state) {
        v1::Revocation* rev = state.add_revocations();
        rev->set_sha256_hex(leaf.certificate.Sha256Hex());
        rev->set_reason("key compromise");
      },
      "revoked: certificate " + leaf.certificate.Sha256Hex());
  EXPECT_EQ(fe->channels->channels_built(), 1u);
}

TEST_F(TransportTest, RevokedIntermediateFailsNextCall) {
  auto fe =
      ContosoClient(*contoso_, contoso_->IssueNode("frontend", "fe3", "fe3.contoso.test"), "fe3");
  ExpectOpenConnectionRefusedAfter(
      *fe,
      [](v1::TrustSnapshot& state) {
        state.add_revocations()->set_sha256_hex(contoso_->intermediate().certificate.Sha256Hex());
      },
      "revoked");
}

TEST_F(TransportTest, RemovedRootFailsNextCallOnOpenConnection) {
  auto fe =
      ContosoClient(*contoso_, contoso_->IssueNode("frontend", "fe4", "fe4.contoso.test"), "fe4");
  ExpectOpenConnectionRefusedAfter(
      *fe,
      [](v1::TrustSnapshot& state) {
        state.mutable_roots()->erase(state.mutable_roots()->begin());  // contoso.test-root
      },
      "chain: no mtls root authority for contoso.test");
}

TEST_F(TransportTest, RootAddedAtRuntimeAdmitsNewPeerWithoutRestart) {
  pki::IssuedCertificate leaf =
      impostor_->IssueNode("frontend", "fe-second-ca", "fe-second-ca.contoso.test");
  auto fe = ContosoClient(*impostor_, leaf, "second-ca");
  EXPECT_EQ(Relay(fe->channels->NewChannel(Internal())).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  v1::TrustSnapshot state = ContosoState(*contoso_, *fabrikam_, 1);
  *state.add_roots() = MtlsRoot("contoso-second-root", *impostor_);
  Publish(state);
  ExpectRelayed(fe->channels->NewChannel(Internal()), "spiffe://contoso.test/frontend/fe-second-ca",
                "internal");
}

TEST_F(TransportTest, WrongRoleIsPermissionDenied) {
  auto reg = ContosoClient(
      *contoso_, contoso_->IssueNode("registrar", "registrar1", "registrar1.contoso.test"),
      "registrar1");
  grpc::Status s = Relay(reg->channels->Get(Internal()));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "policy: role registrar of contoso.test may not call /trustfabric.v1.Edge/Relay "
            "(allowed: frontend)");
  tls::Rejection r = FindRejection("registrar1.contoso.test");
  EXPECT_EQ(r.method, "/trustfabric.v1.Edge/Relay");
  EXPECT_EQ(r.rule, "policy");
}

TEST_F(TransportTest, ServerStreamIsCancelledWhenPeerIsRevoked) {
  pki::IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe5", "fe5.contoso.test");
  auto fe = ContosoClient(*contoso_, leaf, "fe5");
  auto stub = v1::TrustDistribution::NewStub(fe->channels->Get(Internal()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub->Watch(&ctx);
  v1::WatchResponse first;
  ASSERT_TRUE(stream->Read(&first));

  v1::TrustSnapshot state = ContosoState(*contoso_, *fabrikam_, 1);
  state.add_revocations()->set_sha256_hex(leaf.certificate.Sha256Hex());
  Publish(state);

  v1::WatchResponse next;
  EXPECT_FALSE(stream->Read(&next));
  grpc::Status s = stream->Finish();
  // The client learns why: the refusal's code and reason. The stream ended
  // because of the revocation, not its 30 s deadline (docs/design.md §4;
  // how soon is bench/federation_bench's to measure).
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("revoked: certificate"));
  tls::Rejection r = FindRejection("fe5.contoso.test");
  EXPECT_EQ(r.rule, "revoked");
  EXPECT_THAT(r.method, HasSubstr("open stream cancelled"));
}

TEST_F(TransportTest, ClientRefusesServerOfUnknownRoot) {
  // A server whose certificate comes from an unknown CA.
  trust::SnapshotHolder holder;
  Install(&holder, ContosoState(*contoso_, *fabrikam_, 1));
  auto source = std::make_shared<tls::TrustSource>(&holder, "contoso.test", nullptr);
  TestServer rogue(source, WriteNode(*impostor_, dir_, "rogue",
                                     impostor_->IssueNode("edge", "edge1", "edge1.contoso.test")));
  auto fe =
      ContosoClient(*contoso_, contoso_->IssueNode("frontend", "fe6", "fe6.contoso.test"), "fe6");
  grpc::Status s =
      Relay(fe->channels->Get(
          {rogue.internal_address(), "edge1.contoso.test", "contoso.test", {pki::Role::kEdge}}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  tls::Rejection r = FindRejection(rogue.internal_address());
  EXPECT_EQ(r.listener, "outbound");
  EXPECT_EQ(r.rule, "chain");
  EXPECT_THAT(r.reason, HasSubstr("unable to get local issuer certificate"));
}

TEST_F(TransportTest, ChannelIsRebuiltWhenItsBundleChanges) {
  auto fe =
      ContosoClient(*contoso_, contoso_->IssueNode("frontend", "fe7", "fe7.contoso.test"), "fe7");
  std::shared_ptr<grpc::Channel> first = fe->channels->Get(Internal());
  EXPECT_EQ(fe->channels->Get(Internal()), first);  // shared while nothing changed
  v1::TrustSnapshot state = ContosoState(*contoso_, *fabrikam_, 2);
  *state.add_roots() = MtlsRoot("contoso-second-root", *impostor_);
  Install(&fe->holder, state);
  EXPECT_NE(fe->channels->Get(Internal()), first);
  // A change that does not touch contoso's bundle keeps the channel.
  std::shared_ptr<grpc::Channel> second = fe->channels->Get(Internal());
  state.set_revision(3);
  state.mutable_peers(0)->set_enabled(false);
  Install(&fe->holder, state);
  EXPECT_EQ(fe->channels->Get(Internal()), second);
}

TEST_F(TransportTest, ServerIdentityRotatesWithoutRestart) {
  // Identity files behind a symlinked directory, swapped atomically.
  namespace fs = std::filesystem;
  pki::IssuedCertificate v1_leaf = contoso_->IssueNode("edge", "edge1", "edge1.contoso.test");
  pki::IssuedCertificate v2_leaf = contoso_->IssueNode("edge", "edge1", "edge1.contoso.test");
  dir_.Write("rot/v1/node.crt", contoso_->ChainPem(v1_leaf));
  dir_.Write("rot/v1/node.key", v1_leaf.key.ToPem(), 0600);
  dir_.Write("rot/v2/node.crt", contoso_->ChainPem(v2_leaf));
  dir_.Write("rot/v2/node.key", v2_leaf.key.ToPem(), 0600);
  const fs::path current = fs::path(dir_.path()) / "rot/current";
  fs::create_directory_symlink("v1", current);
  NodeFiles files{v1_leaf, (current / "node.crt").string(), (current / "node.key").string()};
  TestServer rotating(source_, files);

  auto fe =
      ContosoClient(*contoso_, contoso_->IssueNode("frontend", "fe8", "fe8.contoso.test"), "fe8");
  tls::Target target{rotating.internal_address(), "edge1.contoso.test", "contoso.test",
                     {pki::Role::kEdge}};
  auto server_leaf_sha = [&](const std::shared_ptr<grpc::Channel>& channel) {
    auto stub = v1::Edge::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::RelayResponse resp;
    grpc::Status s = stub->Relay(&ctx, v1::RelayRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) return std::string();
    auto pem = ctx.auth_context()->FindPropertyValues("x509_pem_cert");
    if (pem.empty()) return std::string();
    auto cert = pki::Certificate::FromPem(std::string(pem[0].data(), pem[0].size()));
    return cert.ok() ? cert->Sha256Hex() : std::string();
  };
  std::shared_ptr<grpc::Channel> old_channel = fe->channels->NewChannel(target);
  EXPECT_EQ(server_leaf_sha(old_channel), v1_leaf.certificate.Sha256Hex());

  fs::create_directory_symlink("v2", fs::path(dir_.path()) / "rot/next");
  fs::rename(fs::path(dir_.path()) / "rot/next", current);

  // New handshakes pick up v2 after the next refresh (every 1 s).
  std::string seen;
  EXPECT_TRUE(testing::Eventually([&]() -> ::testing::AssertionResult {
    seen = server_leaf_sha(fe->channels->NewChannel(target));
    if (seen == v2_leaf.certificate.Sha256Hex()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "the server presents " << seen;
  }));
  // The connection made before the rotation keeps working.
  EXPECT_EQ(server_leaf_sha(old_channel), v1_leaf.certificate.Sha256Hex());
}

TEST_F(TransportTest, BadIdentityFilesFailAtStartup) {
  tls::ListenerOptions opts;
  opts.certificate_file = server_identity_->certificate_file;
  opts.key_file = dir_.Write("other.key", fabrikam_->root().key.ToPem(), 0600);
  auto s = tls::ListenerSecurity::Create(opts, source_);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("identity.key_file: does not match"));
  opts.certificate_file = dir_.path() + "/missing.crt";
  s = tls::ListenerSecurity::Create(opts, source_);
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("identity.certificate_file: cannot read"));
}

}  // namespace
}  // namespace trustfabric::testing
