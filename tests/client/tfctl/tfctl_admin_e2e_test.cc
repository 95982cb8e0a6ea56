// End to end: the real tfctl binary against the real tfcontrol. Each test
// gets a fresh control plane (own SQLite file, free port) seeded from a
// `tfctl pki init` directory, and drives tfctl as an operator would: every
// admin command, the refusals a control plane makes (dependents, stale
// revisions, non-admin callers, untrusted servers, propagation waits) and
// the exit status each one maps to.
//
//   TFCTL_PATH and TFCONTROL_PATH are compiled in by CMake.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/devcluster/pki_init.h"
#include "client/lib/admin_connection.h"
#include "client/lib/control_client.h"
#include "common/pki/certificate.h"
#include "common/status/status.h"
#include "common/tls/client_security.h"
#include "common/trust/holder.h"
#include "common/trust/snapshot.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"
#include "trustfabric/v1/control.grpc.pb.h"

#include <grpcpp/client_context.h>

namespace trustfabric::tfctl {
namespace {

using trustfabric::testing::Subprocess;

constexpr char kDomain[] = "contoso.test";
constexpr char kPartner[] = "fabrikam.test";
constexpr char kPassword[] = "changeit";

int ExitCode(const absl::StatusOr<int>& status) {
  if (!status.ok()) return -1;
  if (WIFEXITED(*status)) return WEXITSTATUS(*status);
  return 128 + WTERMSIG(*status);
}

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const Result& r) {
  return os << "exit " << r.status << "\nstdout: " << r.out << "\nstderr: " << r.err;
}

// Runs one command with stdout and stderr captured separately.
Result RunCommand(const std::string& binary, const std::vector<std::string>& args,
                  const TempDir& dir) {
  static std::atomic<int> counter{0};
  const int n = counter++;
  const std::string out = absl::StrCat(dir.path(), "/cmd", n, ".out");
  const std::string err = absl::StrCat(dir.path(), "/cmd", n, ".err");
  std::vector<std::string> argv = {
      "/bin/sh", "-c", "o=$1; e=$2; shift 2; exec \"$0\" \"$@\" >\"$o\" 2>\"$e\"",
      binary,    out,  err};
  argv.insert(argv.end(), args.begin(), args.end());
  Result r;
  absl::StatusOr<std::unique_ptr<Subprocess>> p = testing::StartSubprocess(argv, "");
  if (!p.ok()) {
    r.err = p.status().ToString();
    return r;
  }
  r.status = ExitCode((*p)->Wait(absl::Seconds(60)));
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

// A node of the domain on a Watch stream: subscribes, acknowledges every
// update it receives, and stops when destroyed. It makes the control plane
// see a connected node (status, propagation waits, safe rotation).
class WatchingNode {
 public:
  WatchingNode(const std::string& address, const std::string& server_name, const std::string& cert,
               const std::string& key, const std::string& root_pem) {
    absl::StatusOr<std::vector<pki::Certificate>> roots = pki::ParsePemBundle(root_pem);
    EXPECT_THAT(roots, IsOk());
    absl::StatusOr<std::shared_ptr<const pki::RootStore>> store = pki::RootStore::Create(*roots);
    EXPECT_THAT(store, IsOk());
    source_ = std::make_shared<tls::TrustSource>(&holder_, kDomain, *store);
    absl::StatusOr<std::shared_ptr<tls::ChannelCache>> channels =
        tls::ChannelCache::Create({cert, key, 1}, source_);
    EXPECT_THAT(channels, IsOk());
    channels_ = *channels;
    stub_ = v1::TrustDistribution::NewStub(
        channels_->Get(tls::Target(address, server_name, std::string(kDomain), {pki::Role::kControl})));
    stream_ = stub_->Watch(&context_);
    v1::WatchRequest subscribe;
    subscribe.mutable_subscribe()->set_agent("tfctl e2e test node");
    stream_->Write(subscribe);
    reader_ = std::thread([this] { Read(); });
  }

  ~WatchingNode() {
    context_.TryCancel();
    reader_.join();
  }

  uint64_t applied() const { return applied_.load(); }

 private:
  void Read() {
    v1::WatchResponse response;
    while (stream_->Read(&response)) {
      uint64_t revision = 0;
      if (response.has_delta()) revision = response.delta().revision();
      if (response.has_snapshot_chunk() &&
          response.snapshot_chunk().index() + 1 == response.snapshot_chunk().count()) {
        revision = response.snapshot_chunk().revision();
      }
      if (revision == 0) continue;
      v1::WatchRequest ack;
      ack.mutable_ack()->set_revision(revision);
      if (!stream_->Write(ack)) break;
      applied_.store(revision);
    }
  }

  trust::SnapshotHolder holder_;
  std::shared_ptr<tls::TrustSource> source_;
  std::shared_ptr<tls::ChannelCache> channels_;
  std::unique_ptr<v1::TrustDistribution::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::WatchRequest, v1::WatchResponse>> stream_;
  std::atomic<uint64_t> applied_{0};
  std::thread reader_;
};

class TfctlAdminE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_dir_ = new TempDir();
    devcluster::PkiInitOptions opts;
    opts.domains = {kDomain, kPartner};
    opts.out_dir = pki_dir_->path() + "/pki";
    opts.pkcs12_password = kPassword;
    absl::StatusOr<devcluster::PkiInitResult> result = devcluster::RunPkiInit(opts);
    ASSERT_THAT(result, IsOk());
    manifest_ = new nlohmann::json(nlohmann::json::parse(ReadFile(result->manifest_path)));
  }
  static void TearDownTestSuite() {
    delete manifest_;
    delete pki_dir_;
  }

  static std::string Pki() { return pki_dir_->path() + "/pki"; }
  static const nlohmann::json& Domain(const std::string& domain) {
    for (const nlohmann::json& d : (*manifest_)["domains"]) {
      if (d["domain"] == domain) return d;
    }
    ADD_FAILURE() << "no domain " << domain;
    return (*manifest_)["domains"][0];
  }
  static const nlohmann::json& Entry(const std::string& domain, const std::string& name) {
    for (const nlohmann::json& e : Domain(domain)["entries"]) {
      if (e["name"] == name) return e;
    }
    ADD_FAILURE() << "no entry " << domain << "/" << name;
    return Domain(domain)["entries"][0];
  }
  static std::string File(const std::string& domain, const std::string& name,
                          const std::string& kind = "cert") {
    return Pki() + "/" + Entry(domain, name)[kind].get<std::string>();
  }
  static std::string Realm() { return Domain(kDomain)["realm"]; }

  void SetUp() override {
    // A free port can be taken between FreePort and the bind; try again.
    for (int attempt = 0; attempt < 3 && control_ == nullptr; ++attempt) StartControlPlane();
    ASSERT_NE(control_, nullptr) << ReadFile(log_path_);
  }

  void TearDown() override {
    if (control_ == nullptr) return;
    control_->Kill(SIGTERM);
    EXPECT_EQ(ExitCode(control_->Wait(absl::Seconds(30))), 0) << ReadFile(log_path_);
    if (HasFailure()) std::cerr << "--- tfcontrol log\n" << ReadFile(log_path_);
  }

  void StartControlPlane() {
    const int port = testing::FreePort();
    ASSERT_NE(port, 0);
    address_ = absl::StrCat("127.0.0.1:", port);
    log_path_ = dir_.path() + "/tfcontrol.log";
    const std::string config = dir_.Write(
        "control.yaml",
        absl::StrCat("trust_domain: ", kDomain, "\n",                                     //
                     "realm: ", Realm(), "\n",                                            //
                     "listen:\n  address: ", address_, "\n",                              //
                     "identity:\n  certificate_file: ", File(kDomain, "control1"), "\n",  //
                     "  key_file: ", File(kDomain, "control1", "key"), "\n",              //
                     "seed_root_name: contoso-root\n",                                    //
                     "seed_root_file: ", File(kDomain, "root"), "\n",                     //
                     "sqlite_path: ", dir_.path(), "/control.db\n"));
    absl::StatusOr<std::unique_ptr<Subprocess>> p =
        testing::StartSubprocess({TFCONTROL_PATH, "--config", config}, log_path_);
    ASSERT_THAT(p, IsOk());
    if (WaitReady(p->get())) control_ = *std::move(p);
  }

  // Bounded wait until the control plane answers an admin. Each attempt
  // uses a new client: a channel that failed to connect backs off for
  // seconds before it tries again.
  bool WaitReady(Subprocess* process) {
    client::ConnectionFlags flags;
    flags.control = address_;
    flags.pki_dir = Pki();
    flags.trust_domain = kDomain;
    flags.timeout = "2s";
    absl::StatusOr<client::ControlClientOptions> options = client::ResolveConnection(flags);
    EXPECT_THAT(options, IsOk());
    if (!options.ok()) return false;
    for (int i = 0; i < 300; ++i) {
      if (!process->Running()) return false;
      absl::StatusOr<std::unique_ptr<client::ControlClient>> client =
          client::ControlClient::Create(*options);
      EXPECT_THAT(client, IsOk());
      if (!client.ok()) return false;
      if ((*client)->GetSnapshot().ok()) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  std::vector<std::string> Connection() const {
    return {"--control", address_, "--pki", Pki(), "--domain", kDomain};
  }

  // `tfctl <connection flags> <args>`.
  Result Tfctl(const std::vector<std::string>& args) const {
    std::vector<std::string> all = Connection();
    all.insert(all.end(), args.begin(), args.end());
    return RunCommand(TFCTL_PATH, all, dir_);
  }
  // `tfctl <args>` as given.
  Result TfctlRaw(const std::vector<std::string>& args) const {
    return RunCommand(TFCTL_PATH, args, dir_);
  }

  uint64_t Revision() const {
    Result r = Tfctl({"--json", "snapshot"});
    EXPECT_EQ(r.status, 0) << r;
    if (r.status != 0) return 0;
    return std::stoull(nlohmann::json::parse(r.out)["revision"].get<std::string>());
  }

  Result AddPartnerRoot(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {
        "root",           "add",    "--name",        "fabrikam-root",
        "--trust-domain", kPartner, "--certificate", File(kPartner, "root")};
    args.insert(args.end(), extra.begin(), extra.end());
    return Tfctl(args);
  }

  Result AddPartnerPeer(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"peer",
                                     "add",
                                     "--trust-domain",
                                     kPartner,
                                     "--root",
                                     "fabrikam-root",
                                     "--endpoint",
                                     "127.0.0.1:7443=edge1.fabrikam.test",
                                     "--allowed-server",
                                     "edge1.fabrikam.test"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Tfctl(args);
  }

  static TempDir* pki_dir_;
  static nlohmann::json* manifest_;
  TempDir dir_;
  std::string address_;
  std::string log_path_;
  std::unique_ptr<Subprocess> control_;
};

TempDir* TfctlAdminE2ETest::pki_dir_ = nullptr;
nlohmann::json* TfctlAdminE2ETest::manifest_ = nullptr;

// Every failure is exactly one line on stderr.
void ExpectOneErrorLine(const Result& r, const std::string& prefix) {
  EXPECT_THAT(r.err, StartsWith(prefix)) << r;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r;
}

TEST_F(TfctlAdminE2ETest, RootsAddListAndRemoveWithAndWithoutForce) {
  Result r = Tfctl({"root", "list"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_THAT(r.out, StartsWith("revision 1\nNAME"));
  EXPECT_THAT(r.out, HasSubstr("contoso-root  contoso.test  mtls,token-signing  1"));

  r = AddPartnerRoot();
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "revision 2\n");
  EXPECT_EQ(r.err, "");

  r = AddPartnerRoot();
  EXPECT_EQ(r.status, 5) << r;
  ExpectOneErrorLine(r, "tfctl: already_exists: root authority fabrikam-root already exists");
  // A leaf that is neither a CA nor self-signed anchors nothing.
  r = Tfctl({"root", "add", "--name", "not-a-ca", "--certificate", File(kDomain, "app2")});
  EXPECT_EQ(r.status, 3) << r;
  ExpectOneErrorLine(r, "tfctl: invalid_argument: root authority not-a-ca: ");
  EXPECT_THAT(r.err, HasSubstr("not-a-ca"));

  r = Tfctl({"--json", "root", "list"});
  ASSERT_EQ(r.status, 0) << r;
  nlohmann::json roots = nlohmann::json::parse(r.out);
  EXPECT_EQ(roots["revision"], "2");
  ASSERT_EQ(roots["roots"].size(), 2u);
  EXPECT_EQ(roots["roots"][1]["name"], "fabrikam-root");
  EXPECT_EQ(roots["roots"][1]["trust_domain"], kPartner);
  EXPECT_EQ(roots["roots"][1]["purposes"], nlohmann::json::array({"MTLS"}));
  EXPECT_EQ(roots["roots"][1]["certificates_pem"], ReadFile(File(kPartner, "root")));

  // A peer depends on the root: removal is refused unless forced.
  r = AddPartnerPeer();
  ASSERT_EQ(r.status, 0) << r;
  r = Tfctl({"root", "remove", "--name", "fabrikam-root"});
  EXPECT_EQ(r.status, 6) << r;
  ExpectOneErrorLine(r, "tfctl: failed_precondition: ");
  EXPECT_THAT(r.err, HasSubstr("fabrikam.test"));
  EXPECT_EQ(Revision(), 3u);

  r = Tfctl({"root", "remove", "--name", "fabrikam-root", "--force"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "revision 4\n");
  r = Tfctl({"root", "list"});
  EXPECT_THAT(r.out, Not(HasSubstr("fabrikam-root")));

  r = Tfctl({"root", "remove", "--name", "fabrikam-root"});
  EXPECT_EQ(r.status, 4) << r;
  ExpectOneErrorLine(r, "tfctl: not_found: ");
}

TEST_F(TfctlAdminE2ETest, IssuerWithTheSelfSignedAppCertificateSignsVerifiableTokens) {
  const nlohmann::json& app1 = Entry(kDomain, "app1");
  ASSERT_TRUE(app1["self_signed"].get<bool>());
  const std::string issuer_name = app1["issuer_name"];
  const std::vector<std::string> add_issuer = {"issuer",
                                               "add",
                                               "--name",
                                               "app1",
                                               "--registered-issuer-name",
                                               issuer_name,
                                               "--certificate",
                                               File(kDomain, "app1")};

  // Until the certificate is registered as its own token-signing root, it
  // anchors nothing.
  Result r = Tfctl(add_issuer);
  EXPECT_EQ(r.status, 6) << r;
  ExpectOneErrorLine(r, "tfctl: failed_precondition: issuer app1: signing certificate 0");

  r = Tfctl({"root", "add", "--name", "app1-signing", "--certificate", File(kDomain, "app1"),
             "--purpose", "token-signing"});
  ASSERT_EQ(r.status, 0) << r;
  r = Tfctl(add_issuer);
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "revision 3\n");

  r = Tfctl({"issuer", "list"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("app1  " + issuer_name + "  rs256       1      no"));

  // The snapshot file verifies a token the application mints.
  const std::string snapshot = dir_.path() + "/snapshot.json";
  r = Tfctl({"snapshot", "--out", snapshot});
  ASSERT_EQ(r.status, 0) << r;
  const std::string password_file =
      dir_.Write("app1.password", std::string(kPassword) + "\n", 0600);
  Result token = TfctlRaw({"token", "mint", "--pkcs12", File(kDomain, "app1", "pkcs12"),
                           "--password-file", password_file, "--issuer-id", app1["client_id"],
                           "--realm", Realm(), "--host", "fe1.contoso.test"});
  ASSERT_EQ(token.status, 0) << token;
  Result verified =
      TfctlRaw({"token", "verify", "--snapshot", snapshot, "--host", "fe1.contoso.test", "--token",
                std::string(absl::StripAsciiWhitespace(token.out))});
  ASSERT_EQ(verified.status, 0) << verified;
  EXPECT_EQ(nlohmann::json::parse(verified.out)["issuer_name"], "app1");

  r = Tfctl({"issuer", "remove", "--name", "app1"});
  ASSERT_EQ(r.status, 0) << r;
  r = Tfctl({"issuer", "remove", "--name", "app1"});
  EXPECT_EQ(r.status, 4) << r;
  // Nothing depends on the signing root any more.
  r = Tfctl({"root", "remove", "--name", "app1-signing"});
  EXPECT_EQ(r.status, 0) << r;

  // app2 chains to the domain root, which the seed made a token-signing root.
  const nlohmann::json& app2 = Entry(kDomain, "app2");
  r = Tfctl({"issuer", "add", "--name", "app2", "--registered-issuer-name", app2["issuer_name"],
             "--certificate", File(kDomain, "app2"), "--algorithm", "rs256",
             "--allow-user-delegation"});
  ASSERT_EQ(r.status, 0) << r;
  r = Tfctl({"--json", "issuer", "list"});
  nlohmann::json issuers = nlohmann::json::parse(r.out);
  ASSERT_EQ(issuers["issuers"].size(), 1u);
  EXPECT_EQ(issuers["issuers"][0]["allow_user_delegation"], true);
}

TEST_F(TfctlAdminE2ETest, PeersAddListDisableEnableRemove) {
  ASSERT_EQ(AddPartnerRoot().status, 0);
  Result r =
      Tfctl({"peer", "add", "--trust-domain", kPartner, "--root", "no-such-root", "--endpoint",
             "127.0.0.1:7443=edge1.fabrikam.test", "--allowed-server", "edge1.fabrikam.test"});
  EXPECT_EQ(r.status, 4) << r;
  ExpectOneErrorLine(r, "tfctl: not_found: federation peer fabrikam.test: root authority");

  r = AddPartnerPeer({"--disabled"});
  ASSERT_EQ(r.status, 0) << r;
  r = Tfctl({"peer", "list"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("fabrikam.test  no       fabrikam-root  "
                               "127.0.0.1:7443=edge1.fabrikam.test  edge1.fabrikam.test"));

  r = Tfctl({"peer", "enable", "--trust-domain", kPartner});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "revision 4\n");
  r = Tfctl({"--json", "peer", "list"});
  nlohmann::json peers = nlohmann::json::parse(r.out);
  ASSERT_EQ(peers["peers"].size(), 1u);
  EXPECT_EQ(peers["peers"][0]["enabled"], true);
  EXPECT_EQ(peers["peers"][0]["endpoints"][0]["server_name"], "edge1.fabrikam.test");

  r = Tfctl({"peer", "disable", "--trust-domain", kPartner});
  ASSERT_EQ(r.status, 0) << r;
  r = Tfctl({"peer", "list"});
  EXPECT_THAT(r.out, HasSubstr("fabrikam.test  no"));

  r = Tfctl({"peer", "remove", "--trust-domain", kPartner});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "revision 6\n");
  r = Tfctl({"peer", "remove", "--trust-domain", kPartner});
  EXPECT_EQ(r.status, 4) << r;
  r = Tfctl({"peer", "enable", "--trust-domain", kPartner});
  EXPECT_EQ(r.status, 4) << r;
  ExpectOneErrorLine(r, "tfctl: not_found: federation peer fabrikam.test not found");
}

// The certificate of a `pki init` entry, parsed.
absl::StatusOr<pki::Certificate> Cert(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  TF_ASSIGN_OR_RETURN(std::vector<pki::Certificate> certs, pki::ParsePemBundle(text.str()));
  return certs.front();
}

TEST_F(TfctlAdminE2ETest, RevokeAndUnrevoke) {
  absl::StatusOr<pki::Certificate> parsed = Cert(File(kDomain, "app2"));
  ASSERT_THAT(parsed, IsOk());
  const pki::Certificate app2 = *parsed;
  const std::string app2_sha = Entry(kDomain, "app2")["sha256"];
  ASSERT_EQ(app2.Sha256Hex(), app2_sha);
  const std::string app2_key = "certificate:" + app2.TbsSha256Hex();
  Result r =
      Tfctl({"revoke", "--certificate", File(kDomain, "app2"), "--reason", "key compromise"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "revision 2\n");

  // The signed body is revoked, the DER hash recorded.
  r = Tfctl({"--json", "snapshot"});
  ASSERT_EQ(r.status, 0) << r;
  nlohmann::json snapshot = nlohmann::json::parse(r.out);
  ASSERT_EQ(snapshot["revocations"].size(), 1u);
  EXPECT_EQ(snapshot["revocations"][0]["kind"], "REVOCATION_CERTIFICATE");
  EXPECT_EQ(snapshot["revocations"][0]["tbs_sha256_hex"], app2.TbsSha256Hex());
  EXPECT_EQ(snapshot["revocations"][0]["sha256_hex"], app2_sha);
  EXPECT_EQ(snapshot["revocations"][0]["reason"], "key compromise");

  r = Tfctl({"revoke", "--certificate", File(kDomain, "app2")});
  EXPECT_EQ(r.status, 5) << r;
  ExpectOneErrorLine(r, "tfctl: already_exists: revocation " + app2_key);

  // By a DER hash no node reported, as openssl prints a fingerprint (upper
  // case with colons): refused, unless stored as a weak der-only revocation.
  const std::string fe1_sha = Entry(kDomain, "fe1")["sha256"];
  std::string fingerprint;
  for (size_t i = 0; i < fe1_sha.size(); i += 2) {
    absl::StrAppend(&fingerprint, i == 0 ? "" : ":", absl::AsciiStrToUpper(fe1_sha.substr(i, 2)));
  }
  r = Tfctl({"revoke", "--sha256", fingerprint, "--reason", "decommissioned"});
  EXPECT_EQ(r.status, 6) << r;
  ExpectOneErrorLine(r, "tfctl: failed_precondition: sha256_hex: certificate " + fe1_sha +
                            " is not known to the control plane");
  EXPECT_THAT(r.err, HasSubstr("revoke the certificate file (--certificate) or pass der_only"));
  r = Tfctl({"revoke", "--sha256", fingerprint, "--der-only", "--reason", "decommissioned"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "revision 3\n");
  EXPECT_EQ(r.err, "warning: revocation " + fe1_sha +
                       " is der-only: a re-encoded copy of the certificate is not refused; it is "
                       "upgraded to a revocation of the certificate when a node reports the "
                       "certificate\n");

  r = Tfctl({"revoke", "list"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_THAT(r.out, StartsWith("revision 3  revocations 2 (1 der-only)\nKEY"));
  EXPECT_THAT(r.out, HasSubstr(app2_key + "  certificate  "));
  EXPECT_THAT(r.out, HasSubstr(fe1_sha + " "));
  EXPECT_THAT(r.out, HasSubstr("  der-only (weak)  "));
  EXPECT_THAT(r.out, HasSubstr("\nwarning: 1 der-only revocation"));
  r = Tfctl({"status"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("der-only revocations 1\n"));
  EXPECT_THAT(r.out, HasSubstr("\nwarning: 1 der-only revocation"));

  // A key, by its hash; then everything requested by app2's DER hash goes
  // (the body revocation), the key revocation (no DER hash) stays.
  r = Tfctl({"revoke", "--key-sha256", app2.SpkiSha256Hex()});
  ASSERT_EQ(r.status, 0) << r;
  r = Tfctl({"unrevoke", "--sha256", app2_sha});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "revision 5\n");
  r = Tfctl({"unrevoke", "--sha256", app2_sha});
  EXPECT_EQ(r.status, 4) << r;
  r = Tfctl({"unrevoke", "key:" + app2.SpkiSha256Hex()});
  ASSERT_EQ(r.status, 0) << r;
  r = Tfctl({"unrevoke", fe1_sha});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "revision 7\n");
  r = Tfctl({"--json", "revoke", "list"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(nlohmann::json::parse(r.out)["revocations"].size(), 0u);

  // A node's chain file means its leaf.
  r = Tfctl({"revoke", "--certificate", File(kDomain, "fe1"), "--revoke-key"});
  ASSERT_EQ(r.status, 0) << r;
  parsed = Cert(File(kDomain, "fe1"));
  ASSERT_THAT(parsed, IsOk());
  r = Tfctl({"revoke", "list"});
  EXPECT_THAT(r.out, HasSubstr("key:" + parsed->SpkiSha256Hex()));
}

TEST_F(TfctlAdminE2ETest, SnapshotFilesStatusAuditAndEnvironment) {
  ASSERT_EQ(AddPartnerRoot().status, 0);

  const std::string json_path = dir_.path() + "/s.json";
  const std::string pb_path = dir_.path() + "/s.pb";
  Result r = Tfctl({"snapshot", "--out", json_path});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_THAT(r.out, StartsWith("snapshot revision 2 written to " + json_path));
  r = Tfctl({"snapshot", "--out", pb_path});
  ASSERT_EQ(r.status, 0) << r;
  v1::TrustSnapshot from_json;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ReadFile(json_path), &from_json).ok());
  v1::TrustSnapshot from_pb;
  ASSERT_TRUE(from_pb.ParseFromString(ReadFile(pb_path)));
  EXPECT_EQ(from_json.SerializeAsString(), from_pb.SerializeAsString());
  EXPECT_EQ(from_pb.revision(), 2u);
  EXPECT_EQ(from_pb.realm(), Realm());
  EXPECT_THAT(trust::TrustSnapshot::Create(from_pb), IsOk());

  r = Tfctl({"snapshot"});
  EXPECT_THAT(r.out, StartsWith("snapshot revision 2 of contoso.test\nrealm        " + Realm()));
  EXPECT_THAT(r.out, HasSubstr("roots        2  contoso-root, fabrikam-root\n"));

  r = Tfctl({"status"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_THAT(r.out, StartsWith("revision 2  nodes 0 (0 connected)  der-only revocations 0\nNODE"));

  r = Tfctl({"audit"});
  ASSERT_EQ(r.status, 0) << r;
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_THAT(lines[0], StartsWith("REVISION"));
  EXPECT_THAT(lines[1], StartsWith("1 "));
  EXPECT_THAT(lines[1], HasSubstr("bootstrap"));
  EXPECT_THAT(lines[2], HasSubstr("spiffe://contoso.test/admin/admin1"));
  EXPECT_THAT(lines[2], HasSubstr("root.add"));
  EXPECT_THAT(lines[2], HasSubstr("fabrikam-root"));

  r = Tfctl({"--json", "audit", "--since", "1"});
  ASSERT_EQ(r.status, 0) << r;
  nlohmann::json audit = nlohmann::json::parse(r.out);
  ASSERT_EQ(audit["records"].size(), 1u);
  EXPECT_EQ(audit["records"][0]["revision"], "2");
  EXPECT_EQ(audit["records"][0]["actor"], "spiffe://contoso.test/admin/admin1");

  // The same commands with the connection in the environment.
  setenv("TF_CONTROL", address_.c_str(), 1);
  setenv("TF_PKI", Pki().c_str(), 1);
  setenv("TF_DOMAIN", kDomain, 1);
  r = TfctlRaw({"peer", "add", "--trust-domain", kPartner, "--root", "fabrikam-root", "--endpoint",
                "127.0.0.1:7443=edge1.fabrikam.test", "--allowed-server", "edge1.fabrikam.test"});
  Result audit_since = TfctlRaw({"audit", "--since", "2"});
  Result audit_limited = TfctlRaw({"audit", "--limit", "1"});
  unsetenv("TF_CONTROL");
  unsetenv("TF_PKI");
  unsetenv("TF_DOMAIN");
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "revision 3\n");
  ASSERT_EQ(audit_since.status, 0) << audit_since;
  EXPECT_THAT(audit_since.out, HasSubstr("peer.put"));
  EXPECT_THAT(audit_since.out, Not(HasSubstr("root.add")));
  // Oldest first: the first record after --since.
  ASSERT_EQ(audit_limited.status, 0) << audit_limited;
  EXPECT_THAT(audit_limited.out, HasSubstr("bootstrap"));
  EXPECT_THAT(audit_limited.out, Not(HasSubstr("peer.put")));
}

TEST_F(TfctlAdminE2ETest, StaleExpectedRevisionExitsSeven) {
  Result r = AddPartnerRoot({"--expected-revision", "5"});
  EXPECT_EQ(r.status, 7) << r;
  ExpectOneErrorLine(r, "tfctl: aborted: expected revision 5, current is 1");
  EXPECT_EQ(Revision(), 1u);
  r = AddPartnerRoot({"--expected-revision", "1"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "revision 2\n");
  r = Tfctl({"root", "remove", "--name", "fabrikam-root", "--expected-revision", "1"});
  EXPECT_EQ(r.status, 7) << r;
}

TEST_F(TfctlAdminE2ETest, NonAdminCertificateIsPermissionDenied) {
  Result r =
      Tfctl({"--cert", File(kDomain, "fe1"), "--key", File(kDomain, "fe1", "key"), "root", "list"});
  EXPECT_EQ(r.status, 8) << r;
  ExpectOneErrorLine(r, "tfctl: permission_denied: ");
  EXPECT_EQ(r.out, "");
  r = Tfctl({"--cert", File(kDomain, "fe1"), "--key", File(kDomain, "fe1", "key"), "root", "add",
             "--name", "x", "--certificate", File(kPartner, "root"), "--trust-domain", kPartner});
  EXPECT_EQ(r.status, 8) << r;
  EXPECT_EQ(Revision(), 1u);
}

TEST_F(TfctlAdminE2ETest, UntrustedOrUnreachableControlPlane) {
  // Verified with the partner's root as the bootstrap bundle: refused.
  Result r = Tfctl({"--ca", File(kPartner, "root"), "status"});
  EXPECT_EQ(r.status, 9) << r;
  ExpectOneErrorLine(r, "tfctl: unauthenticated: control plane control1.contoso.test at " +
                            address_ + " is not trusted: chain:");
  // Another name than the control plane's certificate carries: refused.
  r = Tfctl({"--server-name", "control9.contoso.test", "status"});
  EXPECT_EQ(r.status, 9) << r;

  // An admin of the partner domain: the control plane closes the
  // connection during the handshake.
  r = Tfctl({"--cert", File(kPartner, "admin1"), "--key", File(kPartner, "admin1", "key"), "root",
             "list"});
  EXPECT_EQ(r.status, 10) << r;
  ExpectOneErrorLine(r, "tfctl: unavailable: control plane control1.contoso.test at " + address_);
  EXPECT_THAT(r.err, HasSubstr("it may not trust our certificate"));

  control_->Kill(SIGTERM);
  EXPECT_EQ(ExitCode(control_->Wait(absl::Seconds(30))), 0);
  control_.reset();
  r = Tfctl({"--timeout", "3s", "root", "list"});
  EXPECT_EQ(r.status, 10) << r;
  ExpectOneErrorLine(r, "tfctl: unavailable: control plane control1.contoso.test at " + address_);
}

TEST_F(TfctlAdminE2ETest, PropagationWaitThatTimesOutExitsElevenButTheChangeStays) {
  // No node is connected: waiting for all of them is immediate, waiting for
  // one can only time out.
  Result r = AddPartnerRoot({"--wait-all"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "revision 2 (applied by 0 of 0 connected nodes)\n");
  r = AddPartnerPeer({"--wait-nodes", "1", "--wait-timeout", "1s"});
  EXPECT_EQ(r.status, 11) << r;
  ExpectOneErrorLine(r, "tfctl: deadline_exceeded: revision 3 committed; 0 of 1 nodes");
  EXPECT_EQ(Revision(), 3u);
}

TEST_F(TfctlAdminE2ETest, ConnectedNodeStatusWaitsAndSafeRotation) {
  WatchingNode node(address_, "control1.contoso.test", File(kDomain, "fe1"),
                    File(kDomain, "fe1", "key"), ReadFile(File(kDomain, "root")));
  // The node is listed once it applied revision 1.
  nlohmann::json status;
  for (int i = 0; i < 200; ++i) {
    Result r = Tfctl({"--json", "status"});
    ASSERT_EQ(r.status, 0) << r;
    status = nlohmann::json::parse(r.out);
    if (status["nodes"].size() == 1 && status["nodes"][0]["connected"] == true &&
        status["nodes"][0]["applied_revision"] == "1") {
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(status["nodes"].size(), 1u) << status.dump();
  EXPECT_EQ(status["nodes"][0]["spiffe_id"], "spiffe://contoso.test/frontend/fe1");
  EXPECT_EQ(status["nodes"][0]["lag"], "0");
  EXPECT_EQ(status["nodes"][0]["anchoring_root"], "contoso-root");

  Result r = Tfctl({"status"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_THAT(r.out, StartsWith("revision 1  nodes 1 (1 connected)  der-only revocations 0\n"));
  EXPECT_THAT(r.out, HasSubstr("spiffe://contoso.test/frontend/fe1  frontend  1        0    yes"));
  EXPECT_THAT(r.out, HasSubstr(Entry(kDomain, "fe1")["not_after"].get<std::string>()));
  EXPECT_THAT(r.out, HasSubstr("contoso-root"));

  r = AddPartnerRoot({"--wait-all", "--wait-timeout", "20s"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "revision 2 (applied by 1 of 1 connected nodes)\n");
  EXPECT_EQ(node.applied(), 2u);

  // The node's own certificate and the root it chains to are protected.
  const std::string fe1_sha = Entry(kDomain, "fe1")["sha256"];
  r = Tfctl({"revoke", "--sha256", fe1_sha});
  EXPECT_EQ(r.status, 6) << r;
  // The connected node's identity resolves its DER hash.
  ExpectOneErrorLine(r, "tfctl: failed_precondition: revocation certificate:");
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(" matches certificate ", fe1_sha)));
  EXPECT_THAT(r.err, HasSubstr("spiffe://contoso.test/frontend/fe1"));
  r = Tfctl({"root", "remove", "--name", "contoso-root"});
  EXPECT_EQ(r.status, 6) << r;
  EXPECT_THAT(r.err, HasSubstr("spiffe://contoso.test/frontend/fe1"));
  EXPECT_EQ(Revision(), 2u);

  r = Tfctl({"revoke", "--sha256", fe1_sha, "--force", "--reason", "compromised"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "revision 3\n");
}

TEST_F(TfctlAdminE2ETest, UsageErrorsAndHelpOfTheBinary) {
  unsetenv("TF_CONTROL");
  unsetenv("TF_PKI");
  unsetenv("TF_DOMAIN");
  Result r = Tfctl({"root", "add", "--certificate", File(kPartner, "root")});
  EXPECT_EQ(r.status, 2) << r;
  EXPECT_EQ(r.err, "tfctl: usage: --name is required (see --help)\n");
  r = Tfctl({"issuer", "add", "--name", "a", "--registered-issuer-name", "b", "--certificate",
             File(kDomain, "app1"), "--algorithm", "hs256"});
  EXPECT_EQ(r.status, 2) << r;
  EXPECT_THAT(r.err, HasSubstr("--algorithm"));
  r = TfctlRaw({"root", "list"});
  EXPECT_EQ(r.status, 2) << r;
  EXPECT_THAT(r.err, HasSubstr("--control: required"));
  r = TfctlRaw({"--help"});
  EXPECT_EQ(r.status, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("Exit status:"));
  EXPECT_EQ(Revision(), 1u);
}

}  // namespace
}  // namespace trustfabric::tfctl
