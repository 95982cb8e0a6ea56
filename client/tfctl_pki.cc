// `tfctl pki ...` commands.
//
//   tfctl pki init --domains contoso.test,fabrikam.test --out ./pki [--force]
//                  [--pkcs12-password changeit]
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/pki_init.h"
#include "client/tfctl_commands.h"
#include "client/tfctl_exit.h"

namespace trustfabric::client {
namespace {

void RunInit(const PkiInitOptions& options) {
  absl::StatusOr<PkiInitResult> result = RunPkiInit(options);
  if (!result.ok()) Fail(result.status());
  std::cout << FormatPkiInitSummary(*result);
}

}  // namespace

void AddPkiCommands(CLI::App& app) {
  CLI::App* pki = app.add_subcommand("pki", "development pki");
  pki->require_subcommand(1);

  // Owned by the callback, which CLI11 keeps alive as long as `app`.
  auto options = std::make_shared<PkiInitOptions>();
  CLI::App* init = pki->add_subcommand(
      "init", "generate roots, intermediates, node, admin and token-signing certificates");
  init->add_option("--domains", options->domains, "trust domains, comma separated")
      ->required()
      ->delimiter(',');
  init->add_option("--out", options->out_dir, "output directory")->required();
  init->add_flag("--force", options->force, "overwrite an existing pki");
  init->add_option("--pkcs12-password", options->pkcs12_password,
                   "password of the applications' pkcs#12 files")
      ->capture_default_str();
  init->callback([options] { RunInit(*options); });
}

}  // namespace trustfabric::client
