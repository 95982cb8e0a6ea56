// Hosts the `tfctl token` command group on its own, so the interoperability
// test can run the command code even in a build whose tfctl binary does not
// register it.
#include "CLI/CLI.hpp"
#include "client/tfctl/tfctl_token.h"

int main(int argc, char** argv) {
  CLI::App app{"tfctl: trustfabric admin cli (token commands)"};
  app.require_subcommand(1);
  trustfabric::tfctl::AddTokenCommands(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
