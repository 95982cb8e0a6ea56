// Control-plane benchmark (issue: control plane and trust distribution).
//
// In one run, baseline and candidate alternating, medians of repetitions:
//  (a) fan-out: the delta of one mutation (a partner root authority of a
//      few CA certificates, about 2 KB on the wire) from tfcontrol's
//      ControlServer to N Watch streams (N = 100, 1,000; each stream on its
//      own mutual-TLS connection and with its own node certificate), vs a
//      bare callback-API gRPC server that writes the same bytes, serialized
//      once, to N streams of the same kind. The clients run in a load
//      process (this binary, re-executed with --load-process): watchers
//      parse every update as a trust agent does (a delta decoded, snapshot
//      chunks assembled and parsed as a TrustSnapshot), check its base
//      revision and ACK it, but keep no state and apply nothing to a holder;
//      bare clients read each message and reply with an ACK-sized message,
//      parsing nothing. Latency per stream: from the moment the mutation
//      is committed and published to the watch hub (for the bare server,
//      the start of its write loop) to the server receiving that stream's
//      ACK (for the control plane, the node's last_seen in its propagation
//      status, which the ACK sets). The domain call returns to the admin
//      right after the publish, but on two busy cores its return is often
//      delayed past the first ACKs, so the publish is the stricter start.
//  (b) apply latency of a real node::TrustAgent against a real control
//      plane, measured from outside the agent: the commit (the update log
//      publishing the revision) -> the agent's holder swapped (a holder
//      subscriber; the agent persists before it swaps) -> the agent's ACK
//      seen by the control plane (node last_seen), for a one-object delta
//      on a small domain and on a domain of 10,000 issuers and 1,000 roots,
//      and for that domain's full snapshot sent to a fresh agent (measured
//      from the control plane registering its subscription). A phase
//      breakdown replays the agent's library calls on the same bytes.
//  (c) durable mutations per second through the ControlPlane domain API
//      (SQLite, WAL, synchronous=FULL, one transaction per mutation with
//      history and audit) vs a raw SQLite loop inserting rows of the same
//      size with the same settings, one transaction per insert.
//
//   control_bench [--sections fanout,apply,mutations] [--watchers 100,1000]
//                 [--fanout-reps 15] [--fanout-warmup 3] [--root-certs 3]
//                 [--delta-reps 30] [--large-delta-reps 10] [--snapshot-reps 5]
//                 [--issuers 10000] [--roots 1000] [--mutations 100]
//                 [--mutation-reps 7] [--mutation-seconds 10] [--base-issuers 100]
//                 [--large-mutations 20] [--large-mutation-reps 3]
//
// Every loop is bounded in count and every wait in time; the defaults run
// in a few minutes. Temporary files go to $TEST_TMPDIR (or the system temp
// directory): on a tmpfs the SQLite and last-known-good fsyncs cost
// nothing, which isolates the CPU cost of a mutation.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "common/pki/issue.h"
#include "common/time/proto_time.h"
#include "common/tls/client_security.h"
#include "common/tls/server_security.h"
#include "common/tls/trust_source.h"
#include "common/trust/delta.h"
#include "common/trust/holder.h"
#include "common/trust/snapshot.h"
#include "server/control/control_plane.h"
#include "server/control/control_server.h"
#include "server/control/node_registry.h"
#include "server/control/sqlite_store.h"
#include "server/node/last_known_good.h"
#include "server/node/trust_agent.h"
#include "spdlog/spdlog.h"
#include "tests/testing/test_pki.h"
#include "trustfabric/v1/config.pb.h"
#include "trustfabric/v1/control.grpc.pb.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/client_callback.h>
#include <grpcpp/support/server_callback.h>

extern char** environ;

namespace trustfabric::bench {
namespace {

constexpr char kDomain[] = "contoso.test";
constexpr char kRealm[] = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
constexpr char kControlName[] = "cp1.contoso.test";
constexpr char kBareName[] = "bare.contoso.test";
constexpr char kWatchMethod[] = "/trustfabric.v1.TrustDistribution/Watch";
constexpr char kAdminActor[] = "spiffe://contoso.test/admin/bench";

struct Options {
  std::set<std::string> sections = {"fanout", "apply", "mutations"};
  std::vector<int> watchers = {100, 1000};
  int fanout_reps = 15;
  int fanout_warmup = 3;
  int root_certs = 3;
  int delta_reps = 30;
  int large_delta_reps = 10;
  int snapshot_reps = 5;
  int issuers = 10000;
  int roots = 1000;
  int mutations = 100;
  int mutation_reps = 7;
  double mutation_seconds = 10;
  int base_issuers = 100;
  int large_mutations = 20;
  int large_mutation_reps = 3;
};

// What the load process is told.
struct LoadOptions {
  std::string cp_address;
  std::string bare_address;
  std::string dir;
  int watchers = 0;
  int batch = 50;
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "control_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Check(absl::StatusOr<T> v, const std::string& what) {
  if (!v.ok()) Die(absl::StrCat(what, ": ", v.status().ToString()));
  return *std::move(v);
}

void Check(const absl::Status& s, const std::string& what) {
  if (!s.ok()) Die(absl::StrCat(what, ": ", s.ToString()));
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// Each connection is a descriptor on both sides; 1,024 fails at about
// 1,000 channels.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t want = 65536;
  rlim_t target = limit.rlim_max == RLIM_INFINITY ? want : std::min(want, limit.rlim_max);
  if (limit.rlim_cur < target) {
    limit.rlim_cur = target;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

template <typename Pred>
bool PollUntil(Pred pred, absl::Duration timeout, absl::Duration interval = absl::Milliseconds(1)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!pred()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(interval);
  }
  return true;
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Established TCP connections whose local port is `port` (the server side
// of each connection to a listener on this host). gRPC listens on
// dual-stack sockets, so IPv4 peers appear in tcp6 as mapped addresses.
int EstablishedConnections(int port) {
  int count = 0;
  const std::string local_suffix = absl::StrFormat(":%04X", port);
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (fields.size() < 4) continue;
      const std::string& local = fields[1];
      if (local.size() >= local_suffix.size() &&
          local.compare(local.size() - local_suffix.size(), local_suffix.size(), local_suffix) ==
              0 &&
          fields[3] == "01") {
        ++count;
      }
    }
  }
  return count;
}

struct Summary {
  double p50 = 0;
  double p99 = 0;
  double max = 0;
};

Summary Summarize(const std::vector<double>& v) {
  Summary s;
  s.p50 = Percentile(v, 50);
  s.p99 = Percentile(v, 99);
  s.max = v.empty() ? 0 : *std::max_element(v.begin(), v.end());
  return s;
}

std::string List(const std::vector<double>& v) {
  std::string out;
  for (double x : v) absl::StrAppend(&out, out.empty() ? "" : " ", absl::StrFormat("%.1f", x));
  return out;
}

// --- PKI on disk -------------------------------------------------------------

// contoso.test's test PKI and the files the servers, the agents and the load
// process read.
class BenchPki {
 public:
  BenchPki() : domain_(kDomain) { root_file_ = dir_.Write("root.pem", domain_.RootPem()); }

  const testing::TestDomain& domain() const { return domain_; }
  const testing::TempDir& dir() const { return dir_; }
  const std::string& root_file() const { return root_file_; }

  // A node identity written under dir/<subdir>/<name>.{crt,key}.
  tls::ClientIdentity Write(const std::string& subdir, const std::string& role,
                            const std::string& name, const std::string& dns) const {
    pki::IssuedCertificate leaf = domain_.IssueNode(role, name, dns);
    tls::ClientIdentity id;
    id.certificate_file =
        dir_.Write(absl::StrCat(subdir, "/", name, ".crt"), domain_.ChainPem(leaf));
    id.key_file = dir_.Write(absl::StrCat(subdir, "/", name, ".key"), leaf.key.ToPem(), 0600);
    return id;
  }

  // Watcher i of the load process: spiffe://contoso.test/<role>/w<i>, roles
  // rotating over the three node roles.
  static std::string WatcherName(int i) { return absl::StrCat("w", i); }
  static std::string WatcherRole(int i) {
    static const char* const kRoles[] = {"edge", "frontend", "registrar"};
    return kRoles[i % 3];
  }
  static std::string WatcherFile(const std::string& dir, int i, const char* ext) {
    return absl::StrCat(dir, "/watchers/", WatcherName(i), ".", ext);
  }

  void WriteWatchers(int count) {
    for (int i = watchers_written_; i < count; ++i) {
      Write("watchers", WatcherRole(i), WatcherName(i), absl::StrCat(WatcherName(i), ".", kDomain));
    }
    watchers_written_ = std::max(watchers_written_, count);
  }

 private:
  testing::TestDomain domain_;
  testing::TempDir dir_;
  std::string root_file_;
  int watchers_written_ = 0;
};

// A CA certificate, self-signed.
pki::IssuedCertificate NewCa(const std::string& name) {
  pki::CertificateSpec spec;
  spec.common_name = name;
  spec.is_ca = true;
  return Check(pki::Issue(spec, nullptr), "issue ca");
}

// A partner root authority of `certs` fresh CA certificates.
v1::RootAuthority PartnerRoot(const std::string& name, int certs) {
  v1::RootAuthority root;
  root.set_name(name);
  root.set_trust_domain("fabrikam.test");
  std::string pem;
  for (int i = 0; i < certs; ++i) pem += NewCa(absl::StrCat(name, " ca ", i)).certificate.ToPem();
  root.set_certificates_pem(pem);
  root.add_purposes(v1::MTLS);
  return root;
}

std::string Guid(int i, int salt) {
  return absl::StrFormat("%08x-%04x-4000-8000-%012x", i, salt & 0xffff, i);
}

// A per-application token issuer whose signing certificate chains to `ca`.
v1::TokenIssuer NewIssuer(const std::string& name, const std::string& guid,
                          const pki::IssuedCertificate& ca) {
  pki::CertificateSpec spec;
  spec.common_name = absl::StrCat(name, " signing");
  spec.signing_only = true;
  pki::IssuedCertificate cert = Check(pki::Issue(spec, &ca), "issue signing certificate");
  v1::TokenIssuer issuer;
  issuer.set_name(name);
  issuer.set_registered_issuer_name(absl::StrCat(guid, "@", kRealm));
  issuer.add_signing_certificates_pem(cert.certificate.ToPem());
  issuer.add_algorithms(v1::ES256);
  return issuer;
}

control::Caller AdminCaller() {
  control::Caller caller;
  caller.actor = kAdminActor;
  return caller;
}

// --- the load process ----------------------------------------------------------

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
      tls::DefaultChannelArguments(tls::Target(address, server_name, kDomain, {pki::Role::kControl}));
  // One connection per channel, as every node has its own.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::experimental::TlsCredentials(tls), args);
}

// A Watch client that behaves like a trust agent on the wire: subscribes
// from revision 0, decodes every update (deltas parsed, snapshot chunks
// assembled and parsed), checks that a delta's base is the revision it
// holds, and ACKs. It keeps no trust state.
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
    std::optional<v1::WatchRequest> reply = Handle(response_);
    if (reply.has_value()) Send(*std::move(reply));
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
  // Called on the read path only (one read outstanding at a time).
  std::optional<v1::WatchRequest> Handle(const v1::WatchResponse& response)
      ABSL_LOCKS_EXCLUDED(mu_) {
    v1::WatchRequest reply;
    switch (response.update_case()) {
      case v1::WatchResponse::kDelta: {
        const v1::TrustDelta& delta = response.delta();
        absl::MutexLock lock(&mu_);
        ++updates_;
        if (delta.base_revision() != applied_) {
          ++refused_;
          reply.mutable_nack()->set_revision(delta.revision());
          reply.mutable_nack()->set_reason("delta: base revision is not the applied revision");
          return reply;
        }
        applied_ = delta.revision();
        reply.mutable_ack()->set_revision(delta.revision());
        return reply;
      }
      case v1::WatchResponse::kSnapshotChunk: {
        const v1::SnapshotChunk& chunk = response.snapshot_chunk();
        if (chunk.index() == 0) assembled_.clear();
        assembled_.append(chunk.data());
        if (chunk.index() + 1 < chunk.count()) return std::nullopt;
        v1::TrustSnapshot snapshot;
        const bool parsed = snapshot.ParseFromString(assembled_);
        assembled_ = std::string();
        absl::MutexLock lock(&mu_);
        ++updates_;
        if (!parsed || snapshot.revision() != chunk.revision()) {
          ++refused_;
          reply.mutable_nack()->set_revision(chunk.revision());
          reply.mutable_nack()->set_reason("snapshot: does not parse");
          return reply;
        }
        applied_ = snapshot.revision();
        reply.mutable_ack()->set_revision(snapshot.revision());
        return reply;
      }
      case v1::WatchResponse::kKeepalive:
      case v1::WatchResponse::UPDATE_NOT_SET:
        break;
    }
    return std::nullopt;
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
  std::string assembled_;

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

grpc::ByteBuffer BufferOf(const std::string& bytes) {
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

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

// The load process: `watchers` watchers of the control plane and as many
// bare clients, opened in batches; prints "ready" once every watcher has
// ACKed its first snapshot and every bare client has said hello, then runs
// until its stdin closes.
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
      channels.push_back(LoadChannel(provider, o.cp_address, kControlName));
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
  for (auto& w : watchers) {
    updates += w->updates();
    refused += w->refused();
    if (w->status().error_code() != grpc::StatusCode::CANCELLED) ++ended_early;
  }
  for (auto& b : bare) replies += b->replies();
  std::fprintf(stderr,
               "load process: %d watchers decoded %lu updates (%lu refused, %d streams ended "
               "other than by cancellation); %d bare clients answered %lu messages\n",
               o.watchers, static_cast<unsigned long>(updates), static_cast<unsigned long>(refused),
               ended_early, o.watchers, static_cast<unsigned long>(replies));
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

// The parent's handle on a load process.
class LoadProcess {
 public:
  static std::unique_ptr<LoadProcess> Spawn(const LoadOptions& o) {
    int to_child[2];
    int from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
      Die("pipe failed");
    }
    std::vector<std::string> args = {"control_bench",
                                     "--load-process",
                                     "1",
                                     "--cp-address",
                                     o.cp_address,
                                     "--bare-address",
                                     o.bare_address,
                                     "--dir",
                                     o.dir,
                                     "--watchers",
                                     absl::StrCat(o.watchers),
                                     "--batch",
                                     absl::StrCat(o.batch)};
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

  ~LoadProcess() { Stop(); }

  // One line of the child's output, without the newline.
  absl::StatusOr<std::string> ReadLine(absl::Duration timeout) {
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

  // Closes the child's stdin (its signal to stop) and reaps it; past
  // `grace` it is killed. Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(40)) {
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

 private:
  LoadProcess(pid_t pid, int to_child, int from_child)
      : pid_(pid), to_child_(to_child), from_child_(from_child) {}

  pid_t pid_;
  int to_child_;
  int from_child_;
  std::string buffer_;
};

// --- the bare fan-out server ----------------------------------------------------

// A minimal callback-API server for the same Watch method: every stream
// registers with its first message; a round writes one pre-serialized
// buffer to every stream from one thread (as the control plane's hub does)
// and records when each stream's reply arrives.
class BareFanout final
    : public v1::TrustDistribution::WithRawCallbackMethod_Watch<v1::TrustDistribution::Service> {
 public:
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Watch(
      grpc::CallbackServerContext*) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    const uint64_t id = next_id_++;
    auto stream = std::make_shared<Stream>(this, id);
    streams_[id] = stream;
    return stream.get();
  }

  size_t registered() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return registered_;
  }
  size_t streams() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return streams_.size();
  }

  // Writes `frame` to every registered stream; returns each stream's reply
  // latency in ms, or fewer entries when not all replied within `timeout`.
  std::vector<double> Round(const std::string& frame, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<std::shared_ptr<Stream>> streams;
    uint64_t replies_before;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [id, s] : streams_) {
        if (s->registered()) streams.push_back(s);
      }
      replies_before = replies_;
    }
    const grpc::ByteBuffer buffer = BufferOf(frame);
    for (const auto& s : streams) s->ResetReply();
    const absl::Time start = absl::Now();
    for (const auto& s : streams) s->Send(buffer);
    const uint64_t want = replies_before + streams.size();
    PollUntil(
        [&] {
          absl::MutexLock lock(&mu_);
          return replies_ >= want;
        },
        timeout);
    std::vector<double> latencies;
    for (const auto& s : streams) {
      std::optional<absl::Time> at = s->reply_time();
      if (at.has_value()) latencies.push_back(Ms(*at - start));
    }
    return latencies;
  }

  // Ends every stream.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<std::shared_ptr<Stream>> streams;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [id, s] : streams_) streams.push_back(s);
    }
    for (const auto& s : streams) {
      s->FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
    }
  }

 private:
  class Stream final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    Stream(BareFanout* owner, uint64_t id) : owner_(owner), id_(id) { StartRead(&in_); }

    bool registered() const ABSL_LOCKS_EXCLUDED(mu_) {
      absl::MutexLock lock(&mu_);
      return registered_;
    }
    void ResetReply() ABSL_LOCKS_EXCLUDED(mu_) {
      absl::MutexLock lock(&mu_);
      reply_time_.reset();
    }
    std::optional<absl::Time> reply_time() const ABSL_LOCKS_EXCLUDED(mu_) {
      absl::MutexLock lock(&mu_);
      return reply_time_;
    }

    void Send(const grpc::ByteBuffer& frame) ABSL_LOCKS_EXCLUDED(mu_) {
      {
        absl::MutexLock lock(&mu_);
        if (writing_ || finished_ || finish_pending_) return;
        writing_ = true;
        out_ = frame;  // shares the slice, copies no bytes
      }
      StartWrite(&out_);
    }

    void FinishOnce(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
      {
        absl::MutexLock lock(&mu_);
        if (finished_ || finish_pending_) return;
        if (writing_) {
          finish_pending_ = true;
          pending_status_ = std::move(status);
          return;
        }
        finished_ = true;
      }
      Finish(status);
    }

    void OnReadDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
      if (!ok) {
        FinishOnce(grpc::Status::OK);
        return;
      }
      const absl::Time now = absl::Now();
      bool first;
      {
        absl::MutexLock lock(&mu_);
        first = !registered_;
        registered_ = true;
        if (!first) reply_time_ = now;
      }
      owner_->Counted(first);
      StartRead(&in_);
    }

    void OnWriteDone(bool) override ABSL_LOCKS_EXCLUDED(mu_) {
      grpc::Status status;
      {
        absl::MutexLock lock(&mu_);
        writing_ = false;
        if (!finish_pending_ || finished_) return;
        finished_ = true;
        status = pending_status_;
      }
      Finish(status);
    }

    void OnCancel() override { FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled")); }

    void OnDone() override { owner_->Remove(id_); }

   private:
    BareFanout* const owner_;
    const uint64_t id_;
    grpc::ByteBuffer in_;
    grpc::ByteBuffer out_;

    mutable absl::Mutex mu_;
    bool registered_ ABSL_GUARDED_BY(mu_) = false;
    std::optional<absl::Time> reply_time_ ABSL_GUARDED_BY(mu_);
    bool writing_ ABSL_GUARDED_BY(mu_) = false;
    bool finish_pending_ ABSL_GUARDED_BY(mu_) = false;
    grpc::Status pending_status_ ABSL_GUARDED_BY(mu_);
    bool finished_ ABSL_GUARDED_BY(mu_) = false;
  };

  void Counted(bool registration) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (registration) {
      ++registered_;
    } else {
      ++replies_;
    }
  }

  void Remove(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_) {
    std::shared_ptr<Stream> last;
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    if (it->second->registered()) --registered_;
    last = std::move(it->second);
    streams_.erase(it);
  }

  mutable absl::Mutex mu_;
  std::map<uint64_t, std::shared_ptr<Stream>> streams_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  size_t registered_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t replies_ ABSL_GUARDED_BY(mu_) = 0;
};

// --- control plane helpers ------------------------------------------------------

v1::ControlPlaneConfig ControlConfig(const BenchPki& pki, const std::string& sqlite_path) {
  static int servers = 0;
  const std::string sub = absl::StrCat("cp", ++servers);
  tls::ClientIdentity id = pki.Write(sub, "control", "cp1", kControlName);
  v1::ControlPlaneConfig config;
  config.set_trust_domain(kDomain);
  config.set_realm(kRealm);
  config.mutable_listen()->set_address("127.0.0.1:0");
  config.mutable_identity()->set_certificate_file(id.certificate_file);
  config.mutable_identity()->set_key_file(id.key_file);
  config.set_seed_root_name("contoso-root");
  config.set_seed_root_file(pki.root_file());
  config.set_sqlite_path(sqlite_path);
  config.set_log_level("warn");
  return config;
}

// When the update log published each revision (the commit is durable and
// the hub has been woken).
class PublishClock {
 public:
  explicit PublishClock(control::UpdateLog* log) : log_(log) {
    id_ = log_->Subscribe([this] {
      const absl::Time now = absl::Now();
      const uint64_t revision = log_->revision();
      absl::MutexLock lock(&mu_);
      times_[revision] = now;
    });
  }
  ~PublishClock() { log_->Unsubscribe(id_); }

  std::optional<absl::Time> TimeOf(uint64_t revision) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto it = times_.find(revision);
    if (it == times_.end()) return std::nullopt;
    return it->second;
  }

 private:
  control::UpdateLog* const log_;
  int id_ = -1;
  mutable absl::Mutex mu_;
  std::map<uint64_t, absl::Time> times_ ABSL_GUARDED_BY(mu_);
};

// The time a node's last message (its ACK) reached the control plane, if it
// applied `revision`.
std::optional<absl::Time> AckTime(const control::NodeRegistry& nodes, const std::string& spiffe_id,
                                  uint64_t revision) {
  for (const v1::NodeStatus& s : nodes.Status()) {
    if (s.spiffe_id() == spiffe_id && s.applied_revision() >= revision) {
      return FromProtoTime(s.last_seen());
    }
  }
  return std::nullopt;
}

// --- (a) fan-out ----------------------------------------------------------------

struct FanoutRound {
  std::vector<double> latencies;   // ms, one per stream that answered
  double mutation_ms = 0;          // the domain call, start to return
  double publish_to_ack_ms = 0;    // publish to the call's return
  double call_to_last_ack_ms = 0;  // the call's start to the last ACK
  std::string frame;               // the delta as written to every stream
};

FanoutRound ControlRound(control::ControlServer& cp, const PublishClock& clock,
                         const v1::RootAuthority& root, int watchers) {
  FanoutRound out;
  const uint64_t before = cp.control_plane().revision();
  v1::AddRootAuthorityRequest request;
  *request.mutable_root() = root;
  const absl::Time call = absl::Now();
  absl::StatusOr<v1::MutationResponse> response =
      cp.control_plane().AddRootAuthority(AdminCaller(), request);
  const absl::Time acked = absl::Now();
  Check(response.status(), "fan-out mutation");
  const uint64_t revision = response->revision();
  out.mutation_ms = Ms(acked - call);
  std::optional<absl::Time> published = clock.TimeOf(revision);
  if (!published.has_value()) Die("fan-out: the revision was not published");
  out.publish_to_ack_ms = Ms(acked - *published);
  // Polled with a deadline in the past: one count per poll, so the wait
  // does not run a condition on every ACK the control plane handles.
  const bool complete = PollUntil(
      [&] {
        return cp.nodes()
            .WaitApplied(revision, {}, static_cast<uint32_t>(watchers), absl::Now())
            .complete;
      },
      absl::Seconds(30));
  if (!complete) std::fprintf(stderr, "control_bench: not every watcher ACKed within 30 s\n");
  for (const v1::NodeStatus& s : cp.nodes().Status()) {
    if (s.connected() && s.applied_revision() >= revision) {
      const absl::Time seen = FromProtoTime(s.last_seen());
      out.latencies.push_back(Ms(seen - *published));
      out.call_to_last_ack_ms = std::max(out.call_to_last_ack_ms, Ms(seen - call));
    }
  }
  std::shared_ptr<const control::Update> update = cp.control_plane().updates().UpdateFrom(before);
  if (update == nullptr || update->kind != control::Update::Kind::kDelta ||
      update->frames.size() != 1) {
    Die("fan-out: the update was not one delta frame");
  }
  out.frame = update->frames[0];
  return out;
}

std::shared_ptr<grpc::ServerCredentials> BareCredentials(const BenchPki& pki) {
  pki::IssuedCertificate leaf = pki.domain().IssueNode("edge", "bare", kBareName);
  using grpc::experimental::IdentityKeyCertPair;
  auto provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
      pki.domain().RootPem(),
      std::vector<IdentityKeyCertPair>{{leaf.key.ToPem(), pki.domain().ChainPem(leaf)}});
  grpc::experimental::TlsServerCredentialsOptions opts(provider);
  opts.watch_root_certs();
  opts.watch_identity_key_cert_pairs();
  opts.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(opts);
}

int PortOf(const std::string& address) {
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port)) return 0;
  return port;
}

void RunFanout(const Options& o, BenchPki& pki) {
  int most = 0;
  for (int n : o.watchers) most = std::max(most, n);
  std::printf("\n(a) fan-out: generating %d watcher certificates\n", most);
  std::fflush(stdout);
  pki.WriteWatchers(most);

  std::unique_ptr<control::ControlServer> cp =
      Check(control::ControlServer::Start(ControlConfig(pki, pki.dir().path() + "/fanout.db")),
            "control server");
  PublishClock clock(&cp->control_plane().updates());

  BareFanout bare;
  grpc::ServerBuilder builder;
  tls::ApplyServerDefaults(&builder);
  int bare_port = 0;
  builder.AddListeningPort("127.0.0.1:0", BareCredentials(pki), &bare_port);
  builder.RegisterService(&bare);
  std::unique_ptr<grpc::Server> bare_server = builder.BuildAndStart();
  if (bare_server == nullptr || bare_port == 0) Die("bare server did not start");
  const std::string bare_address = absl::StrCat("127.0.0.1:", bare_port);
  const int cp_port = PortOf(cp->address());

  int next_root = 0;
  for (int n : o.watchers) {
    const int rounds = o.fanout_warmup + o.fanout_reps + 1;
    std::vector<v1::RootAuthority> roots;
    for (int i = 0; i < rounds; ++i) {
      roots.push_back(PartnerRoot(absl::StrCat("partner-", next_root++), o.root_certs));
    }
    LoadOptions lo;
    lo.cp_address = cp->address();
    lo.bare_address = bare_address;
    lo.dir = pki.dir().path();
    lo.watchers = n;
    const absl::Time opening = absl::Now();
    std::unique_ptr<LoadProcess> load = LoadProcess::Spawn(lo);
    absl::StatusOr<std::string> line = load->ReadLine(absl::Seconds(600));
    if (!line.ok() || *line != absl::StrCat("ready ", n)) {
      Die(absl::StrCat("load process: ", line.ok() ? *line : line.status().ToString()));
    }
    const bool registered = PollUntil(
        [&] {
          return cp->nodes().connected_count() == static_cast<size_t>(n) &&
                 bare.registered() == static_cast<size_t>(n);
        },
        absl::Seconds(30));
    if (!registered) Die("not every stream registered with its server");
    std::printf(
        "  %d watchers up in %.1f s: control plane %zu streams on %d connections, bare %zu "
        "streams on %d connections\n",
        n, absl::ToDoubleSeconds(absl::Now() - opening), cp->hub().stream_count(),
        EstablishedConnections(cp_port), bare.registered(), EstablishedConnections(bare_port));
    std::fflush(stdout);

    std::vector<double> bare_p50, bare_p99, bare_max, cp_p50, cp_p99, cp_max, mutation_ms,
        publish_ms, call_to_last_ms;
    auto control_round = [&](size_t index, bool measured) {
      FanoutRound cr = ControlRound(*cp, clock, roots[index], n);
      if (cr.latencies.size() != static_cast<size_t>(n)) {
        std::fprintf(stderr, "control_bench: %zu of %d watcher ACKs\n", cr.latencies.size(), n);
      }
      const Summary s = Summarize(cr.latencies);
      if (measured) {
        cp_p50.push_back(s.p50);
        cp_p99.push_back(s.p99);
        cp_max.push_back(s.max);
        mutation_ms.push_back(cr.mutation_ms);
        publish_ms.push_back(cr.publish_to_ack_ms);
        call_to_last_ms.push_back(cr.call_to_last_ack_ms);
      }
      absl::SleepFor(absl::Milliseconds(200));
      return cr.frame;
    };
    // The bare side writes the bytes of the latest control-plane delta (the
    // same size within a few bytes: only the root's name and keys differ).
    auto bare_round = [&](const std::string& frame, bool measured) {
      std::vector<double> lat = bare.Round(frame, absl::Seconds(30));
      if (lat.size() != static_cast<size_t>(n)) {
        std::fprintf(stderr, "control_bench: %zu of %d bare replies\n", lat.size(), n);
      }
      const Summary s = Summarize(lat);
      if (measured) {
        bare_p50.push_back(s.p50);
        bare_p99.push_back(s.p99);
        bare_max.push_back(s.max);
      }
      absl::SleepFor(absl::Milliseconds(200));
    };
    std::string frame = control_round(0, false);
    for (int r = 0; r < o.fanout_warmup + o.fanout_reps; ++r) {
      const bool measured = r >= o.fanout_warmup;
      // Alternate which side goes first.
      if (r % 2 == 0) {
        bare_round(frame, measured);
        frame = control_round(static_cast<size_t>(r) + 1, measured);
      } else {
        frame = control_round(static_cast<size_t>(r) + 1, measured);
        bare_round(frame, measured);
      }
    }
    const double b50 = Median(bare_p50), b99 = Median(bare_p99);
    const double c50 = Median(cp_p50), c99 = Median(cp_p99);
    const double ratio = b99 > 0 ? c99 / b99 : 0;
    std::printf(
        "(a) fan-out of %zu B to %4d streams  bare p50 %6.1f ms p99 %6.1f ms | control plane "
        "p50 %6.1f ms p99 %6.1f ms | p99 ratio %.2f, p50 ratio %.2f\n",
        frame.size(), n, b50, b99, c50, c99, ratio, b50 > 0 ? c50 / b50 : 0);
    if (n >= 1000) {
      std::printf("    goals at 1,000: p99 <= 150 ms %s, p99 <= 2x bare %s\n",
                  c99 <= 150 ? "MET" : "NOT MET", ratio <= 2 ? "MET" : "NOT MET");
    }
    std::printf("    per-round p99 ms: bare [%s]  control plane [%s]\n", List(bare_p99).c_str(),
                List(cp_p99).c_str());
    std::printf("    per-round max ms: bare [%s]  control plane [%s]\n", List(bare_max).c_str(),
                List(cp_max).c_str());
    std::printf(
        "    mutation (domain call) with %d watchers: median %.1f ms [%s]; publish to "
        "acknowledgement median %.2f ms; call to last ACK median %.1f ms\n",
        n, Median(mutation_ms), List(mutation_ms).c_str(), Median(publish_ms),
        Median(call_to_last_ms));
    std::fflush(stdout);

    load->Stop();
    PollUntil([&] { return cp->nodes().connected_count() == 0 && bare.streams() == 0; },
              absl::Seconds(30));
  }
  bare.Shutdown();
  bare_server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  bare_server->Wait();
  cp->Shutdown(absl::Seconds(5));
}

// --- (b) apply latency on a real trust agent ------------------------------------

// A TrustAgent in this process, with its own holder, watching `cp`. A
// holder subscriber records when each revision became visible.
class AgentProbe {
 public:
  AgentProbe(const BenchPki& pki, const std::string& cp_address, const tls::ClientIdentity& id,
             const std::string& state_dir) {
    subscription_ =
        holder_.Subscribe([this](const std::shared_ptr<const trust::TrustSnapshot>& snapshot) {
          const absl::Time now = absl::Now();
          absl::MutexLock lock(&mu_);
          revision_ = snapshot->revision();
          swapped_at_ = now;
        });
    v1::TrustAgentConfig config;
    v1::ControlEndpoint* endpoint = config.add_control_planes();
    endpoint->set_address(cp_address);
    endpoint->set_server_name(kControlName);
    config.set_bootstrap_bundle_file(pki.root_file());
    config.set_state_dir(state_dir);
    config.set_backoff_initial_ms(50);
    config.set_backoff_max_ms(500);
    std::shared_ptr<const pki::RootStore> bootstrap =
        Check(node::TrustAgent::LoadBootstrapRoots(config), "bootstrap roots");
    source_ = std::make_shared<tls::TrustSource>(&holder_, kDomain, bootstrap);
    agent_ = Check(node::TrustAgent::Create(config, id, &holder_, source_), "trust agent");
  }

  ~AgentProbe() {
    agent_->Stop();
    agent_.reset();
    holder_.Unsubscribe(subscription_);
  }

  void Start() { Check(agent_->Start(), "agent start"); }
  void Stop() { agent_->Stop(); }

  // When the holder reached `revision`, waiting up to `timeout`.
  std::optional<absl::Time> AwaitSwap(uint64_t revision, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, revision]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return revision_ >= revision; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&reached), timeout)) return std::nullopt;
    return swapped_at_;
  }

  node::TrustAgent& agent() { return *agent_; }

 private:
  trust::SnapshotHolder holder_;
  std::shared_ptr<tls::TrustSource> source_;
  std::unique_ptr<node::TrustAgent> agent_;
  int subscription_ = -1;

  absl::Mutex mu_;
  uint64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time swapped_at_ ABSL_GUARDED_BY(mu_);
};

struct ApplySample {
  double to_swap_ms = 0;
  double to_ack_ms = 0;
};

// One one-object mutation on `cp`, timed from its commit to the agent's swap
// and to its ACK at the control plane.
ApplySample DeltaRep(control::ControlServer& cp, const PublishClock& clock, AgentProbe& probe,
                     const std::string& agent_id, const v1::RootAuthority& root) {
  v1::AddRootAuthorityRequest request;
  *request.mutable_root() = root;
  absl::StatusOr<v1::MutationResponse> response =
      cp.control_plane().AddRootAuthority(AdminCaller(), request);
  Check(response.status(), "delta mutation");
  const uint64_t revision = response->revision();
  std::optional<absl::Time> committed = clock.TimeOf(revision);
  std::optional<absl::Time> swapped = probe.AwaitSwap(revision, absl::Seconds(60));
  const control::NodeRegistry::WaitResult waited =
      cp.nodes().WaitApplied(revision, {agent_id}, 0, absl::Now() + absl::Seconds(60));
  std::optional<absl::Time> acked = AckTime(cp.nodes(), agent_id, revision);
  if (!committed || !swapped || !waited.complete || !acked) Die("delta was not applied in time");
  return ApplySample{Ms(*swapped - *committed), Ms(*acked - *committed)};
}

// The agent's steps for a delta, replayed on the same bytes: decode the
// frame, apply the changes, validate (reusing the previous snapshot's
// parsed objects), persist, swap, and free the snapshot it replaced.
std::map<std::string, double> ReplayDelta(const std::string& frame,
                                          const std::shared_ptr<const trust::TrustSnapshot>& base,
                                          const std::string& state_dir, int reps) {
  std::map<std::string, std::vector<double>> phases;
  for (int i = 0; i < reps; ++i) {
    absl::Time t = absl::Now();
    auto lap = [&](const char* phase) {
      const absl::Time now = absl::Now();
      phases[phase].push_back(Ms(now - t));
      t = now;
    };
    v1::WatchResponse response;
    if (!response.ParseFromString(frame)) Die("replay: frame does not parse");
    lap("1 decode frame");
    v1::TrustSnapshot next = Check(trust::ApplyDelta(base->proto(), response.delta()), "replay");
    lap("2 apply delta (copy state)");
    std::shared_ptr<const trust::TrustSnapshot> snapshot =
        Check(trust::TrustSnapshot::Create(std::move(next), base.get()), "replay validate");
    lap("3 validate (TrustSnapshot::Create)");
    Check(node::LastKnownGoodFile(state_dir).Save(snapshot->proto(), absl::Now()), "replay save");
    lap("4 persist (last-known-good, fsync)");
    {
      trust::SnapshotHolder holder;
      Check(holder.Swap(base), "replay swap base");
      t = absl::Now();
      Check(holder.Swap(snapshot), "replay swap");
      lap("5 swap");
    }
    // The agent drops its previous snapshot before it returns the ACK; a
    // snapshot of the same size is freed here.
    t = absl::Now();
    snapshot.reset();
    lap("6 free the replaced snapshot");
  }
  std::map<std::string, double> out;
  for (auto& [phase, v] : phases) out[phase] = Median(v);
  return out;
}

// The same for a full snapshot: decode the chunk frames and assemble,
// parse, validate from scratch, persist, swap into an empty holder.
std::map<std::string, double> ReplaySnapshot(const std::vector<std::string>& frames,
                                             const std::string& state_dir, int reps) {
  std::map<std::string, std::vector<double>> phases;
  for (int i = 0; i < reps; ++i) {
    absl::Time t = absl::Now();
    auto lap = [&](const char* phase) {
      const absl::Time now = absl::Now();
      phases[phase].push_back(Ms(now - t));
      t = now;
    };
    std::string assembled;
    for (const std::string& frame : frames) {
      v1::WatchResponse response;
      if (!response.ParseFromString(frame)) Die("replay: chunk does not parse");
      assembled.append(response.snapshot_chunk().data());
    }
    lap("1 decode chunks, assemble");
    v1::TrustSnapshot proto;
    if (!proto.ParseFromString(assembled)) Die("replay: snapshot does not parse");
    assembled = std::string();
    lap("2 parse snapshot");
    std::shared_ptr<const trust::TrustSnapshot> snapshot =
        Check(trust::TrustSnapshot::Create(std::move(proto)), "replay validate");
    lap("3 validate (TrustSnapshot::Create)");
    Check(node::LastKnownGoodFile(state_dir).Save(snapshot->proto(), absl::Now()), "replay save");
    lap("4 persist (last-known-good, fsync)");
    trust::SnapshotHolder holder;
    t = absl::Now();
    Check(holder.Swap(snapshot), "replay swap");
    lap("5 swap");
  }
  std::map<std::string, double> out;
  for (auto& [phase, v] : phases) out[phase] = Median(v);
  return out;
}

void PrintPhases(const std::map<std::string, double>& phases) {
  double total = 0;
  for (const auto& [phase, ms] : phases) {
    std::printf("      %-40s %8.2f ms\n", phase.c_str(), ms);
    total += ms;
  }
  std::printf("      %-40s %8.2f ms\n", "sum", total);
}

void PrintApply(const char* what, const std::vector<ApplySample>& samples) {
  std::vector<double> swap, ack;
  for (const ApplySample& s : samples) {
    swap.push_back(s.to_swap_ms);
    ack.push_back(s.to_ack_ms);
  }
  std::printf(
      "(b) %-46s n=%-3zu to swapped p50 %8.1f ms p99 %8.1f ms | to ACK seen p50 %8.1f ms p99 "
      "%8.1f ms\n",
      what, samples.size(), Percentile(swap, 50), Percentile(swap, 99), Percentile(ack, 50),
      Percentile(ack, 99));
  std::fflush(stdout);
}

// The trust state of a large domain: contoso's root, `roots` more roots
// (distinct CAs, half MTLS for contoso.test, half TOKEN_SIGNING), and
// `issuers` per-application issuers, each with its own signing certificate
// under one of the token-signing roots.
std::vector<v1::TrustChange> LargeDomain(const BenchPki& pki, int roots, int issuers) {
  std::vector<v1::TrustChange> changes;
  v1::TrustChange seed;
  v1::RootAuthority* contoso = seed.mutable_put_root();
  contoso->set_name("contoso-root");
  contoso->set_trust_domain(kDomain);
  contoso->set_certificates_pem(pki.domain().RootPem());
  contoso->add_purposes(v1::MTLS);
  contoso->add_purposes(v1::TOKEN_SIGNING);
  changes.push_back(seed);
  std::vector<pki::IssuedCertificate> token_cas;
  for (int i = 0; i < roots; ++i) {
    pki::IssuedCertificate ca = NewCa(absl::StrCat("bulk root ", i));
    v1::TrustChange c;
    v1::RootAuthority* root = c.mutable_put_root();
    root->set_name(absl::StrCat("bulk-root-", i));
    root->set_trust_domain(kDomain);
    root->set_certificates_pem(ca.certificate.ToPem());
    root->add_purposes(i % 2 == 0 ? v1::MTLS : v1::TOKEN_SIGNING);
    changes.push_back(c);
    if (i % 2 == 1 && token_cas.size() < 8) token_cas.push_back(std::move(ca));
  }
  if (token_cas.empty()) token_cas.push_back(pki.domain().root());
  for (int i = 0; i < issuers; ++i) {
    v1::TrustChange c;
    *c.mutable_put_issuer() =
        NewIssuer(absl::StrCat("app-", i), Guid(i, 0), token_cas[i % token_cas.size()]);
    changes.push_back(c);
  }
  return changes;
}

// The large domain, generated once per run (11,000 key pairs take a while).
class LargeDomainCache {
 public:
  const std::vector<v1::TrustChange>& Get(const BenchPki& pki, int roots, int issuers) {
    if (!changes_.has_value()) {
      const absl::Time start = absl::Now();
      changes_ = LargeDomain(pki, roots, issuers);
      std::printf("    generated a domain of %d issuers and %d roots in %.1f s\n", issuers,
                  roots + 1, absl::ToDoubleSeconds(absl::Now() - start));
      std::fflush(stdout);
    }
    return *changes_;
  }

 private:
  std::optional<std::vector<v1::TrustChange>> changes_;
};

// Commits `changes` as the first revision of a new store at `path`.
void PopulateStore(const std::string& path, const std::vector<v1::TrustChange>& changes) {
  control::SqliteStore::Options opts;
  opts.path = path;
  std::unique_ptr<control::SqliteStore> store =
      Check(control::SqliteStore::Open(opts), "open store");
  control::Mutation m;
  m.trust_domain = kDomain;
  m.realm = kRealm;
  m.changes = changes;
  m.time = absl::Now();
  m.audit.emplace_back().set_operation("bench.load");
  Check(store->Commit(m).status(), "populate store");
}

void RunApply(const Options& o, BenchPki& pki, LargeDomainCache& large_domain) {
  std::printf("\n(b) apply latency on a real trust agent\n");
  std::fflush(stdout);
  // Small domain: the seed root, then one partner root per delta.
  {
    std::unique_ptr<control::ControlServer> cp =
        Check(control::ControlServer::Start(ControlConfig(pki, pki.dir().path() + "/apply.db")),
              "control server");
    PublishClock clock(&cp->control_plane().updates());
    tls::ClientIdentity id =
        pki.Write("agents", "frontend", "agent-small", "agent-small.contoso.test");
    testing::TempDir state;
    AgentProbe probe(pki, cp->address(), id, state.path());
    probe.Start();
    if (!probe.AwaitSwap(cp->control_plane().revision(), absl::Seconds(30))) {
      Die("agent did not apply the first snapshot");
    }
    const std::string agent_id = "spiffe://contoso.test/frontend/agent-small";
    std::vector<ApplySample> samples;
    std::shared_ptr<const trust::TrustSnapshot> last_base;
    // The first three deltas warm up the stream and are not counted.
    for (int i = 0; i < o.delta_reps + 3; ++i) {
      v1::RootAuthority root = PartnerRoot(absl::StrCat("small-", i), 1);
      last_base = cp->control_plane().current();
      ApplySample s = DeltaRep(*cp, clock, probe, agent_id, root);
      if (i >= 3) samples.push_back(s);
      absl::SleepFor(absl::Milliseconds(20));
    }
    const std::string last_frame =
        cp->control_plane().updates().UpdateFrom(last_base->revision())->frames[0];
    PrintApply(absl::StrFormat("one-object delta, %d-root domain",
                               cp->control_plane().current()->proto().roots_size())
                   .c_str(),
               samples);
    std::printf("    replay of the agent's steps on the last delta (%zu B), medians:\n",
                last_frame.size());
    testing::TempDir replay_dir;
    PrintPhases(ReplayDelta(last_frame, last_base, replay_dir.path(), 10));
    probe.Stop();
    cp->Shutdown(absl::Seconds(5));
  }

  // Large domain: full snapshot to fresh agents, then deltas on top.
  const std::string large_path = pki.dir().path() + "/apply-large.db";
  PopulateStore(large_path, large_domain.Get(pki, o.roots, o.issuers));
  const absl::Time loading = absl::Now();
  std::unique_ptr<control::ControlServer> cp =
      Check(control::ControlServer::Start(ControlConfig(pki, large_path)), "large control server");
  const size_t snapshot_bytes = cp->control_plane().current()->proto().ByteSizeLong();
  std::printf("    control plane loaded %d roots, %d issuers (%.1f MB) in %.1f s\n",
              cp->control_plane().current()->proto().roots_size(),
              cp->control_plane().current()->proto().issuers_size(), snapshot_bytes / 1e6,
              absl::ToDoubleSeconds(absl::Now() - loading));
  std::fflush(stdout);
  PublishClock clock(&cp->control_plane().updates());
  tls::ClientIdentity id = pki.Write("agents", "edge", "agent-large", "agent-large.contoso.test");
  const std::string agent_id = "spiffe://contoso.test/edge/agent-large";
  const uint64_t revision = cp->control_plane().revision();
  std::vector<ApplySample> snapshot_samples;
  std::vector<double> start_to_swap;
  std::unique_ptr<AgentProbe> kept;
  std::unique_ptr<testing::TempDir> kept_state;
  for (int i = 0; i < o.snapshot_reps; ++i) {
    auto state = std::make_unique<testing::TempDir>();
    auto probe = std::make_unique<AgentProbe>(pki, cp->address(), id, state->path());
    const absl::Time start = absl::Now();
    probe->Start();
    absl::Time subscribed;
    if (!PollUntil(
            [&] {
              subscribed = absl::Now();
              return cp->nodes().connected_count() == 1;
            },
            absl::Seconds(30), absl::Microseconds(200))) {
      Die("agent did not subscribe");
    }
    std::optional<absl::Time> swapped = probe->AwaitSwap(revision, absl::Seconds(120));
    const control::NodeRegistry::WaitResult waited =
        cp->nodes().WaitApplied(revision, {agent_id}, 0, absl::Now() + absl::Seconds(120));
    std::optional<absl::Time> acked = AckTime(cp->nodes(), agent_id, revision);
    if (!swapped || !waited.complete || !acked) Die("snapshot was not applied in time");
    snapshot_samples.push_back(ApplySample{Ms(*swapped - subscribed), Ms(*acked - subscribed)});
    start_to_swap.push_back(Ms(*swapped - start));
    if (i + 1 == o.snapshot_reps) {
      kept = std::move(probe);
      kept_state = std::move(state);
    } else {
      probe.reset();
      PollUntil([&] { return cp->nodes().connected_count() == 0; }, absl::Seconds(30));
    }
  }
  PrintApply(absl::StrFormat("full snapshot, %d issuers + %d roots (%.1f MB)", o.issuers,
                             o.roots + 1, snapshot_bytes / 1e6)
                 .c_str(),
             snapshot_samples);
  std::printf(
      "    (from the control plane registering the subscription; from the agent's Start: "
      "median %.1f ms [%s])\n",
      Median(start_to_swap), List(start_to_swap).c_str());
  std::shared_ptr<const control::Update> update = cp->control_plane().updates().UpdateFrom(0);
  std::printf("    replay of the agent's steps on the same %zu chunks, medians:\n",
              update->frames.size());
  {
    testing::TempDir replay_dir;
    PrintPhases(ReplaySnapshot(update->frames, replay_dir.path(), 3));
  }

  std::vector<ApplySample> large_delta;
  std::shared_ptr<const trust::TrustSnapshot> last_base;
  for (int i = 0; i < o.large_delta_reps + 1; ++i) {
    v1::RootAuthority root = PartnerRoot(absl::StrCat("large-", i), 1);
    last_base = cp->control_plane().current();
    ApplySample s = DeltaRep(*cp, clock, *kept, agent_id, root);
    if (i >= 1) large_delta.push_back(s);
    absl::SleepFor(absl::Milliseconds(20));
  }
  PrintApply(
      absl::StrFormat("one-object delta, %d issuers + %d roots", o.issuers, o.roots + 1).c_str(),
      large_delta);
  const std::string frame =
      cp->control_plane().updates().UpdateFrom(last_base->revision())->frames[0];
  std::printf("    replay of the agent's steps on the last delta (%zu B), medians:\n",
              frame.size());
  {
    testing::TempDir replay_dir;
    PrintPhases(ReplayDelta(frame, last_base, replay_dir.path(), 5));
  }
  kept.reset();
  cp->Shutdown(absl::Seconds(5));
}

// --- (c) durable mutations per second -------------------------------------------

// The baseline: one row per transaction into a plain SQLite table, with the
// store's settings (WAL, synchronous=FULL, BEGIN IMMEDIATE ... COMMIT).
class RawSqlite {
 public:
  explicit RawSqlite(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      Die("raw sqlite: cannot open");
    }
    Exec("PRAGMA journal_mode=WAL");
    Exec("PRAGMA synchronous=FULL");
    Exec("CREATE TABLE rows (key TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID");
    if (sqlite3_prepare_v2(db_, "INSERT INTO rows (key, data) VALUES (?, ?)", -1, &insert_,
                           nullptr) != SQLITE_OK) {
      Die("raw sqlite: cannot prepare");
    }
  }
  ~RawSqlite() {
    sqlite3_finalize(insert_);
    sqlite3_close_v2(db_);
  }

  // `count` rows of `bytes` bytes in one transaction (setting up a table as
  // large as the store's).
  void Fill(int count, size_t bytes) {
    Exec("BEGIN IMMEDIATE");
    for (int i = 0; i < count; ++i) Insert(absl::StrCat("fill-", i), std::string(bytes, 'f'));
    Exec("COMMIT");
  }

  // Inserts up to `count` rows of `bytes` bytes, one transaction each, for
  // at most `limit`; returns rows per second.
  double Loop(int count, size_t bytes, absl::Duration limit) {
    const std::string data(bytes, 'x');
    const absl::Time start = absl::Now();
    int done = 0;
    while (done < count && absl::Now() - start < limit) {
      Exec("BEGIN IMMEDIATE");
      Insert(absl::StrCat("row-", next_++), data);
      Exec("COMMIT");
      ++done;
    }
    return done / absl::ToDoubleSeconds(absl::Now() - start);
  }

 private:
  void Exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      Die(absl::StrCat("raw sqlite: ", sql, ": ", error ? error : "?"));
    }
  }
  void Insert(const std::string& key, const std::string& data) {
    sqlite3_reset(insert_);
    sqlite3_bind_text(insert_, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(insert_, 2, data.data(), static_cast<int>(data.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(insert_) != SQLITE_DONE) Die("raw sqlite: insert failed");
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  int next_ = 0;
};

// A ControlPlane on its own SQLite store, without gRPC.
struct DomainRig {
  trust::SnapshotHolder holder;
  control::NodeRegistry nodes;
  std::unique_ptr<control::ControlPlane> cp;

  DomainRig(const BenchPki& pki, const std::string& path) {
    control::SqliteStore::Options store;
    store.path = path;
    control::ControlPlane::Options opts;
    opts.trust_domain = kDomain;
    opts.realm = kRealm;
    opts.seed_root_name = "contoso-root";
    opts.seed_root_pem = pki.domain().RootPem();
    cp = Check(control::ControlPlane::Create(
                   opts, Check(control::SqliteStore::Open(store), "open store"), &holder, &nodes),
               "control plane");
  }
};

// Adds the issuers (timed, bounded by `limit`) and removes those it added
// (untimed), so every repetition starts from the same state.
double AddIssuers(control::ControlPlane& cp, const std::vector<v1::TokenIssuer>& issuers,
                  absl::Duration limit) {
  const absl::Time start = absl::Now();
  size_t done = 0;
  for (const v1::TokenIssuer& issuer : issuers) {
    if (absl::Now() - start >= limit) break;
    v1::AddTokenIssuerRequest request;
    *request.mutable_issuer() = issuer;
    Check(cp.AddTokenIssuer(AdminCaller(), request).status(), "add issuer");
    ++done;
  }
  const double rate = done / absl::ToDoubleSeconds(absl::Now() - start);
  for (size_t i = 0; i < done; ++i) {
    v1::RemoveTokenIssuerRequest request;
    request.set_name(issuers[i].name());
    Check(cp.RemoveTokenIssuer(AdminCaller(), request).status(), "remove issuer");
  }
  return rate;
}

void CompareMutations(const char* name, control::ControlPlane& cp, RawSqlite& raw,
                      const std::vector<v1::TokenIssuer>& issuers, int reps, double seconds) {
  const size_t row = issuers.front().ByteSizeLong();
  Comparison c = Interleave(
      name, "/s", reps,
      [&] { return raw.Loop(static_cast<int>(issuers.size()), row, absl::Seconds(seconds)); },
      [&] { return AddIssuers(cp, issuers, absl::Seconds(seconds)); });
  Report(c, 0.5);
  std::printf("    per-rep raw [%s]  control plane [%s]; row %zu B\n", List(c.baseline).c_str(),
              List(c.candidate).c_str(), row);
  std::fflush(stdout);
}

void RunMutations(const Options& o, BenchPki& pki, LargeDomainCache& large_domain) {
  std::printf("\n(c) durable mutations per second (WAL, synchronous=FULL)\n");
  std::fflush(stdout);
  // Small domain: the seed root and base_issuers issuers; each repetition
  // adds `mutations` new issuers (signing certificates under contoso's
  // token-signing root), then removes them untimed.
  {
    DomainRig rig(pki, pki.dir().path() + "/mutations.db");
    const pki::IssuedCertificate& ca = pki.domain().root();
    for (int i = 0; i < o.base_issuers; ++i) {
      v1::AddTokenIssuerRequest request;
      *request.mutable_issuer() = NewIssuer(absl::StrCat("base-", i), Guid(i, 1), ca);
      Check(rig.cp->AddTokenIssuer(AdminCaller(), request).status(), "base issuer");
    }
    std::vector<v1::TokenIssuer> issuers;
    for (int i = 0; i < o.mutations; ++i) {
      issuers.push_back(NewIssuer(absl::StrCat("bench-", i), Guid(i, 2), ca));
    }
    RawSqlite raw(pki.dir().path() + "/raw.db");
    raw.Fill(o.base_issuers + 1, issuers.front().ByteSizeLong());
    // Warm-up: a few of each.
    raw.Loop(20, issuers.front().ByteSizeLong(), absl::Seconds(5));
    AddIssuers(*rig.cp,
               std::vector<v1::TokenIssuer>(issuers.begin(),
                                            issuers.begin() + std::min<size_t>(20, issuers.size())),
               absl::Seconds(5));
    CompareMutations(
        absl::StrFormat("(c) mutations/s, %d-issuer domain", o.base_issuers + 1).c_str(), *rig.cp,
        raw, issuers, o.mutation_reps, o.mutation_seconds);
  }
  // Large domain: the same mutation on top of `issuers` issuers and
  // `roots` roots.
  if (o.large_mutations > 0) {
    const std::vector<v1::TrustChange>& large = large_domain.Get(pki, o.roots, o.issuers);
    const std::string path = pki.dir().path() + "/mutations-large.db";
    PopulateStore(path, large);
    DomainRig rig(pki, path);
    std::vector<v1::TokenIssuer> issuers;
    for (int i = 0; i < o.large_mutations; ++i) {
      issuers.push_back(NewIssuer(absl::StrCat("bench-", i), Guid(i, 3), pki.domain().root()));
    }
    RawSqlite raw(pki.dir().path() + "/raw-large.db");
    raw.Fill(static_cast<int>(large.size()), issuers.front().ByteSizeLong());
    CompareMutations(
        absl::StrFormat("(c) mutations/s, %d issuers + %d roots", o.issuers, o.roots + 1).c_str(),
        *rig.cp, raw, issuers, o.large_mutation_reps, o.mutation_seconds);
  }
}

// --- main -------------------------------------------------------------------------

std::vector<int> IntList(const std::string& text) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int v = 0;
    if (!absl::SimpleAtoi(part, &v) || v <= 0) Die(absl::StrCat("bad number: ", part));
    out.push_back(v);
  }
  return out;
}

int Main(int argc, char** argv) {
  Options o;
  LoadOptions lo;
  bool load_process = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    int n = 0;
    const bool numeric = absl::SimpleAtoi(value, &n);
    if (flag == "--sections") {
      o.sections.clear();
      for (absl::string_view s : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        o.sections.insert(std::string(s));
      }
    } else if (flag == "--watchers") {
      o.watchers = IntList(value);
    } else if (flag == "--mutation-seconds") {
      o.mutation_seconds = std::atof(value.c_str());
    } else if (flag == "--load-process") {
      load_process = true;
    } else if (flag == "--cp-address") {
      lo.cp_address = value;
    } else if (flag == "--bare-address") {
      lo.bare_address = value;
    } else if (flag == "--dir") {
      lo.dir = value;
    } else if (!numeric || n < 0) {
      Die(absl::StrCat("unknown flag or bad value: ", flag, " ", value));
    } else {
      static const std::map<std::string, int Options::*> kInts = {
          {"--fanout-reps", &Options::fanout_reps},
          {"--fanout-warmup", &Options::fanout_warmup},
          {"--root-certs", &Options::root_certs},
          {"--delta-reps", &Options::delta_reps},
          {"--large-delta-reps", &Options::large_delta_reps},
          {"--snapshot-reps", &Options::snapshot_reps},
          {"--issuers", &Options::issuers},
          {"--roots", &Options::roots},
          {"--mutations", &Options::mutations},
          {"--mutation-reps", &Options::mutation_reps},
          {"--base-issuers", &Options::base_issuers},
          {"--large-mutations", &Options::large_mutations},
          {"--large-mutation-reps", &Options::large_mutation_reps},
      };
      auto it = kInts.find(flag);
      if (it != kInts.end()) {
        o.*(it->second) = n;
      } else if (flag == "--batch") {
        lo.batch = n;
      } else {
        Die(absl::StrCat("unknown flag: ", flag));
      }
    }
  }
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  spdlog::set_level(spdlog::level::warn);
  RaiseFileLimit();
  signal(SIGPIPE, SIG_IGN);
  if (load_process) {
    if (!o.watchers.empty()) lo.watchers = o.watchers.front();
    return LoadMain(lo);
  }

  std::printf(
      "trustfabric control-plane benchmark (2 cores; servers in this process, fan-out clients "
      "in a load process)\n");
  std::printf("load average at start: %s", ReadFileOrDie("/proc/loadavg").c_str());
  BenchPki pki;
  LargeDomainCache large_domain;
  if (o.sections.count("fanout")) RunFanout(o, pki);
  if (o.sections.count("apply")) RunApply(o, pki, large_domain);
  if (o.sections.count("mutations")) RunMutations(o, pki, large_domain);
  std::printf("load average at end: %s", ReadFileOrDie("/proc/loadavg").c_str());
  return 0;
}

}  // namespace
}  // namespace trustfabric::bench

int main(int argc, char** argv) { return trustfabric::bench::Main(argc, argv); }
