#include "common/config/yaml_proto.h"

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/vocabulary.h"
#include "trustfabric/v1/config.pb.h"

namespace trustfabric::config {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::trustfabric::testing::IsOk;

constexpr char kNodeYaml[] = R"(
role: frontend
trust_domain: contoso.test
dns_name: fe1.contoso.test
identity:
  certificate_file: /pki/fe1.crt
  key_file: /pki/fe1.key
trust_agent:
  control_planes:
    - address: 127.0.0.1:7000
      server_name: control1.contoso.test
    - address: 127.0.0.1:7001
      server_name: control2.contoso.test
  max_staleness_seconds: 3600
  staleness_policy: FAIL_CLOSED
listen:
  address: 127.0.0.2:7443
addresses:
  fe2.contoso.test: 127.0.0.3:7443
)";

TEST(MergeYaml, MapsEveryKindOfField) {
  v1::NodeConfig cfg;
  ASSERT_TRUE(MergeYaml(kNodeYaml, &cfg).ok());
  EXPECT_EQ(cfg.role(), "frontend");
  EXPECT_EQ(cfg.identity().key_file(), "/pki/fe1.key");
  ASSERT_EQ(cfg.trust_agent().control_planes_size(), 2);
  EXPECT_EQ(cfg.trust_agent().control_planes(1).server_name(), "control2.contoso.test");
  EXPECT_EQ(cfg.trust_agent().max_staleness_seconds(), 3600u);
  EXPECT_EQ(cfg.trust_agent().staleness_policy(), v1::FAIL_CLOSED);
  EXPECT_EQ(cfg.addresses().at("fe2.contoso.test"), "127.0.0.3:7443");
}

TEST(MergeYaml, UnknownKeyNamesPathAndKnownKeys) {
  v1::NodeConfig cfg;
  absl::Status s = MergeYaml("listen:\n  adress: x\n", &cfg);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("listen.adress: unknown key (known: address, "
                                     "max_connections, max_connections_per_source, "
                                     "max_handshaking, max_handshaking_per_source, "
                                     "handshake_timeout_seconds)"));
}

TEST(MergeYaml, WrongTypesAreRejectedWithPath) {
  struct Case {
    const char* yaml;
    const char* want;
  } cases[] = {
      {"trust_agent:\n  max_staleness_seconds: -1\n",
       "trust_agent.max_staleness_seconds: expected a non-negative 32-bit integer"},
      {"trust_agent:\n  max_staleness_seconds: 99999999999\n",
       "trust_agent.max_staleness_seconds: expected a non-negative 32-bit integer"},
      {"trust_agent:\n  staleness_policy: SOMETIMES\n",
       "trust_agent.staleness_policy: expected one of FAIL_STATIC, FAIL_CLOSED"},
      {"trust_agent:\n  staleness_policy: STALENESS_POLICY_UNSPECIFIED\n",
       "trust_agent.staleness_policy: expected one of"},
      {"listen: 5\n", "listen: expected a mapping"},
      {"role: [a, b]\n", "role: expected a scalar value"},
      {"trust_agent:\n  control_planes: {address: x}\n",
       "trust_agent.control_planes: expected a list"},
      {"trust_agent:\n  control_planes:\n    - addres: x\n",
       "trust_agent.control_planes[0].addres: unknown key"},
      {"- a\n- b\n", "config: expected a mapping"},
      {"role: [unclosed\n", "config: invalid yaml at line"},
  };
  for (const auto& c : cases) {
    v1::NodeConfig cfg;
    absl::Status s = MergeYaml(c.yaml, &cfg);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(s.message(), HasSubstr(c.want)) << c.yaml;
  }
}

TEST(MergeYaml, FailureLeavesMessageUnchanged) {
  v1::NodeConfig cfg;
  cfg.set_role("edge");
  EXPECT_FALSE(MergeYaml("role: frontend\nbogus: 1\n", &cfg).ok());
  EXPECT_EQ(cfg.role(), "edge");
}

TEST(MergeYaml, AdversarialDocumentsAreRefusedNotExpanded) {
  v1::NodeConfig cfg;
  std::string deep(200, '[');
  EXPECT_THAT(std::string(MergeYaml(absl::StrCat("role: ", deep), &cfg).message()),
              HasSubstr("nesting too deep"));
  // Aliases that multiply: 9 levels of 10x would visit 10^9 nodes.
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    char p = static_cast<char>(c - 1);
    bomb +=
        absl::StrCat(std::string(1, c), ": &", std::string(1, c), " [*", std::string(1, p), ",*",
                     std::string(1, p), ",*", std::string(1, p), ",*", std::string(1, p), ",*",
                     std::string(1, p), ",*", std::string(1, p), ",*", std::string(1, p), ",*",
                     std::string(1, p), ",*", std::string(1, p), ",*", std::string(1, p), "]\n");
  }
  bomb += "addresses: *j\n";
  absl::Status s = MergeYaml(bomb, &cfg);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(MergeYaml(std::string(kMaxConfigBytes + 1, ' '), &cfg).ok());
}

TEST(MergeYamlFile, NamesTheFile) {
  v1::ControlPlaneConfig cfg;
  absl::Status s = MergeYamlFile("/nonexistent/tf.yaml", &cfg);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent/tf.yaml: cannot open config file"));

  std::string path = ::testing::TempDir() + "/cp.yaml";
  std::ofstream(path) << "trust_domain: contoso.test\nstore: sqlite\nhistory_revisions: x\n";
  s = MergeYamlFile(path, &cfg);
  EXPECT_THAT(s.message(), HasSubstr(path + ": history_revisions: expected a non-negative"));
}

TEST(SetField, OverridesNestedRepeatedAndMapFields) {
  v1::NodeConfig cfg;
  ASSERT_TRUE(MergeYaml(kNodeYaml, &cfg).ok());
  ASSERT_TRUE(SetField(&cfg, "listen.address", "127.0.0.9:1").ok());
  ASSERT_TRUE(SetField(&cfg, "trust_agent.staleness_policy", "FAIL_STATIC").ok());
  ASSERT_TRUE(SetField(&cfg, "addresses.edge1.contoso.test", "127.0.0.4:7443").ok());
  EXPECT_EQ(cfg.listen().address(), "127.0.0.9:1");
  EXPECT_EQ(cfg.trust_agent().staleness_policy(), v1::FAIL_STATIC);
  EXPECT_EQ(cfg.addresses().at("edge1.contoso.test"), "127.0.0.4:7443");
  EXPECT_EQ(cfg.addresses().at("fe2.contoso.test"), "127.0.0.3:7443");
}

TEST(SetField, RejectsUnknownAndMalformedPaths) {
  v1::NodeConfig cfg;
  EXPECT_THAT(std::string(SetField(&cfg, "listen.port", "1").message()),
              HasSubstr("listen.port: unknown key"));
  EXPECT_THAT(std::string(SetField(&cfg, "listen", "1").message()),
              HasSubstr("listen: expected a scalar field"));
  EXPECT_THAT(std::string(SetField(&cfg, "role.x", "1").message()),
              HasSubstr("role: is not a mapping"));
  EXPECT_THAT(std::string(SetField(&cfg, "offline_queue_limit", "many").message()),
              HasSubstr("offline_queue_limit: expected a non-negative 32-bit integer"));
}

TEST(ProtoToYaml, RoundTripsAwkwardValues) {
  v1::NodeConfig c;
  c.set_role("edge");
  c.set_dns_name("true");  // a YAML boolean unless quoted
  c.set_log_level("a: b # not a comment \"quoted\" 'single'");
  c.mutable_identity()->set_certificate_file("  leading and trailing  ");
  c.mutable_identity()->set_refresh_interval_seconds(4294967295u);
  c.mutable_trust_agent()->set_staleness_policy(v1::FAIL_CLOSED);
  c.mutable_trust_agent()->add_control_planes()->set_address("[::1]:7000");
  c.mutable_trust_agent()->add_control_planes()->set_server_name("123");
  (*c.mutable_addresses())["z.example"] = "1";
  (*c.mutable_addresses())["a.example"] = "null";
  v1::NodeConfig back;
  ASSERT_THAT(MergeYaml(ProtoToYaml(c), &back), IsOk()) << ProtoToYaml(c);
  EXPECT_TRUE(MessageDifferencer::Equals(c, back)) << ProtoToYaml(c);
}

}  // namespace
}  // namespace trustfabric::config
