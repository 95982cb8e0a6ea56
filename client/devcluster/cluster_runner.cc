// Starting, probing and stopping a local cluster's processes; see
// cluster_runner.h.
#include "client/devcluster/cluster_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/pki/certificate.h"
#include "common/pki/verify.h"
#include "common/process/child_process.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"
#include "common/tls/grpc_status.h"
#include "common/tls/trust_source.h"
#include "grpc/health/v1/health.grpc.pb.h"

#include <grpcpp/client_context.h>

namespace trustfabric::devcluster {
namespace {

namespace fs = std::filesystem;

constexpr absl::Duration kPollInterval = absl::Milliseconds(200);
constexpr absl::Duration kProbeTimeout = absl::Seconds(2);
// After SIGKILL, how long a process may take to disappear.
constexpr absl::Duration kKillWait = absl::Seconds(2);

bool IsExecutable(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > (1 << 20)) break;
  }
  return text;
}

// The process state letter from /proc/<pid>/stat ('\0' when unknown).
char ProcessState(pid_t pid) {
  const std::string stat = ReadSmallFile(absl::StrCat("/proc/", pid, "/stat"));
  // "pid (comm) S ..."; comm may contain ')' itself, so take the last one.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return '\0';
  return stat[close + 2];
}

// Alive and not a zombie. Reaps `pid` first when it is a child of this
// process (a cluster started and stopped by the same tfctl, e.g. in tests).
bool Alive(pid_t pid) {
  process::ReapIfExited(pid);
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  return ProcessState(pid) != 'Z';
}

bool RunsConfig(pid_t pid, const std::string& config_file) {
  const std::string cmdline = ReadSmallFile(absl::StrCat("/proc/", pid, "/cmdline"));
  for (absl::string_view arg : absl::StrSplit(cmdline, '\0')) {
    if (arg == config_file) return true;
  }
  return false;
}

absl::Status Errno(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

}  // namespace

absl::StatusOr<std::string> FindServiceBinary(absl::string_view binary,
                                              const std::string& bin_dir) {
  const std::string name(binary);
  std::vector<fs::path> candidates;
  if (!bin_dir.empty()) {
    const fs::path base(bin_dir);
    candidates = {base / name, base / "server" / name, base / "server" / "control" / name};
  } else {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return Errno("/proc/self/exe", ec.value());
    const fs::path dir = self.parent_path();
    candidates = {dir / name, dir / ".." / "server" / name,
                  dir / ".." / "server" / "control" / name};
  }
  std::vector<std::string> looked;
  for (const fs::path& c : candidates) {
    const fs::path normal = c.lexically_normal();
    if (IsExecutable(normal)) return normal.string();
    looked.push_back(normal.string());
  }
  return absl::NotFoundError(absl::StrCat(binary, ": not found (looked at ",
                                          absl::StrJoin(looked, ", "), "; see --bin-dir)"));
}

std::optional<pid_t> RunningPid(const ClusterService& service) {
  const std::string text = ReadSmallFile(service.pid_file());
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid) || pid <= 1) return std::nullopt;
  if (!Alive(pid) || !RunsConfig(pid, service.config())) return std::nullopt;
  return pid;
}

std::vector<const ClusterService*> RunningServices(const ClusterLayout& layout) {
  std::vector<const ClusterService*> running;
  for (const ClusterService& s : layout.services()) {
    if (RunningPid(s)) running.push_back(&s);
  }
  return running;
}

absl::StatusOr<pid_t> StartService(const ClusterService& service, const std::string& binary) {
  {
    // A marker in the log, so one file can hold several runs.
    std::ofstream log(service.log(), std::ios::app);
    if (!log) return absl::InternalError(absl::StrCat("cannot open log ", service.log()));
    log << "=== tfctl cluster up "
        << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()) << ": "
        << binary << " --config " << service.config() << "\n";
  }
  // Its own session: no terminal signals from the shell tfctl ran in, and
  // one process group to stop.
  process::SpawnOptions options;
  options.output_file = service.log();
  options.null_stdin = true;
  options.new_session = true;
  absl::StatusOr<std::unique_ptr<process::ChildProcess>> child =
      process::ChildProcess::Spawn({binary, "--config", service.config()}, options);
  if (!child.ok()) {
    return absl::InternalError(
        absl::StrCat("start ", service.id(), " (", binary, "): ", child.status().message()));
  }
  // The service outlives tfctl; from now on its pid file names it.
  const pid_t pid = (*child)->Release();
  TF_RETURN_IF_ERROR(Annotate(
      WriteFileAtomically(service.pid_file(), absl::StrCat(pid, "\n"), 0644), service.id()));
  return pid;
}

absl::StatusOr<std::unique_ptr<HealthProber>> HealthProber::Create(const ClusterLayout& layout) {
  std::unique_ptr<HealthProber> prober(new HealthProber());
  for (const ClusterDomain& d : layout.domains()) {
    absl::StatusOr<std::string> pem = ReadFileLimited(d.root(), 1 << 20);
    if (!pem.ok()) return Annotate(pem.status(), absl::StrCat(d.domain(), " root"));
    absl::StatusOr<std::vector<pki::Certificate>> roots = pki::ParsePemBundle(*pem);
    if (!roots.ok()) return Annotate(roots.status(), d.root());
    absl::StatusOr<std::shared_ptr<const pki::RootStore>> store = pki::RootStore::Create(*roots);
    if (!store.ok()) return Annotate(store.status(), d.root());
    Domain& entry = prober->domains_[d.domain()];
    entry.holder = std::make_unique<trust::SnapshotHolder>();
    auto source = std::make_shared<tls::TrustSource>(entry.holder.get(), d.domain(), *store);
    absl::StatusOr<std::shared_ptr<tls::ChannelCache>> channels =
        tls::ChannelCache::Create({d.admin_cert(), d.admin_key(), 1}, source);
    if (!channels.ok()) return Annotate(channels.status(), absl::StrCat(d.domain(), " admin"));
    entry.channels = *std::move(channels);
  }
  return prober;
}

absl::Status HealthProber::Check(const ClusterService& service, absl::Duration timeout) const {
  auto it = domains_.find(service.domain());
  if (it == domains_.end()) {
    return absl::NotFoundError(absl::StrCat("health: no domain ", service.domain()));
  }
  std::optional<pki::Role> role = pki::RoleFromName(service.role());
  if (!role) {
    return absl::InvalidArgumentError(
        absl::StrCat("health: ", service.id(), " has an unknown role ", service.role()));
  }
  // A fresh channel per probe: a cached one would wait out gRPC's reconnect
  // backoff after the refused connections of a service still starting.
  std::shared_ptr<grpc::Channel> channel = it->second.channels->NewChannel(
      {service.address(), service.dns_name(), service.domain(), {*role}});
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = grpc::health::v1::Health::NewStub(channel)->Check(
      &context, grpc::health::v1::HealthCheckRequest(), &response);
  if (!status.ok()) return tls::FromGrpcStatus(status);
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(
        absl::StrCat("not serving (health status ", response.status(), ")"));
  }
  return absl::OkStatus();
}

absl::Status StartCluster(const ClusterLayout& layout, const StartOptions& options,
                          std::ostream& progress, const ClusterService** failed) {
  if (failed != nullptr) *failed = nullptr;
  TF_ASSIGN_OR_RETURN(std::unique_ptr<HealthProber> prober, HealthProber::Create(layout));
  std::map<std::string, std::string> binaries;
  for (const ClusterService& s : layout.services()) {
    if (binaries.count(s.binary()) != 0 || RunningPid(s)) continue;
    TF_ASSIGN_OR_RETURN(binaries[s.binary()], FindServiceBinary(s.binary(), options.bin_dir));
  }

  // Control planes first: nodes fetch their first snapshot from them.
  for (const bool control_phase : {true, false}) {
    std::vector<const ClusterService*> phase;
    std::map<const ClusterService*, pid_t> started;
    for (const ClusterService& s : layout.services()) {
      if ((s.role() == "control") != control_phase) continue;
      phase.push_back(&s);
      if (std::optional<pid_t> pid = RunningPid(s)) {
        progress << s.id() << ": already running (pid " << *pid << ")" << std::endl;
        continue;
      }
      absl::StatusOr<pid_t> pid = StartService(s, binaries[s.binary()]);
      if (!pid.ok()) {
        if (failed != nullptr) *failed = &s;
        return pid.status();
      }
      started[&s] = *pid;
    }

    const absl::Time deadline = absl::Now() + options.timeout;
    std::map<const ClusterService*, absl::Status> last_error;
    std::vector<const ClusterService*> pending = phase;
    while (!pending.empty()) {
      std::vector<const ClusterService*> still;
      for (const ClusterService* s : pending) {
        auto mine = started.find(s);
        std::optional<int> wait_status;
        if (mine != started.end() && (wait_status = process::ReapIfExited(mine->second))) {
          if (failed != nullptr) *failed = s;
          ::unlink(s->pid_file().c_str());
          return absl::FailedPreconditionError(absl::StrCat(
              s->id(), " ", process::DescribeWaitStatus(*wait_status), " (log ", s->log(), ")"));
        }
        if (mine == started.end() && !RunningPid(*s)) {
          if (failed != nullptr) *failed = s;
          return absl::FailedPreconditionError(
              absl::StrCat(s->id(), " stopped while starting the cluster (log ", s->log(), ")"));
        }
        absl::Status health = prober->Check(*s, kProbeTimeout);
        if (health.ok()) {
          progress << s->id() << ": serving at " << s->address();
          if (mine != started.end()) progress << " (pid " << mine->second << ")";
          progress << std::endl;
          continue;
        }
        last_error[s] = health;
        still.push_back(s);
      }
      pending = std::move(still);
      if (pending.empty()) break;
      if (absl::Now() >= deadline) {
        const ClusterService* s = pending.front();
        if (failed != nullptr) *failed = s;
        return absl::DeadlineExceededError(
            absl::StrCat(s->id(), " is not healthy after ", absl::FormatDuration(options.timeout),
                         ": ", CodeName(last_error[s].code()), ": ", last_error[s].message(),
                         " (log ", s->log(), ")"));
      }
      absl::SleepFor(kPollInterval);
    }
  }
  return absl::OkStatus();
}

absl::Status StopCluster(const ClusterLayout& layout, absl::Duration grace,
                         std::ostream& progress) {
  struct Running {
    const ClusterService* service;
    pid_t pid;
  };
  // Those of `group` still alive at `deadline` (or sooner, once all ended).
  auto wait_all = [](const std::vector<Running>& group, absl::Time deadline) {
    std::vector<Running> alive;
    while (true) {
      alive.clear();
      for (const Running& r : group) {
        if (Alive(r.pid)) alive.push_back(r);
      }
      if (alive.empty() || absl::Now() >= deadline) return alive;
      absl::SleepFor(absl::Milliseconds(50));
    }
  };
  std::vector<std::string> survivors;
  auto stop = [&](const std::vector<Running>& group) {
    for (const Running& r : group) process::SignalProcessOrGroup(r.pid, SIGTERM);
    const std::vector<Running> stubborn = wait_all(group, absl::Now() + grace);
    for (const Running& r : group) {
      bool killed = false;
      for (const Running& s : stubborn) killed = killed || s.pid == r.pid;
      if (!killed) progress << r.service->id() << ": stopped (pid " << r.pid << ")" << std::endl;
    }
    for (const Running& r : stubborn) {
      process::SignalProcessOrGroup(r.pid, SIGKILL);
      progress << r.service->id() << ": still running after " << absl::FormatDuration(grace)
               << ", killed (pid " << r.pid << ")" << std::endl;
    }
    for (const Running& r : wait_all(stubborn, absl::Now() + kKillWait)) {
      survivors.push_back(absl::StrCat(r.service->id(), " (pid ", r.pid, ")"));
    }
  };

  // Nodes before the control planes, so no node is left without one.
  std::vector<Running> nodes;
  std::vector<Running> controls;
  for (auto it = layout.services().rbegin(); it != layout.services().rend(); ++it) {
    if (std::optional<pid_t> pid = RunningPid(*it)) {
      (it->role() == "control" ? controls : nodes).push_back({&*it, *pid});
    }
  }
  if (nodes.empty() && controls.empty()) {
    progress << "no service of " << layout.dir() << " is running" << std::endl;
  }
  if (!nodes.empty()) stop(nodes);
  if (!controls.empty()) stop(controls);
  for (const ClusterService& s : layout.services()) {
    if (!RunningPid(s)) ::unlink(s.pid_file().c_str());
  }
  if (!survivors.empty()) {
    return absl::InternalError(
        absl::StrCat("still running after SIGKILL: ", absl::StrJoin(survivors, ", ")));
  }
  return absl::OkStatus();
}

std::string LogTail(const std::string& path, int lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in || lines <= 0) return "";
  constexpr std::streamoff kMaxTail = 64 << 10;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > kMaxTail ? size - kMaxTail : 0;
  in.seekg(start);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!text.empty() && text.back() == '\n') text.pop_back();
  size_t pos = text.size();
  for (int n = 0; n < lines && pos != std::string::npos && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
  }
  const std::string tail = pos == std::string::npos ? text : text.substr(pos + 1);
  return tail.empty() ? "" : tail + "\n";
}

}  // namespace trustfabric::devcluster
