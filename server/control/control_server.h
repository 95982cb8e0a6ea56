// ControlServer: a running control plane (what tfcontrol serves), assembled
// from a validated v1::ControlPlaneConfig.
//
// One mutual-TLS listener serves the admin API (ControlPlane), trust
// distribution (TrustDistribution.Watch), gRPC health and reflection; the
// process's SnapshotHolder is fed by the store, so admins and nodes are
// verified against the current trust state. Optionally Prometheus metrics
// on metrics_address. Tests start it in-process the same way tfcontrol does.
//
//   TF_ASSIGN_OR_RETURN(v1::ControlPlaneConfig config, control::LoadConfig(path, {}));
//   TF_ASSIGN_OR_RETURN(std::unique_ptr<control::ControlServer> server,
//                       control::ControlServer::Start(config));
//   spdlog::info("serving on {}", server->address());
//   ...
//   server->Shutdown();
#ifndef TRUSTFABRIC_SERVER_CONTROL_CONTROL_SERVER_H_
#define TRUSTFABRIC_SERVER_CONTROL_CONTROL_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "common/tls/server_security.h"
#include "common/tls/trust_source.h"
#include "common/trust/holder.h"
#include "server/control/control_plane.h"
#include "server/control/control_service.h"
#include "server/control/metrics.h"
#include "server/control/node_registry.h"
#include "server/control/update_log.h"
#include "server/control/watch_hub.h"
#include "trustfabric/v1/config.pb.h"

#include <grpcpp/server.h>

namespace prometheus {
class Exposer;
}

namespace trustfabric::tls {
class GuardedListener;
}  // namespace trustfabric::tls

namespace trustfabric::control {

// Knobs that are not part of the configuration file.
struct ServerOptions {
  absl::Duration keepalive_interval = absl::Seconds(10);
  absl::Duration subscribe_timeout = absl::Seconds(30);
  size_t chunk_bytes = kDefaultChunkBytes;
  Clock clock = RealClock();
  // Audit records between signed checkpoints (docs/design.md §6).
  uint32_t audit_checkpoint_interval = 100;
};

class ControlServer {
 public:
  // Validates `config` (see ValidateConfig), opens the store, loads or
  // seeds it, and starts serving.
  //   INVALID_ARGUMENT naming the field for a bad configuration, including
  //     unreadable seed root or identity files;
  //   FAILED_PRECONDITION when the store belongs to another domain or is in
  //     use by another process;
  //   UNAVAILABLE when a listener cannot bind.
  static absl::StatusOr<std::unique_ptr<ControlServer>> Start(v1::ControlPlaneConfig config,
                                                              ServerOptions options = {});
  // Shuts down if still running.
  ~ControlServer();

  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Ends Watch streams and propagation waits, then stops the server,
  // cancelling calls still running after `grace`. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

  // "host:port" actually listened on (the chosen port when configured 0).
  const std::string& address() const { return address_; }
  // The metrics port, or 0 when metrics are disabled.
  int metrics_port() const { return metrics_port_; }

  ControlPlane& control_plane() { return *control_; }
  NodeRegistry& nodes() { return nodes_; }
  WatchHub& hub() { return *hub_; }
  trust::SnapshotHolder& holder() { return holder_; }

 private:
  ControlServer(v1::ControlPlaneConfig config, ServerOptions options);
  absl::Status Init();

  const v1::ControlPlaneConfig config_;
  const ServerOptions options_;

  // Destroyed in reverse order: the server before what it serves.
  trust::SnapshotHolder holder_;
  NodeRegistry nodes_;
  std::unique_ptr<ControlPlane> control_;
  std::shared_ptr<tls::TrustSource> source_;
  std::shared_ptr<tls::ListenerSecurity> security_;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<ControlService> service_;
  std::unique_ptr<grpc::Server> server_;
  // The listener, accepted by trustfabric (docs/design.md §4).
  std::unique_ptr<tls::GuardedListener> listener_;
  std::shared_ptr<ControlMetrics> metrics_;
  std::unique_ptr<prometheus::Exposer> exposer_;

  std::string address_;
  int metrics_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_CONTROL_SERVER_H_
