// The front-end settings of a node configuration as tfnode reads them.
#include <string>

#include "common/config/yaml_proto.h"
#include "gtest/gtest.h"
#include "server/node/node_server.h"

namespace trustfabric::node {
namespace {

constexpr char kFrontEnd[] = R"(
role: frontend
trust_domain: contoso.test
realm: 3f2504e0-4f89-11d3-9a0c-0305e82c3301
dns_name: fe1.contoso.test
identity: {certificate_file: fe1.crt, key_file: fe1.key}
trust_agent:
  control_planes: [{address: "127.0.0.1:7000", server_name: control1.contoso.test}]
listen: {address: "127.0.0.1:7443"}
client_listen: {address: "127.0.0.1:8443"}
registrar: {address: "127.0.0.1:7001", server_name: registrar1.contoso.test}
edge: {address: "127.0.0.1:7002", server_name: edge1.contoso.test}
)";

v1::NodeConfig Parse(const std::string& yaml) {
  v1::NodeConfig config;
  absl::Status s = config::MergeYaml(yaml, &config);
  EXPECT_TRUE(s.ok()) << s;
  return config;
}

TEST(NodeConfigTest, OuterTokenPolicyIsSignedUnlessUnsignedIsAllowedExplicitly) {
  v1::NodeConfig config = Parse(kFrontEnd);
  EXPECT_TRUE(ValidateNodeConfig(config).ok());
  EXPECT_EQ(OuterTokenPolicyOf(config.frontend()), token::OuterTokenPolicy::kSigned);

  config = Parse(std::string(kFrontEnd) + "frontend: {outer_token: SIGNED}\n");
  EXPECT_EQ(OuterTokenPolicyOf(config.frontend()), token::OuterTokenPolicy::kSigned);

  config = Parse(std::string(kFrontEnd) + "frontend: {outer_token: UNSIGNED_ALLOWED}\n");
  EXPECT_TRUE(ValidateNodeConfig(config).ok());
  EXPECT_EQ(OuterTokenPolicyOf(config.frontend()), token::OuterTokenPolicy::kUnsignedAllowed);

  v1::NodeConfig bad;
  absl::Status s =
      config::MergeYaml(std::string(kFrontEnd) + "frontend: {outer_token: NONE}\n", &bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
}

TEST(NodeConfigTest, ProbingLimitsDefaultAndAreBounded) {
  v1::NodeConfig config = Parse(kFrontEnd);
  UnknownRecipientLimiter::Options defaults = ProbingLimitOf(config.frontend());
  EXPECT_EQ(defaults.burst, 10u);
  EXPECT_EQ(defaults.refill, absl::Seconds(30));

  config = Parse(std::string(kFrontEnd) +
                 "frontend: {unknown_recipient_burst: 4, unknown_recipient_refill_seconds: 60}\n");
  UnknownRecipientLimiter::Options set = ProbingLimitOf(config.frontend());
  EXPECT_EQ(set.burst, 4u);
  EXPECT_EQ(set.refill, absl::Minutes(1));

  config.mutable_frontend()->set_unknown_recipient_refill_seconds(86401);
  EXPECT_EQ(ValidateNodeConfig(config).message(),
            "frontend.unknown_recipient_refill_seconds: at most 86400");
}

TEST(NodeConfigTest, FrontEndSettingsOnlyForFrontEnds) {
  v1::NodeConfig config = Parse(std::string(kFrontEnd) + "frontend: {outer_token: SIGNED}\n");
  config.set_role("registrar");
  EXPECT_EQ(ValidateNodeConfig(config).message(), "frontend: only for role frontend");
}

TEST(NodeConfigTest, MailboxBoundsDefaultAndAreBounded) {
  v1::NodeConfig config = Parse(kFrontEnd);
  const MailboxLimits defaults = Mailboxes(MailboxLimitsOf(config)).limits();
  EXPECT_EQ(defaults.per_user, 1000u);
  EXPECT_EQ(defaults.total_bytes, size_t{64} << 20);
  EXPECT_EQ(defaults.max_age, absl::Hours(24));

  config = Parse(std::string(kFrontEnd) +
                 "offline_queue_limit: 10\n"
                 "frontend: {max_queued_message_bytes: 1048576, "
                 "queued_message_max_age_seconds: 3600}\n");
  EXPECT_TRUE(ValidateNodeConfig(config).ok());
  const MailboxLimits set = Mailboxes(MailboxLimitsOf(config)).limits();
  EXPECT_EQ(set.per_user, 10u);
  EXPECT_EQ(set.total_bytes, size_t{1} << 20);
  EXPECT_EQ(set.max_age, absl::Hours(1));

  config.mutable_frontend()->set_queued_message_max_age_seconds(30 * 86400 + 1);
  EXPECT_EQ(ValidateNodeConfig(config).message(),
            "frontend.queued_message_max_age_seconds: at most 2592000 (30 days)");
}

TEST(NodeConfigTest, RegistrationBoundsOnlyForRegistrars) {
  v1::NodeConfig config = Parse(std::string(kFrontEnd) + "registrations: {max_users: 5}\n");
  EXPECT_EQ(ValidateNodeConfig(config).message(), "registrations: only for role registrar");
}

}  // namespace
}  // namespace trustfabric::node
