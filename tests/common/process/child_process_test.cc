#include "common/process/child_process.h"

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::process {
namespace {

TEST(ChildProcessTest, OutputIsAppendedAndTheExitStatusReported) {
  TempDir dir;
  const std::string log = dir.Write("out.log", "before\n");
  SpawnOptions options;
  options.output_file = log;
  options.null_stdin = true;
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(
      {"/bin/sh", "-c", "echo out; echo err >&2; read x || echo no-input; exit 3"}, options);
  ASSERT_THAT(child, IsOk());
  absl::StatusOr<int> status = (*child)->Wait(absl::Seconds(30));
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(DescribeWaitStatus(*status), "exited with status 3");
  EXPECT_FALSE((*child)->Running());
  EXPECT_EQ(ReadFile(log), "before\nout\nerr\nno-input\n");
}

TEST(ChildProcessTest, ExecFailureIsAnError) {
  EXPECT_THAT(ChildProcess::Spawn({"/nonexistent/tfnode"}).status(),
              StatusIs(absl::StatusCode::kInternal, "exec /nonexistent/tfnode"));
  EXPECT_THAT(ChildProcess::Spawn({}).status(), StatusIs(absl::StatusCode::kInvalidArgument, ""));
  SpawnOptions options;
  options.output_file = "/nonexistent/dir/out.log";
  EXPECT_THAT(ChildProcess::Spawn({"/bin/true"}, options).status(),
              StatusIs(absl::StatusCode::kInternal, "/nonexistent/dir/out.log"));
}

TEST(ChildProcessTest, WaitTimesOutThenKillEndsIt) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn({"/bin/sleep", "600"});
  ASSERT_THAT(child, IsOk());
  EXPECT_THAT((*child)->Wait(absl::Milliseconds(1)).status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded, "still running"));
  EXPECT_TRUE((*child)->Running());
  (*child)->Kill(SIGTERM);
  absl::StatusOr<int> status = (*child)->Wait(absl::Seconds(30));
  ASSERT_THAT(status, IsOk());
  EXPECT_THAT(DescribeWaitStatus(*status), HasSubstr("killed by signal 15"));
}

TEST(ChildProcessTest, ANewSessionIsKilledWithWhatItStarted) {
  TempDir dir;
  const std::string pid_file = dir.path() + "/grandchild.pid";
  SpawnOptions options;
  options.new_session = true;
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn({"/bin/sh", "-c",
                           "sleep 600 & echo $! > " + pid_file + ".tmp; mv " + pid_file + ".tmp " +
                               pid_file + "; wait"},
                          options);
  ASSERT_THAT(child, IsOk());
  EXPECT_EQ(getpgid((*child)->pid()), (*child)->pid());
  // Bounded poll: the shell writes the pid file once the grandchild runs.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (ReadFile(pid_file).empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const pid_t grandchild = std::stoi(ReadFile(pid_file));
  (*child)->Kill(SIGKILL);
  ASSERT_THAT((*child)->Wait(absl::Seconds(30)), IsOk());
  // The grandchild is not ours to reap; it ends as a zombie of init or gone.
  bool gone = false;
  while (!gone && absl::Now() < deadline) {
    std::string stat = ReadFile("/proc/" + std::to_string(grandchild) + "/stat");
    gone = stat.empty() || stat.find(") Z") != std::string::npos;
    if (!gone) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(gone);
}

TEST(ChildProcessTest, AReleasedChildIsLeftRunning) {
  pid_t pid = 0;
  {
    absl::StatusOr<std::unique_ptr<ChildProcess>> child =
        ChildProcess::Spawn({"/bin/sleep", "600"});
    ASSERT_THAT(child, IsOk());
    pid = (*child)->Release();
    EXPECT_FALSE((*child)->Running());
    EXPECT_THAT((*child)->Wait(absl::ZeroDuration()).status(),
                StatusIs(absl::StatusCode::kFailedPrecondition, "released"));
  }
  EXPECT_EQ(kill(pid, 0), 0);
  EXPECT_FALSE(ReapIfExited(pid).has_value());
  SignalProcessOrGroup(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
}

}  // namespace
}  // namespace trustfabric::process
