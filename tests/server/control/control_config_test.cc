// tfcontrol configuration: defaults, and every bad field refused by name.
#include "server/control/control_config.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::control {
namespace {

constexpr char kValid[] = R"yaml(
trust_domain: contoso.test
realm: 3f2504e0-4f89-11d3-9a0c-0305e82c3301
listen:
  address: 127.0.0.1:7000
identity:
  certificate_file: /etc/tf/cp.crt
  key_file: /etc/tf/cp.key
seed_root_name: contoso-root
seed_root_file: /etc/tf/root.pem
sqlite_path: /var/lib/tf/control.db
)yaml";

class ControlConfigTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::string path_ = dir_.Write("control.yaml", kValid);
};

TEST_F(ControlConfigTest, AValidFileGetsItsDefaults) {
  absl::StatusOr<v1::ControlPlaneConfig> c = LoadConfig(path_, {});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->store(), "sqlite");
  EXPECT_EQ(c->history_revisions(), kDefaultHistoryRevisions);
  EXPECT_EQ(c->log_level(), "info");
  EXPECT_EQ(c->identity().refresh_interval_seconds(), 1u);
  EXPECT_EQ(c->metrics_address(), "");
}

TEST_F(ControlConfigTest, OverridesApplyAfterTheFile) {
  absl::StatusOr<v1::ControlPlaneConfig> c =
      LoadConfig(path_, {"listen.address=127.0.0.1:0", "history_revisions=5",
                         "metrics_address=127.0.0.1:9100", "log_level=debug"});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->listen().address(), "127.0.0.1:0");
  EXPECT_EQ(c->history_revisions(), 5u);
  EXPECT_EQ(c->metrics_address(), "127.0.0.1:9100");
  EXPECT_EQ(c->log_level(), "debug");
}

TEST_F(ControlConfigTest, EveryBadFieldIsNamed) {
  struct Case {
    std::string set;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"trust_domain=Contoso", "trust_domain: \"Contoso\" is not a valid trust domain"},
      {"trust_domain=", "trust_domain: is required"},
      {"realm=3F2504E0-4F89-11D3-9A0C-0305E82C3301", "realm: \"3F2504E0"},
      {"listen.address=", "listen.address: is required"},
      {"listen.address=127.0.0.1", "listen.address: \"127.0.0.1\" is not a host:port"},
      {"identity.certificate_file=", "identity.certificate_file: is required"},
      {"identity.key_file=", "identity.key_file: is required"},
      {"seed_root_name=Contoso Root", "seed_root_name: \"Contoso Root\" is not a valid name"},
      {"seed_root_file=", "seed_root_file: is required"},
      {"store=etcd", "store: etcd is not supported by this build; use sqlite"},
      {"store=mysql", "store: unknown store \"mysql\" (known: sqlite, etcd)"},
      {"sqlite_path=", "sqlite_path: is required"},
      {"history_revisions=2000000", "history_revisions: 2000000 exceeds the maximum of 1000000"},
      {"metrics_address=:x", "metrics_address: \":x\" is not a host:port"},
      {"log_level=trace", "log_level: \"trace\" is not one of debug, info, warn, error"},
      {"listen.adress=x", "listen.adress: unknown key"},
      {"history_revisions=-1", "history_revisions"},
      {"nonsense", "--set \"nonsense\": expected key=value"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.set);
    EXPECT_THAT(LoadConfig(path_, {c.set}),
                StatusIs(absl::StatusCode::kInvalidArgument, c.message));
  }
}

TEST_F(ControlConfigTest, UnknownKeysAndMissingFilesAreRefused) {
  EXPECT_THAT(LoadConfig(dir_.Write("bad.yaml", "trust_domian: contoso.test\n"), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "trust_domian: unknown key"));
  EXPECT_FALSE(LoadConfig(dir_.path() + "/missing.yaml", {}).ok());
  // Without a file, flags alone may make a complete configuration.
  EXPECT_THAT(LoadConfig("", {"trust_domain=contoso.test"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "realm: is required"));
}

}  // namespace
}  // namespace trustfabric::control
