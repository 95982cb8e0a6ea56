// Child processes and free ports for tests that run real binaries.
//
//   int port = testing::FreePort();
//   absl::StatusOr<std::unique_ptr<testing::Subprocess>> p = testing::Subprocess::Start(
//       {binary, "--config", config_path}, dir.path() + "/tfcontrol.log");
//   ...
//   (*p)->Kill(SIGKILL);
//   absl::StatusOr<int> status = (*p)->Wait(absl::Seconds(10));  // raw wait status
//
// A Subprocess still running at destruction is killed (SIGKILL) and
// reaped, so a failing test leaves no process behind.
#ifndef TRUSTFABRIC_TESTS_TESTING_PROCESS_H_
#define TRUSTFABRIC_TESTS_TESTING_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace trustfabric::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and
// released). Another process may take it before it is used; tests that can
// pass port 0 to the server instead should.
int FreePort();

class Subprocess {
 public:
  // Starts argv[0] (a path) with `argv`; stdout and stderr are appended to
  // `log_file` (or inherited when empty). The child is killed when the
  // thread that started it exits (PR_SET_PDEATHSIG), so start it from the
  // test's own thread.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                           const std::string& log_file);
  ~Subprocess();

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `signal` (no-op once reaped).
  void Kill(int signal);
  // Waits up to `timeout` for the child to exit and returns its raw wait
  // status (WIFEXITED/WEXITSTATUS, WIFSIGNALED/WTERMSIG);
  // DEADLINE_EXCEEDED if it is still running.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  bool Running();

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}

  pid_t pid_;
  bool reaped_ = false;
  int status_ = 0;
};

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_TESTING_PROCESS_H_
