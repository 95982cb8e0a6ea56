// (b) Apply latency of a real node::TrustAgent against a real control
// plane, measured from outside the agent, and where the time goes: the
// agent's node::UpdateApplier replayed on the same bytes, timed step by
// step. See control_bench.cc for what is measured.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "bench/control_common.h"
#include "common/tls/client_security.h"
#include "common/tls/trust_source.h"
#include "common/trust/holder.h"
#include "common/trust/snapshot.h"
#include "server/control/control_server.h"
#include "server/node/trust_agent.h"
#include "server/node/update_applier.h"
#include "trustfabric/v1/config.pb.h"
#include "trustfabric/v1/control.pb.h"

namespace trustfabric::bench {
namespace {

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
    v1::Endpoint* endpoint = config.add_control_planes();
    endpoint->set_address(cp_address);
    endpoint->set_server_name(kControlDns);
    config.set_bootstrap_bundle_file(pki.root_file());
    config.set_state_dir(state_dir);
    config.set_backoff_initial_ms(50);
    config.set_backoff_max_ms(500);
    std::shared_ptr<const pki::RootStore> bootstrap =
        Check(node::TrustAgent::LoadBootstrapRoots(config), "bootstrap roots");
    source_ = std::make_shared<tls::TrustSource>(&holder_, kContosoDomain, bootstrap);
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

// The steps of one update, replayed on the same bytes through the agent's
// own node::UpdateApplier, timed between the steps it reports. Each
// repetition gets a fresh holder and applier (untimed) on `base`, if any.
class Replay {
 public:
  Replay(const std::string& state_dir, std::map<std::string, std::string> names)
      : state_dir_(state_dir), names_(std::move(names)) {}

  // Starts a repetition on `base` (null: an empty holder).
  void Begin(const std::shared_ptr<const trust::TrustSnapshot>& base) {
    rig_ = std::make_unique<Rig>();
    if (base) Check(rig_->holder.Swap(base), "replay swap base");
    node::UpdateApplierOptions options;
    options.on_step = [this](absl::string_view step) {
      auto name = names_.find(std::string(step));
      if (name != names_.end()) Lap(name->second);
    };
    rig_->applier =
        std::make_unique<node::UpdateApplier>(kContosoDomain, state_dir_, &rig_->holder, options);
    t_ = absl::Now();
  }

  // Records the time since the last lap as `phase`.
  void Lap(const std::string& phase) {
    const absl::Time now = absl::Now();
    phases_[phase].push_back(Ms(now - t_));
    t_ = now;
  }

  // Hands one message to the applier; dies on a NACK.
  void Handle(const v1::WatchResponse& response) {
    for (const v1::WatchRequest& reply : rig_->applier->Handle(response, absl::Now())) {
      if (!reply.has_ack()) Die(absl::StrCat("replay: ", reply.ShortDebugString()));
    }
  }

  // Ends the repetition: the applier and the holder let go of the snapshot
  // they hold, timed as `phase` when not empty. The agent drops the
  // snapshot it replaced before it returns the ACK; the base is still the
  // control plane's here, so a snapshot of the same size, the new one, is
  // freed instead.
  void End(const std::string& phase) {
    t_ = absl::Now();
    rig_.reset();
    if (!phase.empty()) Lap(phase);
  }

  std::map<std::string, double> Medians() const {
    std::map<std::string, double> out;
    for (const auto& [phase, v] : phases_) out[phase] = Median(v);
    return out;
  }

 private:
  struct Rig {
    trust::SnapshotHolder holder;
    // Declared after the holder it points to, so it goes first.
    std::unique_ptr<node::UpdateApplier> applier;
  };

  const std::string state_dir_;
  // The applier's step names -> the phase names printed.
  const std::map<std::string, std::string> names_;
  std::unique_ptr<Rig> rig_;
  absl::Time t_;
  std::map<std::string, std::vector<double>> phases_;
};

// The agent's steps for a delta: decode the frame, apply the changes,
// validate (reusing the previous snapshot's parsed objects), persist, swap,
// and free the snapshot it replaced.
std::map<std::string, double> ReplayDelta(const std::string& frame,
                                          const std::shared_ptr<const trust::TrustSnapshot>& base,
                                          const std::string& state_dir, int reps) {
  Replay replay(state_dir, {{"delta applied", "2 apply delta (copy state)"},
                            {"validated", "3 validate (TrustSnapshot::Create)"},
                            {"persisted", "4 persist (last-known-good, fsync)"},
                            {"swapped", "5 swap"}});
  for (int i = 0; i < reps; ++i) {
    replay.Begin(base);
    v1::WatchResponse response;
    if (!response.ParseFromString(frame)) Die("replay: frame does not parse");
    replay.Lap("1 decode frame");
    replay.Handle(response);
    replay.End("6 free the replaced snapshot");
  }
  return replay.Medians();
}

// The same for a full snapshot: decode the chunk frames and assemble,
// parse, validate from scratch, persist, swap into an empty holder.
std::map<std::string, double> ReplaySnapshot(const std::vector<std::string>& frames,
                                             const std::string& state_dir, int reps) {
  Replay replay(state_dir, {{"chunks assembled", "1 decode chunks, assemble"},
                            {"snapshot parsed", "2 parse snapshot"},
                            {"validated", "3 validate (TrustSnapshot::Create)"},
                            {"persisted", "4 persist (last-known-good, fsync)"},
                            {"swapped", "5 swap"}});
  for (int i = 0; i < reps; ++i) {
    replay.Begin(nullptr);
    for (const std::string& frame : frames) {
      v1::WatchResponse response;
      if (!response.ParseFromString(frame)) Die("replay: chunk does not parse");
      replay.Handle(response);
    }
    replay.End("");
  }
  return replay.Medians();
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

}  // namespace

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

}  // namespace trustfabric::bench
