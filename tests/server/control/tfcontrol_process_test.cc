// The real tfcontrol binary as a process: configuration errors exit 2
// naming the field; a kill -9 in the middle of a burst of mutations loses
// none that were acknowledged and leaves revisions without gap or
// duplicate; SIGTERM shuts down cleanly.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/pki/encoding.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/control/control_test_env.h"
#include "tests/testing/eventually.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::control {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A tfcontrol configuration in a temp dir, and clients for it.
class TfcontrolProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tls::ClientIdentity cp = WriteIdentity(dir_, "control", "cp1");
    port_ = testing::FreePort();
    ASSERT_NE(port_, 0);
    config_path_ =
        dir_.Write("control.yaml",
                   absl::StrCat("trust_domain: ", testing::kContosoDomain, "\n",       //
                                "realm: ", testing::kContosoRealm, "\n",               //
                                "listen:\n  address: 127.0.0.1:", port_, "\n",                 //
                                "identity:\n  certificate_file: ", cp.certificate_file, "\n",  //
                                "  key_file: ", cp.key_file, "\n",                             //
                                "seed_root_name: contoso-root\n",                              //
                                "seed_root_file: ", dir_.Write("root.pem", Contoso().RootPem()),
                                "\n", "sqlite_path: ", dir_.path(), "/control.db\n",  //
                                "history_revisions: 100\n"));
    log_path_ = dir_.path() + "/tfcontrol.log";

    absl::StatusOr<std::shared_ptr<const pki::RootStore>> bootstrap =
        pki::RootStore::Create({Contoso().root().certificate});
    ASSERT_TRUE(bootstrap.ok());
    source_ = std::make_shared<tls::TrustSource>(&holder_, testing::kContosoDomain, *bootstrap);
    absl::StatusOr<std::shared_ptr<tls::ChannelCache>> cache =
        tls::ChannelCache::Create(WriteIdentity(dir_, "admin", "alice"), source_);
    ASSERT_TRUE(cache.ok()) << cache.status();
    cache_ = *cache;
  }

  std::unique_ptr<testing::Subprocess> Run(std::vector<std::string> args) {
    args.insert(args.begin(), TFCONTROL_PATH);
    absl::StatusOr<std::unique_ptr<testing::Subprocess>> p =
        testing::StartSubprocess(args, log_path_);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }

  // A fresh channel (a restarted server needs a new connection).
  std::unique_ptr<v1::ControlPlane::Stub> Admin() {
    return v1::ControlPlane::NewStub(
        cache_->NewChannel({absl::StrCat("127.0.0.1:", port_), testing::kControlDns,
                            testing::kContosoDomain, {pki::Role::kControl}}));
  }

  // Waits (bounded) until the server answers; a failure if it exited first.
  // A new channel per attempt: a refused connection would put a shared
  // one into reconnect backoff for seconds.
  ::testing::AssertionResult WaitReady(testing::Subprocess* process) {
    bool exited = false;
    ::testing::AssertionResult answered = testing::Eventually(
        [&] {
          exited = !process->Running();
          v1::TrustSnapshot snap;
          return exited || Admin()->GetSnapshot(Context(absl::Seconds(2)).get(), {}, &snap).ok();
        },
        absl::Seconds(30));
    if (exited) return ::testing::AssertionFailure() << "tfcontrol exited before answering";
    return answered;
  }

  testing::TempDir dir_;
  int port_ = 0;
  std::string config_path_;
  std::string log_path_;
  trust::SnapshotHolder holder_;
  std::shared_ptr<tls::TrustSource> source_;
  std::shared_ptr<tls::ChannelCache> cache_;
};

int ExitCode(const absl::StatusOr<int>& status) {
  if (!status.ok() || !WIFEXITED(*status)) return -1;
  return WEXITSTATUS(*status);
}

TEST_F(TfcontrolProcessTest, ConfigurationErrorsExitWithTwoNamingTheField) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--config", config_path_, "--set", "realm=NOT-A-GUID"},
       "realm: \"NOT-A-GUID\" is not a lower-case guid"},
      {{"--config", config_path_, "--set", "listen.adress=127.0.0.1:1"},
       "listen.adress: unknown key"},
      {{"--config", config_path_, "--listen", "nowhere"}, "listen.address: \"nowhere\""},
      {{"--config", config_path_, "--set", "store=etcd"}, "store: etcd is not supported"},
      {{"--config", config_path_, "--set", "log_level=loud"}, "log_level: \"loud\""},
      {{"--config", config_path_, "--set", "seed_root_file=/nonexistent/root.pem"},
       "seed_root_file: cannot read /nonexistent/root.pem"},
      {{"--config", dir_.Write("unknown.yaml", "trust_domian: contoso.test\n")},
       "trust_domian: unknown key"},
      {{"--config", config_path_, "--set", "nokey"}, "expected key=value"},
      {{"--bogus-flag"}, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    std::remove(log_path_.c_str());
    std::unique_ptr<testing::Subprocess> p = Run(c.args);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(ExitCode(p->Wait(absl::Seconds(30))), 2);
    EXPECT_THAT(ReadAll(log_path_), HasSubstr(c.message));
  }
}

TEST_F(TfcontrolProcessTest, KillNineMidBurstLosesNoAcknowledgedMutation) {
  std::unique_ptr<testing::Subprocess> server = Run({"--config", config_path_});
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(WaitReady(server.get())) << ReadAll(log_path_);

  // A burst of 500 mutations from several writers; the process dies halfway.
  constexpr int kBurst = 500;
  absl::Mutex mu;
  std::map<uint64_t, std::string> acknowledged;  // revision -> revoked sha256
  std::atomic<int> attempts{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      auto admin = Admin();
      for (int i = 0; !stop.load() && attempts.fetch_add(1) < kBurst; ++i) {
        const std::string sha = pki::HexEncode(pki::Sha256(absl::StrCat("burst ", w, " ", i)));
        v1::RevokeCertificateRequest req;
        req.set_sha256_hex(sha);
        // Hashes of no certificate: stored as der-only revocations.
        req.set_der_only(true);
        req.set_reason("burst");
        v1::MutationResponse resp;
        grpc::Status s = admin->RevokeCertificate(Context(absl::Seconds(10)).get(), req, &resp);
        if (!s.ok()) return;  // the server is gone
        absl::MutexLock lock(&mu);
        EXPECT_TRUE(acknowledged.emplace(resp.revision(), sha).second)
            << "revision " << resp.revision() << " acknowledged twice";
      }
    });
  }
  {
    absl::MutexLock lock(&mu);
    auto enough = [&]()
                      ABSL_NO_THREAD_SAFETY_ANALYSIS { return acknowledged.size() >= kBurst / 2; };
    mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(120));
  }
  server->Kill(SIGKILL);
  absl::StatusOr<int> died = server->Wait(absl::Seconds(30));
  ASSERT_TRUE(died.ok());
  EXPECT_TRUE(WIFSIGNALED(*died) && WTERMSIG(*died) == SIGKILL);
  stop.store(true);
  for (std::thread& t : writers) t.join();
  ASSERT_GE(acknowledged.size(), 50u);

  server = Run({"--config", config_path_});
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(WaitReady(server.get())) << ReadAll(log_path_);
  auto admin = Admin();

  v1::TrustSnapshot snap;
  ASSERT_TRUE(admin->GetSnapshot(Context().get(), {}, &snap).ok());
  std::set<std::string> revoked;
  for (const v1::Revocation& r : snap.revocations()) revoked.insert(r.sha256_hex());
  for (const auto& [revision, sha] : acknowledged) {
    EXPECT_TRUE(revoked.count(sha)) << "acknowledged revision " << revision << " lost";
    EXPECT_LE(revision, snap.revision());
  }

  // Every revision 1..current exactly once, each the mutation acknowledged
  // for it (a commit whose answer was lost in the kill may be there too).
  v1::GetAuditLogRequest audit_req;
  audit_req.set_limit(10000);
  v1::GetAuditLogResponse audit;
  ASSERT_TRUE(admin->GetAuditLog(Context().get(), audit_req, &audit).ok());
  ASSERT_EQ(audit.records_size(), static_cast<int>(snap.revision()));
  for (int i = 0; i < audit.records_size(); ++i) {
    const v1::AuditRecord& r = audit.records(i);
    EXPECT_EQ(r.revision(), static_cast<uint64_t>(i + 1));
    if (i == 0) continue;
    EXPECT_EQ(r.operation(), "revocation.add");
    auto it = acknowledged.find(r.revision());
    if (it != acknowledged.end()) {
      EXPECT_EQ(r.object(), it->second);
    }
  }
  EXPECT_EQ(snap.revocations_size(), static_cast<int>(snap.revision()) - 1);

  // It carries on from there, and SIGTERM ends it cleanly.
  v1::RevokeCertificateRequest req;
  req.set_sha256_hex(std::string(64, 'e'));
  req.set_der_only(true);
  v1::MutationResponse resp;
  ASSERT_TRUE(admin->RevokeCertificate(Context().get(), req, &resp).ok());
  EXPECT_EQ(resp.revision(), snap.revision() + 1);
  server->Kill(SIGTERM);
  EXPECT_EQ(ExitCode(server->Wait(absl::Seconds(30))), 0);
  EXPECT_THAT(ReadAll(log_path_), HasSubstr("shutting down"));
}

}  // namespace
}  // namespace trustfabric::control
