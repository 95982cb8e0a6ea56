// Federation benchmark (issue: the working fabric), against a real local
// two-domain cluster (docs/design.md §8).
//
//  (a) Messages: alice@contoso.test sends through fe1.contoso -> edge1.contoso
//      ==mTLS==> edge1.fabrikam -> (registrar lookup) -> fe1.fabrikam ->
//      bob's Receive stream. Latency per message is measured from the start
//      of the Send call to the message arriving on bob's stream (matched by
//      the message id Send returns); throughput is messages delivered per
//      second with 1 and 8 Send calls outstanding. The same run measures the
//      local path alice -> carol@contoso.test (fe1.contoso -> registrar
//      lookup -> fe1.contoso's Deliver -> carol's stream), and the two
//      alternate, so the ratio federated/local is meaningful on a noisy
//      machine (medians of the repetitions).
//  (b) Revocation: with the federation connection open (a successful send
//      just before), fabrikam's control plane revokes contoso's edge leaf
//      certificate (admin RevokeCertificate of the certificate's PEM: its
//      signed body, waiting for all nodes, or not waiting); a prober sends
//      alice -> bob every few ms.
//      Measured: the admin call's acknowledgement -> the first refused send
//      (its response at the client; negative when the refusal was already
//      visible before the acknowledgement), and how the refusal surfaced.
//      Then the certificate is unrevoked (waiting for all nodes) and the
//      time to the next successful send is measured too.
//
// The cluster is started by this binary (`tfctl cluster up` on a random
// free loopback subnet, `tfctl cluster down` at the end, also on failure or
// a fatal signal; after a signal its temporary directory, printed at start,
// is left in place), or an already running one is used with --cluster-dir.
//
//   federation_bench [--cluster-dir DIR] [--bin-dir DIR] [--subnet N] [--keep-dir]
//                    [--sections messages,revocation] [--reps 7]
//                    [--messages 2000] [--concurrency 1,8] [--run-seconds 15]
//                    [--trials 20] [--probe-interval-ms 2]
//
// Every loop is bounded in count and every wait in time.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "client/cluster_config.h"
#include "client/cluster_token.h"
#include "client/control_client.h"
#include "client/frontend_client.h"
#include "common/pki/certificate.h"
#include "common/status/atomic_file.h"
#include "google/protobuf/duration.pb.h"
#include "trustfabric/v1/node.grpc.pb.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

extern char** environ;

namespace trustfabric::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kAlice[] = "alice@contoso.test";
constexpr char kBob[] = "bob@fabrikam.test";
constexpr char kCarol[] = "carol@contoso.test";
constexpr size_t kMaxFileBytes = 1 << 20;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Options {
  std::string cluster_dir;
  std::string bin_dir;
  int subnet = 0;  // 0: random free subnet in 2..250
  bool keep_dir = false;
  bool messages = true;
  bool revocation = true;
  int reps = 7;
  int messages_per_run = 2000;
  std::vector<int> concurrency = {1, 8};
  double run_seconds = 15;
  int trials = 20;
  int probe_interval_ms = 2;
};

// --- The cluster's processes -------------------------------------------

// `tfctl cluster down` for the signal handler: prepared before the cluster
// starts, run with fork + execv only (async-signal-safe).
std::vector<std::string>* g_down_args = nullptr;
std::vector<char*>* g_down_argv = nullptr;
volatile sig_atomic_t g_cluster_up = 0;

void StopClusterOnSignal(int sig) {
  if (g_cluster_up && g_down_argv != nullptr) {
    pid_t pid = fork();
    if (pid == 0) {
      execv((*g_down_argv)[0], g_down_argv->data());
      _exit(127);
    }
    if (pid > 0) waitpid(pid, nullptr, 0);
    g_cluster_up = 0;
  }
  // SA_RESETHAND restored the default action: die of the same signal.
  raise(sig);
}

void InstallSignalHandlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = StopClusterOnSignal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE}) {
    sigaction(sig, &sa, nullptr);
  }
}

// Runs `args` (args[0] a path) with its stdout sent to our stderr, so this
// binary's stdout holds only the report. Kills it when `timeout` passes.
absl::Status RunTool(const std::vector<std::string>& args, absl::Duration timeout) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("cannot start ", args[0], ": ", std::strerror(rc)));
  }
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (true) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0) return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
    if (absl::Now() > deadline) {
      kill(pid, SIGTERM);
      waitpid(pid, &status, 0);
      return absl::DeadlineExceededError(absl::StrCat(
          absl::StrJoin(args, " "), ": no result within ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(args, " "), ": exit status ",
                                            WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  }
  return absl::OkStatus();
}

std::string SelfDir() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : self.parent_path().string();
}

absl::StatusOr<std::string> FindTfctl(const std::string& bin_dir) {
  std::vector<std::string> candidates;
  if (!bin_dir.empty()) {
    candidates = {bin_dir + "/tfctl", bin_dir + "/client/tfctl"};
  } else {
    const std::string self = SelfDir();
    candidates = {self + "/tfctl", self + "/../client/tfctl"};
  }
  for (const std::string& c : candidates) {
    if (access(c.c_str(), X_OK) == 0) {
      return std::filesystem::absolute(c).lexically_normal().string();
    }
  }
  return absl::NotFoundError(
      absl::StrCat("tfctl not found (looked at ", absl::StrJoin(candidates, ", "), ")"));
}

// True when nothing listens on the subnet's control-plane address yet.
bool SubnetFree(int subnet) {
  for (int domain = 0; domain < 2; ++domain) {
    for (int host = 1; host <= 4; ++host) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0) return false;
      sockaddr_in addr;
      std::memset(&addr, 0, sizeof(addr));
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(client::kControlPort));
      inet_pton(AF_INET, client::ClusterHost(subnet, domain, host).c_str(), &addr.sin_addr);
      bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
      close(fd);
      if (!ok) return false;
    }
  }
  return true;
}

// A cluster this binary started; stopped (always) when destroyed.
class OwnedCluster {
 public:
  static absl::StatusOr<std::unique_ptr<OwnedCluster>> Start(const Options& o) {
    std::string tfctl;
    if (auto found = FindTfctl(o.bin_dir); found.ok()) {
      tfctl = *found;
    } else {
      return found.status();
    }
    int subnet = o.subnet;
    if (subnet == 0) {
      std::mt19937 rng(std::random_device{}());
      std::uniform_int_distribution<int> pick(2, 250);
      for (int attempt = 0; attempt < 50 && subnet == 0; ++attempt) {
        int candidate = pick(rng);
        if (SubnetFree(candidate)) subnet = candidate;
      }
      if (subnet == 0) return absl::UnavailableError("no free loopback subnet found");
    }
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "federation_bench.XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
    }
    auto cluster =
        std::unique_ptr<OwnedCluster>(new OwnedCluster(tfctl, tmpl + "/cluster", o.keep_dir, tmpl));
    // Armed before `up`: a half-started cluster is stopped too.
    g_down_args = new std::vector<std::string>(cluster->DownArgs());
    g_down_argv = new std::vector<char*>();
    for (std::string& a : *g_down_args) g_down_argv->push_back(a.data());
    g_down_argv->push_back(nullptr);
    g_cluster_up = 1;
    std::vector<std::string> up = {
        tfctl, "cluster", "up", "--dir", cluster->dir_, "--subnet", std::to_string(subnet)};
    if (!o.bin_dir.empty()) {
      up.push_back("--bin-dir");
      up.push_back(o.bin_dir);
    }
    std::fprintf(stderr, "starting cluster in %s on 127.%d.{1,2}.x\n", cluster->dir_.c_str(),
                 subnet);
    if (absl::Status s = RunTool(up, absl::Minutes(3)); !s.ok()) return s;
    return cluster;
  }

  ~OwnedCluster() {
    absl::Status down = RunTool(DownArgs(), absl::Minutes(1));
    g_cluster_up = 0;
    if (!down.ok()) std::fprintf(stderr, "cluster down: %s\n", down.ToString().c_str());
    if (keep_) {
      std::fprintf(stderr, "cluster directory kept: %s\n", dir_.c_str());
    } else {
      std::error_code ec;
      std::filesystem::remove_all(tmp_root_, ec);
    }
  }

  const std::string& dir() const { return dir_; }

 private:
  OwnedCluster(std::string tfctl, std::string dir, bool keep, std::string tmp_root)
      : tfctl_(std::move(tfctl)),
        dir_(std::move(dir)),
        keep_(keep),
        tmp_root_(std::move(tmp_root)) {}

  std::vector<std::string> DownArgs() const {
    return {tfctl_, "cluster", "down", "--dir", dir_, "--grace", "5s"};
  }

  const std::string tfctl_;
  const std::string dir_;
  const bool keep_;
  const std::string tmp_root_;
};

// --- Users -------------------------------------------------------------

// One user's Receive stream on its own channel, recording when each
// message id arrived. The stream ends on Close() or after `lifetime`.
class Inbox {
 public:
  Inbox(const client::ClusterDomain& domain, std::string root_pem, std::string token)
      : token_(std::move(token)) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = std::move(root_pem);
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(domain.frontend.server_name);
    channel_ = grpc::CreateCustomChannel(domain.frontend.address, grpc::SslCredentials(ssl), args);
  }

  ~Inbox() { Close(); }

  void Open(absl::Duration lifetime) {
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(absl::ToChronoTime(absl::Now() + lifetime));
    context_->AddMetadata("authorization", absl::StrCat("Bearer ", token_));
    reader_thread_ = std::thread([this] {
      auto stub = v1::FrontEnd::NewStub(channel_);
      std::unique_ptr<grpc::ClientReader<v1::Message>> reader =
          stub->Receive(context_.get(), v1::ReceiveRequest());
      v1::Message message;
      while (reader->Read(&message)) {
        const Clock::time_point now = Clock::now();
        absl::MutexLock lock(&mu_);
        arrivals_.emplace(message.id(), now);
      }
      grpc::Status status = reader->Finish();
      absl::MutexLock lock(&mu_);
      ended_ = true;
      end_status_ = absl::StrCat(status.error_code(), " ", status.error_message());
    });
  }

  void Close() {
    if (!reader_thread_.joinable()) return;
    context_->TryCancel();
    reader_thread_.join();
  }

  std::optional<Clock::time_point> ArrivalOf(const std::string& id) const {
    absl::MutexLock lock(&mu_);
    auto it = arrivals_.find(id);
    if (it == arrivals_.end()) return std::nullopt;
    return it->second;
  }

  // Waits until every id arrived or `deadline` passed; the number missing.
  size_t WaitFor(const std::vector<std::string>& ids, Clock::time_point deadline) const {
    while (true) {
      size_t missing = 0;
      {
        absl::MutexLock lock(&mu_);
        for (const std::string& id : ids) missing += arrivals_.count(id) ? 0 : 1;
        if (ended_) return missing;
      }
      if (missing == 0 || Clock::now() > deadline) return missing;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  bool ended(std::string* status) const {
    absl::MutexLock lock(&mu_);
    *status = end_status_;
    return ended_;
  }

 private:
  const std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::thread reader_thread_;
  mutable absl::Mutex mu_;
  std::map<std::string, Clock::time_point> arrivals_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  std::string end_status_ ABSL_GUARDED_BY(mu_);
};

struct Fabric {
  client::ClusterLayout layout;
  std::unique_ptr<client::FrontEndClient> contoso_fe;  // alice sends here
  std::string alice_token;
  std::unique_ptr<Inbox> bob;
  std::unique_ptr<Inbox> carol;
  std::unique_ptr<client::ControlClient> fabrikam_control;
  std::string contoso_edge_sha256;
  std::string contoso_edge_pem;
};

absl::StatusOr<std::string> ReadText(const std::string& path) {
  return ReadFileLimited(path, kMaxFileBytes);
}

absl::StatusOr<std::string> TokenFor(const client::ClusterDomain& domain, const std::string& user) {
  const client::ClusterApp* app = domain.FindApp("app1");
  if (app == nullptr) return absl::NotFoundError(absl::StrCat(domain.domain, ": no app1"));
  return client::MintClusterUserToken(domain, *app, user, domain.frontend.server_name);
}

// Signs `user` in at its domain's front-end and opens its Receive stream.
absl::StatusOr<std::unique_ptr<Inbox>> OpenInbox(const client::ClusterDomain& domain,
                                                 const std::string& user, absl::Duration lifetime) {
  absl::StatusOr<std::string> root = ReadText(domain.root_file);
  if (!root.ok()) return root.status();
  absl::StatusOr<std::string> token = TokenFor(domain, user);
  if (!token.ok()) return token.status();
  client::FrontEndClientOptions fo;
  fo.address = domain.frontend.address;
  fo.server_name = domain.frontend.server_name;
  fo.root_pem = *root;
  absl::StatusOr<std::unique_ptr<client::FrontEndClient>> fe = client::FrontEndClient::Create(fo);
  if (!fe.ok()) return fe.status();
  if (auto signed_in = (*fe)->SignIn(*token); !signed_in.ok()) return signed_in.status();
  auto inbox = std::make_unique<Inbox>(domain, *root, *token);
  inbox->Open(lifetime);
  return inbox;
}

absl::StatusOr<Fabric> Connect(const std::string& dir, absl::Duration lifetime) {
  Fabric f;
  absl::StatusOr<client::ClusterLayout> layout = client::LoadClusterLayout(dir);
  if (!layout.ok()) return layout.status();
  f.layout = *std::move(layout);
  const client::ClusterDomain* contoso = f.layout.FindDomain("contoso.test");
  const client::ClusterDomain* fabrikam = f.layout.FindDomain("fabrikam.test");
  const client::ClusterService* edge = f.layout.FindService("contoso.test", "edge1");
  if (contoso == nullptr || fabrikam == nullptr || edge == nullptr) {
    return absl::InvalidArgumentError("cluster.json lacks contoso.test, fabrikam.test or edge1");
  }

  absl::StatusOr<std::string> contoso_root = ReadText(contoso->root_file);
  if (!contoso_root.ok()) return contoso_root.status();
  client::FrontEndClientOptions fo;
  fo.address = contoso->frontend.address;
  fo.server_name = contoso->frontend.server_name;
  fo.root_pem = *contoso_root;
  absl::StatusOr<std::unique_ptr<client::FrontEndClient>> fe = client::FrontEndClient::Create(fo);
  if (!fe.ok()) return fe.status();
  f.contoso_fe = *std::move(fe);
  absl::StatusOr<std::string> alice = TokenFor(*contoso, kAlice);
  if (!alice.ok()) return alice.status();
  f.alice_token = *alice;
  if (auto s = f.contoso_fe->SignIn(f.alice_token); !s.ok()) return s.status();

  absl::StatusOr<std::unique_ptr<Inbox>> bob = OpenInbox(*fabrikam, kBob, lifetime);
  if (!bob.ok()) return bob.status();
  f.bob = *std::move(bob);
  absl::StatusOr<std::unique_ptr<Inbox>> carol = OpenInbox(*contoso, kCarol, lifetime);
  if (!carol.ok()) return carol.status();
  f.carol = *std::move(carol);

  absl::StatusOr<std::string> fabrikam_root = ReadText(fabrikam->root_file);
  if (!fabrikam_root.ok()) return fabrikam_root.status();
  client::ControlClientOptions co;
  co.address = fabrikam->control.address;
  co.server_name = fabrikam->control.server_name;
  co.trust_domain = fabrikam->domain;
  co.certificate_file = fabrikam->admin_cert_file;
  co.key_file = fabrikam->admin_key_file;
  co.bootstrap_roots_pem = *fabrikam_root;
  absl::StatusOr<std::unique_ptr<client::ControlClient>> control =
      client::ControlClient::Create(co);
  if (!control.ok()) return control.status();
  f.fabrikam_control = *std::move(control);

  absl::StatusOr<std::string> edge_pem = ReadText(edge->certificate_file);
  if (!edge_pem.ok()) return edge_pem.status();
  absl::StatusOr<std::vector<pki::Certificate>> chain = pki::ParsePemBundle(*edge_pem);
  if (!chain.ok()) return chain.status();
  if (chain->empty()) return absl::InvalidArgumentError(edge->certificate_file + ": empty");
  f.contoso_edge_sha256 = (*chain)[0].Sha256Hex();
  f.contoso_edge_pem = (*chain)[0].ToPem();
  return f;
}

// Sends until one message reaches `to`'s stream (the connections along the
// path are open afterwards); bounded by `timeout`.
absl::Status Warm(Fabric& f, const std::string& to, Inbox& inbox, absl::Duration timeout) {
  const Clock::time_point deadline = Clock::now() + absl::ToChronoNanoseconds(timeout);
  absl::Status last = absl::DeadlineExceededError("no attempt");
  for (int i = 0; i < 1000 && Clock::now() < deadline; ++i) {
    absl::StatusOr<v1::SendResponse> sent = f.contoso_fe->Send(f.alice_token, to, "warm-up");
    if (sent.ok()) {
      if (inbox.WaitFor({sent->message_id()}, deadline) == 0) return absl::OkStatus();
      last = absl::DeadlineExceededError(absl::StrCat("warm-up message to ", to, " not received"));
    } else {
      last = sent.status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return last;
}

// --- (a) Messages ------------------------------------------------------

struct RunResult {
  std::vector<double> latency_ms;   // Send start -> arrival on the stream
  std::vector<double> send_rpc_ms;  // Send start -> Send response
  int sent = 0;
  int failed = 0;
  int lost = 0;  // sent OK, never arrived within the wait
  double per_second = 0;
  std::string first_error;
};

RunResult RunMessages(Fabric& f, const std::string& to, Inbox& inbox, int concurrency, int count,
                      double seconds) {
  struct Sent {
    std::string id;
    Clock::time_point start;
  };
  absl::Mutex mu;
  std::vector<Sent> sent;
  RunResult r;
  std::atomic<int> next{0};
  const Clock::time_point start = Clock::now();
  const Clock::time_point stop_at =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> senders;
  for (int t = 0; t < concurrency; ++t) {
    senders.emplace_back([&] {
      int n;
      while ((n = next.fetch_add(1)) < count && Clock::now() < stop_at) {
        const Clock::time_point t0 = Clock::now();
        absl::StatusOr<v1::SendResponse> resp =
            f.contoso_fe->Send(f.alice_token, to, absl::StrCat("bench message ", n));
        const Clock::time_point t1 = Clock::now();
        absl::MutexLock lock(&mu);
        if (resp.ok()) {
          sent.push_back({resp->message_id(), t0});
          r.send_rpc_ms.push_back(Ms(t1 - t0));
        } else {
          ++r.failed;
          if (r.first_error.empty()) r.first_error = resp.status().ToString();
        }
      }
    });
  }
  for (std::thread& t : senders) t.join();
  std::vector<std::string> ids;
  for (const Sent& s : sent) ids.push_back(s.id);
  r.lost = static_cast<int>(inbox.WaitFor(ids, Clock::now() + std::chrono::seconds(5)));
  r.sent = static_cast<int>(sent.size());
  Clock::time_point last = start;
  for (const Sent& s : sent) {
    std::optional<Clock::time_point> at = inbox.ArrivalOf(s.id);
    if (!at) continue;
    r.latency_ms.push_back(Ms(*at - s.start));
    last = std::max(last, *at);
  }
  const double elapsed = std::chrono::duration<double>(last - start).count();
  r.per_second = elapsed > 0 ? static_cast<double>(r.latency_ms.size()) / elapsed : 0;
  return r;
}

struct PathStats {
  std::vector<double> p50, p99, rate, rpc_p50;
  std::vector<double> all_latency;
  int sent = 0, failed = 0, lost = 0;
  std::string first_error;

  void Add(const RunResult& r) {
    p50.push_back(Percentile(r.latency_ms, 50));
    p99.push_back(Percentile(r.latency_ms, 99));
    rate.push_back(r.per_second);
    rpc_p50.push_back(Percentile(r.send_rpc_ms, 50));
    all_latency.insert(all_latency.end(), r.latency_ms.begin(), r.latency_ms.end());
    sent += r.sent;
    failed += r.failed;
    lost += r.lost;
    if (first_error.empty()) first_error = r.first_error;
  }
};

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }

int MessagesSection(Fabric& f, const Options& o) {
  if (absl::Status s = Warm(f, kBob, *f.bob, absl::Seconds(30)); !s.ok()) {
    std::fprintf(stderr, "federated warm-up: %s\n", s.ToString().c_str());
    return 1;
  }
  if (absl::Status s = Warm(f, kCarol, *f.carol, absl::Seconds(30)); !s.ok()) {
    std::fprintf(stderr, "local warm-up: %s\n", s.ToString().c_str());
    return 1;
  }
  // A short unmeasured run per path and concurrency warms channels and
  // thread pools.
  for (int c : o.concurrency) {
    RunMessages(f, kCarol, *f.carol, c, 50, 5);
    RunMessages(f, kBob, *f.bob, c, 50, 5);
  }
  std::map<int, PathStats> local, federated;
  for (int rep = 0; rep < o.reps; ++rep) {
    for (int c : o.concurrency) {
      // Alternate which path goes first, so drift hits both alike.
      const bool local_first = rep % 2 == 0;
      for (int leg = 0; leg < 2; ++leg) {
        const bool is_local = (leg == 0) == local_first;
        RunResult r = is_local
                          ? RunMessages(f, kCarol, *f.carol, c, o.messages_per_run, o.run_seconds)
                          : RunMessages(f, kBob, *f.bob, c, o.messages_per_run, o.run_seconds);
        (is_local ? local : federated)[c].Add(r);
        std::fprintf(stderr,
                     "rep %d %-9s c=%d: %d sent, %d failed, %d lost, p50 %.2f ms, p99 %.2f ms, "
                     "%.0f msg/s\n",
                     rep + 1, is_local ? "local" : "federated", c, r.sent, r.failed, r.lost,
                     Percentile(r.latency_ms, 50), Percentile(r.latency_ms, 99), r.per_second);
      }
    }
  }

  std::printf("\n(a) messages: %d reps x %d messages per path and concurrency; medians of reps\n",
              o.reps, o.messages_per_run);
  std::printf("%-6s %-10s %10s %10s %12s %12s %10s %18s\n", "conc", "path", "p50 ms", "p99 ms",
              "msg/s", "Send RPC p50", "pooled p99", "sent/failed/lost");
  for (int c : o.concurrency) {
    for (int leg = 0; leg < 2; ++leg) {
      const PathStats& s = leg == 0 ? local[c] : federated[c];
      std::printf("%-6d %-10s %10.2f %10.2f %12.1f %12.2f %10.2f %8d/%d/%d\n", c,
                  leg == 0 ? "local" : "federated", Median(s.p50), Median(s.p99), Median(s.rate),
                  Median(s.rpc_p50), Percentile(s.all_latency, 99), s.sent, s.failed, s.lost);
    }
    const PathStats& l = local[c];
    const PathStats& x = federated[c];
    std::printf("%-6d %-10s %10.2f %10.2f %12.2f\n", c, "fed/local",
                Ratio(Median(x.p50), Median(l.p50)), Ratio(Median(x.p99), Median(l.p99)),
                Ratio(Median(x.rate), Median(l.rate)));
    for (const PathStats* s : {&l, &x}) {
      if (!s->first_error.empty()) std::printf("  first error: %s\n", s->first_error.c_str());
    }
  }
  std::fflush(stdout);
  return 0;
}

// --- (b) Revocation ----------------------------------------------------

struct Attempt {
  Clock::time_point start;
  Clock::time_point end;
  absl::Status status;
};

// Sends alice -> bob every `interval` (or back to back when a send takes
// longer) until stopped or `max_duration` passed.
class Prober {
 public:
  Prober(Fabric& f, std::chrono::milliseconds interval, std::chrono::seconds max_duration) {
    thread_ = std::thread([this, &f, interval, max_duration] {
      const Clock::time_point give_up = Clock::now() + max_duration;
      for (int n = 0; n < 100000; ++n) {
        {
          absl::MutexLock lock(&mu_);
          if (stop_) break;
        }
        const Clock::time_point t0 = Clock::now();
        if (t0 > give_up) break;
        absl::StatusOr<v1::SendResponse> r =
            f.contoso_fe->Send(f.alice_token, kBob, absl::StrCat("probe ", n));
        const Clock::time_point t1 = Clock::now();
        {
          absl::MutexLock lock(&mu_);
          attempts_.push_back({t0, t1, r.status()});
        }
        std::this_thread::sleep_until(t0 + interval);
      }
    });
  }

  ~Prober() { Stop(); }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }

  // The first refused send that ended after `after`.
  std::optional<Attempt> FirstRefusalAfter(Clock::time_point after) const {
    absl::MutexLock lock(&mu_);
    for (const Attempt& a : attempts_) {
      if (!a.status.ok() && a.end > after) return a;
    }
    return std::nullopt;
  }

  std::vector<Attempt> attempts() const {
    absl::MutexLock lock(&mu_);
    return attempts_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Attempt> attempts_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

struct TrialResult {
  double ack_to_refusal_ms = 0;   // negative: refused before the ack
  double call_to_refusal_ms = 0;  // revoke call start -> first refusal
  double revoke_rpc_ms = 0;       // revoke call start -> ack
  double unrevoke_to_success_ms = 0;
  int accepted_after_ack = 0;  // sends started after the ack that succeeded
  uint32_t applied_nodes = 0, connected_nodes = 0;
  std::string refusal;  // "<CODE>: <message>"
};

v1::MutationOptions MutationWith(bool wait_all) {
  v1::MutationOptions m;
  if (wait_all) {
    m.mutable_wait()->set_all_nodes(true);
    m.mutable_wait()->mutable_timeout()->set_seconds(10);
  }
  return m;
}

absl::Status Unrevoke(Fabric& f) {
  v1::UnrevokeCertificateRequest req;
  req.set_sha256_hex(f.contoso_edge_sha256);
  *req.mutable_options() = MutationWith(true);
  return f.fabrikam_control->UnrevokeCertificate(req).status();
}

// Sends alice -> bob until one succeeds; the time of its response.
absl::StatusOr<Clock::time_point> UntilSendSucceeds(Fabric& f, absl::Duration timeout) {
  const Clock::time_point deadline = Clock::now() + absl::ToChronoNanoseconds(timeout);
  absl::Status last = absl::DeadlineExceededError("no attempt");
  for (int i = 0; i < 10000 && Clock::now() < deadline; ++i) {
    absl::StatusOr<v1::SendResponse> r = f.contoso_fe->Send(f.alice_token, kBob, "until ok");
    if (r.ok()) return Clock::now();
    last = r.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "no successful send within ", absl::FormatDuration(timeout), "; last: ", last.ToString()));
}

absl::StatusOr<TrialResult> RevocationTrial(Fabric& f, const Options& o, bool wait_all) {
  if (auto ok = UntilSendSucceeds(f, absl::Seconds(10)); !ok.ok()) return ok.status();
  TrialResult t;
  Prober prober(f, std::chrono::milliseconds(o.probe_interval_ms), std::chrono::seconds(30));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));

  v1::RevokeCertificateRequest req;
  // By the certificate itself: a DER hash would need fabrikam's edge report
  // of the certificate to have reached its control plane first.
  req.set_certificate_pem(f.contoso_edge_pem);
  req.set_reason("federation bench");
  *req.mutable_options() = MutationWith(wait_all);
  const Clock::time_point call = Clock::now();
  absl::StatusOr<v1::MutationResponse> revoked = f.fabrikam_control->RevokeCertificate(req);
  const Clock::time_point ack = Clock::now();
  if (!revoked.ok()) {
    prober.Stop();
    return revoked.status();
  }
  t.applied_nodes = revoked->applied_nodes();
  t.connected_nodes = revoked->connected_nodes();
  t.revoke_rpc_ms = Ms(ack - call);

  std::optional<Attempt> refused;
  for (int i = 0; i < 5000 && Clock::now() < ack + std::chrono::seconds(5); ++i) {
    refused = prober.FirstRefusalAfter(call);
    if (refused) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  prober.Stop();
  if (!refused) {
    absl::Status undo = Unrevoke(f);
    return absl::DeadlineExceededError(
        absl::StrCat("no refused send within 5 s of the revocation's acknowledgement (unrevoke: ",
                     undo.ToString(), ")"));
  }
  t.ack_to_refusal_ms = Ms(refused->end - ack);
  t.call_to_refusal_ms = Ms(refused->end - call);
  t.refusal = absl::StrCat(absl::StatusCodeToString(refused->status.code()), ": ",
                           refused->status.message());
  for (const Attempt& a : prober.attempts()) {
    if (a.start > ack && a.status.ok()) ++t.accepted_after_ack;
  }

  if (absl::Status s = Unrevoke(f); !s.ok()) return s;
  const Clock::time_point unrevoke_ack = Clock::now();
  absl::StatusOr<Clock::time_point> back = UntilSendSucceeds(f, absl::Seconds(10));
  if (!back.ok()) return back.status();
  t.unrevoke_to_success_ms = Ms(*back - unrevoke_ack);
  return t;
}

void PrintTrials(const char* name, const std::vector<TrialResult>& trials) {
  std::vector<double> ack, call, rpc, back;
  std::map<std::string, int> how;
  int accepted_after_ack = 0;
  uint32_t min_applied = UINT32_MAX, max_connected = 0;
  for (const TrialResult& t : trials) {
    ack.push_back(t.ack_to_refusal_ms);
    call.push_back(t.call_to_refusal_ms);
    rpc.push_back(t.revoke_rpc_ms);
    back.push_back(t.unrevoke_to_success_ms);
    ++how[t.refusal];
    accepted_after_ack += t.accepted_after_ack;
    min_applied = std::min(min_applied, t.applied_nodes);
    max_connected = std::max(max_connected, t.connected_nodes);
  }
  auto row = [](const char* what, const std::vector<double>& v) {
    std::printf("  %-38s p50 %8.2f  p99 %8.2f  min %8.2f  max %8.2f ms\n", what, Percentile(v, 50),
                Percentile(v, 99), v.empty() ? 0 : *std::min_element(v.begin(), v.end()),
                v.empty() ? 0 : *std::max_element(v.begin(), v.end()));
  };
  std::printf("%s: %zu trials (applied nodes at ack >= %u of %u connected)\n", name, trials.size(),
              trials.empty() ? 0 : min_applied, max_connected);
  row("ack -> first refused send", ack);
  row("revoke call -> first refused send", call);
  row("revoke call -> ack", rpc);
  row("unrevoke ack -> first accepted send", back);
  std::printf("  sends started after the ack and accepted: %d\n", accepted_after_ack);
  for (const auto& [what, n] : how) std::printf("  refused %2d x  %s\n", n, what.c_str());
}

int RevocationSection(Fabric& f, const Options& o) {
  if (absl::Status s = Warm(f, kBob, *f.bob, absl::Seconds(30)); !s.ok()) {
    std::fprintf(stderr, "federated warm-up: %s\n", s.ToString().c_str());
    return 1;
  }
  std::vector<TrialResult> waited, unwaited;
  for (int i = 0; i < o.trials; ++i) {
    for (bool wait_all : {true, false}) {
      absl::StatusOr<TrialResult> t = RevocationTrial(f, o, wait_all);
      if (!t.ok()) {
        std::fprintf(stderr, "trial %d (%s): %s\n", i + 1, wait_all ? "wait" : "no wait",
                     t.status().ToString().c_str());
        // Leave the cluster as found.
        if (absl::Status s = Unrevoke(f); !s.ok() && !absl::IsNotFound(s)) {
          std::fprintf(stderr, "unrevoke: %s\n", s.ToString().c_str());
        }
        return 1;
      }
      std::fprintf(stderr, "trial %2d %-7s: ack->refusal %7.2f ms, call->ack %7.2f ms, %s\n", i + 1,
                   wait_all ? "wait" : "no wait", t->ack_to_refusal_ms, t->revoke_rpc_ms,
                   t->refusal.c_str());
      (wait_all ? waited : unwaited).push_back(*t);
    }
  }
  std::printf(
      "\n(b) revocation of contoso's edge leaf at fabrikam's control plane, probe every %d ms\n",
      o.probe_interval_ms);
  PrintTrials("with PropagationWait all nodes", waited);
  PrintTrials("without propagation wait", unwaited);
  std::fflush(stdout);
  return 0;
}

// --- main --------------------------------------------------------------

int Main(int argc, char** argv) {
  Options o;
  std::vector<std::string> sections = {"messages", "revocation"};
  CLI::App app{"trustfabric federation benchmark, against a real local two-domain cluster"};
  app.option_defaults()->always_capture_default();
  app.add_option("--cluster-dir", o.cluster_dir,
                 "use this running cluster instead of starting one");
  app.add_option("--bin-dir", o.bin_dir, "where tfctl, tfcontrol and tfnode are");
  app.add_option("--subnet", o.subnet, "loopback subnet 127.N.0.0/16 (default: a random free one)")
      ->check(CLI::Range(client::kMinClusterSubnet, client::kMaxClusterSubnet));
  app.add_flag("--keep-dir", o.keep_dir, "keep the started cluster's directory");
  app.add_option("--sections", sections, "sections to run, comma-separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"messages", "revocation"}));
  app.add_option("--reps", o.reps, "(a) repetitions")->check(CLI::Range(1, 100));
  app.add_option("--messages", o.messages_per_run, "(a) messages per run")
      ->check(CLI::Range(1, 100000));
  app.add_option("--concurrency", o.concurrency, "(a) Send calls outstanding, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1, 64));
  app.add_option("--run-seconds", o.run_seconds, "(a) time limit per run")
      ->check(CLI::PositiveNumber)
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--trials", o.trials, "(b) revocation trials")->check(CLI::Range(1, 1000));
  app.add_option("--probe-interval-ms", o.probe_interval_ms, "(b) time between probe sends")
      ->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  o.messages = std::find(sections.begin(), sections.end(), "messages") != sections.end();
  o.revocation = std::find(sections.begin(), sections.end(), "revocation") != sections.end();
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  InstallSignalHandlers();

  std::unique_ptr<OwnedCluster> owned;
  std::string dir = o.cluster_dir;
  if (dir.empty()) {
    absl::StatusOr<std::unique_ptr<OwnedCluster>> started = OwnedCluster::Start(o);
    if (!started.ok()) {
      std::fprintf(stderr, "cluster up: %s\n", started.status().ToString().c_str());
      // Stop whatever part of it started.
      if (g_cluster_up && g_down_args != nullptr) {
        absl::Status down = RunTool(*g_down_args, absl::Minutes(1));
        g_cluster_up = 0;
        if (!down.ok()) std::fprintf(stderr, "cluster down: %s\n", down.ToString().c_str());
      }
      return 1;
    }
    owned = *std::move(started);
    dir = owned->dir();
  }

  int rc = 0;
  {
    // Long enough for both sections at their bounds; Close() ends it sooner.
    absl::StatusOr<Fabric> fabric = Connect(dir, absl::Hours(2));
    if (!fabric.ok()) {
      std::fprintf(stderr, "connect: %s\n", fabric.status().ToString().c_str());
      rc = 1;
    } else {
      std::printf("federation_bench: cluster %s, %u hardware threads\n", dir.c_str(),
                  std::thread::hardware_concurrency());
      if (rc == 0 && o.messages) rc = MessagesSection(*fabric, o);
      if (rc == 0 && o.revocation) rc = RevocationSection(*fabric, o);
      fabric->bob->Close();
      fabric->carol->Close();
    }
  }
  owned.reset();  // tfctl cluster down
  return rc;
}

}  // namespace
}  // namespace trustfabric::bench

int main(int argc, char** argv) { return trustfabric::bench::Main(argc, argv); }
