// Child processes: start a program with its output, session and signals
// set up, signal it (or its process group), wait for it with a deadline.
// Shared by the tests that run real binaries (tests/testing/process.h), the
// local cluster's runner (client/devcluster/cluster_runner.h) and the
// benchmarks.
//
//   process::SpawnOptions options;
//   options.output_file = dir + "/tfcontrol.log";  // stdout and stderr, appended
//   options.die_with_parent = true;                // a test leaves nothing behind
//   TF_ASSIGN_OR_RETURN(std::unique_ptr<process::ChildProcess> child,
//                       process::ChildProcess::Spawn({binary, "--config", path}, options));
//   child->Kill(SIGTERM);
//   TF_ASSIGN_OR_RETURN(int status, child->Wait(absl::Seconds(10)));  // raw wait status
//   std::cout << process::DescribeWaitStatus(status);  // "exited with status 0"
//
// A ChildProcess still running at destruction is killed (SIGKILL, to its
// process group when it leads one) and reaped, unless it was released: a
// service meant to outlive the process that started it (`tfctl cluster up`)
// is released once its pid is recorded.
#ifndef TRUSTFABRIC_COMMON_PROCESS_CHILD_PROCESS_H_
#define TRUSTFABRIC_COMMON_PROCESS_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace trustfabric::process {

struct SpawnOptions {
  // stdout and stderr are appended to this file (created 0644); empty: both
  // are inherited.
  std::string output_file;
  // Without output_file: the child's stdout goes to our stderr, so our own
  // stdout carries only what we print.
  bool stdout_to_stderr = false;
  // stdin from /dev/null instead of ours.
  bool null_stdin = false;
  // Its own session and process group (setsid): no signals from our
  // terminal, and Kill reaches what it starts as well.
  bool new_session = false;
  // SIGKILL when the thread that spawned it exits (PR_SET_PDEATHSIG), so
  // spawn it from a thread that lives as long as it should.
  bool die_with_parent = false;
};

class ChildProcess {
 public:
  // Starts argv[0] (a path, not searched in PATH) with `argv`. The child
  // starts with no signal blocked and SIGTERM, SIGINT, SIGHUP, SIGPIPE and
  // SIGQUIT at their default action, whatever this process blocks or
  // ignores. INVALID_ARGUMENT for an empty argv; INTERNAL naming what failed
  // (the output file, fork, or exec of argv[0], e.g. "exec /bin/x: No such
  // file or directory").
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(const std::vector<std::string>& argv,
                                                             const SpawnOptions& options = {});
  ~ChildProcess();

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Sends `signal` to the child (to its process group when it leads one);
  // a no-op once it was reaped or released.
  void Kill(int signal);

  // False once the child exited (it is then reaped) or was released.
  bool Running();

  // Waits up to `timeout` for the child to exit and returns its raw wait
  // status (WIFEXITED/WEXITSTATUS, WIFSIGNALED/WTERMSIG); DEADLINE_EXCEEDED
  // while it still runs, FAILED_PRECONDITION after Release.
  absl::StatusOr<int> Wait(absl::Duration timeout);

  // Stops owning the child: it is neither killed nor reaped by this object
  // any more. Returns its pid.
  pid_t Release();

 private:
  ChildProcess(pid_t pid, bool group) : pid_(pid), group_(group) {}

  pid_t pid_;
  bool group_;  // leads its own process group
  bool reaped_ = false;
  bool released_ = false;
  int status_ = 0;
};

// The wait status of `pid`, a child of this process, when it has exited
// (reaping it); nullopt while it runs or when it is not our child.
std::optional<int> ReapIfExited(pid_t pid);

// Sends `signal` to the process group `pid` leads, or to `pid` alone when it
// leads none.
void SignalProcessOrGroup(pid_t pid, int signal);

// "exited with status 3", "was killed by signal 9 (Killed)" or "stopped".
std::string DescribeWaitStatus(int wait_status);

}  // namespace trustfabric::process

#endif  // TRUSTFABRIC_COMMON_PROCESS_CHILD_PROCESS_H_
