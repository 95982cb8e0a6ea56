// The processes of a local cluster (cluster_config.h): finding the
// binaries, starting every service detached, asking each for gRPC health,
// and stopping them again from their pid files.
//
//   TF_ASSIGN_OR_RETURN(devcluster::ClusterLayout layout, devcluster::LoadClusterLayout(dir));
//   devcluster::StartOptions start;
//   start.bin_dir = "";  // next to tfctl
//   const devcluster::ClusterService* failed = nullptr;
//   absl::Status up = devcluster::StartCluster(layout, start, std::cout, &failed);
//   if (!up.ok() && failed != nullptr) std::cerr << devcluster::LogTail(failed->log_file, 20);
//   ...
//   devcluster::StopCluster(layout, absl::Seconds(5), std::cout);
//
// A started service runs in its own session (setsid), with stdin from
// /dev/null and stdout/stderr appended to its log file; its pid is in its
// pid file. A pid file counts only while its process is alive and still
// runs that service's configuration (/proc/<pid>/cmdline), so a stale file
// or a reused pid is never signalled.
#ifndef TRUSTFABRIC_CLIENT_DEVCLUSTER_CLUSTER_RUNNER_H_
#define TRUSTFABRIC_CLIENT_DEVCLUSTER_CLUSTER_RUNNER_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/devcluster/cluster_config.h"
#include "common/tls/client_security.h"
#include "common/trust/holder.h"

namespace trustfabric::devcluster {

// The path of `binary` ("tfcontrol" or "tfnode"): under `bin_dir` (also its
// server/ and server/control/ subdirectories) when given, else next to the
// running executable and in its ../server/ and ../server/control/.
// NOT_FOUND listing the places looked at.
absl::StatusOr<std::string> FindServiceBinary(absl::string_view binary, const std::string& bin_dir);

// The pid of the live process of `service` named by its pid file.
std::optional<pid_t> RunningPid(const ClusterService& service);

// The services of `layout` that run now.
std::vector<const ClusterService*> RunningServices(const ClusterLayout& layout);

// Starts `binary --config <config_file>` for `service` as described above
// and writes its pid file. INTERNAL naming what failed.
absl::StatusOr<pid_t> StartService(const ClusterService& service, const std::string& binary);

// Asks services for gRPC health (grpc.health.v1.Health/Check, service "")
// on their mutual-TLS listener, as the domain's administrator and verifying
// them against the domain root. A node answers SERVING only once it holds
// trust state, so "healthy" also means "has a snapshot".
class HealthProber {
 public:
  // INVALID_ARGUMENT when a domain's root or admin identity is unusable.
  static absl::StatusOr<std::unique_ptr<HealthProber>> Create(const ClusterLayout& layout);

  // OK when `service` answers SERVING within `timeout`; its status
  // otherwise (UNAVAILABLE when nothing answers, NOT_SERVING as
  // UNAVAILABLE "not serving").
  absl::Status Check(const ClusterService& service, absl::Duration timeout) const;

 private:
  struct Domain {
    std::unique_ptr<trust::SnapshotHolder> holder;  // stays empty: bootstrap roots rule
    std::shared_ptr<tls::ChannelCache> channels;
  };
  HealthProber() = default;
  std::map<std::string, Domain> domains_;
};

struct StartOptions {
  // Where tfcontrol and tfnode are (FindServiceBinary).
  std::string bin_dir;
  // How long each phase (control planes, then nodes) may take to become
  // healthy.
  absl::Duration timeout = absl::Seconds(30);
};

// Starts the services of `layout` that do not run yet: the control planes
// first, then the nodes, each phase waiting until all of its services are
// healthy. Services already running are only checked. One progress line per
// service goes to `progress`. On failure `*failed` (if not null) names the
// service that failed: FAILED_PRECONDITION when it exited, DEADLINE_EXCEEDED
// when it did not become healthy in time (with its last health error).
absl::Status StartCluster(const ClusterLayout& layout, const StartOptions& options,
                          std::ostream& progress, const ClusterService** failed);

// Stops every running service, the nodes first, then the control planes:
// SIGTERM to each (its process group), then SIGKILL to those still alive
// after `grace`; removes the pid files. One line per service to `progress`.
// INTERNAL when a process survives SIGKILL.
absl::Status StopCluster(const ClusterLayout& layout, absl::Duration grace, std::ostream& progress);

// The last `lines` lines of `path` ("" when it cannot be read).
std::string LogTail(const std::string& path, int lines);

}  // namespace trustfabric::devcluster

#endif  // TRUSTFABRIC_CLIENT_DEVCLUSTER_CLUSTER_RUNNER_H_
