// Whole tfctl admin command lines run in-process against a scripted
// ControlPlane: flags, connection settings, output and exit statuses
// together.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "client/tfctl/tfctl_commands.h"
#include "client/tfctl/tfctl_exit.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/lib/scripted_control_plane.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::tfctl {
namespace {

using trustfabric::testing::ScriptedControlPlane;

constexpr char kSha[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

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
            "--server-name", testing::kScriptedControlName,
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

  ScriptedControlPlane control_;
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
  control_.SetResponse("ListFederationPeers", testing::TwoPeers());
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
  control_.SetResponse("GetPropagationStatus", testing::ThreeNodes(now));
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
}  // namespace trustfabric::tfctl
