// Secrets from files and the environment; see secret_flags.h.
#include "client/tfctl/secret_flags.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status/atomic_file.h"

namespace trustfabric::tfctl {

absl::StatusOr<std::optional<std::string>> ReadSecret(const std::string& file, const char* env,
                                                      absl::string_view flag) {
  if (!file.empty()) {
    absl::StatusOr<std::string> text = ReadFileLimited(file, kMaxSecretFileBytes);
    if (!text.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": ", file, ": ", text.status().message()));
    }
    absl::string_view secret = *text;
    absl::ConsumeSuffix(&secret, "\n");
    absl::ConsumeSuffix(&secret, "\r");
    return std::optional<std::string>(std::string(secret));
  }
  const char* value = env == nullptr ? nullptr : std::getenv(env);
  if (value != nullptr) return std::optional<std::string>(std::string(value));
  return std::optional<std::string>();
}

void AddRefusedSecretFlag(CLI::App* cmd, const std::string& flag, const std::string& replacement) {
  const std::string message =
      absl::StrCat(flag, ": secrets are not taken on the command line; use ", replacement);
  cmd->add_option_function<std::string>(
         flag, [message](const std::string&) { throw CLI::ValidationError(message); })
      ->group("");
}

}  // namespace trustfabric::tfctl
