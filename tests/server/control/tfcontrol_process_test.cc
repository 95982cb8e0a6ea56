// The real tfcontrol binary as a process: configuration errors exit 2
// naming the field; a kill -9 in the middle of a burst of mutations loses
// none that were acknowledged and leaves revisions without gap or
// duplicate; SIGTERM shuts down cleanly. `tfcontrol restore` starts a new
// generation that a node ahead of it applies, while an old store's lower
// epoch is refused (a real trust agent watching the processes); an audit
// record edited in the store fails the real `tfctl audit verify`.
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

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/pki/encoding.h"
#include "google/protobuf/util/json_util.h"
#include "server/node/trust_agent.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/control/control_test_env.h"
#include "tests/testing/eventually.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/vocabulary.h"

#include <sqlite3.h>

namespace trustfabric::control {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int ExitCode(const absl::StatusOr<int>& status) {
  if (!status.ok() || !WIFEXITED(*status)) return -1;
  return WEXITSTATUS(*status);
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

  // tfcontrol on this fixture's configuration with its store at `sqlite`,
  // answering; null (and a test failure) otherwise.
  std::unique_ptr<testing::Subprocess> StartServing(const std::string& sqlite) {
    std::unique_ptr<testing::Subprocess> server =
        Run({"--config", config_path_, "--sqlite", dir_.path() + "/" + sqlite});
    if (server == nullptr) return nullptr;
    ::testing::AssertionResult ready = WaitReady(server.get());
    EXPECT_TRUE(ready) << ReadAll(log_path_);
    return ready ? std::move(server) : nullptr;
  }

  // Ends `server` with SIGTERM (its shutdown checkpoint signs the audit log).
  void Stop(std::unique_ptr<testing::Subprocess> server) {
    server->Kill(SIGTERM);
    absl::StatusOr<int> status = server->Wait(absl::Seconds(30));
    ASSERT_TRUE(status.ok() && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << ReadAll(log_path_);
  }

  uint64_t RevokeDerOnly(const std::string& text) {
    v1::RevokeCertificateRequest req;
    req.set_sha256_hex(pki::HexEncode(pki::Sha256(text)));
    req.set_der_only(true);
    req.set_reason(text);
    v1::MutationResponse resp;
    grpc::Status s = Admin()->RevokeCertificate(Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.revision();
  }

  // A front-end's trust agent in this process, watching 127.0.0.1:port_.
  std::unique_ptr<node::TrustAgent> StartAgent(trust::SnapshotHolder* holder) {
    v1::TrustAgentConfig config;
    v1::Endpoint* endpoint = config.add_control_planes();
    endpoint->set_address(absl::StrCat("127.0.0.1:", port_));
    endpoint->set_server_name(testing::kControlDns);
    config.set_bootstrap_bundle_file(dir_.Write("bootstrap.pem", Contoso().RootPem()));
    config.set_state_dir(dir_.path());
    config.set_backoff_initial_ms(50);
    config.set_backoff_max_ms(500);
    absl::StatusOr<std::shared_ptr<const pki::RootStore>> bootstrap =
        node::TrustAgent::LoadBootstrapRoots(config);
    EXPECT_TRUE(bootstrap.ok()) << bootstrap.status();
    agent_source_ = std::make_shared<tls::TrustSource>(holder, testing::kContosoDomain, *bootstrap);
    absl::StatusOr<std::unique_ptr<node::TrustAgent>> agent = node::TrustAgent::Create(
        config, WriteIdentity(dir_, "frontend", "fe1"), holder, agent_source_);
    EXPECT_TRUE(agent.ok()) << agent.status();
    if (!agent.ok()) return nullptr;
    EXPECT_TRUE((*agent)->Start().ok());
    return *std::move(agent);
  }

  // The agent applied `revision` of generation `epoch`.
  static ::testing::AssertionResult Applied(const node::TrustAgent& agent, uint64_t revision,
                                            uint64_t epoch) {
    return testing::Eventually([&]() -> ::testing::AssertionResult {
      node::TrustAgentStatus status = agent.status();
      if (status.applied_revision == revision && status.generation.epoch() == epoch) {
        return ::testing::AssertionSuccess();
      }
      return ::testing::AssertionFailure()
             << "applied revision " << status.applied_revision << " of epoch "
             << status.generation.epoch() << ", last nack: " << status.last_nack_reason;
    }, absl::Seconds(30));
  }

  // A node ahead of a restored control plane: the agent applies revision 4
  // of store a.db (epoch 1), then a.db's revision-1 backup is restored into
  // b.db and served; the agent takes it as a new generation. Leaves
  // b.db's control plane serving.
  std::unique_ptr<testing::Subprocess> RestoreBehindTheNode(node::TrustAgent** agent_out) {
    std::unique_ptr<testing::Subprocess> server = StartServing("a.db");
    if (server == nullptr) return nullptr;
    agent_ = StartAgent(&agent_holder_);
    if (agent_ == nullptr) return nullptr;
    *agent_out = agent_.get();
    EXPECT_TRUE(Applied(*agent_, 1, 1));

    // The backup, as `tfctl snapshot --out backup.json` writes it.
    v1::TrustSnapshot backup;
    EXPECT_TRUE(Admin()->GetSnapshot(Context().get(), {}, &backup).ok());
    EXPECT_EQ(backup.generation().epoch(), 1u);
    EXPECT_EQ(backup.generation().id().size(), 32u);
    std::string json;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(backup, &json).ok());
    const std::string backup_file = dir_.Write("backup.json", json);

    for (const char* text : {"after backup 1", "after backup 2", "after backup 3"}) {
      RevokeDerOnly(text);
    }
    EXPECT_TRUE(Applied(*agent_, 4, 1));
    Stop(std::move(server));

    std::unique_ptr<testing::Subprocess> restore = Run(
        {"restore", "--from", backup_file, "--store", dir_.path() + "/b.db"});
    EXPECT_EQ(ExitCode(restore->Wait(absl::Seconds(30))), 0) << ReadAll(log_path_);
    EXPECT_THAT(ReadAll(log_path_), HasSubstr("as generation epoch 2 id "));
    // Only into an empty store.
    restore = Run({"restore", "--from", backup_file, "--store", dir_.path() + "/b.db"});
    EXPECT_EQ(ExitCode(restore->Wait(absl::Seconds(30))), 1);
    EXPECT_THAT(ReadAll(log_path_), HasSubstr("is not empty (revision 1, 1 audit records): "
                                              "restore only into a new store"));

    server = StartServing("b.db");
    if (server == nullptr) return nullptr;
    // Revision 1 of epoch 2, although the node is at revision 4.
    EXPECT_TRUE(Applied(*agent_, 1, 2));
    EXPECT_EQ(agent_->status().generation_switches, 1u);
    EXPECT_EQ(agent_holder_.Get()->proto().revocations_size(), 0);
    return server;
  }

  testing::TempDir dir_;
  int port_ = 0;
  std::string config_path_;
  std::string log_path_;
  trust::SnapshotHolder holder_;
  std::shared_ptr<tls::TrustSource> source_;
  std::shared_ptr<tls::ChannelCache> cache_;
  trust::SnapshotHolder agent_holder_;
  std::shared_ptr<tls::TrustSource> agent_source_;
  std::unique_ptr<node::TrustAgent> agent_;
};

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

TEST_F(TfcontrolProcessTest, NodeAheadOfARestoredControlPlaneAppliesTheRestoredGeneration) {
  node::TrustAgent* agent = nullptr;
  std::unique_ptr<testing::Subprocess> server = RestoreBehindTheNode(&agent);
  ASSERT_NE(server, nullptr);

  // Later updates of the restored generation apply too: a revocation
  // reaches the node (before generations, it refused every update until
  // the control plane passed its old revision).
  const uint64_t revision = RevokeDerOnly("after restore");
  EXPECT_EQ(revision, 2u);
  ASSERT_TRUE(Applied(*agent, 2, 2));
  EXPECT_EQ(agent_holder_.Get()->proto().revocations_size(), 1);
  EXPECT_EQ(agent->status().generation_switches, 1u);

  // The switch is audited: the restored store's chain starts with it.
  v1::GetAuditLogRequest req;
  v1::GetAuditLogResponse audit;
  ASSERT_TRUE(Admin()->GetAuditLog(Context().get(), req, &audit).ok());
  ASSERT_EQ(audit.records_size(), 2);
  EXPECT_EQ(audit.records(0).operation(), "generation.restore");
  EXPECT_EQ(audit.records(0).actor(), "tfcontrol restore");
  EXPECT_THAT(audit.records(0).before(), HasSubstr("backup generation epoch=1"));
  EXPECT_THAT(audit.records(0).after(), HasSubstr("generation epoch=2 id="));
  EXPECT_EQ(audit.records(1).operation(), "revocation.add");
  Stop(std::move(server));
}

TEST_F(TfcontrolProcessTest, NodeRefusesTheSnapshotOfALowerEpoch) {
  node::TrustAgent* agent = nullptr;
  std::unique_ptr<testing::Subprocess> server = RestoreBehindTheNode(&agent);
  ASSERT_NE(server, nullptr);
  Stop(std::move(server));

  // The old store comes back (a stale replica, an old disk): revision 4 of
  // epoch 1 is ahead of the node's revision 1, and still refused.
  server = StartServing("a.db");
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(testing::Eventually([&] {
    return agent->status().last_nack_revision == 4 &&
           absl::StrContains(agent->status().last_nack_reason,
                             "snapshot: generation epoch 1 id ");
  }, absl::Seconds(30))) << agent->status().last_nack_reason;
  EXPECT_THAT(agent->status().last_nack_reason,
              HasSubstr("is older than the applied generation epoch 2"));
  EXPECT_EQ(agent->status().applied_revision, 1u);
  EXPECT_EQ(agent_holder_.Get()->proto().generation().epoch(), 2u);
  EXPECT_EQ(agent_holder_.Get()->proto().revocations_size(), 0);
  // The control plane sees why.
  v1::GetPropagationStatusResponse status;
  ASSERT_TRUE(Admin()->GetPropagationStatus(Context().get(), {}, &status).ok());
  ASSERT_EQ(status.nodes_size(), 1);
  EXPECT_THAT(status.nodes(0).last_nack_reason(), HasSubstr("older than the applied generation"));
  Stop(std::move(server));
}

TEST_F(TfcontrolProcessTest, AnEditedAuditRecordFailsTfctlAuditVerify) {
  std::unique_ptr<testing::Subprocess> server = StartServing("a.db");
  ASSERT_NE(server, nullptr);
  RevokeDerOnly("audited 1");
  {
    // A refused call is audited: who, what, why.
    v1::UnrevokeCertificateRequest req;
    req.set_sha256_hex(std::string(64, 'b'));
    v1::MutationResponse resp;
    EXPECT_EQ(Admin()->UnrevokeCertificate(Context().get(), req, &resp).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  RevokeDerOnly("audited 2");
  v1::GetAuditLogResponse audit;
  ASSERT_TRUE(Admin()->GetAuditLog(Context().get(), {}, &audit).ok());
  ASSERT_EQ(audit.records_size(), 4);
  const v1::AuditRecord& refused = audit.records(2);
  EXPECT_EQ(refused.seq(), 3u);
  EXPECT_EQ(refused.actor(), "spiffe://contoso.test/admin/alice");
  EXPECT_EQ(refused.operation(), "revocation.remove");
  EXPECT_EQ(refused.result(), "not_found");
  EXPECT_THAT(refused.reason(), HasSubstr("does not exist"));
  EXPECT_EQ(refused.revision(), 2u);

  const tls::ClientIdentity admin = WriteIdentity(dir_, "admin", "alice");
  const std::vector<std::string> verify = {
      TFCTL_PATH, "--control", absl::StrCat("127.0.0.1:", port_), "--server-name", testing::kControlDns,
      "--domain", testing::kContosoDomain, "--cert", admin.certificate_file, "--key", admin.key_file, "--ca",
      dir_.Write("ca.pem", Contoso().RootPem()), "audit", "verify"};
  const std::string tfctl_log = dir_.path() + "/tfctl.log";
  auto run_tfctl = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = verify;
    argv.pop_back();  // "verify"
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::remove(tfctl_log.c_str());
    absl::StatusOr<std::unique_ptr<testing::Subprocess>> p =
        testing::StartSubprocess(argv, tfctl_log);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? ExitCode((*p)->Wait(absl::Seconds(60))) : -1;
  };
  auto run_verify = [&]() { return run_tfctl({"verify"}); };
  // Stopped and started: the shutdown checkpoint covers every record (the
  // first start signed the seeding record).
  Stop(std::move(server));
  server = StartServing("a.db");
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(run_verify(), 0) << ReadAll(tfctl_log);
  EXPECT_THAT(ReadAll(tfctl_log),
              HasSubstr("audit log of contoso.test verified: 4 records chained, 2 checkpoint "
                        "signatures valid (signers chain to the domain's root), signed through "
                        "seq 4"));
  // The exported log verifies the same way, and fails once edited.
  const std::string exported = dir_.path() + "/audit.json";
  ASSERT_EQ(run_tfctl({"export", "--out", exported}), 0) << ReadAll(tfctl_log);
  EXPECT_EQ(run_tfctl({"verify", "--file", exported}), 0) << ReadAll(tfctl_log);
  std::string text = ReadAll(exported);
  const size_t at = text.find("audited 1");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, 9, "audited 9");
  dir_.Write("audit.json", text);
  EXPECT_EQ(run_tfctl({"verify", "--file", exported}), 12) << ReadAll(tfctl_log);
  EXPECT_THAT(ReadAll(tfctl_log), HasSubstr("tfctl: data_loss: audit record seq 3: prev_sha256"));
  Stop(std::move(server));

  // Someone with the store file rewrites who made the first revocation.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_.path() + "/a.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE audit SET actor = 'spiffe://contoso.test/admin/mallory' "
                         "WHERE seq = 2",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);

  server = StartServing("a.db");
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(run_verify(), 12) << ReadAll(tfctl_log);
  EXPECT_THAT(ReadAll(tfctl_log),
              HasSubstr("tfctl: data_loss: audit record seq 3: prev_sha256 is not the hash of "
                        "record seq 2: one of them was edited"));
  Stop(std::move(server));
}

}  // namespace
}  // namespace trustfabric::control
