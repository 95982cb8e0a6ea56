// tfctl's output for people and programs: tables, protobuf JSON, status,
// revocation lists, audit changes and snapshot files.
#include "client/tfctl/admin_output.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/pki/certificate.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/lib/scripted_control_plane.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::tfctl {
namespace {

using trustfabric::testing::ScriptedControlPlane;

constexpr char kSha[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

const TestDomain& Contoso() { return trustfabric::testing::SharedTestDomain("contoso.test"); }

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
  v1::ListFederationPeersResponse peers = testing::TwoPeers();
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

  const std::string peers = FormatPeers(testing::TwoPeers());
  EXPECT_THAT(peers, HasSubstr("fabrikam.test   yes      fabrikam-root  "
                               "127.0.0.13:7443=edge1.fabrikam.test  edge1.fabrikam.test\n"));
  EXPECT_THAT(peers, HasSubstr("northwind.test  no       -"));
}

TEST(OutputTest, StatusTableShowsLagNackAndExpiry) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  const std::string out = FormatStatus(testing::ThreeNodes(now), now);
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
  v1::GetPropagationStatusResponse status = testing::ThreeNodes(now);
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
  nlohmann::json j = nlohmann::json::parse(StatusJson(testing::ThreeNodes(now)));
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
  v1::AuditRecord* d = log.add_records();
  d->set_revision(4);
  d->set_operation("root.remove");
  d->set_result("failed_precondition");
  d->set_reason("root authority contoso-root anchors connected nodes");
  const std::string out = FormatAudit(log);
  EXPECT_THAT(out, HasSubstr("2         2027-01-15T08:00:00Z  spiffe://contoso.test/admin/admin1  "
                             "root.add     fabrikam-root  fabrikam.test mtls\n"));
  EXPECT_THAT(out, HasSubstr("enabled -> disabled\n"));
  EXPECT_THAT(out, HasSubstr("was fabrikam.test mtls\n"));
  EXPECT_THAT(out, HasSubstr(
                       "refused failed_precondition: root authority contoso-root anchors "
                       "connected nodes\n"));
}

TEST(OutputTest, SnapshotSummaryAndFiles) {
  ScriptedControlPlane control;
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

}  // namespace
}  // namespace trustfabric::tfctl
