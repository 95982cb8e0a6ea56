// Targets from the node configuration, and delivery to a recipient's
// front-end through scripted calls.
#include "server/node/node_calls.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/node/scripted_node_calls.h"
#include "tests/testing/status_matchers.h"

namespace trustfabric::node {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
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
  EXPECT_EQ(registrar->address, "127.0.0.11:7443");
  EXPECT_EQ(registrar->server_name, "registrar1.contoso.test");
  EXPECT_EQ(registrar->trust_domain, "contoso.test");
  EXPECT_EQ(registrar->role, pki::Role::kRegistrar);
  absl::StatusOr<NodeTarget> edge = EdgeOf(config);
  ASSERT_THAT(edge.status(), IsOk());
  EXPECT_EQ(edge->address, "127.0.0.13:7443");
  EXPECT_EQ(edge->server_name, "edge1.contoso.test");
  EXPECT_EQ(edge->role, pki::Role::kEdge);

  v1::NodeConfig bare;
  bare.set_trust_domain("contoso.test");
  EXPECT_THAT(RegistrarOf(bare).status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                   "registrar: not configured for this node"));
  EXPECT_THAT(EdgeOf(bare).status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                              "edge: not configured for this node"));
}

TEST(DeliverToFrontEndTest, LooksTheRecipientUpAndDeliversToItsFrontEnd) {
  ScriptedNodeCalls calls;
  calls.on_lookup = [](const NodeTarget&, const v1::LookupRequest&) {
    v1::LookupResponse found;
    found.set_frontend("fe2.contoso.test");
    found.set_frontend_address("127.0.0.22:7443");
    return absl::StatusOr<v1::LookupResponse>(found);
  };
  calls.on_deliver = [](const NodeTarget&, const v1::DeliverRequest&) {
    v1::DeliverResponse r;
    r.set_disposition("delivered");
    return absl::StatusOr<v1::DeliverResponse>(r);
  };
  absl::StatusOr<std::string> disposition = DeliverToFrontEnd(Config(), calls, ToAlice());
  ASSERT_THAT(disposition.status(), IsOk());
  EXPECT_EQ(*disposition, "delivered");
  EXPECT_THAT(calls.methods(), ElementsAre("Lookup", "Deliver"));
  const ScriptedNodeCalls::Call deliver = calls.log()[1];
  EXPECT_EQ(deliver.target.address, "127.0.0.22:7443");
  EXPECT_EQ(deliver.target.server_name, "fe2.contoso.test");
  EXPECT_EQ(deliver.target.trust_domain, "contoso.test");
  EXPECT_EQ(deliver.target.role, pki::Role::kFrontend);
  EXPECT_EQ(deliver.message.id(), "m-1");
}

TEST(DeliverToFrontEndTest, AFailureNamesTheHopForTheLog) {
  ScriptedNodeCalls calls;
  calls.on_lookup = [](const NodeTarget&, const v1::LookupRequest&) {
    return absl::StatusOr<v1::LookupResponse>(
        absl::NotFoundError("user alice@contoso.test is not registered"));
  };
  absl::Status s = DeliverToFrontEnd(Config(), calls, ToAlice()).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_EQ(s.message(), "registrar: user alice@contoso.test is not registered");

  calls.on_lookup = [](const NodeTarget&, const v1::LookupRequest&) {
    v1::LookupResponse found;
    found.set_frontend("fe2.contoso.test");
    found.set_frontend_address("127.0.0.22:7443");
    return absl::StatusOr<v1::LookupResponse>(found);
  };
  calls.on_deliver = [](const NodeTarget&, const v1::DeliverRequest&) {
    return absl::StatusOr<v1::DeliverResponse>(absl::ResourceExhaustedError("mailbox is full"));
  };
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
  EXPECT_THAT(calls.log(), IsEmpty());
}

}  // namespace
}  // namespace trustfabric::node
