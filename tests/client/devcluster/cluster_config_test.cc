#include "client/devcluster/cluster_config.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/config/yaml_proto.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/devcluster/shared_cluster_test.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::devcluster {
namespace {

namespace fs = std::filesystem;
using ::google::protobuf::util::MessageDifferencer;

constexpr int kSubnet = 37;

nlohmann::json ReadJson(const std::string& path) { return nlohmann::json::parse(ReadFile(path)); }

// One cluster directory written once and shared by the read-only tests.
class ClusterConfigTest : public SharedClusterTest<ClusterConfigTest> {
 protected:
  static void SetUpTestSuite() {
    ClusterConfigOptions options;
    options.dir = "/cluster/";  // a trailing slash is fine
    options.subnet = kSubnet;
    WriteSharedCluster(options);
  }

  static std::string Dir() { return dir_->path() + "/cluster"; }
  static const ClusterService& Service(const std::string& domain, const std::string& name) {
    const ClusterService* s = FindService(*layout_, domain, name);
    EXPECT_NE(s, nullptr) << domain << " " << name;
    return *s;
  }
  static v1::NodeConfig Node(const std::string& domain, const std::string& name) {
    v1::NodeConfig config;
    absl::Status s = config::MergeYamlFile(Service(domain, name).config(), &config);
    EXPECT_TRUE(s.ok()) << s;
    return config;
  }
  static v1::ControlPlaneConfig Control(const std::string& domain) {
    v1::ControlPlaneConfig config;
    absl::Status s = config::MergeYamlFile(Service(domain, "control1").config(), &config);
    EXPECT_TRUE(s.ok()) << s;
    return config;
  }
};

TEST_F(ClusterConfigTest, WritesTheDirectoryContract) {
  EXPECT_EQ(layout_->dir(), Dir());
  for (const std::string& path :
       {Dir() + "/pki/manifest.json", Dir() + "/cluster.json", Dir() + "/logs", Dir() + "/pids"}) {
    EXPECT_TRUE(fs::exists(path)) << path;
  }
  for (const char* domain : {"contoso.test", "fabrikam.test"}) {
    for (const char* svc : {"control1", "registrar1", "fe1", "edge1"}) {
      const std::string yaml = absl::StrCat(Dir(), "/", domain, "/", svc, ".yaml");
      const std::string state = absl::StrCat(Dir(), "/", domain, "/state/", svc);
      EXPECT_TRUE(fs::is_regular_file(yaml)) << yaml;
      EXPECT_TRUE(fs::is_directory(state)) << state;
      const ClusterService& s = Service(domain, svc);
      EXPECT_EQ(s.config(), yaml);
      EXPECT_EQ(s.state_dir(), state);
      EXPECT_EQ(s.log(), absl::StrCat(Dir(), "/logs/", domain, "-", svc, ".log"));
      EXPECT_EQ(s.pid_file(), absl::StrCat(Dir(), "/pids/", domain, "-", svc, ".pid"));
      EXPECT_TRUE(fs::is_regular_file(s.cert())) << s.cert();
      EXPECT_TRUE(fs::is_regular_file(s.key())) << s.key();
    }
  }
  EXPECT_THAT(layout_->services(), SizeIs(8));
}

TEST_F(ClusterConfigTest, AddressesFollowTheSubnet) {
  struct Expect {
    const char* domain;
    const char* name;
    const char* address;
    const char* client;
    const char* federation;
  };
  const Expect expected[] = {
      {"contoso.test", "control1", "127.37.1.1:7000", "", ""},
      {"contoso.test", "registrar1", "127.37.1.2:7100", "", ""},
      {"contoso.test", "fe1", "127.37.1.3:7200", "127.37.1.3:7443", ""},
      {"contoso.test", "edge1", "127.37.1.4:7300", "", "127.37.1.4:7400"},
      {"fabrikam.test", "control1", "127.37.2.1:7000", "", ""},
      {"fabrikam.test", "registrar1", "127.37.2.2:7100", "", ""},
      {"fabrikam.test", "fe1", "127.37.2.3:7200", "127.37.2.3:7443", ""},
      {"fabrikam.test", "edge1", "127.37.2.4:7300", "", "127.37.2.4:7400"},
  };
  for (const Expect& e : expected) {
    const ClusterService& s = Service(e.domain, e.name);
    EXPECT_EQ(s.address(), e.address) << s.id();
    EXPECT_EQ(s.listen().client(), e.client) << s.id();
    EXPECT_EQ(s.listen().federation(), e.federation) << s.id();
    EXPECT_EQ(s.dns_name(), absl::StrCat(e.name, ".", e.domain));
  }
  EXPECT_EQ(ClusterHost(kDefaultClusterSubnet, 0, 4), "127.1.1.4");
  EXPECT_EQ(ClusterHost(250, 1, 1), "127.250.2.1");
}

TEST_F(ClusterConfigTest, ControlPlaneYamlParsesIntoItsConfig) {
  for (const char* domain : {"contoso.test", "fabrikam.test"}) {
    const ClusterService& s = Service(domain, "control1");
    const ClusterDomain& d = *FindDomain(*layout_, domain);
    v1::ControlPlaneConfig c = Control(domain);
    EXPECT_TRUE(MessageDifferencer::Equals(c, ControlConfigFor(*layout_, s))) << c.DebugString();
    EXPECT_EQ(c.trust_domain(), domain);
    EXPECT_EQ(c.realm(), d.realm());
    EXPECT_EQ(c.listen().address(), s.address());
    EXPECT_EQ(c.identity().certificate_file(),
              absl::StrCat(Dir(), "/pki/", domain, "/control1.crt"));
    EXPECT_EQ(c.identity().key_file(), absl::StrCat(Dir(), "/pki/", domain, "/control1.key"));
    EXPECT_EQ(c.identity().refresh_interval_seconds(), 1u);
    EXPECT_EQ(c.seed_root_name(), ClusterRootName(domain));
    EXPECT_EQ(c.seed_root_file(), absl::StrCat(Dir(), "/pki/", domain, "/root.crt"));
    EXPECT_EQ(c.store(), "sqlite");
    EXPECT_EQ(c.sqlite_path(), absl::StrCat(s.state_dir(), "/control.db"));
  }
  EXPECT_EQ(ClusterRootName("contoso.test"), "contoso-root");
}

TEST_F(ClusterConfigTest, NodeYamlParsesIntoItsConfig) {
  for (const ClusterService& s : layout_->services()) {
    if (s.binary() != "tfnode") continue;
    v1::NodeConfig c = Node(s.domain(), s.name());
    EXPECT_TRUE(MessageDifferencer::Equals(c, NodeConfigFor(*layout_, s))) << c.DebugString();
    const std::string prefix = s.domain() == "contoso.test" ? "127.37.1." : "127.37.2.";
    EXPECT_EQ(c.role(), s.role());
    EXPECT_EQ(c.trust_domain(), s.domain());
    EXPECT_EQ(c.realm(), FindDomain(*layout_, s.domain())->realm());
    EXPECT_EQ(c.dns_name(), s.dns_name());
    EXPECT_EQ(c.identity().certificate_file(), s.cert());
    EXPECT_EQ(c.identity().refresh_interval_seconds(), 1u);
    EXPECT_EQ(c.listen().address(), s.address());
    const v1::TrustAgentConfig& agent = c.trust_agent();
    ASSERT_THAT(agent.control_planes(), SizeIs(1));
    EXPECT_EQ(agent.control_planes(0).address(), prefix + "1:7000");
    EXPECT_EQ(agent.control_planes(0).server_name(), "control1." + s.domain());
    EXPECT_EQ(agent.bootstrap_bundle_file(), absl::StrCat(Dir(), "/pki/", s.domain(), "/root.crt"));
    EXPECT_EQ(agent.state_dir(), s.state_dir());
    EXPECT_EQ(agent.max_staleness_seconds(), 24u * 60 * 60);
    EXPECT_EQ(agent.staleness_policy(), v1::FAIL_STATIC);
    // Every node resolves every service of its domain, and nothing else.
    ASSERT_THAT(c.addresses(), SizeIs(4));
    EXPECT_EQ(c.addresses().at("control1." + s.domain()), prefix + "1:7000");
    EXPECT_EQ(c.addresses().at("registrar1." + s.domain()), prefix + "2:7100");
    EXPECT_EQ(c.addresses().at("fe1." + s.domain()), prefix + "3:7200");
    EXPECT_EQ(c.addresses().at("edge1." + s.domain()), prefix + "4:7300");
    if (s.role() == "frontend") {
      EXPECT_EQ(c.client_listen().address(), prefix + "3:7443");
      EXPECT_EQ(c.registrar().address(), prefix + "2:7100");
      EXPECT_EQ(c.registrar().server_name(), "registrar1." + s.domain());
      EXPECT_EQ(c.edge().address(), prefix + "4:7300");
      EXPECT_EQ(c.edge().server_name(), "edge1." + s.domain());
      EXPECT_FALSE(c.has_federation_listen());
    } else if (s.role() == "edge") {
      EXPECT_EQ(c.federation_listen().address(), prefix + "4:7400");
      EXPECT_EQ(c.registrar().address(), prefix + "2:7100");
      EXPECT_FALSE(c.has_client_listen());
    } else {
      EXPECT_EQ(s.role(), "registrar");
      EXPECT_FALSE(c.has_client_listen());
      EXPECT_FALSE(c.has_federation_listen());
    }
  }
}

TEST_F(ClusterConfigTest, ClusterJsonDescribesTheTopology) {
  const nlohmann::json doc = ReadJson(Dir() + "/cluster.json");
  const nlohmann::json manifest = ReadJson(Dir() + "/pki/manifest.json");
  EXPECT_EQ(doc["version"], kClusterJsonVersion);
  EXPECT_EQ(doc["subnet"], kSubnet);
  EXPECT_EQ(doc["dir"], Dir());
  EXPECT_EQ(doc["pki_dir"], Dir() + "/pki");

  ASSERT_EQ(doc["services"].size(), 8u);
  const nlohmann::json& fe = doc["services"][2];
  EXPECT_EQ(fe["name"], "fe1");
  EXPECT_EQ(fe["domain"], "contoso.test");
  EXPECT_EQ(fe["role"], "frontend");
  EXPECT_EQ(fe["binary"], "tfnode");
  EXPECT_EQ(fe["config"], Dir() + "/contoso.test/fe1.yaml");
  EXPECT_EQ(fe["dns_name"], "fe1.contoso.test");
  EXPECT_EQ(fe["listen"]["internal"], "127.37.1.3:7200");
  EXPECT_EQ(fe["listen"]["client"], "127.37.1.3:7443");
  const nlohmann::json& control = doc["services"][4];
  EXPECT_EQ(control["name"], "control1");
  EXPECT_EQ(control["domain"], "fabrikam.test");
  EXPECT_EQ(control["binary"], "tfcontrol");
  EXPECT_EQ(control["role"], "control");
  EXPECT_EQ(doc["services"][7]["listen"]["federation"], "127.37.2.4:7400");

  ASSERT_EQ(doc["domains"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const nlohmann::json& d = doc["domains"][i];
    const nlohmann::json& m = manifest["domains"][i];
    const std::string domain = d["domain"];
    EXPECT_EQ(domain, m["domain"]);
    EXPECT_EQ(d["realm"], m["realm"]);
    EXPECT_EQ(d["partner"], i == 0 ? "fabrikam.test" : "contoso.test");
    EXPECT_EQ(d["root"], absl::StrCat(Dir(), "/pki/", domain, "/root.crt"));
    EXPECT_EQ(d["admin_cert"], absl::StrCat(Dir(), "/pki/", domain, "/admin1.crt"));
    EXPECT_EQ(d["admin_key"], absl::StrCat(Dir(), "/pki/", domain, "/admin1.key"));
    EXPECT_EQ(d["control"]["address"], i == 0 ? "127.37.1.1:7000" : "127.37.2.1:7000");
    EXPECT_EQ(d["frontend"]["server_name"], "fe1." + domain);
    EXPECT_EQ(d["federation"]["server_name"], "edge1." + domain);
    ASSERT_EQ(d["apps"].size(), 2u);
    for (const nlohmann::json& app : d["apps"]) {
      const std::string name = app["name"];
      const nlohmann::json* entry = nullptr;
      for (const nlohmann::json& e : m["entries"]) {
        if (e["name"] == name) entry = &e;
      }
      ASSERT_NE(entry, nullptr) << name;
      EXPECT_EQ(app["client_id"], (*entry)["client_id"]);
      EXPECT_EQ(app["issuer_id"], (*entry)["client_id"]);
      EXPECT_EQ(app["registered_issuer_name"],
                absl::StrCat((*entry)["client_id"].get<std::string>(), "@",
                             m["realm"].get<std::string>()));
      EXPECT_EQ(app["self_signed"], name == "app1");
      EXPECT_EQ(app["signing_root_name"],
                name == "app1" ? "app1-signing" : ClusterRootName(domain));
      EXPECT_EQ(app["cert"], absl::StrCat(Dir(), "/pki/", domain, "/", name, ".crt"));
      EXPECT_EQ(app["key"], absl::StrCat(Dir(), "/pki/", domain, "/", name, ".key"));
      EXPECT_EQ(app["pkcs12"], absl::StrCat(Dir(), "/pki/", domain, "/", name, ".p12"));
      EXPECT_EQ(app["pkcs12_password"], kClusterPkcs12Password);
    }
  }
}

TEST_F(ClusterConfigTest, LoadReadsBackWhatWasWritten) {
  absl::StatusOr<ClusterLayout> loaded = LoadClusterLayout(Dir());
  ASSERT_THAT(loaded.status(), IsOk());
  EXPECT_EQ(ClusterJson(*loaded), ClusterJson(*layout_));
  EXPECT_EQ(FindApp(*FindDomain(*loaded, "fabrikam.test"), "app2")->client_id(),
            FindApp(*FindDomain(*layout_, "fabrikam.test"), "app2")->client_id());
}

TEST(ClusterConfig, RefusesAnExistingClusterUnlessForced) {
  TempDir dir;
  ClusterConfigOptions options;
  options.dir = dir.path();
  absl::StatusOr<ClusterLayout> first = WriteClusterConfig(options);
  ASSERT_THAT(first.status(), IsOk());
  EXPECT_EQ(first->subnet(), kDefaultClusterSubnet);
  EXPECT_EQ(FindService(*first, "contoso.test", "control1")->address(), "127.1.1.1:7000");
  const std::string leftover =
      dir.Write("contoso.test/state/fe1/last-known-good.snapshot", "stale state");

  EXPECT_THAT(WriteClusterConfig(options).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "--force"));

  options.force = true;
  options.subnet = 5;
  absl::StatusOr<ClusterLayout> second = WriteClusterConfig(options);
  ASSERT_THAT(second.status(), IsOk());
  EXPECT_EQ(FindService(*second, "contoso.test", "control1")->address(), "127.5.1.1:7000");
  // A new PKI (new realms), and no state that names the old roots.
  EXPECT_NE(second->domains()[0].realm(), first->domains()[0].realm());
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_TRUE(fs::is_directory(dir.path() + "/contoso.test/state/fe1"));
  absl::StatusOr<ClusterLayout> loaded = LoadClusterLayout(dir.path());
  ASSERT_THAT(loaded.status(), IsOk());
  EXPECT_EQ(loaded->subnet(), 5);
}

TEST(ClusterConfig, RefusesBadOptions) {
  TempDir dir;
  ClusterConfigOptions options;
  options.dir = dir.path();
  for (int subnet : {0, 255, -1}) {
    options.subnet = subnet;
    EXPECT_THAT(WriteClusterConfig(options).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, "subnet"));
  }
  options.subnet = 1;
  options.dir = "";
  EXPECT_THAT(WriteClusterConfig(options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "dir"));
  EXPECT_FALSE(fs::exists(dir.path() + "/pki"));
}

TEST(ClusterConfig, LoadNeedsACluster) {
  TempDir dir;
  EXPECT_THAT(LoadClusterLayout(dir.path()).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "cluster config"));
  dir.Write("cluster.json", "{\"version\": 1, \"subnet\": 3}");
  EXPECT_THAT(LoadClusterLayout(dir.path()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "cluster.json"));
  dir.Write("cluster.json", "not json");
  EXPECT_THAT(LoadClusterLayout(dir.path()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "not a json object"));
}

TEST_F(ClusterConfigTest, ParseNamesTheBadField) {
  const ClusterLayout* layout = layout_.get();
  nlohmann::json doc = nlohmann::json::parse(ClusterJson(*layout));
  doc["services"][1]["binary"] = "tfsomething";
  EXPECT_THAT(ParseClusterJson(doc.dump()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "services[1].binary"));
  doc = nlohmann::json::parse(ClusterJson(*layout));
  doc["domains"][0]["apps"][1].erase("client_id");
  EXPECT_THAT(ParseClusterJson(doc.dump()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "domains[0].apps[1].client_id"));
  doc = nlohmann::json::parse(ClusterJson(*layout));
  doc["version"] = 2;
  EXPECT_THAT(ParseClusterJson(doc.dump()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "version"));
}

TEST(ClusterConfig, LayoutNeedsEveryManifestEntry) {
  EXPECT_THAT(BuildClusterLayout("/tmp/x", 1, "{\"domains\": []}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "no domain contoso.test"));
  EXPECT_THAT(BuildClusterLayout("/tmp/x", 1,
                                 R"({"domains": [{"domain": "contoso.test", "realm": "r",
                                                  "entries": []}]})")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "no entry root"));
}

}  // namespace
}  // namespace trustfabric::devcluster
