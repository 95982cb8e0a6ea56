// The fan-out section's load process; see control_fanout.h.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bench/control_common.h"
#include "bench/control_fanout.h"
#include "common/tls/client_security.h"
#include "server/node/update_applier.h"
#include "trustfabric/v1/control.grpc.pb.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/client_callback.h>

extern char** environ;

namespace trustfabric::bench {
namespace {

// Transport credentials of a load client: its own node certificate, gRPC's
// own verification of the server against contoso's root.
std::shared_ptr<grpc::Channel> LoadChannel(
    const std::shared_ptr<grpc::experimental::CertificateProviderInterface>& provider,
    const std::string& address, const std::string& server_name) {
  grpc::experimental::TlsChannelCredentialsOptions tls;
  tls.set_certificate_provider(provider);
  tls.watch_root_certs();
  tls.watch_identity_key_cert_pairs();
  grpc::ChannelArguments args =
      tls::DefaultChannelArguments(
          tls::Target(address, server_name, kContosoDomain, {pki::Role::kControl}));
  // One connection per channel, as every node has its own.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::experimental::TlsCredentials(tls), args);
}

// A Watch client that behaves like a trust agent on the wire: subscribes
// from revision 0, decodes every update with the agent's own first stage
// (node::UpdateDecoder: snapshot chunks assembled and parsed, deltas taken
// from the parsed message), checks that a delta's base is the revision it
// holds, and ACKs. It keeps no trust state: validating, persisting and
// swapping (the rest of node::UpdateApplier) would make a thousand watchers
// on two cores measure themselves instead of the control plane.
class LoadWatcher final : public grpc::ClientBidiReactor<v1::WatchRequest, v1::WatchResponse> {
 public:
  void Start(v1::TrustDistribution::Stub* stub) {
    stub->async()->Watch(&context_, this);
    v1::WatchRequest subscribe;
    subscribe.mutable_subscribe()->set_last_applied_revision(0);
    subscribe.mutable_subscribe()->set_agent("control_bench load watcher");
    Send(std::move(subscribe));
    StartRead(&response_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  uint64_t applied() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return applied_;
  }
  bool done() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  uint64_t updates() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return updates_;
  }
  uint64_t refused() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return refused_;
  }
  grpc::Status status() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return status_;
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows.
    for (v1::WatchRequest& reply : Handle(response_)) Send(std::move(reply));
    StartRead(&response_);
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    const v1::WatchRequest* next = nullptr;
    {
      absl::MutexLock lock(&mu_);
      outbox_.pop_front();
      if (!ok) {
        outbox_.clear();
        write_failed_ = true;
      } else if (!outbox_.empty()) {
        next = &outbox_.front();
      }
      writing_ = next != nullptr;
    }
    if (next != nullptr) StartWrite(next);
  }

  void OnDone(const grpc::Status& status) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  }

 private:
  static v1::WatchRequest Nack(uint64_t revision, absl::string_view reason) {
    v1::WatchRequest reply;
    reply.mutable_nack()->set_revision(revision);
    reply.mutable_nack()->set_reason(std::string(reason));
    return reply;
  }

  // Called on the read path only (one read outstanding at a time).
  std::vector<v1::WatchRequest> Handle(const v1::WatchResponse& response) ABSL_LOCKS_EXCLUDED(mu_) {
    node::UpdateDecoder::Decoded decoded = decoder_.Decode(response);
    std::vector<v1::WatchRequest> replies;
    absl::MutexLock lock(&mu_);
    for (const node::UpdateDecoder::Refusal& refusal : decoded.refused) {
      ++updates_;
      ++refused_;
      replies.push_back(Nack(refusal.revision, refusal.reason.message()));
    }
    uint64_t applied = 0;
    if (decoded.kind == node::UpdateDecoder::Decoded::Kind::kSnapshot) {
      applied = decoded.snapshot->revision();
    } else if (decoded.kind == node::UpdateDecoder::Decoded::Kind::kDelta) {
      if (decoded.delta->base_revision() != applied_) {
        ++updates_;
        ++refused_;
        replies.push_back(
            Nack(decoded.delta->revision(), "delta: base revision is not the applied revision"));
        return replies;
      }
      applied = decoded.delta->revision();
    } else {
      return replies;
    }
    ++updates_;
    applied_ = applied;
    replies.emplace_back().mutable_ack()->set_revision(applied);
    return replies;
  }

  void Send(v1::WatchRequest request) ABSL_LOCKS_EXCLUDED(mu_) {
    const v1::WatchRequest* start = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (write_failed_) return;
      outbox_.push_back(std::move(request));
      if (!writing_) {
        writing_ = true;
        start = &outbox_.front();
      }
    }
    if (start != nullptr) StartWrite(start);
  }

  grpc::ClientContext context_;
  // Read path only.
  v1::WatchResponse response_;
  node::UpdateDecoder decoder_{node::UpdateApplierOptions().max_snapshot_bytes,
                               node::UpdateApplierOptions().max_snapshot_chunks};

  mutable absl::Mutex mu_;
  // Elements stay in place until their write completes.
  std::deque<v1::WatchRequest> outbox_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t updates_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

// A client of the bare fan-out: says hello once, then answers every message
// it reads with the same ACK-sized reply, parsing nothing.
class LoadBareClient final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  LoadBareClient() {
    v1::WatchRequest hello;
    hello.mutable_subscribe()->set_agent("control_bench bare client");
    hello_ = BufferOf(hello.SerializeAsString());
    v1::WatchRequest ack;
    ack.mutable_ack()->set_revision(1000);
    reply_ = BufferOf(ack.SerializeAsString());
  }

  void Start(grpc::GenericStub* stub) ABSL_LOCKS_EXCLUDED(mu_) {
    stub->PrepareBidiStreamingCall(&context_, kWatchMethod, grpc::StubOptions(), this);
    {
      absl::MutexLock lock(&mu_);
      writing_ = true;
    }
    StartWrite(&hello_);
    StartRead(&in_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  bool hello_sent() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return hello_sent_;
  }
  bool done() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  uint64_t replies() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return replies_;
  }

  void OnReadDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    if (!ok) return;
    bool start = false;
    {
      absl::MutexLock lock(&mu_);
      ++replies_;
      if (writing_) {
        ++pending_;
      } else {
        writing_ = true;
        start = true;
      }
    }
    if (start) StartWrite(&reply_);
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    bool again = false;
    {
      absl::MutexLock lock(&mu_);
      hello_sent_ = hello_sent_ || ok;
      if (ok && pending_ > 0) {
        --pending_;
        again = true;
      } else {
        pending_ = 0;
        writing_ = false;
      }
    }
    if (again) StartWrite(&reply_);
  }

  void OnDone(const grpc::Status&) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }

 private:
  grpc::ClientContext context_;
  grpc::ByteBuffer hello_;
  grpc::ByteBuffer reply_;
  grpc::ByteBuffer in_;

  mutable absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool hello_sent_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t replies_ ABSL_GUARDED_BY(mu_) = 0;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

int LoadMain(const LoadOptions& o) {
  const std::string root_pem = ReadFileOrDie(absl::StrCat(o.dir, "/root.pem"));
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::TrustDistribution::Stub>> stubs;
  std::vector<std::unique_ptr<grpc::GenericStub>> generic_stubs;
  std::vector<std::unique_ptr<LoadWatcher>> watchers;
  std::vector<std::unique_ptr<LoadBareClient>> bare;
  using grpc::experimental::IdentityKeyCertPair;
  using grpc::experimental::StaticDataCertificateProvider;
  bool ready = true;
  for (int first = 0; first < o.watchers && ready; first += o.batch) {
    const int last = std::min(o.watchers, first + o.batch);
    for (int i = first; i < last; ++i) {
      auto provider = std::make_shared<StaticDataCertificateProvider>(
          root_pem, std::vector<IdentityKeyCertPair>{
                        {ReadFileOrDie(BenchPki::WatcherFile(o.dir, i, "key")),
                         ReadFileOrDie(BenchPki::WatcherFile(o.dir, i, "crt"))}});
      channels.push_back(LoadChannel(provider, o.cp_address, kControlDns));
      stubs.push_back(v1::TrustDistribution::NewStub(channels.back()));
      watchers.push_back(std::make_unique<LoadWatcher>());
      watchers.back()->Start(stubs.back().get());
      channels.push_back(LoadChannel(provider, o.bare_address, kBareName));
      generic_stubs.push_back(std::make_unique<grpc::GenericStub>(channels.back()));
      bare.push_back(std::make_unique<LoadBareClient>());
      bare.back()->Start(generic_stubs.back().get());
    }
    ready = PollUntil(
        [&] {
          for (int i = first; i < last; ++i) {
            if (watchers[i]->applied() == 0 || !bare[i]->hello_sent()) return false;
          }
          return true;
        },
        absl::Seconds(60), absl::Milliseconds(5));
  }
  if (!ready) {
    std::printf("error: streams not ready within 60 s per batch\n");
    std::fflush(stdout);
  } else {
    std::printf("ready %d\n", o.watchers);
    std::fflush(stdout);
    char buf[256];
    while (true) {
      ssize_t n = read(0, buf, sizeof(buf));
      if (n == 0) break;
      if (n < 0 && errno != EINTR) break;
    }
  }
  for (auto& w : watchers) w->Cancel();
  for (auto& b : bare) b->Cancel();
  const bool all_done = PollUntil(
      [&] {
        for (auto& w : watchers) {
          if (!w->done()) return false;
        }
        for (auto& b : bare) {
          if (!b->done()) return false;
        }
        return true;
      },
      absl::Seconds(20), absl::Milliseconds(10));
  uint64_t updates = 0;
  uint64_t refused = 0;
  uint64_t replies = 0;
  int ended_early = 0;
  std::string first_error;
  for (auto& w : watchers) {
    updates += w->updates();
    refused += w->refused();
    if (w->status().error_code() != grpc::StatusCode::CANCELLED) {
      if (ended_early++ == 0) {
        first_error = absl::StrCat(" (the first: ", w->status().error_code(), " ",
                                   w->status().error_message(), ")");
      }
    }
  }
  for (auto& b : bare) replies += b->replies();
  std::fprintf(stderr,
               "load process: %d watchers decoded %lu updates (%lu refused, %d streams ended "
               "other than by cancellation%s); %d bare clients answered %lu messages\n",
               o.watchers, static_cast<unsigned long>(updates), static_cast<unsigned long>(refused),
               ended_early, first_error.c_str(), o.watchers, static_cast<unsigned long>(replies));
  if (!all_done) {
    // Reactors gRPC still references must not be destroyed.
    for (auto& w : watchers) w.release();
    for (auto& b : bare) b.release();
    std::fprintf(stderr, "load process: streams did not end within 20 s\n");
    std::fflush(stderr);
    _exit(ready ? 0 : 1);
  }
  return ready ? 0 : 1;
}

std::unique_ptr<LoadProcess> LoadProcess::Spawn(const LoadOptions& o) {
  int to_child[2];
  int from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
    Die("pipe failed");
  }
  std::vector<std::string> args = {
      "control_bench",  "--load-process",         "--cp-address", o.cp_address,
      "--bare-address", o.bare_address,           "--dir",        o.dir,
      "--watchers",     absl::StrCat(o.watchers), "--batch",      absl::StrCat(o.batch)};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(to_child[0]);
  close(from_child[1]);
  if (rc != 0) Die(absl::StrCat("cannot start the load process: ", strerror(rc)));
  return std::unique_ptr<LoadProcess>(new LoadProcess(pid, to_child[1], from_child[0]));
}

LoadProcess::LoadProcess(pid_t pid, int to_child, int from_child)
    : pid_(pid), to_child_(to_child), from_child_(from_child) {}

LoadProcess::~LoadProcess() { Stop(); }

absl::StatusOr<std::string> LoadProcess::ReadLine(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("no line in time");
    pollfd p{from_child_, POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[4096];
    const ssize_t got = read(from_child_, buf, sizeof(buf));
    if (got <= 0) return absl::UnavailableError("the load process ended");
    buffer_.append(buf, static_cast<size_t>(got));
  }
}

void LoadProcess::Stop(absl::Duration grace) {
  if (pid_ <= 0) return;
  close(to_child_);
  const absl::Time deadline = absl::Now() + grace;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (absl::Now() >= deadline) {
      std::fprintf(stderr, "control_bench: load process %d did not stop; killing it\n",
                   static_cast<int>(pid_));
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  close(from_child_);
  pid_ = -1;
}

}  // namespace trustfabric::bench
