// Admin connection settings: flags, environment and a `tfctl pki init`
// directory resolved into ControlClientOptions; every error names its flag.
#include "client/lib/admin_connection.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "client/devcluster/pki_init.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/devcluster/shared_pki_test.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::client {
namespace {

using trustfabric::devcluster::PkiInitOptions;
using trustfabric::devcluster::PkiInitResult;
using trustfabric::devcluster::RunPkiInit;

class ConnectionTest : public devcluster::SharedOutputTest<ConnectionTest, PkiInitResult> {
 protected:
  // The two-domain PKI in Pki(), and a one-domain PKI in dir_/single.
  static void SetUpTestSuite() {
    ASSERT_NO_FATAL_FAILURE(WriteSharedOutput(devcluster::TwoDomainPki({})));
    PkiInitOptions single;
    single.domains = {"fabrikam.test"};
    single.out_dir = dir_->path() + "/single";
    ASSERT_THAT(RunPkiInit(single), IsOk());
  }
  static std::string Pki() { return dir_->path() + "/pki"; }
};

TEST_F(ConnectionTest, PkiDirectoryGivesIdentityRootAndServerName) {
  absl::StatusOr<PkiDefaults> d = LoadPkiDefaults(Pki(), "fabrikam.test");
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->trust_domain, "fabrikam.test");
  EXPECT_EQ(d->admin_certificate_file, Pki() + "/fabrikam.test/admin1.crt");
  EXPECT_EQ(d->admin_key_file, Pki() + "/fabrikam.test/admin1.key");
  EXPECT_EQ(d->root_certificate_file, Pki() + "/fabrikam.test/root.crt");
  EXPECT_EQ(d->control_server_name, "control1.fabrikam.test");
  EXPECT_EQ(d->realm.size(), 36u);
}

TEST_F(ConnectionTest, DomainIsNeededWhenThePkiHasSeveral) {
  EXPECT_THAT(LoadPkiDefaults(Pki(), ""), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   "--domain: required: " + Pki() +
                                                       "/manifest.json has domains contoso.test, "
                                                       "fabrikam.test"));
  EXPECT_THAT(
      LoadPkiDefaults(Pki(), "northwind.test"),
      StatusIs(absl::StatusCode::kInvalidArgument, "--domain: northwind.test is not in " + Pki() +
                                                       "/manifest.json (it has "
                                                       "contoso.test, fabrikam.test)"));
  absl::StatusOr<PkiDefaults> only = LoadPkiDefaults(dir_->path() + "/single", "");
  ASSERT_THAT(only, IsOk());
  EXPECT_EQ(only->trust_domain, "fabrikam.test");
}

TEST_F(ConnectionTest, BrokenManifestsNameThePkiFlag) {
  TempDir dir;
  EXPECT_THAT(LoadPkiDefaults(dir.path(), "contoso.test"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--pki: cannot read"));
  dir.Write("manifest.json", "{not json");
  EXPECT_THAT(LoadPkiDefaults(dir.path(), "contoso.test"),
              StatusIs(absl::StatusCode::kInvalidArgument, "not valid json"));
  dir.Write("manifest.json", R"({"domains": [{"domain": 7}]})");
  EXPECT_THAT(LoadPkiDefaults(dir.path(), "contoso.test"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--pki: " + dir.path() + "/manifest.json: malformed"));
  dir.Write("manifest.json", R"({"domains": [{"domain": "contoso.test", "entries": []}]})");
  EXPECT_THAT(LoadPkiDefaults(dir.path(), "contoso.test"),
              StatusIs(absl::StatusCode::kInvalidArgument, "has no admin certificate"));
}

TEST_F(ConnectionTest, ResolveFromThePkiDirectory) {
  ConnectionFlags f;
  f.control = "127.0.0.1:7000";
  f.pki_dir = Pki();
  f.trust_domain = "contoso.test";
  absl::StatusOr<ControlClientOptions> o = ResolveConnection(f);
  ASSERT_THAT(o, IsOk());
  EXPECT_EQ(o->address, "127.0.0.1:7000");
  EXPECT_EQ(o->server_name, "control1.contoso.test");
  EXPECT_EQ(o->trust_domain, "contoso.test");
  EXPECT_EQ(o->certificate_file, Pki() + "/contoso.test/admin1.crt");
  EXPECT_EQ(o->key_file, Pki() + "/contoso.test/admin1.key");
  EXPECT_EQ(o->bootstrap_roots_pem, ReadFile(Pki() + "/contoso.test/root.crt"));
  EXPECT_EQ(o->timeout, absl::Seconds(10));
}

TEST_F(ConnectionTest, ExplicitFlagsWinOverThePkiDirectory) {
  ConnectionFlags f;
  f.control = "127.0.0.1:7000";
  f.pki_dir = Pki();
  f.trust_domain = "contoso.test";
  f.server_name = "control2.contoso.test";
  f.cert = Pki() + "/contoso.test/fe1.crt";
  f.key = Pki() + "/contoso.test/fe1.key";
  f.ca = Pki() + "/contoso.test/intermediate.crt";
  f.timeout = "1m";
  absl::StatusOr<ControlClientOptions> o = ResolveConnection(f);
  ASSERT_THAT(o, IsOk());
  EXPECT_EQ(o->server_name, "control2.contoso.test");
  EXPECT_EQ(o->certificate_file, f.cert);
  EXPECT_EQ(o->key_file, f.key);
  EXPECT_EQ(o->bootstrap_roots_pem, ReadFile(f.ca));
  EXPECT_EQ(o->timeout, absl::Minutes(1));
}

TEST_F(ConnectionTest, MissingSettingsNameTheirFlag) {
  ConnectionFlags f;
  EXPECT_THAT(ResolveConnection(f),
              StatusIs(absl::StatusCode::kInvalidArgument, "--control: required"));
  f.control = "127.0.0.1";
  EXPECT_THAT(ResolveConnection(f), StatusIs(absl::StatusCode::kInvalidArgument, "--control"));
  f.control = "127.0.0.1:7000";
  EXPECT_THAT(ResolveConnection(f),
              StatusIs(absl::StatusCode::kInvalidArgument, "--domain: required"));
  f.trust_domain = "Contoso..test";
  EXPECT_THAT(ResolveConnection(f),
              StatusIs(absl::StatusCode::kInvalidArgument, "--domain: \"Contoso..test\""));
  f.trust_domain = "contoso.test";
  EXPECT_THAT(ResolveConnection(f),
              StatusIs(absl::StatusCode::kInvalidArgument, "--server-name: required"));
  f.server_name = "control1.contoso.test";
  EXPECT_THAT(ResolveConnection(f), StatusIs(absl::StatusCode::kInvalidArgument, "--cert"));
  f.cert = Pki() + "/contoso.test/admin1.crt";
  EXPECT_THAT(ResolveConnection(f), StatusIs(absl::StatusCode::kInvalidArgument, "--key"));
  f.key = Pki() + "/contoso.test/admin1.key";
  EXPECT_THAT(ResolveConnection(f), StatusIs(absl::StatusCode::kInvalidArgument, "--ca"));
  f.ca = Pki() + "/contoso.test/nothing.crt";
  EXPECT_THAT(ResolveConnection(f),
              StatusIs(absl::StatusCode::kInvalidArgument, "--ca: cannot read"));
  f.ca = Pki() + "/contoso.test/root.crt";
  EXPECT_THAT(ResolveConnection(f), IsOk());
  f.timeout = "0s";
  EXPECT_THAT(ResolveConnection(f), StatusIs(absl::StatusCode::kInvalidArgument, "--timeout"));
}

TEST(ConnectionFlagTest, HostPort) {
  EXPECT_THAT(CheckHostPort("127.0.0.1:7000", "--control"), IsOk());
  EXPECT_THAT(CheckHostPort("control1.contoso.test:7000", "--control"), IsOk());
  EXPECT_THAT(CheckHostPort("[::1]:7000", "--control"), IsOk());
  EXPECT_THAT(CheckHostPort("127.0.0.1", "--control"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--control: \"127.0.0.1\" is not"));
  EXPECT_THAT(CheckHostPort("127.0.0.1:0", "--control"),
              StatusIs(absl::StatusCode::kInvalidArgument, "no port"));
  EXPECT_THAT(CheckHostPort("127.0.0.1:70000", "--control"),
              StatusIs(absl::StatusCode::kInvalidArgument, "no port"));
  EXPECT_THAT(CheckHostPort(":7000", "--control"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--control"));
  EXPECT_THAT(CheckHostPort("[::1:7000", "--control"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--control"));
}

}  // namespace
}  // namespace trustfabric::client
