// `tfctl cluster config|up|bootstrap|down|status`: a local two-domain
// cluster (contoso.test and fabrikam.test) on loopback addresses, with a
// development PKI. The directory layout is cluster_config.h's.
//
//   tfctl cluster up --dir /tmp/tf [--subnet 7] [--bin-dir build]
//   tfctl cluster status --dir /tmp/tf
//   tfctl cluster down --dir /tmp/tf
//
//   config     write DIR (pki, configs, cluster.json); starts nothing
//   up         config if DIR has none, start the 8 services detached, wait
//              until each is healthy, bootstrap, print how to use it
//   bootstrap  cross-domain trust through both control planes (idempotent)
//   down       SIGTERM every service, SIGKILL after --grace
//   status     each service's pid and health, each control plane's view of
//              its nodes; exit status 10 unless everything is serving
// --dir may also come from TF_CLUSTER.
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/devcluster/cluster_bootstrap.h"
#include "client/devcluster/cluster_config.h"
#include "client/devcluster/cluster_runner.h"
#include "client/lib/control_client.h"
#include "client/tfctl/admin_output.h"
#include "client/tfctl/tfctl_commands.h"
#include "client/tfctl/tfctl_exit.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"

namespace trustfabric::tfctl {
namespace {

constexpr int kLogTailLines = 30;
constexpr absl::Duration kStatusProbeTimeout = absl::Seconds(2);

struct ClusterFlags {
  std::string dir;
  int subnet = devcluster::kDefaultClusterSubnet;
  CLI::Option* subnet_option = nullptr;
  bool force = false;
  std::string bin_dir;
  std::string timeout = "30s";
  std::string grace = "5s";
};
using FlagsPtr = std::shared_ptr<ClusterFlags>;

absl::StatusOr<absl::Duration> ParseDurationFlag(const std::string& text, absl::string_view flag) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", text, " is not a positive duration (e.g. 30s)"));
  }
  return d;
}

// The cluster in --dir; a directory without one is a usage error.
devcluster::ClusterLayout Load(const ClusterFlags& f) {
  absl::StatusOr<devcluster::ClusterLayout> layout = devcluster::LoadClusterLayout(f.dir);
  if (!layout.ok()) FailUsage(Annotate(layout.status(), "--dir"));
  return *std::move(layout);
}

// A `cluster` subcommand that takes --dir and runs `run` with its flags
// (each subcommand has its own); returns it and its flags, for its other
// options.
std::pair<CLI::App*, ClusterFlags*> AddClusterCommand(CLI::App* cluster, const std::string& name,
                                                      const std::string& description,
                                                      void (*run)(const ClusterFlags&)) {
  auto flags = std::make_shared<ClusterFlags>();
  CLI::App* cmd = cluster->add_subcommand(name, description);
  cmd->add_option("--dir", flags->dir, "the cluster directory")->envname("TF_CLUSTER")->required();
  cmd->callback([flags, run] { run(*flags); });
  return {cmd, flags.get()};
}

void AddSubnetFlag(CLI::App* cmd, ClusterFlags* f) {
  f->subnet_option =
      cmd->add_option("--subnet", f->subnet,
                      "N: contoso.test on 127.N.1.x, fabrikam.test on 127.N.2.x")
          ->check(CLI::Range(devcluster::kMinClusterSubnet, devcluster::kMaxClusterSubnet))
          ->capture_default_str();
}

std::string Listeners(const devcluster::ClusterService& s) {
  std::string out = s.address();
  if (!s.listen().client().empty()) absl::StrAppend(&out, ", client ", s.listen().client());
  if (!s.listen().federation().empty())
    absl::StrAppend(&out, ", federation ", s.listen().federation());
  return out;
}

void PrintConfigured(const devcluster::ClusterLayout& layout) {
  std::cout << "cluster configured in " << layout.dir() << " (subnet " << layout.subnet() << ")\n";
  Table table({"SERVICE", "ROLE", "LISTEN", "CONFIG"});
  for (const devcluster::ClusterService& s : layout.services()) {
    table.AddRow({s.id(), s.role(), Listeners(s), s.config()});
  }
  std::cout << table.Render() << "topology: " << devcluster::ClusterJsonPath(layout) << "\n";
}

absl::StatusOr<devcluster::ClusterLayout> Configure(const ClusterFlags& f) {
  devcluster::ClusterConfigOptions options;
  options.dir = f.dir;
  options.subnet = f.subnet;
  options.force = f.force;
  if (f.force) {
    // The running services hold the state that --force replaces.
    absl::StatusOr<devcluster::ClusterLayout> existing = devcluster::LoadClusterLayout(f.dir);
    if (existing.ok()) {
      std::vector<const devcluster::ClusterService*> running =
          devcluster::RunningServices(*existing);
      if (!running.empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            running.size(), " services of ", f.dir, " are running (first ", running.front()->id(),
            "); run tfctl cluster down --dir ", f.dir, " first"));
      }
    }
  }
  return devcluster::WriteClusterConfig(options);
}

void PrintHowTo(const devcluster::ClusterLayout& layout) {
  const devcluster::ClusterDomain& first = layout.domains(0);
  const devcluster::ClusterDomain& second = layout.domains(layout.domains_size() - 1);
  const std::string dir = layout.dir();
  std::cout << "\ncluster up: " << layout.services().size() << " services of " << first.domain()
            << " and " << second.domain() << " serving (dir " << dir << ", subnet "
            << layout.subnet() << ")\n\n"
            << "messaging (tokens are minted from " << layout.pki_dir() << "):\n"
            << "  tfctl signin  --dir " << dir << " --as bob@" << second.domain() << "\n"
            << "  tfctl receive --dir " << dir << " --as bob@" << second.domain()
            << " --count 1 --timeout 60s &\n"
            << "  tfctl send    --dir " << dir << " --as alice@" << first.domain() << " --to bob@"
            << second.domain() << " \"hello bob\"\n\n"
            << "administration of " << first.domain() << " (for " << second.domain()
            << ": TF_CONTROL=" << second.control().address() << " TF_DOMAIN=" << second.domain()
            << "):\n"
            << "  export TF_CONTROL=" << first.control().address() << " TF_PKI=" << layout.pki_dir()
            << " TF_DOMAIN=" << first.domain() << "\n"
            << "  tfctl root list\n"
            << "  tfctl issuer list\n"
            << "  tfctl status\n\n"
            << "the cluster:\n"
            << "  tfctl cluster status --dir " << dir << "\n"
            << "  tfctl cluster down --dir " << dir << "\n"
            << "  logs: " << layout.logs_dir() << "\n";
}

void RunConfig(const ClusterFlags& f) {
  absl::StatusOr<devcluster::ClusterLayout> layout = Configure(f);
  if (!layout.ok()) Fail(layout.status());
  PrintConfigured(*layout);
}

void RunUp(const ClusterFlags& f) {
  const absl::Duration timeout = OrUsage(ParseDurationFlag(f.timeout, "--timeout"));
  absl::StatusOr<devcluster::ClusterLayout> layout = devcluster::LoadClusterLayout(f.dir);
  if (layout.ok()) {
    if (f.subnet_option->count() > 0 && f.subnet != layout->subnet()) {
      FailUsage(absl::InvalidArgumentError(
          absl::StrCat("--subnet: ", f.dir, " is configured for subnet ", layout->subnet(),
                       "; reconfigure with tfctl cluster config --force --dir ", f.dir,
                       " --subnet ", f.subnet)));
    }
  } else if (absl::IsFailedPrecondition(layout.status())) {
    layout = Configure(f);
    if (!layout.ok()) Fail(layout.status());
    std::cout << "cluster configured in " << layout->dir() << " (subnet " << layout->subnet() << ")"
              << std::endl;
  } else {
    FailUsage(Annotate(layout.status(), "--dir"));
  }

  devcluster::StartOptions start;
  start.bin_dir = f.bin_dir;
  start.timeout = timeout;
  const devcluster::ClusterService* failed = nullptr;
  absl::Status started = devcluster::StartCluster(*layout, start, std::cout, &failed);
  if (!started.ok()) {
    std::cerr << ErrorLine(started) << std::endl;
    if (failed != nullptr) {
      const std::string tail = devcluster::LogTail(failed->log(), kLogTailLines);
      if (!tail.empty()) {
        std::cerr << "--- last lines of " << failed->log() << " ---\n"
                  << tail << "---" << std::endl;
      }
    }
    std::cerr << "services already started keep running: tfctl cluster down --dir " << f.dir
              << std::endl;
    throw CLI::RuntimeError(ExitStatusFor(started.code()));
  }
  absl::Status bootstrapped =
      devcluster::BootstrapCluster(*layout, devcluster::BootstrapOptions(), std::cout);
  if (!bootstrapped.ok()) Fail(Annotate(bootstrapped, "bootstrap"));
  PrintHowTo(*layout);
}

void RunBootstrap(const ClusterFlags& f) {
  const devcluster::ClusterLayout layout = Load(f);
  absl::Status s = devcluster::BootstrapCluster(layout, devcluster::BootstrapOptions(), std::cout);
  if (!s.ok()) Fail(Annotate(s, "bootstrap"));
}

void RunDown(const ClusterFlags& f) {
  const absl::Duration grace = OrUsage(ParseDurationFlag(f.grace, "--grace"));
  const devcluster::ClusterLayout layout = Load(f);
  absl::Status s = devcluster::StopCluster(layout, grace, std::cout);
  if (!s.ok()) Fail(s);
}

// One control plane's view of its nodes, or why it cannot be had.
void PrintPropagation(const devcluster::ClusterDomain& d) {
  std::cout << "\n"
            << d.domain() << " control plane " << d.control().server_name() << " at "
            << d.control().address() << "\n";
  absl::StatusOr<v1::GetPropagationStatusResponse> status =
      absl::UnknownError("propagation status not asked");
  absl::StatusOr<std::string> root = ReadFileLimited(d.root(), 1 << 20);
  if (!root.ok()) {
    status = root.status();
  } else {
    absl::StatusOr<std::unique_ptr<client::ControlClient>> control = client::ControlClient::Create(
        devcluster::AdminControlOptions(d, *std::move(root), kStatusProbeTimeout));
    if (control.ok()) {
      status = (*control)->GetPropagationStatus();
    } else {
      status = control.status();
    }
  }
  if (!status.ok()) {
    std::cout << "  propagation status unavailable: " << CodeName(status.status().code()) << ": "
              << status.status().message() << "\n";
    return;
  }
  std::cout << FormatStatus(*status, absl::Now());
}

void RunStatus(const ClusterFlags& f) {
  const devcluster::ClusterLayout layout = Load(f);
  absl::StatusOr<std::unique_ptr<devcluster::HealthProber>> prober =
      devcluster::HealthProber::Create(layout);
  if (!prober.ok()) Fail(prober.status());
  Table table({"SERVICE", "ROLE", "LISTEN", "PID", "HEALTH"});
  int unhealthy = 0;
  for (const devcluster::ClusterService& s : layout.services()) {
    std::optional<pid_t> pid = devcluster::RunningPid(s);
    std::string health = "not running";
    if (pid) {
      absl::Status h = (*prober)->Check(s, kStatusProbeTimeout);
      health = h.ok() ? "serving" : absl::StrCat(CodeName(h.code()), ": ", h.message());
    }
    if (health != "serving") ++unhealthy;
    table.AddRow({s.id(), s.role(), Listeners(s), pid ? absl::StrCat(*pid) : "", health});
  }
  std::cout << "cluster " << layout.dir() << " (subnet " << layout.subnet() << ")\n"
            << table.Render();
  for (const devcluster::ClusterDomain& d : layout.domains()) PrintPropagation(d);
  std::cout.flush();
  if (unhealthy > 0) {
    Fail(absl::UnavailableError(
        absl::StrCat(unhealthy, " of ", layout.services().size(), " services are not serving")));
  }
}

}  // namespace

void AddClusterCommands(CLI::App& app) {
  CLI::App* cluster =
      app.add_subcommand("cluster", "a local two-domain cluster on loopback addresses");
  cluster->require_subcommand(1);

  auto [config, config_flags] =
      AddClusterCommand(cluster, "config", "write the cluster directory; start nothing", RunConfig);
  AddSubnetFlag(config, config_flags);
  config->add_flag("--force", config_flags->force,
                   "replace an existing configuration (new pki, empty state)");

  auto [up, up_flags] = AddClusterCommand(
      cluster, "up", "configure if needed, start, wait until healthy, bootstrap", RunUp);
  AddSubnetFlag(up, up_flags);
  up->add_option("--bin-dir", up_flags->bin_dir,
                 "where tfcontrol and tfnode are (default: next to tfctl, ../server/)");
  up->add_option("--timeout", up_flags->timeout, "how long each phase may take to become healthy")
      ->capture_default_str();

  AddClusterCommand(cluster, "bootstrap", "set up cross-domain trust (idempotent)", RunBootstrap);

  auto [down, down_flags] =
      AddClusterCommand(cluster, "down", "stop every service of the cluster", RunDown);
  down->add_option("--grace", down_flags->grace, "time between SIGTERM and SIGKILL")
      ->capture_default_str();

  AddClusterCommand(cluster, "status", "pid and health of each service, propagation", RunStatus);
}

}  // namespace trustfabric::tfctl
