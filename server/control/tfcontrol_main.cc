// tfcontrol: the control plane of one trust domain.
//
//   tfcontrol --config /etc/trustfabric/control.yaml
//   tfcontrol --config control.yaml --listen 127.0.0.1:7000 --sqlite ./control.db
//             --set log_level=debug --set history_revisions=500
//
// Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 2 for a bad
// command line or configuration (the message names the field), 1 when the
// server cannot start for another reason (store in use, port taken).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "common/process/shutdown_signals.h"
#include "server/control/control_config.h"
#include "server/control/control_server.h"
#include "spdlog/spdlog.h"

namespace {

constexpr int kConfigError = 2;
constexpr int kStartError = 1;

}  // namespace

int main(int argc, char** argv) {
  // Deadlock detection costs CPU on every lock; tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  CLI::App app{"tfcontrol: trustfabric control plane"};
  std::string config_path;
  std::vector<std::string> overrides;
  std::string listen;
  std::string sqlite;
  app.add_option("--config", config_path, "YAML file mapped onto ControlPlaneConfig");
  app.add_option("--set", overrides, "override one field, e.g. --set log_level=debug (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  app.add_option("--listen", listen, "listen address host:port (listen.address)");
  app.add_option("--sqlite", sqlite, "SQLite database path (sqlite_path)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kConfigError;
  }
  if (!listen.empty()) overrides.push_back("listen.address=" + listen);
  if (!sqlite.empty()) overrides.push_back("sqlite_path=" + sqlite);

  absl::StatusOr<trustfabric::v1::ControlPlaneConfig> config =
      trustfabric::control::LoadConfig(config_path, overrides);
  if (!config.ok()) {
    std::fprintf(stderr, "tfcontrol: %s\n", std::string(config.status().message()).c_str());
    return kConfigError;
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level()));

  // Before any thread starts, so none of gRPC's threads receives them.
  trustfabric::process::ShutdownSignals signals;

  absl::StatusOr<std::unique_ptr<trustfabric::control::ControlServer>> server =
      trustfabric::control::ControlServer::Start(*config);
  if (!server.ok()) {
    std::fprintf(stderr, "tfcontrol: %s\n", std::string(server.status().message()).c_str());
    return server.status().code() == absl::StatusCode::kInvalidArgument ? kConfigError
                                                                        : kStartError;
  }
  const int signal_number = signals.Wait();
  spdlog::info("tfcontrol received {}, shutting down", strsignal(signal_number));
  (*server)->Shutdown();
  return 0;
}
