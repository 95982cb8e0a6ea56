// Atomic file replacement and bounded reads; see atomic_file.h.
#include "common/status/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace trustfabric {
namespace {

constexpr absl::string_view kTempInfix = ".tmp-";

absl::Status ErrnoError(int error, absl::string_view what, const std::string& path) {
  return absl::ErrnoToStatus(error, absl::StrCat("cannot ", what, " ", path));
}

// Closes the descriptor it owns.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  // Closes now, returning what close(2) returned: on some file systems the
  // first sign that written data did not reach the disk.
  int Close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd);
  }

 private:
  int fd_;
};

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError(errno, "open directory", dir);
  if (::fsync(fd.get()) != 0) return ErrnoError(errno, "fsync directory", dir);
  return absl::OkStatus();
}

// Writes, syncs and closes the temporary file `temp` (open as `fd`), then
// renames it over `path`.
absl::Status ReplaceWith(UniqueFd& fd, const std::string& temp, const std::string& path,
                         absl::string_view contents, int mode) {
  // mkostemp creates 0600; set exactly the mode asked for.
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) return ErrnoError(errno, "chmod", temp);
  if (absl::Status written = WriteAll(fd.get(), contents, temp); !written.ok()) return written;
  if (::fsync(fd.get()) != 0) return ErrnoError(errno, "fsync", temp);
  if (fd.Close() != 0) return ErrnoError(errno, "close", temp);
  if (::rename(temp.c_str(), path.c_str()) != 0) return ErrnoError(errno, "rename onto", path);
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, int mode) {
  // A unique temporary name: concurrent writers of the same path (threads
  // or processes) never share one.
  std::string temp = absl::StrCat(path, kTempInfix, "XXXXXX");
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError(errno, "create", temp);
  if (absl::Status replaced = ReplaceWith(fd, temp, path, contents, mode); !replaced.ok()) {
    ::unlink(temp.c_str());
    return replaced;
  }
  // Without this the rename itself may not survive a power loss.
  return SyncDirectory(DirOf(path));
}

void RemoveStaleTemporaries(const std::string& path) {
  const std::string dir = DirOf(path);
  const size_t slash = path.rfind('/');
  const std::string prefix =
      absl::StrCat(slash == std::string::npos ? path : path.substr(slash + 1), kTempInfix);
  DIR* stream = ::opendir(dir.c_str());
  if (stream == nullptr) return;
  std::vector<std::string> stale;
  while (const struct dirent* entry = ::readdir(stream)) {
    if (absl::StartsWith(entry->d_name, prefix)) stale.push_back(entry->d_name);
  }
  ::closedir(stream);
  for (const std::string& name : stale) ::unlink(absl::StrCat(dir, "/", name).c_str());
}

absl::StatusOr<std::string> ReadFileLimited(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return ErrnoError(errno, "open", path);
  }
  std::string out;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": larger than ", max_bytes, " bytes"));
    }
  }
  return out;
}

}  // namespace trustfabric
