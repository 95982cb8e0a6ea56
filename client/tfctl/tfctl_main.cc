// tfctl: the trustfabric admin CLI. Each command group lives in its own
// tfctl_<group>.cc and is registered here.
//
//   tfctl pki init --domains contoso.test --out ./pki
//   tfctl --control 127.0.0.1:7000 --pki ./pki --domain contoso.test root list
//   TF_PKCS12_PASSWORD=changeit tfctl token mint --pkcs12 app1.p12 --issuer-id <guid> ...
#include <grpc/support/log.h>

#include <iostream>

#include "CLI/CLI.hpp"
#include "client/tfctl/tfctl_commands.h"
#include "client/tfctl/tfctl_exit.h"
#include "client/tfctl/tfctl_token.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

// tfctl reports every failure itself in one line on stderr (tfctl_exit.h);
// library and transport logs appear only with --verbose, and never on
// stdout, where --json output goes.
void DropGrpcLog(gpr_log_func_args*) {}

void GrpcLogToStderr(gpr_log_func_args* args) {
  std::cerr << gpr_log_severity_string(args->severity) << " " << args->file << ":" << args->line
            << "] " << args->message << std::endl;
}

void Quiet() {
  gpr_set_log_function(DropGrpcLog);
  spdlog::set_default_logger(spdlog::stderr_color_mt("tfctl"));
  spdlog::set_level(spdlog::level::off);
}

void Verbose() {
  gpr_set_log_verbosity(GPR_LOG_SEVERITY_DEBUG);
  gpr_set_log_function(GrpcLogToStderr);
  spdlog::set_level(spdlog::level::debug);
}

}  // namespace

int main(int argc, char** argv) {
  Quiet();
  CLI::App app{"tfctl: trustfabric admin cli"};
  app.footer(trustfabric::tfctl::ExitStatusHelp());
  app.require_subcommand(1);
  app.add_flag_callback("--verbose", Verbose, "log transport details to stderr");
  trustfabric::tfctl::AddPkiCommands(app);
  trustfabric::tfctl::AddTokenCommands(app);
  trustfabric::tfctl::AddAdminCommands(app);
  trustfabric::tfctl::AddClusterCommands(app);
  trustfabric::tfctl::AddMessagingCommands(app);
  return trustfabric::tfctl::RunTfctl(app, argc, argv);
}
