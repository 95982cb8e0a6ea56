// The admin commands of tfctl without a real control plane: flags to
// requests, connection settings from flags and a `tfctl pki init`
// directory, tables and JSON, exit statuses, and whole command lines run
// in-process against a scripted ControlPlane.
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "client/admin_connection.h"
#include "client/admin_output.h"
#include "client/admin_requests.h"
#include "client/pki_init.h"
#include "client/tfctl_commands.h"
#include "client/tfctl_exit.h"
#include "common/pki/certificate.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/fake_control_plane.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace trustfabric::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using trustfabric::testing::FakeControlPlane;
using trustfabric::testing::IsOk;
using trustfabric::testing::StatusIs;
using trustfabric::testing::TempDir;
using trustfabric::testing::TestDomain;

constexpr char kSha[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const TestDomain& Contoso() {
  static const TestDomain* domain = new TestDomain("contoso.test");
  return *domain;
}

// --- flags to requests ----------------------------------------------------

TEST(MutationFlagsTest, NoFlagsNoOptions) {
  absl::StatusOr<v1::MutationOptions> o = BuildMutationOptions({});
  ASSERT_THAT(o, IsOk());
  EXPECT_FALSE(o->has_expected_revision());
  EXPECT_FALSE(o->has_wait());
}

TEST(MutationFlagsTest, ExpectedRevisionZeroIsStillACompareAndSwap) {
  MutationFlags f;
  f.expected_revision = 0;
  absl::StatusOr<v1::MutationOptions> o = BuildMutationOptions(f);
  ASSERT_THAT(o, IsOk());
  EXPECT_TRUE(o->has_expected_revision());
  EXPECT_EQ(o->expected_revision(), 0u);
}

TEST(MutationFlagsTest, WaitForNodesOrAll) {
  MutationFlags f;
  f.wait_nodes = 3;
  f.wait_timeout = "1m30s";
  absl::StatusOr<v1::MutationOptions> o = BuildMutationOptions(f);
  ASSERT_THAT(o, IsOk());
  EXPECT_EQ(o->wait().min_nodes(), 3u);
  EXPECT_FALSE(o->wait().all_nodes());
  EXPECT_EQ(o->wait().timeout().seconds(), 90);

  MutationFlags all;
  all.wait_all = true;
  o = BuildMutationOptions(all);
  ASSERT_THAT(o, IsOk());
  EXPECT_TRUE(o->wait().all_nodes());
  EXPECT_FALSE(o->wait().has_timeout());
}

TEST(MutationFlagsTest, BadWaitsNameTheFlag) {
  MutationFlags both;
  both.wait_nodes = 1;
  both.wait_all = true;
  EXPECT_THAT(BuildMutationOptions(both),
              StatusIs(absl::StatusCode::kInvalidArgument, "--wait-nodes: excludes --wait-all"));
  MutationFlags lonely;
  lonely.wait_timeout = "5s";
  EXPECT_THAT(BuildMutationOptions(lonely),
              StatusIs(absl::StatusCode::kInvalidArgument, "--wait-timeout: needs --wait-nodes"));
  MutationFlags too_long;
  too_long.wait_all = true;
  too_long.wait_timeout = "6m";
  EXPECT_THAT(BuildMutationOptions(too_long),
              StatusIs(absl::StatusCode::kInvalidArgument, "--wait-timeout: at most 5m"));
  MutationFlags garbage;
  garbage.wait_all = true;
  garbage.wait_timeout = "soon";
  EXPECT_THAT(BuildMutationOptions(garbage),
              StatusIs(absl::StatusCode::kInvalidArgument, "--wait-timeout: \"soon\""));
}

TEST(ParseTest, PurposesAndAlgorithms) {
  EXPECT_EQ(*ParsePurpose("mtls"), v1::MTLS);
  EXPECT_EQ(*ParsePurpose("Token-Signing"), v1::TOKEN_SIGNING);
  EXPECT_EQ(*ParsePurpose("token_signing"), v1::TOKEN_SIGNING);
  EXPECT_THAT(ParsePurpose("tls"), StatusIs(absl::StatusCode::kInvalidArgument, "--purpose"));
  EXPECT_EQ(*ParseAlgorithm("RS256"), v1::RS256);
  EXPECT_EQ(*ParseAlgorithm("es256"), v1::ES256);
  EXPECT_EQ(*ParseAlgorithm("EdDSA"), v1::EDDSA);
  EXPECT_THAT(ParseAlgorithm("none"), StatusIs(absl::StatusCode::kInvalidArgument, "--algorithm"));
  EXPECT_THAT(ParseAlgorithm("hs256"), StatusIs(absl::StatusCode::kInvalidArgument, "--algorithm"));
}

TEST(ParseTest, Endpoints) {
  absl::StatusOr<v1::Endpoint> e = ParseEndpoint("127.0.0.13:7443=edge1.fabrikam.test");
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->address(), "127.0.0.13:7443");
  EXPECT_EQ(e->server_name(), "edge1.fabrikam.test");
  e = ParseEndpoint("[::1]:7443=edge1.fabrikam.test");
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->address(), "[::1]:7443");
  EXPECT_THAT(ParseEndpoint("127.0.0.13:7443"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                         "--endpoint: \"127.0.0.13:7443\" is not"));
  EXPECT_THAT(ParseEndpoint("127.0.0.13=edge1.fabrikam.test"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--endpoint"));
  EXPECT_THAT(ParseEndpoint("127.0.0.13:7443="),
              StatusIs(absl::StatusCode::kInvalidArgument, "no server name"));
  EXPECT_THAT(ParseEndpoint("::1:7443=edge1.fabrikam.test"),
              StatusIs(absl::StatusCode::kInvalidArgument, "[v6]:port"));
}

TEST(ParseTest, Sha256IsNormalized) {
  std::string upper_colons;
  for (size_t i = 0; i < 64; i += 2) {
    if (i > 0) upper_colons += ':';
    upper_colons += absl::AsciiStrToUpper(std::string(kSha).substr(i, 2));
  }
  EXPECT_EQ(*NormalizeSha256(upper_colons, "--sha256"), kSha);
  EXPECT_EQ(*NormalizeSha256(kSha, "--sha256"), kSha);
  EXPECT_THAT(NormalizeSha256(std::string(kSha).substr(1), "--sha256"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--sha256: not a sha-256"));
  EXPECT_THAT(NormalizeSha256(std::string(63, 'a') + "g", "--sha256"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--sha256"));
}

TEST(ParseTest, HostPort) {
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

class RequestTest : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string root_ = dir_.Write("root.crt", Contoso().RootPem());
  std::string app1_ =
      dir_.Write("app1.crt", testing::SelfSignedSigningCert("app1").certificate.ToPem());
  std::string app1b_ =
      dir_.Write("app1b.crt", testing::SelfSignedSigningCert("app1 next").certificate.ToPem());
};

TEST_F(RequestTest, RootAddReadsTheCertificatesAndDefaults) {
  RootAddFlags f;
  f.name = "contoso-root-2";
  f.certificate_files = {root_, app1_};
  absl::StatusOr<v1::AddRootAuthorityRequest> req = BuildAddRoot(f, "contoso.test");
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->root().name(), "contoso-root-2");
  EXPECT_EQ(req->root().trust_domain(), "contoso.test");
  EXPECT_EQ(req->root().certificates_pem(), ReadFile(root_) + ReadFile(app1_));
  EXPECT_THAT(req->root().purposes(), ElementsAre(v1::MTLS));
  EXPECT_FALSE(req->options().has_expected_revision());

  f.trust_domain = "fabrikam.test";
  f.purposes = {"token-signing", "mtls", "token-signing"};
  f.mutation.expected_revision = 4;
  req = BuildAddRoot(f, "contoso.test");
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->root().trust_domain(), "fabrikam.test");
  EXPECT_THAT(req->root().purposes(), ElementsAre(v1::TOKEN_SIGNING, v1::MTLS));
  EXPECT_EQ(req->options().expected_revision(), 4u);
}

TEST_F(RequestTest, RootAddRefusals) {
  RootAddFlags f;
  f.name = "r";
  EXPECT_THAT(BuildAddRoot(f, "contoso.test"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--certificate: required"));
  f.certificate_files = {dir_.path() + "/missing.crt"};
  EXPECT_THAT(BuildAddRoot(f, "contoso.test"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--certificate: cannot read"));
  f.certificate_files = {dir_.Write("empty.crt", "\n")};
  EXPECT_THAT(BuildAddRoot(f, "contoso.test"),
              StatusIs(absl::StatusCode::kInvalidArgument, "is empty"));
  f.certificate_files = {dir_.path()};
  EXPECT_THAT(BuildAddRoot(f, "contoso.test"),
              StatusIs(absl::StatusCode::kInvalidArgument, "not a regular file"));
  f.certificate_files = {root_};
  f.purposes = {"tls"};
  EXPECT_THAT(BuildAddRoot(f, "contoso.test"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--purpose"));
  f.name.clear();
  EXPECT_THAT(BuildAddRoot(f, "contoso.test"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--name: required"));
}

TEST_F(RequestTest, RootRemove) {
  RootRemoveFlags f;
  f.name = "contoso-root";
  f.force = true;
  f.mutation.wait_all = true;
  absl::StatusOr<v1::RemoveRootAuthorityRequest> req = BuildRemoveRoot(f);
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->name(), "contoso-root");
  EXPECT_TRUE(req->force());
  EXPECT_TRUE(req->options().wait().all_nodes());
}

TEST_F(RequestTest, IssuerAddOneCertificatePerFile) {
  IssuerAddFlags f;
  f.name = "app1";
  f.registered_issuer_name =
      "11111111-1111-4111-8111-111111111111@" + std::string(testing::kFakeControlRealm);
  f.certificate_files = {app1_, app1b_};
  f.allow_user_delegation = true;
  absl::StatusOr<v1::AddTokenIssuerRequest> req = BuildAddIssuer(f);
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->issuer().registered_issuer_name(), f.registered_issuer_name);
  EXPECT_THAT(req->issuer().signing_certificates_pem(),
              ElementsAre(ReadFile(app1_), ReadFile(app1b_)));
  EXPECT_THAT(req->issuer().algorithms(), ElementsAre(v1::RS256));
  EXPECT_FALSE(req->issuer().trust_broker());
  EXPECT_TRUE(req->issuer().allow_user_delegation());

  f.algorithms = {"es256", "EdDSA"};
  f.trust_broker = true;
  f.client_ids = {"22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"};
  req = BuildAddIssuer(f);
  ASSERT_THAT(req, IsOk());
  EXPECT_THAT(req->issuer().algorithms(), ElementsAre(v1::ES256, v1::EDDSA));
  EXPECT_TRUE(req->issuer().trust_broker());
  EXPECT_THAT(req->issuer().broker_client_ids(), ElementsAre(f.client_ids[0], f.client_ids[1]));
}

TEST_F(RequestTest, IssuerAddBrokerRules) {
  IssuerAddFlags f;
  f.name = "broker";
  f.registered_issuer_name = "x@y";
  f.certificate_files = {app1_};
  f.client_ids = {"22222222-2222-4222-8222-222222222222"};
  EXPECT_THAT(BuildAddIssuer(f), StatusIs(absl::StatusCode::kInvalidArgument,
                                          "--client-id: only a --trust-broker issuer"));
  f.client_ids.clear();
  f.trust_broker = true;
  EXPECT_THAT(BuildAddIssuer(f),
              StatusIs(absl::StatusCode::kInvalidArgument, "--client-id: required"));
  f.registered_issuer_name.clear();
  EXPECT_THAT(BuildAddIssuer(f),
              StatusIs(absl::StatusCode::kInvalidArgument, "--registered-issuer-name: required"));
}

TEST(PeerRequestTest, PutPeer) {
  PeerAddFlags f;
  f.trust_domain = "fabrikam.test";
  f.roots = {"fabrikam-root"};
  f.endpoints = {"127.0.0.13:7443=edge1.fabrikam.test", "127.0.0.14:7443=edge2.fabrikam.test"};
  f.allowed_servers = {"edge1.fabrikam.test", "edge2.fabrikam.test"};
  absl::StatusOr<v1::PutFederationPeerRequest> req = BuildPutPeer(f);
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->peer().trust_domain(), "fabrikam.test");
  EXPECT_THAT(req->peer().root_authority_names(), ElementsAre("fabrikam-root"));
  ASSERT_EQ(req->peer().endpoints_size(), 2);
  EXPECT_EQ(req->peer().endpoints(1).address(), "127.0.0.14:7443");
  EXPECT_EQ(req->peer().endpoints(1).server_name(), "edge2.fabrikam.test");
  EXPECT_THAT(req->peer().allowed_server_names(),
              ElementsAre("edge1.fabrikam.test", "edge2.fabrikam.test"));
  EXPECT_TRUE(req->peer().enabled());

  f.disabled = true;
  EXPECT_FALSE(BuildPutPeer(f)->peer().enabled());
  f.endpoints = {"edge1.fabrikam.test"};
  EXPECT_THAT(BuildPutPeer(f), StatusIs(absl::StatusCode::kInvalidArgument, "--endpoint"));
  f.allowed_servers.clear();
  EXPECT_THAT(BuildPutPeer(f),
              StatusIs(absl::StatusCode::kInvalidArgument, "--allowed-server: required"));
}

v1::ListFederationPeersResponse TwoPeers() {
  v1::ListFederationPeersResponse current;
  current.set_revision(12);
  v1::FederationPeer* a = current.add_peers();
  a->set_trust_domain("fabrikam.test");
  a->add_root_authority_names("fabrikam-root");
  a->add_allowed_server_names("edge1.fabrikam.test");
  v1::Endpoint* e = a->add_endpoints();
  e->set_address("127.0.0.13:7443");
  e->set_server_name("edge1.fabrikam.test");
  a->set_enabled(true);
  v1::FederationPeer* b = current.add_peers();
  b->set_trust_domain("northwind.test");
  b->set_enabled(false);
  return current;
}

TEST(PeerRequestTest, SetEnabledChangesOnlyTheFlagAndExpectsTheListedRevision) {
  const v1::ListFederationPeersResponse current = TwoPeers();
  PeerKeyFlags f;
  f.trust_domain = "fabrikam.test";
  absl::StatusOr<v1::PutFederationPeerRequest> req = BuildSetPeerEnabled(current, f, false);
  ASSERT_THAT(req, IsOk());
  v1::FederationPeer expected = current.peers(0);
  expected.set_enabled(false);
  EXPECT_EQ(req->peer().SerializeAsString(), expected.SerializeAsString());
  EXPECT_EQ(req->options().expected_revision(), 12u);

  f.trust_domain = "northwind.test";
  f.mutation.expected_revision = 11;
  f.mutation.wait_nodes = 2;
  req = BuildSetPeerEnabled(current, f, true);
  ASSERT_THAT(req, IsOk());
  EXPECT_TRUE(req->peer().enabled());
  EXPECT_EQ(req->options().expected_revision(), 11u);
  EXPECT_EQ(req->options().wait().min_nodes(), 2u);

  f.trust_domain = "tailspin.test";
  EXPECT_THAT(BuildSetPeerEnabled(current, f, true),
              StatusIs(absl::StatusCode::kNotFound, "federation peer tailspin.test not found"));
}

TEST(PeerRequestTest, RemovePeer) {
  PeerKeyFlags f;
  EXPECT_THAT(BuildRemovePeer(f),
              StatusIs(absl::StatusCode::kInvalidArgument, "--trust-domain: required"));
  f.trust_domain = "fabrikam.test";
  EXPECT_EQ(BuildRemovePeer(f)->trust_domain(), "fabrikam.test");
}

TEST_F(RequestTest, RevokeByCertificateOrHash) {
  RevokeFlags f;
  EXPECT_THAT(BuildRevoke(f), StatusIs(absl::StatusCode::kInvalidArgument, "exactly one"));
  f.certificate_file = app1_;
  f.sha256 = kSha;
  EXPECT_THAT(BuildRevoke(f), StatusIs(absl::StatusCode::kInvalidArgument, "exactly one"));

  f.sha256.clear();
  f.reason = "key compromise";
  f.force = true;
  absl::StatusOr<v1::RevokeCertificateRequest> req = BuildRevoke(f);
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->certificate_pem(), ReadFile(app1_));
  EXPECT_EQ(req->reason(), "key compromise");
  EXPECT_TRUE(req->force());

  f.certificate_file.clear();
  f.sha256 = absl::AsciiStrToUpper(kSha);
  req = BuildRevoke(f);
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->sha256_hex(), kSha);
  f.sha256 = "abc";
  EXPECT_THAT(BuildRevoke(f), StatusIs(absl::StatusCode::kInvalidArgument, "--sha256"));
}

TEST_F(RequestTest, RevokeOfAChainFileRevokesItsLeaf) {
  // A node's certificate file: leaf, then intermediate.
  RevokeFlags f;
  f.certificate_file = dir_.Write("chain.crt", ReadFile(app1_) + ReadFile(root_));
  absl::StatusOr<v1::RevokeCertificateRequest> req = BuildRevoke(f);
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->certificate_pem(), ReadFile(app1_));
  f.certificate_file = dir_.Write("garbage.crt", "not a certificate\n");
  EXPECT_THAT(BuildRevoke(f), StatusIs(absl::StatusCode::kInvalidArgument, "--certificate"));
}

TEST_F(RequestTest, RevokeByBodyKeyOrIssuerSerial) {
  RevokeFlags f;
  f.tbs_sha256 = absl::AsciiStrToUpper(kSha);
  absl::StatusOr<v1::RevokeCertificateRequest> req = BuildRevoke(f);
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->tbs_sha256_hex(), kSha);
  f.key_sha256 = kSha;
  EXPECT_THAT(BuildRevoke(f), StatusIs(absl::StatusCode::kInvalidArgument, "exactly one"));
  f.tbs_sha256.clear();
  req = BuildRevoke(f);
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->key_sha256_hex(), kSha);
  f.key_sha256 = "12";
  EXPECT_THAT(BuildRevoke(f), StatusIs(absl::StatusCode::kInvalidArgument, "--key-sha256"));

  // The issuer by its key, computed from its certificate; the serial in
  // canonical form.
  RevokeFlags serial;
  serial.issuer_cert_file = root_;
  serial.serial = "00:1F:A0";
  req = BuildRevoke(serial);
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->issuer_serial().issuer_spki_sha256_hex(),
            Contoso().root().certificate.SpkiSha256Hex());
  EXPECT_EQ(req->issuer_serial().serial_hex(), "1fa0");
  serial.serial = "xyz";
  EXPECT_THAT(BuildRevoke(serial), StatusIs(absl::StatusCode::kInvalidArgument, "--serial"));
  serial.serial.clear();
  EXPECT_THAT(BuildRevoke(serial),
              StatusIs(absl::StatusCode::kInvalidArgument, "--serial: required"));
  serial.serial = "01";
  serial.issuer_cert_file.clear();
  EXPECT_THAT(BuildRevoke(serial),
              StatusIs(absl::StatusCode::kInvalidArgument, "--issuer-cert: required"));
}

TEST_F(RequestTest, RevokeKeyAndDerOnlyGoWithTheirTargets) {
  RevokeFlags f;
  f.certificate_file = app1_;
  f.revoke_key = true;
  absl::StatusOr<v1::RevokeCertificateRequest> req = BuildRevoke(f);
  ASSERT_THAT(req, IsOk());
  EXPECT_TRUE(req->revoke_key());
  f.der_only = true;
  EXPECT_THAT(BuildRevoke(f),
              StatusIs(absl::StatusCode::kInvalidArgument, "--der-only: only with --sha256"));
  f.certificate_file.clear();
  f.sha256 = kSha;
  req = BuildRevoke(f);
  ASSERT_THAT(req, IsOk());
  EXPECT_TRUE(req->der_only());
  EXPECT_TRUE(req->revoke_key());
  RevokeFlags tbs;
  tbs.tbs_sha256 = kSha;
  tbs.revoke_key = true;
  EXPECT_THAT(BuildRevoke(tbs), StatusIs(absl::StatusCode::kInvalidArgument,
                                         "--revoke-key: only with --certificate or --sha256"));
}

TEST(UnrevokeRequestTest, AKeyOrAHash) {
  UnrevokeFlags f;
  EXPECT_THAT(BuildUnrevoke(f), StatusIs(absl::StatusCode::kInvalidArgument, "exactly one"));
  f.sha256 = kSha;
  f.mutation.expected_revision = 3;
  absl::StatusOr<v1::UnrevokeCertificateRequest> req = BuildUnrevoke(f);
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->sha256_hex(), kSha);
  EXPECT_EQ(req->options().expected_revision(), 3u);
  f.key = absl::StrCat("key:", kSha);
  EXPECT_THAT(BuildUnrevoke(f), StatusIs(absl::StatusCode::kInvalidArgument, "exactly one"));
  f.sha256.clear();
  req = BuildUnrevoke(f);
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->sha256_hex(), absl::StrCat("key:", kSha));
}

TEST(AuditRequestTest, Limits) {
  AuditFlags f;
  f.since = 5;
  f.limit = 20;
  absl::StatusOr<v1::GetAuditLogRequest> req = BuildAuditRequest(f);
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->since_revision(), 5u);
  EXPECT_EQ(req->limit(), 20u);
  f.limit = 10001;
  EXPECT_THAT(BuildAuditRequest(f), StatusIs(absl::StatusCode::kInvalidArgument, "--limit"));
}

// --- connection settings --------------------------------------------------

class ConnectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    PkiInitOptions opts;
    opts.domains = {"contoso.test", "fabrikam.test"};
    opts.out_dir = dir_->path() + "/pki";
    absl::StatusOr<PkiInitResult> r = RunPkiInit(opts);
    ASSERT_THAT(r, IsOk());
    opts.domains = {"fabrikam.test"};
    opts.out_dir = dir_->path() + "/single";
    ASSERT_THAT(RunPkiInit(opts), IsOk());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string Pki() { return dir_->path() + "/pki"; }

  static TempDir* dir_;
};
TempDir* ConnectionTest::dir_ = nullptr;

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

// --- output ---------------------------------------------------------------

TEST(TableTest, ColumnsAlignAndEmptyCellsShowADash) {
  Table t({"NAME", "ENABLED", "ROOTS"});
  t.AddRow({"fabrikam.test", "yes", "fabrikam-root"});
  t.AddRow({"a", "", "r"});
  EXPECT_EQ(t.Render(),
            "NAME           ENABLED  ROOTS\n"
            "fabrikam.test  yes      fabrikam-root\n"
            "a              -        r\n");
}

TEST(OutputTest, Mutation) {
  v1::MutationResponse r;
  r.set_revision(7);
  r.set_applied_nodes(2);
  r.set_connected_nodes(3);
  EXPECT_EQ(FormatMutation(r, false), "revision 7\n");
  EXPECT_EQ(FormatMutation(r, true), "revision 7 (applied by 2 of 3 connected nodes)\n");
}

TEST(OutputTest, JsonUsesProtoNamesAndPrintsDefaults) {
  v1::ListFederationPeersResponse peers = TwoPeers();
  nlohmann::json j = nlohmann::json::parse(ProtoJson(peers));
  EXPECT_EQ(j["revision"], "12");
  EXPECT_EQ(j["peers"][1]["trust_domain"], "northwind.test");
  EXPECT_EQ(j["peers"][1]["enabled"], false);
  EXPECT_EQ(j["peers"][0]["endpoints"][0]["server_name"], "edge1.fabrikam.test");
  EXPECT_EQ(ProtoJson(peers).find('\n'), std::string::npos);
}

TEST(OutputTest, RootsShowSubjectAndExpiryNotPem) {
  v1::ListRootAuthoritiesResponse roots;
  roots.set_revision(3);
  v1::RootAuthority* r = roots.add_roots();
  r->set_name("contoso-root");
  r->set_trust_domain("contoso.test");
  r->set_certificates_pem(Contoso().RootPem() + Contoso().RootPem());
  r->add_purposes(v1::MTLS);
  r->add_purposes(v1::TOKEN_SIGNING);
  const std::string out = FormatRoots(roots);
  const std::vector<std::string> lines = absl::StrSplit(out, '\n');
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0], "revision 3");
  EXPECT_THAT(lines[1], StartsWith("NAME"));
  EXPECT_THAT(lines[2], StartsWith("contoso-root  contoso.test  mtls,token-signing  2"));
  EXPECT_THAT(lines[2], HasSubstr(Contoso().root().certificate.Subject() + " (+1 more)"));
  EXPECT_THAT(lines[2], HasSubstr(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                                   Contoso().root().certificate.NotAfter(),
                                                   absl::UTCTimeZone())));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("BEGIN CERTIFICATE")));
}

TEST(OutputTest, IssuersAndPeers) {
  v1::ListTokenIssuersResponse issuers;
  issuers.set_revision(5);
  v1::TokenIssuer* i = issuers.add_issuers();
  i->set_name("broker");
  i->set_registered_issuer_name("aaaa@bbbb");
  i->add_algorithms(v1::RS256);
  i->add_algorithms(v1::EDDSA);
  i->set_trust_broker(true);
  i->add_broker_client_ids("c1");
  i->add_broker_client_ids("c2");
  const std::string out = FormatIssuers(issuers);
  EXPECT_THAT(out, HasSubstr("broker  aaaa@bbbb               rs256,eddsa  0      yes     c1,c2"));

  const std::string peers = FormatPeers(TwoPeers());
  EXPECT_THAT(peers, HasSubstr("fabrikam.test   yes      fabrikam-root  "
                               "127.0.0.13:7443=edge1.fabrikam.test  edge1.fabrikam.test\n"));
  EXPECT_THAT(peers, HasSubstr("northwind.test  no       -"));
}

v1::GetPropagationStatusResponse ThreeNodes(absl::Time now) {
  v1::GetPropagationStatusResponse s;
  s.set_revision(10);
  v1::NodeStatus* a = s.add_nodes();
  a->set_spiffe_id("spiffe://contoso.test/frontend/fe1");
  a->set_role("frontend");
  a->set_connected(true);
  a->set_applied_revision(10);
  a->mutable_last_seen()->set_seconds(absl::ToUnixSeconds(now - absl::Seconds(4)));
  a->mutable_identity_not_after()->set_seconds(absl::ToUnixSeconds(now + absl::Hours(24)));
  a->set_anchoring_root("contoso-root");
  v1::NodeStatus* b = s.add_nodes();
  b->set_spiffe_id("spiffe://contoso.test/edge/edge1");
  b->set_role("edge");
  b->set_connected(false);
  b->set_applied_revision(7);
  b->set_last_nack_revision(8);
  b->set_last_nack_reason("roots[1]: certificates_pem: not a ca");
  b->mutable_identity_not_after()->set_seconds(absl::ToUnixSeconds(now - absl::Hours(1)));
  v1::NodeStatus* c = s.add_nodes();
  c->set_spiffe_id("spiffe://contoso.test/registrar/registrar1");
  c->set_role("registrar");
  c->set_applied_revision(11);
  return s;
}

TEST(OutputTest, StatusTableShowsLagNackAndExpiry) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  const std::string out = FormatStatus(ThreeNodes(now), now);
  const std::vector<std::string> lines = absl::StrSplit(out, '\n');
  ASSERT_GE(lines.size(), 5u);
  EXPECT_EQ(lines[0], "revision 10  nodes 3 (1 connected)  der-only revocations 0");
  EXPECT_THAT(out, ::testing::Not(HasSubstr("warning")));
  EXPECT_THAT(lines[1], StartsWith("NODE"));
  EXPECT_THAT(lines[1], HasSubstr("APPLIED  LAG  CONNECTED  LAST SEEN  LAST NACK"));
  EXPECT_THAT(lines[2], HasSubstr("frontend   10       0    yes        4s ago"));
  EXPECT_THAT(lines[2], HasSubstr("contoso-root"));
  EXPECT_THAT(lines[3],
              HasSubstr("edge       7        3    no         -          rev 8: roots[1]"));
  EXPECT_THAT(lines[3], HasSubstr("(expired)"));
  // A node ahead of the reported revision has no lag, not a huge one.
  EXPECT_THAT(lines[4], HasSubstr("registrar  11       0    no"));
}

TEST(OutputTest, StatusWarnsOfDerOnlyRevocations) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  v1::GetPropagationStatusResponse status = ThreeNodes(now);
  status.set_der_only_revocations(2);
  const std::string out = FormatStatus(status, now);
  EXPECT_THAT(out, StartsWith("revision 10  nodes 3 (1 connected)  der-only revocations 2\n"));
  EXPECT_THAT(out, HasSubstr("\nwarning: 2 der-only revocations: re-encoded copies of their "
                             "certificates are not refused"));
  EXPECT_EQ(nlohmann::json::parse(StatusJson(status))["der_only_revocations"], 2);
}

TEST(OutputTest, RevocationListShowsKeyKindAndMarksDerOnlyAsWeak) {
  v1::ListRevocationsResponse list;
  list.set_revision(9);
  v1::RevocationListing* strong = list.add_revocations();
  strong->set_key(absl::StrCat("certificate:", std::string(64, 'b')));
  strong->mutable_revocation()->set_kind(v1::REVOCATION_CERTIFICATE);
  strong->mutable_revocation()->set_tbs_sha256_hex(std::string(64, 'b'));
  strong->mutable_revocation()->set_sha256_hex(kSha);
  strong->mutable_revocation()->set_subject("CN=edge1.contoso.test");
  strong->mutable_revocation()->set_reason("key compromise");
  v1::RevocationListing* weak = list.add_revocations();
  weak->set_key(std::string(64, 'c'));
  weak->set_weak(true);
  weak->mutable_revocation()->set_sha256_hex(std::string(64, 'c'));
  v1::RevocationListing* key = list.add_revocations();
  key->set_key(absl::StrCat("key:", std::string(64, 'd')));
  key->mutable_revocation()->set_kind(v1::REVOCATION_KEY);
  const std::string out = FormatRevocations(list);
  const std::vector<std::string> lines = absl::StrSplit(out, '\n');
  ASSERT_GE(lines.size(), 6u);
  EXPECT_EQ(lines[0], "revision 9  revocations 3 (1 der-only)");
  EXPECT_THAT(lines[1], StartsWith("KEY"));
  EXPECT_THAT(lines[2], StartsWith(absl::StrCat("certificate:", std::string(64, 'b'),
                                                "  certificate      CN=edge1.contoso.test  key "
                                                "compromise")));
  EXPECT_THAT(lines[2], HasSubstr(kSha));
  EXPECT_THAT(lines[3], StartsWith(absl::StrCat(std::string(64, 'c'), "  ")));
  EXPECT_THAT(lines[3], HasSubstr("der-only (weak)"));
  EXPECT_THAT(lines[4], HasSubstr("  key  "));
  EXPECT_THAT(lines[5], StartsWith("warning: 1 der-only revocation: a re-encoded copy of its "
                                   "certificate is not refused"));
}

TEST(OutputTest, StatusJsonAddsLag) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  nlohmann::json j = nlohmann::json::parse(StatusJson(ThreeNodes(now)));
  EXPECT_EQ(j["revision"], "10");
  ASSERT_EQ(j["nodes"].size(), 3u);
  EXPECT_EQ(j["nodes"][0]["lag"], "0");
  EXPECT_EQ(j["nodes"][1]["lag"], "3");
  EXPECT_EQ(j["nodes"][1]["last_nack_reason"], "roots[1]: certificates_pem: not a ca");
  EXPECT_EQ(j["nodes"][2]["lag"], "0");
}

TEST(OutputTest, AuditChanges) {
  v1::GetAuditLogResponse log;
  v1::AuditRecord* a = log.add_records();
  a->set_revision(2);
  a->mutable_time()->set_seconds(1800000000);
  a->set_actor("spiffe://contoso.test/admin/admin1");
  a->set_operation("root.add");
  a->set_object("fabrikam-root");
  a->set_after("fabrikam.test mtls");
  v1::AuditRecord* b = log.add_records();
  b->set_revision(3);
  b->set_operation("peer.put");
  b->set_before("enabled");
  b->set_after("disabled");
  v1::AuditRecord* c = log.add_records();
  c->set_revision(4);
  c->set_operation("root.remove");
  c->set_before("fabrikam.test mtls");
  const std::string out = FormatAudit(log);
  EXPECT_THAT(out, HasSubstr("2         2027-01-15T08:00:00Z  spiffe://contoso.test/admin/admin1  "
                             "root.add     fabrikam-root  fabrikam.test mtls\n"));
  EXPECT_THAT(out, HasSubstr("enabled -> disabled\n"));
  EXPECT_THAT(out, HasSubstr("was fabrikam.test mtls\n"));
}

TEST(OutputTest, SnapshotSummaryAndFiles) {
  FakeControlPlane control;
  v1::TrustSnapshot s = control.state();
  s.set_revision(9);
  v1::Revocation* rev = s.add_revocations();
  rev->set_sha256_hex(kSha);
  rev->set_subject("CN=old");
  v1::FederationPeer* p = s.add_peers();
  p->set_trust_domain("fabrikam.test");
  const std::string summary = FormatSnapshotSummary(s);
  EXPECT_THAT(summary, StartsWith("snapshot revision 9 of contoso.test\n"));
  EXPECT_THAT(summary, HasSubstr("roots        1  contoso-root\n"));
  EXPECT_THAT(summary, HasSubstr("issuers      0\n"));
  EXPECT_THAT(summary, HasSubstr("peers        1  fabrikam.test (disabled)\n"));
  EXPECT_THAT(summary, HasSubstr(std::string(kSha) + " [der-only] (CN=old)"));

  absl::StatusOr<std::string> json = EncodeSnapshotFile(s, "/tmp/x.json");
  ASSERT_THAT(json, IsOk());
  v1::TrustSnapshot parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &parsed).ok());
  EXPECT_EQ(parsed.SerializeAsString(), s.SerializeAsString());
  absl::StatusOr<std::string> pb = EncodeSnapshotFile(s, "snap.pb");
  ASSERT_THAT(pb, IsOk());
  ASSERT_TRUE(parsed.ParseFromString(*pb));
  EXPECT_EQ(parsed.SerializeAsString(), s.SerializeAsString());
  EXPECT_THAT(EncodeSnapshotFile(s, "snap.yaml"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--out: \"snap.yaml\" must end in"));
}

// --- exit statuses --------------------------------------------------------

TEST(ExitStatusTest, EveryDocumentedCodeHasItsOwnStatus) {
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kOk), 0);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kInvalidArgument), 3);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kOutOfRange), 3);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kNotFound), 4);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kAlreadyExists), 5);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kFailedPrecondition), 6);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kAborted), 7);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kPermissionDenied), 8);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kUnauthenticated), 9);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kUnavailable), 10);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kDeadlineExceeded), 11);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kInternal), 1);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kUnimplemented), 1);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kUnknown), 1);
  // The help text documents each of them.
  const std::string help = ExitStatusHelp();
  for (const char* line : {"  2  usage", "  7  aborted", " 11  deadline_exceeded"}) {
    EXPECT_THAT(help, HasSubstr(line));
  }
}

TEST(ExitStatusTest, ErrorLines) {
  EXPECT_EQ(ErrorLine(absl::AbortedError("expected revision 3, current revision 5")),
            "tfctl: aborted: expected revision 3, current revision 5");
  EXPECT_EQ(UsageLine("--name is required"), "tfctl: usage: --name is required");
}

// --- whole command lines --------------------------------------------------

struct CliRun {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs `tfctl <args>` in-process with the admin commands.
CliRun Tfctl(std::vector<std::string> args) {
  CLI::App app{"tfctl"};
  app.require_subcommand(1);
  AddAdminCommands(app);
  args.insert(args.begin(), "tfctl");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  CliRun run;
  std::ostringstream help;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  run.status = RunTfctl(app, static_cast<int>(argv.size()), argv.data(), help, std::cerr);
  run.out = ::testing::internal::GetCapturedStdout() + help.str();
  run.err = ::testing::internal::GetCapturedStderr();
  return run;
}

TEST(CommandLineTest, BadFlagsExitTwoNamingTheFlag) {
  CliRun r = Tfctl({"root", "add", "--name", "x"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_EQ(r.err, "tfctl: usage: --certificate is required (see --help)\n");

  r = Tfctl({"root", "list", "--bogus"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--bogus"));

  r = Tfctl({"root", "remove", "--name", "x", "--wait-nodes", "1", "--wait-all"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--wait-nodes excludes --wait-all"));

  r = Tfctl({"revoke", "--sha256", kSha, "--certificate", "x.crt"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--certificate excludes --sha256"));

  r = Tfctl({"audit", "--limit", "many"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--limit"));

  r = Tfctl({"--timeout", "forever", "status"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--timeout: not a positive duration"));

  r = Tfctl({"peer", "add", "--trust-domain", "fabrikam.test", "--root", "r", "--endpoint",
             "nohost", "--allowed-server", "edge1.fabrikam.test", "--control", "127.0.0.1:1"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("tfctl: usage: --endpoint: \"nohost\""));
  EXPECT_EQ(r.out, "");
}

TEST(CommandLineTest, MissingConnectionIsAUsageError) {
  unsetenv("TF_CONTROL");
  unsetenv("TF_PKI");
  unsetenv("TF_DOMAIN");
  CliRun r = Tfctl({"root", "list"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("tfctl: usage: --control: required"));
}

TEST(CommandLineTest, HelpExitsZero) {
  CliRun r = Tfctl({"root", "add", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.out, HasSubstr("--expected-revision"));
  EXPECT_EQ(r.err, "");
}

class CommandLineServerTest : public ::testing::Test {
 protected:
  std::vector<std::string> Connection() const {
    return {"--control",     control_.address(),
            "--server-name", testing::kFakeControlName,
            "--domain",      "contoso.test",
            "--cert",        control_.admin().certificate_file,
            "--key",         control_.admin().key_file,
            "--ca",          control_.root_file()};
  }
  CliRun TfctlAt(std::vector<std::string> args) const {
    std::vector<std::string> all = Connection();
    all.insert(all.end(), args.begin(), args.end());
    return Tfctl(all);
  }

  FakeControlPlane control_;
};

TEST_F(CommandLineServerTest, MutationPrintsTheRevision) {
  v1::MutationResponse m;
  m.set_revision(8);
  m.set_applied_nodes(3);
  m.set_connected_nodes(3);
  control_.SetResponse("RemoveRootAuthority", m);
  CliRun r = TfctlAt({"root", "remove", "--name", "old-root", "--force", "--expected-revision", "7",
                      "--wait-all", "--wait-timeout", "20s"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "revision 8 (applied by 3 of 3 connected nodes)\n");
  v1::RemoveRootAuthorityRequest seen =
      control_.Request<v1::RemoveRootAuthorityRequest>("RemoveRootAuthority");
  EXPECT_EQ(seen.name(), "old-root");
  EXPECT_TRUE(seen.force());
  EXPECT_EQ(seen.options().expected_revision(), 7u);
  EXPECT_TRUE(seen.options().wait().all_nodes());
  EXPECT_EQ(seen.options().wait().timeout().seconds(), 20);

  r = TfctlAt({"--json", "root", "remove", "--name", "old-root"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["revision"], "8");
}

TEST_F(CommandLineServerTest, RevokeSendsTheTargetAndPrintsWarningsOnStderr) {
  v1::MutationResponse m;
  m.set_revision(4);
  m.add_warnings("revocation abc is der-only: a re-encoded copy of the certificate is not refused");
  control_.SetResponse("RevokeCertificate", m);
  CliRun r = TfctlAt({"revoke", "--sha256", kSha, "--der-only", "--reason", "lost"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "revision 4\n");
  EXPECT_EQ(r.err,
            "warning: revocation abc is der-only: a re-encoded copy of the certificate is not "
            "refused\n");
  v1::RevokeCertificateRequest seen =
      control_.Request<v1::RevokeCertificateRequest>("RevokeCertificate");
  EXPECT_EQ(seen.sha256_hex(), kSha);
  EXPECT_TRUE(seen.der_only());
  EXPECT_FALSE(seen.revoke_key());

  r = TfctlAt({"revoke", "--certificate", control_.root_file(), "--revoke-key"});
  EXPECT_EQ(r.status, 0) << r.err;
  seen = control_.Request<v1::RevokeCertificateRequest>("RevokeCertificate");
  EXPECT_FALSE(seen.certificate_pem().empty());
  EXPECT_TRUE(seen.revoke_key());

  r = TfctlAt({"revoke", "--issuer-cert", control_.root_file(), "--serial", "0A"});
  EXPECT_EQ(r.status, 0) << r.err;
  seen = control_.Request<v1::RevokeCertificateRequest>("RevokeCertificate");
  EXPECT_EQ(seen.issuer_serial().serial_hex(), "a");
  EXPECT_EQ(seen.issuer_serial().issuer_spki_sha256_hex().size(), 64u);

  // Two targets, or --serial alone: usage errors before any call.
  const size_t calls = control_.calls().size();
  r = TfctlAt({"revoke", "--tbs-sha256", kSha, "--key-sha256", kSha});
  EXPECT_EQ(r.status, 2) << r.err;
  r = TfctlAt({"revoke", "--serial", "0A"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(control_.calls().size(), calls);
}

TEST_F(CommandLineServerTest, RevokeListAndUnrevokeByKey) {
  v1::ListRevocationsResponse list;
  list.set_revision(5);
  v1::RevocationListing* weak = list.add_revocations();
  weak->set_key(kSha);
  weak->set_weak(true);
  weak->mutable_revocation()->set_sha256_hex(kSha);
  control_.SetResponse("ListRevocations", list);
  CliRun r = TfctlAt({"revoke", "list"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("der-only (weak)"));
  EXPECT_THAT(control_.calls(), ElementsAre("ListRevocations"));
  r = TfctlAt({"--json", "revoke", "list"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["revocations"][0]["weak"], true);

  const std::string key = absl::StrCat("key:", kSha);
  r = TfctlAt({"unrevoke", key});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(control_.Request<v1::UnrevokeCertificateRequest>("UnrevokeCertificate").sha256_hex(),
            key);
  r = TfctlAt({"unrevoke", "--sha256", absl::AsciiStrToUpper(kSha)});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(control_.Request<v1::UnrevokeCertificateRequest>("UnrevokeCertificate").sha256_hex(),
            kSha);
  r = TfctlAt({"unrevoke"});
  EXPECT_EQ(r.status, 2) << r.err;
}

TEST_F(CommandLineServerTest, ConnectionFlagsWorkAfterTheCommandToo) {
  std::vector<std::string> args = {"root", "list"};
  std::vector<std::string> conn = Connection();
  args.insert(args.end(), conn.begin(), conn.end());
  args.push_back("--json");
  CliRun r = Tfctl(args);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["revision"], "0");
}

TEST_F(CommandLineServerTest, EnvironmentSuppliesTheControlAddress) {
  std::vector<std::string> args = Connection();
  args.erase(args.begin(), args.begin() + 2);  // drop --control
  args.push_back("audit");
  setenv("TF_CONTROL", control_.address().c_str(), 1);
  CliRun r = Tfctl(args);
  unsetenv("TF_CONTROL");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(control_.calls(), ElementsAre("GetAuditLog"));
}

TEST_F(CommandLineServerTest, RootAddDefaultsToTheAdministeredDomain) {
  CliRun r = TfctlAt({"root", "add", "--name", "contoso-root-2", "--certificate",
                      control_.root_file(), "--purpose", "mtls,token-signing"});
  EXPECT_EQ(r.status, 0) << r.err;
  v1::AddRootAuthorityRequest seen =
      control_.Request<v1::AddRootAuthorityRequest>("AddRootAuthority");
  EXPECT_EQ(seen.root().trust_domain(), "contoso.test");
  EXPECT_THAT(seen.root().purposes(), ElementsAre(v1::MTLS, v1::TOKEN_SIGNING));
}

TEST_F(CommandLineServerTest, PeerDisableReadsThenPutsWithCompareAndSwap) {
  control_.SetResponse("ListFederationPeers", TwoPeers());
  CliRun r = TfctlAt({"peer", "disable", "--trust-domain", "fabrikam.test"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(control_.calls(), ElementsAre("ListFederationPeers", "PutFederationPeer"));
  v1::PutFederationPeerRequest put =
      control_.Request<v1::PutFederationPeerRequest>("PutFederationPeer");
  EXPECT_FALSE(put.peer().enabled());
  EXPECT_EQ(put.peer().endpoints_size(), 1);
  EXPECT_EQ(put.options().expected_revision(), 12u);

  r = TfctlAt({"peer", "enable", "--trust-domain", "tailspin.test"});
  EXPECT_EQ(r.status, 4);
  EXPECT_EQ(r.err, "tfctl: not_found: federation peer tailspin.test not found\n");
}

TEST_F(CommandLineServerTest, ControlPlaneErrorsMapToExitStatuses) {
  control_.SetFailure(absl::AbortedError("expected revision 3, current revision 5"));
  CliRun r = TfctlAt({"unrevoke", "--sha256", kSha, "--expected-revision", "3"});
  EXPECT_EQ(r.status, 7);
  EXPECT_EQ(r.err, "tfctl: aborted: expected revision 3, current revision 5\n");
  EXPECT_EQ(r.out, "");

  control_.SetFailure(absl::FailedPreconditionError("root contoso-root anchors issuer app1"));
  r = TfctlAt({"root", "remove", "--name", "contoso-root"});
  EXPECT_EQ(r.status, 6);

  control_.SetFailure(absl::InvalidArgumentError("root.certificates_pem: not a ca certificate"));
  r = TfctlAt({"root", "add", "--name", "x", "--certificate", control_.root_file()});
  EXPECT_EQ(r.status, 3);
  EXPECT_EQ(r.err, "tfctl: invalid_argument: root.certificates_pem: not a ca certificate\n");
}

TEST_F(CommandLineServerTest, NonAdminGetsPermissionDenied) {
  std::vector<std::string> args = Connection();
  args[7] = control_.frontend().certificate_file;
  args[9] = control_.frontend().key_file;
  args.push_back("status");
  CliRun r = Tfctl(args);
  EXPECT_EQ(r.status, 8);
  EXPECT_THAT(r.err, StartsWith("tfctl: permission_denied: "));
}

TEST_F(CommandLineServerTest, WrongBootstrapRootIsUnauthenticated) {
  std::vector<std::string> args = Connection();
  args[11] = control_.impostor_root_file();
  args.push_back("status");
  CliRun r = Tfctl(args);
  EXPECT_EQ(r.status, 9);
  EXPECT_THAT(r.err, HasSubstr("is not trusted: chain:"));
}

TEST_F(CommandLineServerTest, StatusAndAuditTables) {
  const absl::Time now = absl::Now();
  control_.SetResponse("GetPropagationStatus", ThreeNodes(now));
  CliRun r = TfctlAt({"status"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out,
              StartsWith("revision 10  nodes 3 (1 connected)  der-only revocations 0\nNODE"));
  r = TfctlAt({"status", "--json"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["nodes"][1]["lag"], "3");

  r = TfctlAt({"audit", "--since", "4", "--limit", "2"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("REVISION"));
  v1::GetAuditLogRequest seen = control_.Request<v1::GetAuditLogRequest>("GetAuditLog");
  EXPECT_EQ(seen.since_revision(), 4u);
  EXPECT_EQ(seen.limit(), 2u);
}

TEST_F(CommandLineServerTest, SnapshotToFiles) {
  v1::TrustSnapshot s = control_.state();
  s.set_revision(6);
  control_.SetResponse("GetSnapshot", s);
  const std::string json_path = control_.dir().path() + "/snap.json";
  CliRun r = TfctlAt({"snapshot", "--out", json_path});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("snapshot revision 6 written to " + json_path));
  v1::TrustSnapshot parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ReadFile(json_path), &parsed).ok());
  EXPECT_EQ(parsed.SerializeAsString(), s.SerializeAsString());

  const std::string pb_path = control_.dir().path() + "/snap.pb";
  r = TfctlAt({"--json", "snapshot", "--out", pb_path});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["file"], pb_path);
  ASSERT_TRUE(parsed.ParseFromString(ReadFile(pb_path)));
  EXPECT_EQ(parsed.revision(), 6u);

  // A bad extension is refused before the control plane is asked.
  const size_t calls = control_.calls().size();
  r = TfctlAt({"snapshot", "--out", control_.dir().path() + "/snap.txt"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_EQ(control_.calls().size(), calls);
  r = TfctlAt({"snapshot", "--out", control_.dir().path() + "/no/such/dir/snap.json"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--out: cannot create"));

  r = TfctlAt({"snapshot"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("snapshot revision 6 of contoso.test\n"));
}

}  // namespace
}  // namespace trustfabric::client
