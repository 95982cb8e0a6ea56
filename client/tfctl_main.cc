// tfctl: the trustfabric admin CLI. Each command group lives in its own
// tfctl_<group>.cc and is registered here.
//
//   tfctl pki init --domains contoso.test --out ./pki
#include "CLI/CLI.hpp"
#include "client/tfctl_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"tfctl: trustfabric admin cli"};
  app.require_subcommand(1);
  trustfabric::client::AddPkiCommands(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
