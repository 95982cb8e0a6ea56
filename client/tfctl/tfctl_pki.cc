// `tfctl pki ...` commands.
//
//   tfctl pki init --domains contoso.test,fabrikam.test --out ./pki [--force]
//                  [--pkcs12-password-file FILE]   (or TF_PKCS12_PASSWORD; default changeit)
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/devcluster/pki_init.h"
#include "client/tfctl/secret_flags.h"
#include "client/tfctl/tfctl_commands.h"
#include "client/tfctl/tfctl_exit.h"

namespace trustfabric::tfctl {
namespace {

void RunInit(devcluster::PkiInitOptions options, const std::string& password_file) {
  absl::StatusOr<std::optional<std::string>> password =
      ReadSecret(password_file, kPkcs12PasswordEnv, "--pkcs12-password-file");
  if (!password.ok()) Fail(password.status());
  if (password->has_value()) options.pkcs12_password = **password;
  absl::StatusOr<devcluster::PkiInitResult> result = devcluster::RunPkiInit(options);
  if (!result.ok()) Fail(result.status());
  std::cout << devcluster::FormatPkiInitSummary(*result);
}

}  // namespace

void AddPkiCommands(CLI::App& app) {
  CLI::App* pki = app.add_subcommand("pki", "development pki");
  pki->require_subcommand(1);

  // Owned by the callback, which CLI11 keeps alive as long as `app`.
  auto options = std::make_shared<devcluster::PkiInitOptions>();
  auto password_file = std::make_shared<std::string>();
  CLI::App* init = pki->add_subcommand(
      "init", "generate roots, intermediates, node, admin and token-signing certificates");
  init->add_option("--domains", options->domains, "trust domains, comma separated")
      ->required()
      ->delimiter(',');
  init->add_option("--out", options->out_dir, "output directory")->required();
  init->add_flag("--force", options->force, "overwrite an existing pki");
  init->add_option("--pkcs12-password-file", *password_file,
                   absl::StrCat("file holding the password of the applications' pkcs#12 files "
                                "(default: the environment variable ",
                                kPkcs12PasswordEnv, ", else \"", options->pkcs12_password,
                                "\", for development only)"));
  AddRefusedSecretFlag(
      init, "--pkcs12-password",
      absl::StrCat("--pkcs12-password-file FILE or the environment variable ", kPkcs12PasswordEnv));
  init->callback([options, password_file] { RunInit(*options, *password_file); });
}

}  // namespace trustfabric::tfctl
