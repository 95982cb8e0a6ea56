// Thread states from /proc; see thread_state.h.
#include "tests/testing/thread_state.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"

namespace trustfabric::testing {

pid_t CurrentThreadId() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

bool IsBlocked(pid_t tid) {
  if (tid <= 0) return false;
  std::ifstream in(absl::StrCat("/proc/self/task/", tid, "/stat"));
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // "tid (comm) S ...": comm may contain ')' itself, so take the last one.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  const char state = stat[close + 2];
  return state == 'S' || state == 'D';
}

}  // namespace trustfabric::testing
