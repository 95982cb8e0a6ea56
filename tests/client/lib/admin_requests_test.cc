// Admin command values (flags) mapped onto ControlPlane requests: mutation
// options, purposes, endpoints, hashes, and every request tfctl sends.
#include "client/lib/admin_requests.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/lib/scripted_control_plane.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::client {
namespace {

constexpr char kSha[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

const TestDomain& Contoso() { return trustfabric::testing::SharedTestDomain("contoso.test"); }

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
      "11111111-1111-4111-8111-111111111111@" + std::string(testing::kScriptedControlRealm);
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

TEST(PeerRequestTest, SetEnabledChangesOnlyTheFlagAndExpectsTheListedRevision) {
  const v1::ListFederationPeersResponse current = testing::TwoPeers();
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

}  // namespace
}  // namespace trustfabric::client
