#include "client/lib/control_client.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/lib/scripted_control_plane.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::client {
namespace {

using trustfabric::testing::ScriptedControlPlane;

std::unique_ptr<ControlClient> MustCreate(ControlClientOptions options) {
  absl::StatusOr<std::unique_ptr<ControlClient>> client = ControlClient::Create(std::move(options));
  EXPECT_THAT(client, IsOk());
  return client.ok() ? *std::move(client) : nullptr;
}

class ControlClientTest : public ::testing::Test {
 protected:
  // The status of `call` on a new client made with `opts`, whose creation
  // is expected to succeed.
  template <typename Response>
  static absl::Status CallWith(const ControlClientOptions& opts,
                               absl::StatusOr<Response> (ControlClient::*call)()) {
    std::unique_ptr<ControlClient> client = MustCreate(opts);
    if (client == nullptr) return absl::InternalError("no client");
    return ((*client).*call)().status();
  }

  // A client of the admin whose calls time out after `timeout` (nullptr if
  // it cannot be made).
  std::unique_ptr<ControlClient> ClientWithTimeout(absl::Duration timeout) {
    ControlClientOptions opts = control_.AdminOptions();
    opts.timeout = timeout;
    return MustCreate(opts);
  }
  // Expects the last `method` call to have arrived with more than
  // `more_than` and at most `at_most` of its deadline left.
  void ExpectDeadlineLeft(const std::string& method, absl::Duration more_than,
                          absl::Duration at_most) {
    EXPECT_GT(control_.DeadlineLeft(method), more_than);
    EXPECT_LE(control_.DeadlineLeft(method), at_most);
  }

  ScriptedControlPlane control_;
};

TEST_F(ControlClientTest, MutationReachesTheControlPlaneAsTheAdmin) {
  v1::MutationResponse scripted;
  scripted.set_revision(7);
  control_.SetResponse("AddRootAuthority", scripted);
  auto client = MustCreate(control_.AdminOptions());
  ASSERT_NE(client, nullptr);

  v1::AddRootAuthorityRequest req;
  req.mutable_root()->set_name("fabrikam-root");
  req.mutable_root()->set_trust_domain("fabrikam.test");
  req.mutable_options()->set_expected_revision(6);
  absl::StatusOr<v1::MutationResponse> r = client->AddRootAuthority(req);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->revision(), 7u);

  v1::AddRootAuthorityRequest seen =
      control_.Request<v1::AddRootAuthorityRequest>("AddRootAuthority");
  EXPECT_EQ(seen.root().name(), "fabrikam-root");
  EXPECT_EQ(seen.options().expected_revision(), 6u);
  EXPECT_EQ(control_.last_caller(), "spiffe://contoso.test/admin/admin1");
}

TEST_F(ControlClientTest, EveryMethodCallsItsRpc) {
  auto client = MustCreate(control_.AdminOptions());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->AddRootAuthority({}), IsOk());
  EXPECT_THAT(client->RemoveRootAuthority({}), IsOk());
  EXPECT_THAT(client->ListRootAuthorities(), IsOk());
  EXPECT_THAT(client->AddTokenIssuer({}), IsOk());
  EXPECT_THAT(client->RemoveTokenIssuer({}), IsOk());
  EXPECT_THAT(client->ListTokenIssuers(), IsOk());
  EXPECT_THAT(client->PutFederationPeer({}), IsOk());
  EXPECT_THAT(client->RemoveFederationPeer({}), IsOk());
  EXPECT_THAT(client->ListFederationPeers(), IsOk());
  EXPECT_THAT(client->RevokeCertificate({}), IsOk());
  EXPECT_THAT(client->UnrevokeCertificate({}), IsOk());
  EXPECT_THAT(client->GetSnapshot(), IsOk());
  EXPECT_THAT(client->GetPropagationStatus(), IsOk());
  EXPECT_THAT(client->GetAuditLog({}), IsOk());
  EXPECT_THAT(
      control_.calls(),
      ElementsAre("AddRootAuthority", "RemoveRootAuthority", "ListRootAuthorities",
                  "AddTokenIssuer", "RemoveTokenIssuer", "ListTokenIssuers", "PutFederationPeer",
                  "RemoveFederationPeer", "ListFederationPeers", "RevokeCertificate",
                  "UnrevokeCertificate", "GetSnapshot", "GetPropagationStatus", "GetAuditLog"));
}

TEST_F(ControlClientTest, ResponsesComeBackWhole) {
  v1::ListFederationPeersResponse peers;
  peers.set_revision(4);
  v1::FederationPeer* p = peers.add_peers();
  p->set_trust_domain("fabrikam.test");
  p->add_allowed_server_names("edge1.fabrikam.test");
  control_.SetResponse("ListFederationPeers", peers);
  auto client = MustCreate(control_.AdminOptions());
  ASSERT_NE(client, nullptr);
  absl::StatusOr<v1::ListFederationPeersResponse> r = client->ListFederationPeers();
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->SerializeAsString(), peers.SerializeAsString());
}

TEST_F(ControlClientTest, StatusCodeAndMessageOfTheControlPlaneAreKept) {
  control_.SetFailure(absl::AbortedError("expected revision 3, current revision 5"));
  auto client = MustCreate(control_.AdminOptions());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->RemoveRootAuthority({}),
              StatusIs(absl::StatusCode::kAborted, "expected revision 3, current revision 5"));
  control_.SetFailure(absl::FailedPreconditionError("root contoso-root anchors issuer app1"));
  EXPECT_THAT(client->RemoveRootAuthority({}),
              StatusIs(absl::StatusCode::kFailedPrecondition, "anchors issuer app1"));
}

TEST_F(ControlClientTest, EveryCallCarriesTheDeadline) {
  auto client = ClientWithTimeout(absl::Seconds(3));
  ASSERT_NE(client, nullptr);
  ASSERT_THAT(client->ListTokenIssuers(), IsOk());
  ExpectDeadlineLeft("ListTokenIssuers", absl::Seconds(1), absl::Seconds(3));
}

TEST_F(ControlClientTest, PropagationWaitExtendsTheDeadline) {
  auto client = ClientWithTimeout(absl::Seconds(3));
  ASSERT_NE(client, nullptr);
  v1::RevokeCertificateRequest req;
  req.mutable_options()->mutable_wait()->set_all_nodes(true);
  req.mutable_options()->mutable_wait()->mutable_timeout()->set_seconds(60);
  ASSERT_THAT(client->RevokeCertificate(req), IsOk());
  ExpectDeadlineLeft("RevokeCertificate", absl::Seconds(60), absl::Seconds(63));
}

TEST_F(ControlClientTest, SlowControlPlaneHitsTheDeadline) {
  auto client = ClientWithTimeout(absl::Milliseconds(300));
  ASSERT_NE(client, nullptr);
  control_.SetDelay(absl::Seconds(2));
  EXPECT_THAT(client->GetSnapshot(), StatusIs(absl::StatusCode::kDeadlineExceeded,
                                              "control plane control1.contoso.test at " +
                                                  control_.address() + ": no answer within 300ms"));
}

// Connections the client or the control plane refuses: none reaches a
// handler, and the error says why.
TEST_F(ControlClientTest, RefusedConnectionsReachNoHandler) {
  enum class Rpc { kListRootAuthorities, kGetSnapshot };
  const tls::ClientIdentity frontend = control_.frontend();
  const tls::ClientIdentity impostor_admin = control_.impostor_admin();
  const std::string impostor_root = control_.impostor().RootPem();
  const struct {
    const char* name;
    std::function<void(ControlClientOptions&)> change;
    Rpc rpc;
    absl::StatusCode code;
    std::string message;
  } kCases[] = {
      {"control plane of another root is not trusted",
       [&](ControlClientOptions& o) { o.bootstrap_roots_pem = impostor_root; },
       Rpc::kListRootAuthorities, absl::StatusCode::kUnauthenticated,
       "control plane control1.contoso.test at " + control_.address() +
           " is not trusted: chain: unable to get local issuer certificate"},
      {"server name must be the control plane's",
       [](ControlClientOptions& o) { o.server_name = "control2.contoso.test"; }, Rpc::kGetSnapshot,
       absl::StatusCode::kUnauthenticated, "dns name mismatch"},
      // fabrikam's bootstrap root would have to verify a contoso server: the
      // server's SPIFFE ID is of the wrong domain even before the chain.
      {"control plane of another domain is not trusted",
       [](ControlClientOptions& o) { o.trust_domain = "fabrikam.test"; }, Rpc::kGetSnapshot,
       absl::StatusCode::kUnauthenticated, "not trusted"},
      {"a non-admin is refused by policy",
       [&](ControlClientOptions& o) {
         o.certificate_file = frontend.certificate_file;
         o.key_file = frontend.key_file;
       },
       Rpc::kListRootAuthorities, absl::StatusCode::kPermissionDenied, "policy"},
      {"an admin of another root is refused by the control plane",
       [&](ControlClientOptions& o) {
         o.certificate_file = impostor_admin.certificate_file;
         o.key_file = impostor_admin.key_file;
       },
       Rpc::kListRootAuthorities, absl::StatusCode::kUnavailable,
       "it may not trust our certificate"},
      // Port 1 on loopback: nothing listens there in a test environment.
      {"an unreachable control plane is unavailable",
       [](ControlClientOptions& o) { o.address = "127.0.0.1:1"; }, Rpc::kListRootAuthorities,
       absl::StatusCode::kUnavailable, "control plane control1.contoso.test at 127.0.0.1:1"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    ControlClientOptions opts = control_.AdminOptions();
    c.change(opts);
    const absl::Status status = c.rpc == Rpc::kGetSnapshot
                                    ? CallWith(opts, &ControlClient::GetSnapshot)
                                    : CallWith(opts, &ControlClient::ListRootAuthorities);
    EXPECT_THAT(status, StatusIs(c.code, c.message));
    EXPECT_THAT(control_.calls(), IsEmpty());
  }
}

TEST_F(ControlClientTest, AdoptedSnapshotReplacesTheBootstrapRoots) {
  auto client = MustCreate(control_.AdminOptions());
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->adopted_revision(), 0u);

  // A snapshot that trusts the control plane: calls keep working.
  v1::TrustSnapshot good = control_.state();
  good.set_revision(5);
  ASSERT_THAT(client->AdoptSnapshot(good), IsOk());
  EXPECT_EQ(client->adopted_revision(), 5u);
  EXPECT_THAT(client->GetSnapshot(), IsOk());

  // An older revision is refused; one of another domain too.
  v1::TrustSnapshot old = good;
  old.set_revision(4);
  EXPECT_THAT(client->AdoptSnapshot(old), StatusIs(absl::StatusCode::kFailedPrecondition, ""));
  v1::TrustSnapshot foreign = good;
  foreign.set_revision(9);
  foreign.set_trust_domain("fabrikam.test");
  EXPECT_THAT(client->AdoptSnapshot(foreign),
              StatusIs(absl::StatusCode::kFailedPrecondition, "trust domain fabrikam.test"));

  // The root was rotated away from the one the control plane's identity
  // chains to: from now on the control plane is refused.
  v1::TrustSnapshot rotated = good;
  rotated.set_revision(6);
  rotated.mutable_roots(0)->set_certificates_pem(control_.impostor().RootPem());
  ASSERT_THAT(client->AdoptSnapshot(rotated), IsOk());
  EXPECT_THAT(client->GetSnapshot(), StatusIs(absl::StatusCode::kUnauthenticated, "not trusted"));
}

TEST_F(ControlClientTest, MalformedSnapshotIsNotAdopted) {
  auto client = MustCreate(control_.AdminOptions());
  ASSERT_NE(client, nullptr);
  v1::TrustSnapshot bad = control_.state();
  bad.mutable_roots(0)->set_certificates_pem("not pem");
  EXPECT_THAT(client->AdoptSnapshot(bad), StatusIs(absl::StatusCode::kInvalidArgument, "snapshot"));
  EXPECT_EQ(client->adopted_revision(), 0u);
  EXPECT_THAT(client->GetSnapshot(), IsOk());
}

TEST_F(ControlClientTest, CreateNamesTheBadOption) {
  ControlClientOptions opts = control_.AdminOptions();
  opts.address.clear();
  EXPECT_THAT(ControlClient::Create(opts), StatusIs(absl::StatusCode::kInvalidArgument, "address"));

  opts = control_.AdminOptions();
  opts.bootstrap_roots_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  EXPECT_THAT(ControlClient::Create(opts),
              StatusIs(absl::StatusCode::kInvalidArgument, "bootstrap_roots"));

  opts = control_.AdminOptions();
  opts.key_file = control_.frontend().key_file;  // not the admin certificate's key
  EXPECT_THAT(ControlClient::Create(opts), StatusIs(absl::StatusCode::kInvalidArgument, "key"));

  opts = control_.AdminOptions();
  opts.certificate_file = control_.dir().path() + "/missing.crt";
  EXPECT_THAT(ControlClient::Create(opts),
              StatusIs(absl::StatusCode::kInvalidArgument, "certificate"));

  opts = control_.AdminOptions();
  opts.timeout = absl::ZeroDuration();
  EXPECT_THAT(ControlClient::Create(opts), StatusIs(absl::StatusCode::kInvalidArgument, "timeout"));
}

TEST(PropagationAllowanceTest, FollowsTheWait) {
  v1::MutationOptions o;
  EXPECT_EQ(PropagationAllowance(o), absl::ZeroDuration());
  o.mutable_wait();  // present but asks for nothing
  EXPECT_EQ(PropagationAllowance(o), absl::ZeroDuration());
  o.mutable_wait()->set_min_nodes(2);
  EXPECT_EQ(PropagationAllowance(o), absl::Seconds(10));
  o.mutable_wait()->mutable_timeout()->set_seconds(30);
  EXPECT_EQ(PropagationAllowance(o), absl::Seconds(30));
  o.mutable_wait()->mutable_timeout()->set_seconds(3600);
  EXPECT_EQ(PropagationAllowance(o), absl::Minutes(5));
}

}  // namespace
}  // namespace trustfabric::client
