// WriteFileAtomically, RemoveStaleTemporaries and ReadFileLimited: contents
// and mode, the durable write order (observed through a wrapped fsync), no
// temporary file left on any error, errno-derived codes, and the read bound.
#include "common/status/atomic_file.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace {

// What the wrapped fsync saw, and whether it should fail.
ABSL_CONST_INIT absl::Mutex fsync_mu(absl::kConstInit);
std::vector<std::string> fsynced_paths ABSL_GUARDED_BY(fsync_mu);
int fsync_failure ABSL_GUARDED_BY(fsync_mu) = 0;

std::string PathOfFd(int fd) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(absl::StrCat("/proc/self/fd/", fd).c_str(), buf, sizeof(buf) - 1);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

}  // namespace

// Linked with -Wl,--wrap=fsync: every fsync of the code under test lands here.
extern "C" int __wrap_fsync(int fd) {
  {
    absl::MutexLock lock(&fsync_mu);
    fsynced_paths.push_back(PathOfFd(fd));
    if (fsync_failure != 0) {
      errno = fsync_failure;
      return -1;
    }
  }
  return static_cast<int>(::syscall(SYS_fsync, fd));
}

namespace trustfabric {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;
using testing::IsOk;
using testing::StatusIs;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_path_ = std::filesystem::canonical(dir_.path()).string();
    path_ = absl::StrCat(dir_path_, "/state.json");
    absl::MutexLock lock(&fsync_mu);
    fsynced_paths.clear();
    fsync_failure = 0;
  }

  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_path_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  testing::TempDir dir_;
  std::string dir_path_;
  std::string path_;
};

TEST_F(AtomicFileTest, WritesContentsWithExactlyTheModeAndReplaces) {
  ASSERT_THAT(WriteFileAtomically(path_, "first", 0640), IsOk());
  EXPECT_EQ(*ReadFileLimited(path_, 100), "first");
  ASSERT_THAT(WriteFileAtomically(path_, "second", 0600), IsOk());
  EXPECT_EQ(*ReadFileLimited(path_, 100), "second");
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(Files(), ElementsAre("state.json"));
}

TEST_F(AtomicFileTest, SyncsTheFileBeforeTheRenameThenTheDirectory) {
  ASSERT_THAT(WriteFileAtomically(path_, "contents"), IsOk());
  std::vector<std::string> paths;
  {
    absl::MutexLock lock(&fsync_mu);
    paths = fsynced_paths;
  }
  // The data is synced under its temporary name (so before the rename),
  // then the directory that now names it.
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_THAT(paths[0], StartsWith(absl::StrCat(path_, ".tmp-")));
  EXPECT_EQ(paths[1], dir_path_);
}

TEST_F(AtomicFileTest, FailedFsyncKeepsThePreviousFileAndLeavesNoTemporary) {
  ASSERT_THAT(WriteFileAtomically(path_, "old"), IsOk());
  {
    absl::MutexLock lock(&fsync_mu);
    fsync_failure = ENOSPC;
  }
  absl::Status written = WriteFileAtomically(path_, "new");
  EXPECT_THAT(written, StatusIs(absl::StatusCode::kResourceExhausted,
                                absl::StrCat("cannot fsync ", path_, ".tmp-")));
  {
    absl::MutexLock lock(&fsync_mu);
    fsync_failure = 0;
  }
  EXPECT_EQ(*ReadFileLimited(path_, 100), "old");
  EXPECT_THAT(Files(), ElementsAre("state.json"));
}

TEST_F(AtomicFileTest, FailedRenameLeavesNoTemporary) {
  // A non-empty directory where the file should be: rename(2) fails.
  ASSERT_EQ(::mkdir(path_.c_str(), 0700), 0);
  dir_.Write("state.json/occupied", "x");
  EXPECT_THAT(WriteFileAtomically(path_, "new"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat("cannot rename onto ", path_)));
  EXPECT_THAT(Files(), ElementsAre("state.json"));
}

TEST_F(AtomicFileTest, MissingDirectoryIsNotFound) {
  EXPECT_THAT(WriteFileAtomically(absl::StrCat(dir_path_, "/absent/state.json"), "x"),
              StatusIs(absl::StatusCode::kNotFound, "cannot create"));
}

TEST_F(AtomicFileTest, StaleTemporariesOfThePathAreRemovedAndNothingElse) {
  dir_.Write("state.json.tmp-AbC123", "half a file");
  dir_.Write("state.json.tmp-XyZ789", "another half");
  dir_.Write("other.json.tmp-AbC123", "someone else's");
  dir_.Write("state.json.bak", "kept");
  RemoveStaleTemporaries(path_);
  EXPECT_THAT(Files(), UnorderedElementsAre("other.json.tmp-AbC123", "state.json.bak"));
  RemoveStaleTemporaries(absl::StrCat(dir_path_, "/absent/state.json"));  // no directory: no-op
}

TEST_F(AtomicFileTest, ReadIsBoundedAndNamesThePath) {
  EXPECT_THAT(ReadFileLimited(path_, 100),
              StatusIs(absl::StatusCode::kNotFound, absl::StrCat(path_, ": no such file")));
  ASSERT_THAT(WriteFileAtomically(path_, std::string(100, 'x')), IsOk());
  EXPECT_EQ(ReadFileLimited(path_, 100)->size(), 100u);
  EXPECT_THAT(ReadFileLimited(path_, 99),
              StatusIs(absl::StatusCode::kInvalidArgument, "larger than 99 bytes"));
  EXPECT_THAT(ReadFileLimited(dir_path_, 100), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                        absl::StrCat("cannot read ", dir_path_)));
}

}  // namespace
}  // namespace trustfabric
