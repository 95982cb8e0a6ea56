// Child processes and free ports for tests that run real binaries.
//
//   int port = testing::FreePort();
//   absl::StatusOr<std::unique_ptr<testing::Subprocess>> p = testing::StartSubprocess(
//       {binary, "--config", config_path}, dir.path() + "/tfcontrol.log");
//   ...
//   (*p)->Kill(SIGKILL);
//   absl::StatusOr<int> status = (*p)->Wait(absl::Seconds(10));  // raw wait status
//
// A Subprocess is a process::ChildProcess (common/process/child_process.h):
// still running at destruction, it is killed (SIGKILL) and reaped, so a
// failing test leaves no process behind.
#ifndef TRUSTFABRIC_TESTS_TESTING_PROCESS_H_
#define TRUSTFABRIC_TESTS_TESTING_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/process/child_process.h"

namespace trustfabric::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and
// released). Another process may take it before it is used; tests that can
// pass port 0 to the server instead should.
int FreePort();

using Subprocess = process::ChildProcess;

// Starts argv[0] (a path) with `argv`; stdout and stderr are appended to
// `log_file` (or inherited when empty). The child is killed when the thread
// that started it exits (PR_SET_PDEATHSIG), so start it from the test's own
// thread. Errors as process::ChildProcess::Spawn.
absl::StatusOr<std::unique_ptr<Subprocess>> StartSubprocess(const std::vector<std::string>& argv,
                                                            const std::string& log_file);

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_TESTING_PROCESS_H_
