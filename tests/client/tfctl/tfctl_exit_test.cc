// tfctl's exit statuses and its one-line error format.
#include "client/tfctl/tfctl_exit.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::tfctl {
namespace {

TEST(ExitStatusTest, EveryDocumentedCodeHasItsOwnStatus) {
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kOk), 0);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kInvalidArgument), 3);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kOutOfRange), 3);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kNotFound), 4);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kAlreadyExists), 5);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kFailedPrecondition), 6);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kAborted), 7);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kPermissionDenied), 8);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kUnauthenticated), 9);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kUnavailable), 10);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kDeadlineExceeded), 11);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kInternal), 1);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kUnimplemented), 1);
  EXPECT_EQ(ExitStatusFor(absl::StatusCode::kUnknown), 1);
  // The help text documents each of them.
  const std::string help = ExitStatusHelp();
  for (const char* line : {"  2  usage", "  7  aborted", " 11  deadline_exceeded"}) {
    EXPECT_THAT(help, HasSubstr(line));
  }
}

TEST(ExitStatusTest, ErrorLines) {
  EXPECT_EQ(ErrorLine(absl::AbortedError("expected revision 3, current revision 5")),
            "tfctl: aborted: expected revision 3, current revision 5");
  EXPECT_EQ(UsageLine("--name is required"), "tfctl: usage: --name is required");
}

}  // namespace
}  // namespace trustfabric::tfctl
