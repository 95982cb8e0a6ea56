// How tfctl ends: one error line on stderr and an exit status that tells
// scripts what went wrong, for every command group.
//
//   int main(int argc, char** argv) {
//     CLI::App app{"tfctl"};
//     app.footer(tfctl::ExitStatusHelp());
//     tfctl::AddAdminCommands(app);
//     return tfctl::RunTfctl(app, argc, argv);
//   }
//
//   // in a command callback:
//   absl::StatusOr<v1::MutationResponse> r = control->AddRootAuthority(req);
//   if (!r.ok()) tfctl::Fail(r.status());  // "tfctl: already_exists: ..." exit 5
//
// Exit status:
//   0   success
//   1   any other failure (internal, unknown, unimplemented, ...)
//   2   usage: a flag is missing, malformed, or names a file that cannot be
//       used; nothing was changed
//   3   INVALID_ARGUMENT, OUT_OF_RANGE: the control plane refused the input
//   4   NOT_FOUND            5   ALREADY_EXISTS
//   6   FAILED_PRECONDITION (dependents exist; see --force)
//   7   ABORTED (--expected-revision is stale)
//   8   PERMISSION_DENIED    9   UNAUTHENTICATED
//   10  UNAVAILABLE          11  DEADLINE_EXCEEDED (a mutation stays durable)
//   12  DATA_LOSS (an audit log that fails `tfctl audit verify`)
#ifndef TRUSTFABRIC_CLIENT_TFCTL_TFCTL_EXIT_H_
#define TRUSTFABRIC_CLIENT_TFCTL_TFCTL_EXIT_H_

#include <ostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace trustfabric::tfctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// The exit status for a failed call with `code` (never 0 or 2; OK maps to 0).
int ExitStatusFor(absl::StatusCode code);

// The table above, for `tfctl --help`.
std::string ExitStatusHelp();

// "tfctl: <code name>: <message>" (no newline), e.g.
// "tfctl: aborted: expected revision 3, current 5".
std::string ErrorLine(const absl::Status& status);
// "tfctl: usage: <message>" (no newline).
std::string UsageLine(absl::string_view message);

// Print ErrorLine / UsageLine to stderr and end the command with the exit
// status (by throwing CLI::RuntimeError, which RunTfctl turns into the
// status without printing more).
[[noreturn]] void Fail(const absl::Status& status);
[[noreturn]] void FailUsage(const absl::Status& status);

// The value, or the command ends: as a usage error (a flag was bad) or with
// the status's exit code (a call failed).
template <typename T>
T OrUsage(absl::StatusOr<T> value) {
  if (!value.ok()) FailUsage(value.status());
  return *std::move(value);
}
template <typename T>
T OrFail(absl::StatusOr<T> value) {
  if (!value.ok()) Fail(value.status());
  return *std::move(value);
}

// Parses and runs `app`. Help and version go to `out` with status 0; a
// CLI11 parse error (unknown flag, missing required flag, a value the flag's
// check refuses) prints a usage line naming the flag to `err` and returns
// kExitUsage; a command that failed returns its status.
int RunTfctl(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
             std::ostream& err);
int RunTfctl(CLI::App& app, int argc, const char* const* argv);

}  // namespace trustfabric::tfctl

#endif  // TRUSTFABRIC_CLIENT_TFCTL_TFCTL_EXIT_H_
