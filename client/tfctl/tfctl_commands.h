// Command groups of tfctl. Each group registers its subcommands on the
// top-level app; tfctl_main.cc calls every Add*Commands function.
//
//   CLI::App app{"trustfabric admin cli"};
//   tfctl::AddPkiCommands(app);
//   tfctl::AddAdminCommands(app);
//   return tfctl::RunTfctl(app, argc, argv);  // tfctl_exit.h
//
// A subcommand's callback prints its own result or error and, on failure,
// throws CLI::RuntimeError(exit_code) (which RunTfctl turns into the exit
// status without printing anything more).
#ifndef TRUSTFABRIC_CLIENT_TFCTL_TFCTL_COMMANDS_H_
#define TRUSTFABRIC_CLIENT_TFCTL_TFCTL_COMMANDS_H_

#include "CLI/CLI.hpp"

namespace trustfabric::tfctl {

// `tfctl pki init`.
void AddPkiCommands(CLI::App& app);

// The control plane's admin API (tfctl_admin.cc): the connection flags
// --control, --pki, --domain/--trust-domain, --server-name, --cert, --key,
// --ca, --timeout and --json on `app` (env TF_CONTROL, TF_PKI, TF_DOMAIN),
// and the commands
//   root add|list|remove, issuer add|list|remove,
//   peer add|list|remove|enable|disable, revoke, unrevoke,
//   snapshot [--out FILE], status, audit, audit export --out FILE, audit verify [--file FILE].
// Every mutation takes --expected-revision N and --wait-nodes N | --wait-all
// [--wait-timeout D] and prints the revision it produced.
void AddAdminCommands(CLI::App& app);

// `tfctl cluster config|up|bootstrap|down|status` (tfctl_cluster.cc): a
// local two-domain cluster on loopback addresses (cluster_config.h).
void AddClusterCommands(CLI::App& app);

// `tfctl signin|send|receive` (tfctl_messaging.cc): a user of a front-end,
// with a token minted from a cluster directory or given explicitly.
void AddMessagingCommands(CLI::App& app);

}  // namespace trustfabric::tfctl

#endif  // TRUSTFABRIC_CLIENT_TFCTL_TFCTL_COMMANDS_H_
