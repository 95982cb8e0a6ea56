// Child processes; see child_process.h.
#include "common/process/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace trustfabric::process {
namespace {

constexpr absl::Duration kWaitPoll = absl::Milliseconds(10);

absl::Status Errno(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

// Runs in the child between fork and exec: async-signal-safe calls only.
// Reports the errno of what failed on `report` and exits 127.
[[noreturn]] void ExecChild(char* const* argv, const SpawnOptions& options, pid_t parent,
                            int output_fd, int stdin_fd, int report) {
  if (options.die_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have exited before prctl took effect.
    if (getppid() != parent) _exit(127);
  }
  if (options.new_session) setsid();
  if (stdin_fd >= 0) dup2(stdin_fd, STDIN_FILENO);
  if (output_fd >= 0) {
    dup2(output_fd, STDOUT_FILENO);
    dup2(output_fd, STDERR_FILENO);
  } else if (options.stdout_to_stderr) {
    dup2(STDERR_FILENO, STDOUT_FILENO);
  }
  // A test runner or a shell may block or ignore signals; the child must
  // see SIGTERM.
  struct sigaction default_action;
  std::memset(&default_action, 0, sizeof(default_action));
  default_action.sa_handler = SIG_DFL;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT}) {
    sigaction(sig, &default_action, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execv(argv[0], argv);
  const int err = errno;
  (void)!write(report, &err, sizeof(err));
  _exit(127);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("spawn: argv is empty");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  // Everything the child needs is opened here: after fork it may only dup.
  int output_fd = -1;
  int stdin_fd = -1;
  int report[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {output_fd, stdin_fd, report[0], report[1]}) {
      if (fd >= 0) close(fd);
    }
  };
  if (!options.output_file.empty()) {
    output_fd = open(options.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (output_fd < 0) return Errno(absl::StrCat("open ", options.output_file), errno);
  }
  if (options.null_stdin) {
    stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (stdin_fd < 0) {
      const int err = errno;
      close_all();
      return Errno("open /dev/null", err);
    }
  }
  // Closed by a successful exec; carries errno when exec fails.
  if (pipe2(report, O_CLOEXEC) != 0) {
    const int err = errno;
    close_all();
    return Errno("pipe", err);
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close_all();
    return Errno("fork", err);
  }
  if (pid == 0) ExecChild(args.data(), options, parent, output_fd, stdin_fd, report[1]);

  close(report[1]);
  report[1] = -1;
  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(report[0], &exec_errno, sizeof(exec_errno));
  } while (got < 0 && errno == EINTR);
  close_all();
  if (got == static_cast<ssize_t>(sizeof(exec_errno))) {
    waitpid(pid, nullptr, 0);
    return Errno(absl::StrCat("exec ", argv[0]), exec_errno);
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, options.new_session));
}

ChildProcess::~ChildProcess() {
  if (reaped_ || released_) return;
  Kill(SIGKILL);
  waitpid(pid_, &status_, 0);
}

void ChildProcess::Kill(int signal) {
  if (reaped_ || released_) return;
  if (group_) {
    kill(-pid_, signal);
  } else {
    kill(pid_, signal);
  }
}

bool ChildProcess::Running() {
  if (reaped_ || released_) return false;
  if (std::optional<int> status = ReapIfExited(pid_)) {
    status_ = *status;
    reaped_ = true;
  }
  return !reaped_;
}

absl::StatusOr<int> ChildProcess::Wait(absl::Duration timeout) {
  if (released_) {
    return absl::FailedPreconditionError(absl::StrCat("process ", pid_, " was released"));
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (Running()) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(kWaitPoll);
  }
  return status_;
}

pid_t ChildProcess::Release() {
  released_ = true;
  return pid_;
}

std::optional<int> ReapIfExited(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == pid) return status;
  return std::nullopt;
}

void SignalProcessOrGroup(pid_t pid, int signal) {
  if (getpgid(pid) == pid) {
    kill(-pid, signal);
  } else {
    kill(pid, signal);
  }
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return absl::StrCat("exited with status ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    return absl::StrCat("was killed by signal ", WTERMSIG(wait_status), " (",
                        strsignal(WTERMSIG(wait_status)), ")");
  }
  return "stopped";
}

}  // namespace trustfabric::process
