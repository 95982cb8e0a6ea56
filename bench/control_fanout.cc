// (a) Fan-out: the delta of one mutation (a partner root authority of a few
// CA certificates, about 2 KB on the wire) from tfcontrol's ControlServer to
// N Watch streams, vs a bare callback-API gRPC server writing the same
// bytes, serialized once, to N streams of the same kind. The clients run in
// a load process (control_fanout_load.cc). See control_bench.cc for what is
// measured.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bench/control_common.h"
#include "bench/control_fanout.h"
#include "common/time/proto_time.h"
#include "common/tls/server_security.h"
#include "server/control/control_server.h"
#include "trustfabric/v1/control.grpc.pb.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_callback.h>

namespace trustfabric::bench {
namespace {

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

}  // namespace

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

}  // namespace trustfabric::bench
