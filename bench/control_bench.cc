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
//      decode every update with the trust agent's own first stage
//      (node::UpdateDecoder: a delta taken, snapshot chunks assembled and
//      parsed as a TrustSnapshot), check its base revision and ACK it, but
//      keep no state and apply nothing to a holder;
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
//      breakdown replays the same bytes through the agent's own
//      node::UpdateApplier, timed between the steps it reports.
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
// One file per section: control_fanout.cc (with control_fanout_load.cc, the
// load process), control_apply.cc, control_mutations.cc; what they share is
// in control_common.h.
//
// Every loop is bounded in count and every wait in time; the defaults run
// in a few minutes. Temporary files go to $TEST_TMPDIR (or the system temp
// directory): on a tmpfs the SQLite and last-known-good fsyncs cost
// nothing, which isolates the CPU cost of a mutation.
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "bench/control_common.h"
#include "bench/control_fanout.h"
#include "spdlog/spdlog.h"

namespace trustfabric::bench {
namespace {

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

int Main(int argc, char** argv) {
  Options o;
  LoadOptions lo;
  bool load_process = false;
  std::vector<std::string> sections(o.sections.begin(), o.sections.end());

  CLI::App app{
      "trustfabric control-plane benchmark: (a) fan-out, (b) apply latency, (c) "
      "durable mutations per second"};
  app.option_defaults()->always_capture_default();
  app.add_option("--sections", sections, "sections to run, comma-separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"fanout", "apply", "mutations"}));
  app.add_option("--watchers", o.watchers, "(a) stream counts, comma-separated")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  struct IntFlag {
    const char* name;
    int* value;
    const char* help;
  };
  const IntFlag ints[] = {
      {"--fanout-reps", &o.fanout_reps, "(a) measured rounds per stream count"},
      {"--fanout-warmup", &o.fanout_warmup, "(a) unmeasured rounds first"},
      {"--root-certs", &o.root_certs, "(a) CA certificates in the mutated root"},
      {"--delta-reps", &o.delta_reps, "(b) deltas on the small domain"},
      {"--large-delta-reps", &o.large_delta_reps, "(b) deltas on the large domain"},
      {"--snapshot-reps", &o.snapshot_reps, "(b) full snapshots to fresh agents"},
      {"--issuers", &o.issuers, "(b, c) issuers of the large domain"},
      {"--roots", &o.roots, "(b, c) roots of the large domain"},
      {"--mutations", &o.mutations, "(c) issuers added per repetition, small domain"},
      {"--mutation-reps", &o.mutation_reps, "(c) repetitions, small domain"},
      {"--base-issuers", &o.base_issuers, "(c) issuers of the small domain"},
      {"--large-mutations", &o.large_mutations, "(c) issuers added per repetition, large domain"},
      {"--large-mutation-reps", &o.large_mutation_reps, "(c) repetitions, large domain"},
  };
  for (const IntFlag& flag : ints) {
    app.add_option(flag.name, *flag.value, flag.help)->check(CLI::NonNegativeNumber);
  }
  app.add_option("--mutation-seconds", o.mutation_seconds, "(c) time limit per repetition")
      ->check(CLI::PositiveNumber);
  // How the benchmark starts its own load process; not for people.
  app.add_flag("--load-process", load_process)->group("");
  app.add_option("--cp-address", lo.cp_address)->group("");
  app.add_option("--bare-address", lo.bare_address)->group("");
  app.add_option("--dir", lo.dir)->group("");
  app.add_option("--batch", lo.batch)->check(CLI::PositiveNumber)->group("");
  CLI11_PARSE(app, argc, argv);
  o.sections = std::set<std::string>(sections.begin(), sections.end());

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
