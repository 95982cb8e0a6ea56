// Targets from the node configuration, and delivery to a recipient's
// front-end through scripted calls.
#include "server/node/node_calls.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/node/scripted_node_calls.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::node {
namespace {

using ::trustfabric::testing::IsOk;
using ::trustfabric::testing::ScriptedNodeCalls;
using ::trustfabric::testing::StatusIs;

v1::NodeConfig Config() {
  v1::NodeConfig config;
  config.set_trust_domain("contoso.test");
  config.mutable_registrar()->set_address("127.0.0.11:7443");
  config.mutable_registrar()->set_server_name("registrar1.contoso.test");
  config.mutable_edge()->set_address("127.0.0.13:7443");
  config.mutable_edge()->set_server_name("edge1.contoso.test");
  return config;
}

v1::Message ToAlice() {
  v1::Message m;
  m.set_id("m-1");
  m.set_from("bob@fabrikam.test");
  m.set_to("alice@contoso.test");
  m.set_body("hello");
  return m;
}

TEST(NodeTargetsTest, RegistrarAndEdgeComeFromTheConfiguration) {
  const v1::NodeConfig config = Config();
  absl::StatusOr<NodeTarget> registrar = RegistrarOf(config);
  ASSERT_THAT(registrar.status(), IsOk());
  EXPECT_EQ(*registrar, (NodeTarget{"127.0.0.11:7443", "registrar1.contoso.test", "contoso.test",
                                    pki::Role::kRegistrar}));
  absl::StatusOr<NodeTarget> edge = EdgeOf(config);
  ASSERT_THAT(edge.status(), IsOk());
  EXPECT_EQ(*edge, (NodeTarget{"127.0.0.13:7443", "edge1.contoso.test", "contoso.test",
                               pki::Role::kEdge}));

  v1::NodeConfig bare;
  bare.set_trust_domain("contoso.test");
  EXPECT_THAT(RegistrarOf(bare).status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                   "registrar: not configured for this node"));
  EXPECT_THAT(EdgeOf(bare).status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                              "edge: not configured for this node"));
}

TEST(DeliverToFrontEndTest, LooksTheRecipientUpAndDeliversToItsFrontEnd) {
  ScriptedNodeCalls calls;
  calls.ScriptRegistrar({"alice@contoso.test"}, "fe2.contoso.test", "127.0.0.22:7443");
  calls.ScriptDeliver("delivered");
  absl::StatusOr<std::string> disposition = DeliverToFrontEnd(Config(), calls, ToAlice());
  ASSERT_THAT(disposition.status(), IsOk());
  EXPECT_EQ(*disposition, "delivered");
  EXPECT_THAT(calls.methods(), ElementsAre("Lookup", "Deliver"));
  const ScriptedNodeCalls::Call deliver = calls.log()[1];
  EXPECT_EQ(deliver.target, (NodeTarget{"127.0.0.22:7443", "fe2.contoso.test", "contoso.test",
                                        pki::Role::kFrontend}));
  EXPECT_EQ(deliver.message.id(), "m-1");
}

TEST(DeliverToFrontEndTest, AFailureNamesTheHopForTheLog) {
  ScriptedNodeCalls calls;
  calls.ScriptRegistrar({}, "", "");
  absl::Status s = DeliverToFrontEnd(Config(), calls, ToAlice()).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_EQ(s.message(), "registrar: user alice@contoso.test is not registered");

  calls.ScriptRegistrar({"alice@contoso.test"}, "fe2.contoso.test", "127.0.0.22:7443");
  calls.ScriptDeliver(absl::ResourceExhaustedError("mailbox is full"));
  s = DeliverToFrontEnd(Config(), calls, ToAlice()).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kResourceExhausted, ""));
  EXPECT_EQ(s.message(), "fe2.contoso.test: mailbox is full");
}

TEST(DeliverToFrontEndTest, WithoutARegistrarNothingIsCalled) {
  ScriptedNodeCalls calls;
  v1::NodeConfig config = Config();
  config.clear_registrar();
  EXPECT_THAT(DeliverToFrontEnd(config, calls, ToAlice()).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "registrar: not configured"));
  EXPECT_THAT(calls.log(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace trustfabric::node
