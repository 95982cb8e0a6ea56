// Secrets for tfctl commands. A secret is never a plain command-line value:
// argv is visible to every local user (ps, /proc/<pid>/cmdline) and lands in
// shell history and CI logs. It comes from a file named by a flag or from an
// environment variable; the old inline flags are refused with a message
// naming both.
//
//   std::string file;
//   cmd->add_option("--password-file", file, "file holding the password");
//   AddRefusedSecretFlag(cmd, "--password", "--password-file FILE or TF_PKCS12_PASSWORD");
//   TF_ASSIGN_OR_RETURN(std::optional<std::string> pw,
//                       ReadSecret(file, kPkcs12PasswordEnv, "--password-file"));
#ifndef TRUSTFABRIC_CLIENT_TFCTL_SECRET_FLAGS_H_
#define TRUSTFABRIC_CLIENT_TFCTL_SECRET_FLAGS_H_

#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trustfabric::tfctl {

// The PKCS#12 password or PEM key passphrase of `tfctl token mint`, and the
// password `tfctl pki init` protects the applications' PKCS#12 files with.
inline constexpr char kPkcs12PasswordEnv[] = "TF_PKCS12_PASSWORD";

// A user's bearer access token for `tfctl signin|send|receive`.
inline constexpr char kAccessTokenEnv[] = "TF_ACCESS_TOKEN";

// Longest secret file read.
inline constexpr size_t kMaxSecretFileBytes = 64 * 1024;

// The secret in `file` (one trailing "\n" or "\r\n" dropped) when `file` is
// not empty; otherwise the value of the environment variable `env` when it
// is set; otherwise nullopt. INVALID_ARGUMENT "<flag>: <path>: ..." when the
// file cannot be read or is larger than kMaxSecretFileBytes.
absl::StatusOr<std::optional<std::string>> ReadSecret(const std::string& file, const char* env,
                                                      absl::string_view flag);

// Registers `flag` on `cmd` as a hidden option that refuses any value: the
// command fails as a usage error with "<flag>: secrets are not taken on the
// command line; use <replacement>".
void AddRefusedSecretFlag(CLI::App* cmd, const std::string& flag, const std::string& replacement);

}  // namespace trustfabric::tfctl

#endif  // TRUSTFABRIC_CLIENT_TFCTL_SECRET_FLAGS_H_
