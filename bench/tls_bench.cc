// Transport benchmark (issue: mutual-TLS transport).
//
// In one run, with the same keys and the same trivial service:
//  (a) unary call rate over plain gRPC mutual TLS (gRPC verifies the chain
//      itself against static roots) vs over trustfabric's transport
//      (chain verified in our code against the live snapshot, re-validated
//      and authorized on every call through the per-listener processor);
//  (b) full handshakes per second (a new channel and one call each), both ways
//      (the candidate behind trustfabric's own accept loop, as in tfnode).
// Baseline and candidate alternate; medians of the repetitions are compared.
// (a) also measures a third server in the same rounds: plain gRPC mutual TLS
// with an AuthMetadataProcessor that accepts every call, the cost of gRPC's
// per-call hook alone (the only server-side hook of gRPC 1.51 that can refuse
// a call with a status before its handler runs). trustfabric over that floor
// is the cost of its own per-call code.
//
//   tls_bench [--seconds 2] [--reps 5] [--threads 4] [--handshakes 200]
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bench/bench_util.h"
#include "common/tls/client_security.h"
#include "common/tls/guarded_listener.h"
#include "common/tls/server_security.h"
#include "common/trust/holder.h"
#include "common/trust/snapshot.h"
#include "tests/testing/test_pki.h"
#include "trustfabric/v1/node.grpc.pb.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/server_builder.h>

namespace trustfabric::bench {
namespace {

class EchoEdge final : public v1::Edge::Service {
  grpc::Status Relay(grpc::ServerContext*, const v1::RelayRequest*,
                     v1::RelayResponse* resp) override {
    resp->set_disposition("ok");
    return grpc::Status::OK;
  }
};

struct Options {
  double seconds = 2;
  int reps = 5;
  int threads = 4;
  int handshakes = 200;
};

// gRPC's per-call hook with nothing in it: the floor of any processor.
class AcceptAllProcessor final : public grpc::AuthMetadataProcessor {
 public:
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata&, grpc::AuthContext*, OutputMetadata*,
                       OutputMetadata*) override {
    return grpc::Status::OK;
  }
};

// Unary calls from `threads` threads over one channel for `seconds`.
double CallRate(const std::shared_ptr<grpc::Channel>& channel, const Options& o) {
  auto stub = v1::Edge::NewStub(channel);
  {  // connect outside the measurement
    grpc::ClientContext ctx;
    v1::RelayResponse r;
    if (!stub->Relay(&ctx, v1::RelayRequest(), &r).ok()) {
      std::fprintf(stderr, "warm-up call failed\n");
      std::exit(1);
    }
  }
  std::atomic<bool> stop{false};
  std::atomic<long> calls{0};
  std::atomic<long> failures{0};
  std::vector<std::thread> workers;
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < o.threads; ++t) {
    workers.emplace_back([&] {
      v1::RelayRequest req;
      v1::RelayResponse resp;
      while (!stop.load(std::memory_order_relaxed)) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        if (stub->Relay(&ctx, req, &resp).ok()) {
          calls.fetch_add(1, std::memory_order_relaxed);
        } else {
          failures.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  for (auto& w : workers) w.join();
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failures > 0) std::fprintf(stderr, "%ld calls failed\n", failures.load());
  return static_cast<double>(calls.load()) / elapsed;
}

// New channel + one call, `n` times, sequentially.
double HandshakeRate(const std::function<std::shared_ptr<grpc::Channel>()>& make, int n) {
  auto start = std::chrono::steady_clock::now();
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    auto stub = v1::Edge::NewStub(make());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::RelayResponse r;
    if (stub->Relay(&ctx, v1::RelayRequest(), &r).ok()) ++ok;
  }
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (ok != n) std::fprintf(stderr, "%d of %d handshakes failed\n", n - ok, n);
  return ok / elapsed;
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"trustfabric transport benchmark: plain gRPC mutual TLS vs trustfabric's"};
  app.option_defaults()->always_capture_default();
  app.add_option("--seconds", o.seconds, "length of one unary-call measurement")
      ->check(CLI::PositiveNumber);
  app.add_option("--reps", o.reps, "repetitions per side")->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads, "client threads making unary calls")
      ->check(CLI::PositiveNumber);
  app.add_option("--handshakes", o.handshakes, "handshakes per repetition")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  testing::TestDomain contoso("contoso.test");
  testing::TempDir dir;
  pki::IssuedCertificate server_leaf = contoso.IssueNode("edge", "edge1", "edge1.contoso.test");
  pki::IssuedCertificate client_leaf = contoso.IssueNode("frontend", "fe1", "fe1.contoso.test");
  const std::string server_chain = contoso.ChainPem(server_leaf);
  const std::string client_chain = contoso.ChainPem(client_leaf);
  const std::string server_crt = dir.Write("s.crt", server_chain);
  const std::string server_key = dir.Write("s.key", server_leaf.key.ToPem(), 0600);
  const std::string client_crt = dir.Write("c.crt", client_chain);
  const std::string client_key = dir.Write("c.key", client_leaf.key.ToPem(), 0600);

  // trustfabric state: contoso's root for MTLS.
  v1::TrustSnapshot state;
  state.set_revision(1);
  state.set_trust_domain("contoso.test");
  state.set_realm("3f2504e0-4f89-11d3-9a0c-0305e82c3301");
  v1::RootAuthority* root = state.add_roots();
  root->set_name("contoso-root");
  root->set_trust_domain("contoso.test");
  root->set_certificates_pem(contoso.RootPem());
  root->add_purposes(v1::MTLS);
  trust::SnapshotHolder holder;
  auto snap = trust::TrustSnapshot::Create(state);
  if (!snap.ok() || !holder.Swap(*snap).ok()) {
    std::fprintf(stderr, "snapshot: %s\n", snap.status().ToString().c_str());
    return 1;
  }
  auto source = std::make_shared<tls::TrustSource>(&holder, "contoso.test", nullptr);

  // Baseline server: gRPC verifies the client chain against static roots.
  using grpc::experimental::IdentityKeyCertPair;
  using grpc::experimental::StaticDataCertificateProvider;
  auto server_provider = std::make_shared<StaticDataCertificateProvider>(
      contoso.RootPem(), std::vector<IdentityKeyCertPair>{{server_leaf.key.ToPem(), server_chain}});
  // Each credentials object takes its own options (gRPC hands the options'
  // C object over to the credentials).
  auto static_server_creds = [&] {
    grpc::experimental::TlsServerCredentialsOptions opts(server_provider);
    opts.watch_root_certs();
    opts.watch_identity_key_cert_pairs();
    opts.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    return grpc::experimental::TlsServerCredentials(opts);
  };
  auto plain_creds = static_server_creds();
  auto hook_creds = static_server_creds();
  hook_creds->SetAuthMetadataProcessor(std::make_shared<AcceptAllProcessor>());

  tls::ListenerOptions tf_opts;
  tf_opts.certificate_file = server_crt;
  tf_opts.key_file = server_key;
  auto security = tls::ListenerSecurity::Create(tf_opts, source);
  if (!security.ok()) {
    std::fprintf(stderr, "listener: %s\n", security.status().ToString().c_str());
    return 1;
  }

  EchoEdge service;
  grpc::ServerBuilder builder;
  tls::ApplyServerDefaults(&builder);
  int plain_port = 0;
  int tf_port = 0;
  int hook_port = 0;
  builder.AddListeningPort("127.0.0.1:0", plain_creds, &plain_port);
  builder.AddListeningPort("127.0.0.1:0", hook_creds, &hook_port);
  // The candidate listens as tfnode's listeners do: trustfabric's own
  // accept loop and bounds in front of gRPC (docs/design.md §4).
  v1::ListenerConfig tf_listen;
  tf_listen.set_address("127.0.0.1:0");
  auto guarded = tls::GuardedListener::Bind("bench", tf_listen, "listen");
  if (!guarded.ok()) {
    std::fprintf(stderr, "listener: %s\n", guarded.status().ToString().c_str());
    return 1;
  }
  (*guarded)->AddTo(&builder, (*security)->credentials());
  tls::ApplyHandshakeTimeout(&builder, {guarded->get()});
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  (*guarded)->Start();
  tf_port = (*guarded)->port();

  // Baseline client: gRPC verifies the server chain and host name itself.
  auto client_provider = std::make_shared<StaticDataCertificateProvider>(
      contoso.RootPem(), std::vector<IdentityKeyCertPair>{{client_leaf.key.ToPem(), client_chain}});
  const tls::Target plain_target{absl::StrCat("127.0.0.1:", plain_port), "edge1.contoso.test",
                                 "contoso.test", {pki::Role::kEdge}};
  const tls::Target tf_target{absl::StrCat("127.0.0.1:", tf_port), "edge1.contoso.test",
                              "contoso.test", {pki::Role::kEdge}};
  const tls::Target hook_target{absl::StrCat("127.0.0.1:", hook_port), "edge1.contoso.test",
                                "contoso.test", {pki::Role::kEdge}};
  auto static_channel = [&](const tls::Target& target) {
    grpc::experimental::TlsChannelCredentialsOptions c;
    c.set_certificate_provider(client_provider);
    c.watch_root_certs();
    c.watch_identity_key_cert_pairs();
    grpc::ChannelArguments args = tls::DefaultChannelArguments(target);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(target.address, grpc::experimental::TlsCredentials(c), args);
  };
  auto plain_channel = [&] { return static_channel(plain_target); };
  auto cache = tls::ChannelCache::Create({client_crt, client_key, 1}, source);
  if (!cache.ok()) {
    std::fprintf(stderr, "client: %s\n", cache.status().ToString().c_str());
    return 1;
  }
  auto tf_channel = [&] { return (*cache)->NewChannel(tf_target); };

  std::printf("trustfabric transport benchmark: %d reps x %.1f s, %d client threads, %d "
              "handshakes per rep (2 cores, client and server in one process)\n",
              o.reps, o.seconds, o.threads, o.handshakes);
  auto plain_shared = plain_channel();
  auto tf_shared = tf_channel();
  auto hook_shared = static_channel(hook_target);
  Comparison unary{"(a) unary calls/s, mTLS", "calls/s", {}, {}};
  Comparison hook{"(a) gRPC's per-call hook alone vs plain", "calls/s", {}, {}};
  Comparison own{"(a) trustfabric vs gRPC's per-call hook", "calls/s", {}, {}};
  for (int i = 0; i < o.reps; ++i) {  // the three servers in the same rounds
    unary.baseline.push_back(CallRate(plain_shared, o));
    hook.candidate.push_back(CallRate(hook_shared, o));
    unary.candidate.push_back(CallRate(tf_shared, o));
  }
  hook.baseline = unary.baseline;
  own.baseline = hook.candidate;
  own.candidate = unary.candidate;
  Report(unary, 0.9);
  Report(hook, 0.9);
  Report(own, 0.9);
  Comparison handshakes = Interleave(
      "(b) full handshakes/s (new channel + 1 call)", "hs/s", o.reps,
      [&] { return HandshakeRate(plain_channel, o.handshakes); },
      [&] { return HandshakeRate(tf_channel, o.handshakes); });
  Report(handshakes, 0.85);
  std::printf("per-call verifier cache: %lu hits, %lu misses\n",
              static_cast<unsigned long>((*security)->verifier().cache_hits()),
              static_cast<unsigned long>((*security)->verifier().cache_misses()));
  (*guarded)->Stop();
  server->Shutdown();
  return 0;
}

}  // namespace
}  // namespace trustfabric::bench

int main(int argc, char** argv) { return trustfabric::bench::Main(argc, argv); }
