// Command groups of tfctl. Each group registers its subcommands on the
// top-level app; tfctl_main.cc calls every Add*Commands function.
//
//   CLI::App app{"trustfabric admin cli"};
//   client::AddPkiCommands(app);
//
// A subcommand's callback prints its own result or error and, on failure,
// throws CLI::RuntimeError(exit_code) (which CLI11 turns into the exit
// status without printing anything more).
#ifndef TRUSTFABRIC_CLIENT_TFCTL_COMMANDS_H_
#define TRUSTFABRIC_CLIENT_TFCTL_COMMANDS_H_

#include "CLI/CLI.hpp"

namespace trustfabric::client {

// `tfctl pki init`.
void AddPkiCommands(CLI::App& app);

}  // namespace trustfabric::client

#endif  // TRUSTFABRIC_CLIENT_TFCTL_COMMANDS_H_
