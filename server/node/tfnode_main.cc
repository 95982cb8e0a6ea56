// tfnode: runs one trustfabric node (edge, front-end or registrar).
//
//   tfnode --config fe1.yaml [--role frontend] [--set listen.address=127.0.0.12:7443]
//
// Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM), 2 for a bad
// configuration (the message names the field), 1 when it cannot serve.
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "common/config/yaml_proto.h"
#include "common/process/shutdown_signals.h"
#include "server/node/node_server.h"
#include "spdlog/spdlog.h"

namespace {

int Fail(int code, const absl::Status& status) {
  std::fprintf(stderr, "tfnode: %s\n", std::string(status.message()).c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"trustfabric node: edge, front-end or registrar"};
  std::string config_file;
  std::string role;
  std::vector<std::string> overrides;
  std::string log_level;
  app.add_option("--config", config_file, "YAML file mapped onto NodeConfig")->required();
  app.add_option("--role", role, "edge, frontend or registrar (overrides role:)");
  app.add_option("--set", overrides, "override one field: path.to.field=value (repeatable)");
  app.add_option("--log-level", log_level, "debug, info, warn, error");
  CLI11_PARSE(app, argc, argv);

  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  trustfabric::v1::NodeConfig config;
  if (absl::Status s = trustfabric::config::MergeYamlFile(config_file, &config); !s.ok()) {
    return Fail(2, s);
  }
  if (!role.empty()) config.set_role(role);
  for (const std::string& o : overrides) {
    size_t eq = o.find('=');
    if (eq == std::string::npos) {
      return Fail(2, absl::InvalidArgumentError("--set: expected path=value, got " + o));
    }
    if (absl::Status s = trustfabric::config::SetField(&config, o.substr(0, eq), o.substr(eq + 1));
        !s.ok()) {
      return Fail(2, s);
    }
  }
  if (!log_level.empty()) config.set_log_level(log_level);
  if (!config.log_level().empty()) {
    spdlog::set_level(spdlog::level::from_str(config.log_level()));
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [" + config.dns_name() + "] %v");

  // Taken by a dedicated thread, so shutdown runs outside a signal handler.
  trustfabric::process::ShutdownSignals signals;

  auto server = trustfabric::node::NodeServer::Create(config);
  if (!server.ok()) {
    return Fail(absl::IsInvalidArgument(server.status()) ? 2 : 1, server.status());
  }
  if (absl::Status s = (*server)->Start(); !s.ok()) return Fail(1, s);
  std::thread waiter([&] {
    const int sig = signals.Wait();
    spdlog::info("signal {}: shutting down", sig);
    (*server)->Shutdown();
  });
  (*server)->Wait();
  waiter.join();
  return 0;
}
