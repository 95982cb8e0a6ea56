// tfctl exit statuses and error lines; see tfctl_exit.h.
#include "client/tfctl/tfctl_exit.h"

#include <iostream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace trustfabric::tfctl {

namespace {

// Each code of a failed call that has an exit status of its own, and what the
// help adds after it. Codes sharing a status stand next to each other; the
// help lists them on one line, the note of the group's last row ending it.
// One table serves both ExitStatusFor and the help, so they cannot disagree.
struct ExitRow {
  int status;
  absl::StatusCode code;
  absl::string_view note;
};
constexpr ExitRow kExitRows[] = {
    {3, absl::StatusCode::kInvalidArgument, ""},
    {3, absl::StatusCode::kOutOfRange, ": the control plane refused the input"},
    {4, absl::StatusCode::kNotFound, ""},
    {5, absl::StatusCode::kAlreadyExists, ""},
    {6, absl::StatusCode::kFailedPrecondition, ": dependents exist (see --force)"},
    {7, absl::StatusCode::kAborted, ": --expected-revision is stale"},
    {8, absl::StatusCode::kPermissionDenied, ""},
    {9, absl::StatusCode::kUnauthenticated, ""},
    {10, absl::StatusCode::kUnavailable, ""},
    {11, absl::StatusCode::kDeadlineExceeded, " (a mutation stays durable)"},
};

}  // namespace

int ExitStatusFor(absl::StatusCode code) {
  if (code == absl::StatusCode::kOk) return kExitOk;
  for (const ExitRow& row : kExitRows) {
    if (row.code == code) return row.status;
  }
  return kExitFailure;
}

std::string ExitStatusHelp() {
  std::string help =
      "Exit status:\n"
      "  0  success\n"
      "  1  any other failure\n"
      "  2  usage: a flag is missing or malformed, or names a file that cannot be "
      "used (nothing was changed)\n";
  const size_t n = std::size(kExitRows);
  for (size_t i = 0; i < n; ++i) {
    const ExitRow& row = kExitRows[i];
    if (i == 0 || kExitRows[i - 1].status != row.status) {
      absl::StrAppend(&help, row.status < 10 ? "  " : " ", row.status, "  ");
    }
    const bool group_goes_on = i + 1 < n && kExitRows[i + 1].status == row.status;
    absl::StrAppend(&help, CodeName(row.code), group_goes_on ? ", " : row.note,
                    group_goes_on ? "" : "\n");
  }
  absl::StrAppend(&help, "Errors are one line on stderr: tfctl: <code>: <message>\n",
                  "Environment: TF_CONTROL (--control), TF_PKI (--pki), TF_DOMAIN (--domain)\n");
  return help;
}

std::string ErrorLine(const absl::Status& status) {
  return absl::StrCat("tfctl: ", CodeName(status.code()), ": ", status.message());
}

std::string UsageLine(absl::string_view message) { return absl::StrCat("tfctl: usage: ", message); }

void Fail(const absl::Status& status) {
  std::cerr << ErrorLine(status) << std::endl;
  throw CLI::RuntimeError(status.ok() ? kExitFailure : ExitStatusFor(status.code()));
}

void FailUsage(const absl::Status& status) {
  std::cerr << UsageLine(status.message()) << std::endl;
  throw CLI::RuntimeError(kExitUsage);
}

int RunTfctl(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
             std::ostream& err) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    // --help, --help-all, --version.
    return app.exit(e, out, err);
  } catch (const CLI::RuntimeError& e) {
    // A command that already reported its failure.
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    err << UsageLine(e.what()) << " (see --help)" << std::endl;
    return kExitUsage;
  }
  return kExitOk;
}

int RunTfctl(CLI::App& app, int argc, const char* const* argv) {
  return RunTfctl(app, argc, argv, std::cout, std::cerr);
}

}  // namespace trustfabric::tfctl
