#include "client/devcluster/cluster_runner.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/devcluster/cluster_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::devcluster {
namespace {

namespace fs = std::filesystem;

bool Gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// Stand-ins for tfcontrol and tfnode: shell scripts that log their
// arguments and then behave as asked.
constexpr char kServes[] = "#!/bin/bash\necho \"fake $*\"\nwhile :; do sleep 0.1; done\n";
constexpr char kIgnoresTerm[] =
    "#!/bin/bash\ntrap '' TERM\necho \"stubborn $*\"\nwhile :; do sleep 0.1; done\n";
constexpr char kExits[] = "#!/bin/bash\necho \"cannot serve: $*\" >&2\nexit 3\n";

class ClusterRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClusterConfigOptions options;
    options.dir = dir_.path() + "/cluster";
    options.subnet = 199;
    absl::StatusOr<ClusterLayout> layout = WriteClusterConfig(options);
    ASSERT_TRUE(layout.ok()) << layout.status();
    layout_ = *std::move(layout);
  }
  void TearDown() override {
    // Whatever a failed test left running.
    std::ostringstream ignored;
    StopCluster(layout_, absl::Milliseconds(200), ignored).IgnoreError();
  }

  std::string Fake(const std::string& name, const char* script) {
    return dir_.Write(absl::StrCat("bin/", name), script, 0755);
  }
  const ClusterService& Service(const std::string& domain, const std::string& name) {
    return *FindService(layout_, domain, name);
  }
  // StartCluster with the fake binaries and a health `timeout`: expects it
  // to fail with `code` and a message holding `message`, naming a control
  // plane as the service that did not come up; returns that service
  // (nullptr: none was named).
  const ClusterService* StartFailsAtAControlPlane(absl::Duration timeout, absl::StatusCode code,
                                                  const std::string& message) {
    StartOptions options;
    options.bin_dir = dir_.path() + "/bin";
    options.timeout = timeout;
    std::ostringstream progress;
    const ClusterService* failed = nullptr;
    EXPECT_THAT(StartCluster(layout_, options, progress, &failed), StatusIs(code, message));
    EXPECT_NE(failed, nullptr);
    if (failed != nullptr) {
      EXPECT_EQ(failed->role(), "control");
    }
    return failed;
  }

  TempDir dir_;
  ClusterLayout layout_;
};

TEST_F(ClusterRunnerTest, FindsBinariesUnderBinDir) {
  const std::string control = dir_.Write("build/server/control/tfcontrol", kServes, 0755);
  const std::string node = dir_.Write("build/server/tfnode", kServes, 0755);
  dir_.Write("build/tfnode", "not executable", 0644);
  absl::StatusOr<std::string> found = FindServiceBinary("tfcontrol", dir_.path() + "/build");
  ASSERT_THAT(found.status(), IsOk());
  EXPECT_EQ(*found, control);
  found = FindServiceBinary("tfnode", dir_.path() + "/build");
  ASSERT_THAT(found.status(), IsOk());
  EXPECT_EQ(*found, node);
  EXPECT_THAT(FindServiceBinary("tfnode", dir_.path() + "/nowhere").status(),
              StatusIs(absl::StatusCode::kNotFound, "nowhere/server/tfnode"));
}

TEST_F(ClusterRunnerTest, StartsDetachedAndStopsByPidFile) {
  const ClusterService& fe = Service("contoso.test", "fe1");
  absl::StatusOr<pid_t> pid = StartService(fe, Fake("tfnode", kServes));
  ASSERT_THAT(pid.status(), IsOk());
  EXPECT_EQ(ReadFile(fe.pid_file()), absl::StrCat(*pid, "\n"));
  EXPECT_EQ(::getpgid(*pid), *pid);  // its own session and process group
  EXPECT_EQ(::getsid(*pid), *pid);
  EXPECT_EQ(RunningPid(fe), *pid);
  ASSERT_EQ(RunningServices(layout_).size(), 1u);
  EXPECT_EQ(RunningServices(layout_).front(), &fe);
  EXPECT_EQ(RunningPid(Service("contoso.test", "edge1")), std::nullopt);

  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (ReadFile(fe.log()).find("fake --config") == std::string::npos && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_THAT(ReadFile(fe.log()), HasSubstr("fake --config " + fe.config()));
  EXPECT_THAT(ReadFile(fe.log()), HasSubstr("=== tfctl cluster up"));

  std::ostringstream progress;
  ASSERT_THAT(StopCluster(layout_, absl::Seconds(5), progress), IsOk());
  EXPECT_THAT(progress.str(), HasSubstr("contoso.test-fe1: stopped"));
  EXPECT_TRUE(Gone(*pid));
  EXPECT_FALSE(fs::exists(fe.pid_file()));
  EXPECT_EQ(RunningPid(fe), std::nullopt);

  std::ostringstream again;
  ASSERT_THAT(StopCluster(layout_, absl::Seconds(5), again), IsOk());
  EXPECT_THAT(again.str(), HasSubstr("no service"));
}

TEST_F(ClusterRunnerTest, KillsWhatIgnoresSigterm) {
  const ClusterService& edge = Service("fabrikam.test", "edge1");
  absl::StatusOr<pid_t> pid = StartService(edge, Fake("tfnode", kIgnoresTerm));
  ASSERT_THAT(pid.status(), IsOk());
  // Let the script install its trap before it is signalled.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (ReadFile(edge.log()).find("stubborn") == std::string::npos && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  std::ostringstream progress;
  ASSERT_THAT(StopCluster(layout_, absl::Milliseconds(300), progress), IsOk());
  EXPECT_THAT(progress.str(), HasSubstr("fabrikam.test-edge1: still running after"));
  EXPECT_THAT(progress.str(), HasSubstr("killed"));
  EXPECT_TRUE(Gone(*pid));
}

TEST_F(ClusterRunnerTest, StalePidFilesAreIgnored) {
  const ClusterService& registrar = Service("contoso.test", "registrar1");
  // This test process is alive but does not run the registrar's config.
  dir_.Write("cluster/pids/contoso.test-registrar1.pid", absl::StrCat(::getpid(), "\n"));
  EXPECT_EQ(RunningPid(registrar), std::nullopt);
  dir_.Write("cluster/pids/contoso.test-registrar1.pid", "garbage");
  EXPECT_EQ(RunningPid(registrar), std::nullopt);
  std::ostringstream progress;
  ASSERT_THAT(StopCluster(layout_, absl::Seconds(1), progress), IsOk());
  EXPECT_FALSE(fs::exists(registrar.pid_file()));
}

TEST_F(ClusterRunnerTest, StartReportsAServiceThatExits) {
  Fake("tfcontrol", kExits);
  Fake("tfnode", kServes);
  const ClusterService* failed = StartFailsAtAControlPlane(
      absl::Seconds(20), absl::StatusCode::kFailedPrecondition, "exited with status 3");
  ASSERT_NE(failed, nullptr);
  EXPECT_THAT(LogTail(failed->log(), 5), HasSubstr("cannot serve: --config"));
  // The nodes were not started: their control planes never came up.
  for (const ClusterService& svc : layout_.services()) {
    if (svc.role() != "control") {
      EXPECT_EQ(RunningPid(svc), std::nullopt) << svc.id();
    }
  }
}

TEST_F(ClusterRunnerTest, StartNeedsBothBinaries) {
  Fake("tfcontrol", kServes);
  StartOptions options;
  options.bin_dir = dir_.path() + "/bin";
  std::ostringstream progress;
  EXPECT_THAT(StartCluster(layout_, options, progress, nullptr),
              StatusIs(absl::StatusCode::kNotFound, "tfnode: not found"));
  // Nothing was started.
  EXPECT_TRUE(RunningServices(layout_).empty());
}

TEST_F(ClusterRunnerTest, StartTimesOutOnAServiceThatNeverAnswers) {
  Fake("tfcontrol", kServes);
  Fake("tfnode", kServes);
  StartFailsAtAControlPlane(absl::Seconds(1), absl::StatusCode::kDeadlineExceeded,
                            "is not healthy after");
  // Both control planes were started and still run until stopped.
  EXPECT_TRUE(RunningPid(Service("contoso.test", "control1")).has_value());
  EXPECT_TRUE(RunningPid(Service("fabrikam.test", "control1")).has_value());
}

TEST(ClusterLogTail, KeepsTheLastLines) {
  TempDir dir;
  std::string text;
  for (int i = 1; i <= 50; ++i) absl::StrAppend(&text, "line ", i, "\n");
  const std::string path = dir.Write("a.log", text);
  EXPECT_EQ(LogTail(path, 3), "line 48\nline 49\nline 50\n");
  EXPECT_EQ(LogTail(dir.Write("b.log", "only\n"), 3), "only\n");
  EXPECT_EQ(LogTail(dir.Write("c.log", "no newline"), 1), "no newline\n");
  EXPECT_EQ(LogTail(dir.path() + "/missing.log", 3), "");
}

}  // namespace
}  // namespace trustfabric::devcluster
