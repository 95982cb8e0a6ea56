// EdgeRelay: the edge's relay rules without gRPC, against a contoso.test
// trust snapshot with fabrikam.test as federation peer (trust_fixture.h)
// and scripted calls to other nodes.
#include "server/node/edge_relay.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/node/message_rules.h"
#include "tests/common/trust/trust_fixture.h"
#include "tests/server/node/scripted_node_calls.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::node {
namespace {

using ::trustfabric::testing::IsOk;
using ::trustfabric::testing::NodePeer;
using ::trustfabric::testing::ScriptedNodeCalls;
using ::trustfabric::testing::StatusIs;
using Direction = EdgeRelay::Direction;

v1::Message Message(const std::string& from, const std::string& to) {
  v1::Message m;
  m.set_id(NewMessageId());
  m.set_from(from);
  m.set_to(to);
  m.set_body("hello");
  return m;
}

class EdgeRelayTest : public ::testing::Test {
 protected:
  EdgeRelayTest() {
    config_.set_trust_domain("contoso.test");
    config_.set_dns_name("edge1.contoso.test");
    config_.mutable_registrar()->set_address("127.0.0.11:7443");
    config_.mutable_registrar()->set_server_name("registrar1.contoso.test");
  }

  // Installs ValidSnapshot() as changed by `edit`, at the next revision.
  void Install(const std::function<void(v1::FederationPeer*)>& edit = nullptr) {
    v1::TrustSnapshot proto = trust::ValidSnapshot(++revision_);
    if (edit) edit(proto.mutable_peers(0));
    std::shared_ptr<const trust::TrustSnapshot> snapshot = trust::MustCreate(std::move(proto));
    ASSERT_NE(snapshot, nullptr);
    ASSERT_THAT(holder_.Swap(snapshot), IsOk());
  }

  static void AddSecondEndpoint(v1::FederationPeer* peer) {
    v1::Endpoint* ep = peer->add_endpoints();
    ep->set_address("127.0.0.14:7443");
    ep->set_server_name("edge2.fabrikam.test");
    peer->add_allowed_server_names("edge2.fabrikam.test");
  }

  absl::StatusOr<v1::RelayResponse> Out(const std::string& from, const std::string& to) {
    return relay_.Relay(Direction::kOutbound, fe1_, Message(from, to));
  }
  absl::StatusOr<v1::RelayResponse> In(const tls::PeerIdentity& caller, const std::string& from,
                                       const std::string& to) {
    return relay_.Relay(Direction::kInbound, caller, Message(from, to));
  }

  // Outbound over two endpoints that both answer `failure`.
  absl::Status OutWhenEveryEndpointAnswers(const absl::Status& failure) {
    Install(AddSecondEndpoint);
    calls_.ScriptRelay(failure);
    return Out("alice@contoso.test", "bob@fabrikam.test").status();
  }

  // Inbound: the registrar knows alice at fe2, which answers `delivered`.
  void ScriptDomain(absl::StatusOr<std::string> delivered) {
    calls_.ScriptRegistrar({"alice@contoso.test"}, "fe2.contoso.test", "127.0.0.22:7443");
    calls_.ScriptDeliver(std::move(delivered));
  }

  uint64_t revision_ = 0;
  const tls::PeerIdentity fe1_ = NodePeer("contoso.test", pki::Role::kFrontend, "fe1");
  const tls::PeerIdentity fabrikam_edge_ = NodePeer("fabrikam.test", pki::Role::kEdge, "edge1");
  v1::NodeConfig config_;
  trust::SnapshotHolder holder_;
  ScriptedNodeCalls calls_;
  EdgeRelay relay_{&config_, &holder_, &calls_};
};

// --- Outbound ---------------------------------------------------------------

TEST_F(EdgeRelayTest, OutboundGoesToThePartnersEdge) {
  Install();
  calls_.ScriptRelay("queued");
  v1::Message message = Message("alice@contoso.test", "bob@fabrikam.test");
  absl::StatusOr<v1::RelayResponse> r = relay_.Relay(Direction::kOutbound, fe1_, message);
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->disposition(), "queued");
  // The partner named no acceptor: the endpoint dialed stands in.
  EXPECT_EQ(r->accepted_by(), "edge1.fabrikam.test");
  ASSERT_THAT(calls_.methods(), ElementsAre("Relay"));
  EXPECT_EQ(calls_.log()[0].target, (NodeTarget{"127.0.0.13:7443", "edge1.fabrikam.test",
                                                "fabrikam.test", pki::Role::kEdge}));
  EXPECT_EQ(calls_.log()[0].message.SerializeAsString(), message.SerializeAsString());
}

TEST_F(EdgeRelayTest, OutboundKeepsThePartnersAcceptor) {
  Install();
  calls_.ScriptRelay("delivered", "edge7.fabrikam.test");
  absl::StatusOr<v1::RelayResponse> r = Out("alice@contoso.test", "bob@fabrikam.test");
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->accepted_by(), "edge7.fabrikam.test");
}

TEST_F(EdgeRelayTest, OnlyATransportFailureMovesOnToTheNextEndpoint) {
  Install(AddSecondEndpoint);
  // edge1 is down, edge2 takes the message.
  calls_.on_relay = [](const NodeTarget& edge,
                       const v1::RelayRequest&) -> absl::StatusOr<v1::RelayResponse> {
    if (edge.server_name == "edge1.fabrikam.test") return absl::UnavailableError("down");
    v1::RelayResponse accepted;
    accepted.set_disposition("queued");
    return accepted;
  };
  absl::StatusOr<v1::RelayResponse> r = Out("alice@contoso.test", "bob@fabrikam.test");
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->accepted_by(), "edge2.fabrikam.test");
  EXPECT_THAT(calls_.methods(), ElementsAre("Relay", "Relay"));
}

TEST_F(EdgeRelayTest, ARefusalByThePartnerIsFinal) {
  absl::Status s =
      OutWhenEveryEndpointAnswers(absl::PermissionDeniedError("message.from: \"a\"\nforged line"));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                          "relay to fabrikam.test via edge1.fabrikam.test: "));
  // The partner's words are escaped before they travel on.
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("\n")));
  EXPECT_THAT(std::string(s.message()), HasSubstr("forged line"));
  EXPECT_THAT(calls_.methods(), ElementsAre("Relay"));
}

TEST_F(EdgeRelayTest, WhenEveryEndpointIsDownTheLastFailureIsReturned) {
  EXPECT_THAT(OutWhenEveryEndpointAnswers(absl::DeadlineExceededError("deadline")),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       "relay to fabrikam.test via edge2.fabrikam.test: deadline"));
  EXPECT_THAT(calls_.methods(), ElementsAre("Relay", "Relay"));
}

TEST_F(EdgeRelayTest, OutboundRefusalsBeforeAnyCall) {
  // No snapshot yet.
  EXPECT_THAT(Out("alice@contoso.test", "bob@fabrikam.test").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "no trust snapshot yet"));
  Install();
  absl::Status s = Out("bob@fabrikam.test", "carol@fabrikam.test").status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_EQ(s.message(), "message.from: bob@fabrikam.test is not a user of contoso.test");
  s = Out("alice@contoso.test", "dave@contoso.test").status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_EQ(s.message(), "message.to: dave@contoso.test is local; deliver it without the edge");
  s = Out("alice@contoso.test", "carol@northwind.test").status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_EQ(s.message(), "no federation peer for northwind.test");
  // A malformed message is refused before any rule.
  v1::Message bad = Message("alice@contoso.test", "bob@fabrikam.test");
  bad.set_id("NOT AN ID");
  EXPECT_THAT(relay_.Relay(Direction::kOutbound, fe1_, bad).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "message.id:"));
  EXPECT_THAT(calls_.log(), IsEmpty());
}

TEST_F(EdgeRelayTest, APeerThatCannotBeUsedIsAFailedPrecondition) {
  Install([](v1::FederationPeer* peer) { peer->set_enabled(false); });
  EXPECT_THAT(
      Out("alice@contoso.test", "bob@fabrikam.test").status(),
      StatusIs(absl::StatusCode::kFailedPrecondition, "federation peer fabrikam.test is disabled"));
  Install([](v1::FederationPeer* peer) {
    peer->clear_root_authority_names();
    peer->add_root_authority_names("gone-root");
  });
  EXPECT_THAT(Out("alice@contoso.test", "bob@fabrikam.test").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "federation peer fabrikam.test is inert: root authority gone-root"));
  Install([](v1::FederationPeer* peer) { peer->clear_endpoints(); });
  EXPECT_THAT(Out("alice@contoso.test", "bob@fabrikam.test").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "federation peer fabrikam.test lists no endpoints"));
  EXPECT_THAT(calls_.log(), IsEmpty());
}

// --- Inbound ----------------------------------------------------------------

TEST_F(EdgeRelayTest, InboundGoesToTheRecipientsFrontEnd) {
  ScriptDomain("delivered");
  v1::Message message = Message("bob@fabrikam.test", "alice@contoso.test");
  absl::StatusOr<v1::RelayResponse> r = relay_.Relay(Direction::kInbound, fabrikam_edge_, message);
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->disposition(), "delivered");
  EXPECT_EQ(r->accepted_by(), "edge1.contoso.test");
  ASSERT_THAT(calls_.methods(), ElementsAre("Lookup", "Deliver"));
  const std::vector<ScriptedNodeCalls::Call> log = calls_.log();
  EXPECT_EQ(log[0].target, (NodeTarget{"127.0.0.11:7443", "registrar1.contoso.test", "contoso.test",
                                       pki::Role::kRegistrar}));
  EXPECT_EQ(log[0].user, "alice@contoso.test");
  EXPECT_EQ(log[1].target, (NodeTarget{"127.0.0.22:7443", "fe2.contoso.test", "contoso.test",
                                       pki::Role::kFrontend}));
  EXPECT_EQ(log[1].message.SerializeAsString(), message.SerializeAsString());
}

TEST_F(EdgeRelayTest, TheFederationListenerRelaysOnlyForPartners) {
  absl::Status s = In(NodePeer("contoso.test", pki::Role::kEdge, "edge2"), "bob@fabrikam.test",
                      "alice@contoso.test")
                       .status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_EQ(s.message(), "policy: the federation listener relays only for partner domains");
  EXPECT_THAT(calls_.log(), IsEmpty());
}

TEST_F(EdgeRelayTest, APartnerSpeaksOnlyForItsOwnUsers) {
  for (const std::string from : {"carol@northwind.test", "ceo@contoso.test"}) {
    absl::Status s = In(fabrikam_edge_, from, "alice@contoso.test").status();
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied, ""));
    EXPECT_EQ(s.message(),
              "message.from: " + from + " is not a user of the calling domain fabrikam.test");
  }
  absl::Status s = In(fabrikam_edge_, "bob@fabrikam.test", "carol@northwind.test").status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_EQ(s.message(), "message.to: carol@northwind.test is not a user of contoso.test");
  EXPECT_THAT(calls_.log(), IsEmpty());
}

TEST_F(EdgeRelayTest, APartnerLearnsOnlyTheClassOfAFailureInsideTheDomain) {
  struct Case {
    std::string to;
    absl::StatusOr<std::string> delivered;
    absl::StatusCode code;
    std::string message;
  } cases[] = {
      {"nobody@contoso.test", "queued", absl::StatusCode::kNotFound,
       "message.to: no such recipient nobody@contoso.test"},
      {"alice@contoso.test", absl::UnavailableError("connection refused (127.0.0.22:7443)"),
       absl::StatusCode::kUnavailable, "message.to: alice@contoso.test cannot be reached now"},
      {"alice@contoso.test", absl::ResourceExhaustedError("mailbox of alice is full"),
       absl::StatusCode::kResourceExhausted,
       "message.to: alice@contoso.test cannot take more messages now"},
  };
  for (const Case& c : cases) {
    ScriptDomain(c.delivered);
    absl::Status s = In(fabrikam_edge_, "bob@fabrikam.test", c.to).status();
    EXPECT_EQ(s.code(), c.code) << s;
    EXPECT_EQ(s.message(), c.message);
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr("fe2")));
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr("registrar")));
  }
}

}  // namespace
}  // namespace trustfabric::node
