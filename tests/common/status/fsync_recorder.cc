// The fsync recorder; see fsync_recorder.h.
#include "tests/common/status/fsync_recorder.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace trustfabric::testing {
namespace {

ABSL_CONST_INIT absl::Mutex fsync_mu(absl::kConstInit);
std::vector<std::string>* fsynced_paths ABSL_GUARDED_BY(fsync_mu) = nullptr;
int fsync_failure ABSL_GUARDED_BY(fsync_mu) = 0;

std::string PathOfFd(int fd) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(absl::StrCat("/proc/self/fd/", fd).c_str(), buf, sizeof(buf) - 1);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

}  // namespace

std::vector<std::string> FsyncedPaths() {
  absl::MutexLock lock(&fsync_mu);
  return fsynced_paths == nullptr ? std::vector<std::string>() : *fsynced_paths;
}

void FailFsyncsWith(int error) {
  absl::MutexLock lock(&fsync_mu);
  fsync_failure = error;
}

void ResetFsyncs() {
  absl::MutexLock lock(&fsync_mu);
  if (fsynced_paths != nullptr) fsynced_paths->clear();
  fsync_failure = 0;
}

// Called for every fsync: records the path, then fails or syncs.
extern "C" int __wrap_fsync(int fd) {
  {
    absl::MutexLock lock(&fsync_mu);
    if (fsynced_paths == nullptr) fsynced_paths = new std::vector<std::string>();
    fsynced_paths->push_back(PathOfFd(fd));
    if (fsync_failure != 0) {
      errno = fsync_failure;
      return -1;
    }
  }
  return static_cast<int>(::syscall(SYS_fsync, fd));
}

}  // namespace trustfabric::testing
