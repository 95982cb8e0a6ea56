// tfctl exit statuses and error lines; see tfctl_exit.h.
#include "client/tfctl/tfctl_exit.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace trustfabric::tfctl {

int ExitStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 3;
    case absl::StatusCode::kNotFound:
      return 4;
    case absl::StatusCode::kAlreadyExists:
      return 5;
    case absl::StatusCode::kFailedPrecondition:
      return 6;
    case absl::StatusCode::kAborted:
      return 7;
    case absl::StatusCode::kPermissionDenied:
      return 8;
    case absl::StatusCode::kUnauthenticated:
      return 9;
    case absl::StatusCode::kUnavailable:
      return 10;
    case absl::StatusCode::kDeadlineExceeded:
      return 11;
    case absl::StatusCode::kDataLoss:
      return 12;
    default:
      return kExitFailure;
  }
}

std::string ExitStatusHelp() {
  return "Exit status:\n"
         "  0  success\n"
         "  1  any other failure\n"
         "  2  usage: a flag is missing or malformed, or names a file that cannot be "
         "used (nothing was changed)\n"
         "  3  invalid_argument, out_of_range: the control plane refused the input\n"
         "  4  not_found\n"
         "  5  already_exists\n"
         "  6  failed_precondition: dependents exist (see --force)\n"
         "  7  aborted: --expected-revision is stale\n"
         "  8  permission_denied\n"
         "  9  unauthenticated\n"
         " 10  unavailable\n"
         " 11  deadline_exceeded (a mutation stays durable)\n"
         " 12  data_loss: the audit log fails verification (tfctl audit verify)\n"
         "Errors are one line on stderr: tfctl: <code>: <message>\n"
         "Environment: TF_CONTROL (--control), TF_PKI (--pki), TF_DOMAIN (--domain)\n";
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
