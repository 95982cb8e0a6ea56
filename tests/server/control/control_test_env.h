// Shared set-up for the control-plane gRPC tests: contoso.test's PKI,
// identity files, a ControlServer in-process on a free port, mutual-TLS
// clients of any role, and TestWatcher, a Watch client that validates and
// applies what it receives the way a node's trust agent does.
//
//   ControlEnv env;
//   env.Start();
//   auto admin = env.AdminStub();
//   TestWatcher fe1(env.Channel("frontend", "fe1"), {});
//   ASSERT_TRUE(fe1.WaitApplied(1));
#ifndef TRUSTFABRIC_TESTS_SERVER_CONTROL_CONTROL_TEST_ENV_H_
#define TRUSTFABRIC_TESTS_SERVER_CONTROL_CONTROL_TEST_ENV_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/tls/client_security.h"
#include "common/trust/holder.h"
#include "server/control/control_server.h"
#include "tests/testing/control_config.h"
#include "tests/testing/test_pki.h"
#include "trustfabric/v1/config.pb.h"
#include "trustfabric/v1/control.grpc.pb.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

namespace trustfabric::control {

// contoso.test's test PKI, generated once per test binary.
const testing::TestDomain& Contoso();

// Writes a leaf of `role`/`name` (DNS "<name>.contoso.test") and its key
// under dir/<name>/ (testing::WriteIdentity); returns {certificate_file,
// key_file}.
tls::ClientIdentity WriteIdentity(const testing::TempDir& dir, const std::string& role,
                                  const std::string& name);

// A control plane of contoso.test in this process, on 127.0.0.1:<free>,
// with its store in a temp dir. Stop and Start again reopen the same store.
class ControlEnv {
 public:
  explicit ControlEnv(ServerOptions options = {});
  ~ControlEnv();

  // Mutable until Start.
  v1::ControlPlaneConfig& config() { return config_; }
  const testing::TempDir& dir() const { return dir_; }

  // Starts the server; fails the test on error.
  void Start();
  void Stop();
  ControlServer& server() { return *server_; }
  const std::string& address() const { return address_; }

  // A new mutual-TLS channel presenting spiffe://contoso.test/<role>/<name>
  // (each channel its own connection), verifying the control plane with
  // contoso's root.
  std::shared_ptr<grpc::Channel> Channel(const std::string& role, const std::string& name);
  // The same with an identity the test wrote (e.g. a short-lived leaf).
  std::shared_ptr<grpc::Channel> Channel(const tls::ClientIdentity& identity);
  std::unique_ptr<v1::ControlPlane::Stub> AdminStub(const std::string& name = "alice");

 private:
  const ServerOptions options_;
  testing::TempDir dir_;
  v1::ControlPlaneConfig config_;
  std::unique_ptr<ControlServer> server_;
  std::string address_;
  // Clients verify the server with the bootstrap bundle (no snapshot).
  trust::SnapshotHolder client_holder_;
  std::shared_ptr<tls::TrustSource> client_source_;
  std::vector<std::shared_ptr<tls::ChannelCache>> caches_;
};

// A deadline-bounded client context.
std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(30));

// A Watch client. Subscribes on construction; a reader thread assembles
// snapshots from their chunks, applies deltas to the state it holds, and
// ACKs (or NACKs) each update as configured.
class TestWatcher {
 public:
  struct Options {
    uint64_t last_applied_revision = 0;
    // The state at last_applied_revision (deltas are applied to it).
    v1::TrustSnapshot initial;
    // When false, updates stay pending until AckPending.
    bool auto_ack = true;
    // Revisions refused with nack_reason.
    std::set<uint64_t> nack_revisions;
    std::string nack_reason = "refused by the test";
  };
  struct Received {
    bool snapshot = false;  // else a delta
    uint64_t base_revision = 0;
    uint64_t revision = 0;
    int chunks = 0;
    size_t largest_message = 0;
  };

  TestWatcher(std::shared_ptr<grpc::Channel> channel, Options options);
  ~TestWatcher();
  TestWatcher(const TestWatcher&) = delete;
  TestWatcher& operator=(const TestWatcher&) = delete;

  // Bounded waits; false on timeout or when the stream ended first.
  bool WaitApplied(uint64_t revision, absl::Duration timeout = absl::Seconds(30));
  bool WaitReceived(size_t updates, absl::Duration timeout = absl::Seconds(30));
  bool WaitKeepalives(int count, absl::Duration timeout = absl::Seconds(30));
  // The server ended the stream (or it broke).
  bool WaitEnded(absl::Duration timeout = absl::Seconds(30));

  // Applies and ACKs the pending update (auto_ack off). False if none.
  bool AckPending();
  // Sends `request` as is (protocol tests).
  bool Send(const v1::WatchRequest& request);
  // Half-closes, waits for the server to end the stream and returns its
  // status (the status it ended with, if it ended first). Idempotent.
  grpc::Status Close();

  uint64_t applied() const;
  v1::TrustSnapshot state() const;
  std::vector<Received> received() const;
  int keepalives() const;
  // The stream's final status, after Close.
  grpc::Status status() const;

 private:
  void ReadLoop();
  // Waits up to `timeout` for `reached` (called with mu_ held) to hold or
  // the stream to end; returns whether `reached` holds.
  template <typename Reached>
  bool AwaitReached(Reached reached, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return reached() || ended_; };
    mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
    return reached();
  }
  // A copy of `field`, one of the members guarded by mu_, read under it.
  template <typename T>
  T Locked(T TestWatcher::*field) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return this->*field;
  }

  const Options options_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::WatchRequest, v1::WatchResponse>> stream_;
  absl::Mutex write_mu_;
  std::thread reader_;

  mutable absl::Mutex mu_;
  v1::TrustSnapshot state_ ABSL_GUARDED_BY(mu_);
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  bool has_pending_ ABSL_GUARDED_BY(mu_) = false;
  v1::TrustSnapshot pending_ ABSL_GUARDED_BY(mu_);
  std::string chunks_ ABSL_GUARDED_BY(mu_);
  uint32_t next_chunk_ ABSL_GUARDED_BY(mu_) = 0;
  Received chunk_info_ ABSL_GUARDED_BY(mu_);
  std::vector<Received> received_ ABSL_GUARDED_BY(mu_);
  int keepalives_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool closed_ = false;
};

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_TESTS_SERVER_CONTROL_CONTROL_TEST_ENV_H_
