// WriteFileAtomically, RemoveStaleTemporaries and ReadFileLimited: contents
// and mode, the durable write order (observed through a wrapped fsync), no
// temporary file left on any error, errno-derived codes, and the read bound.
#include "common/status/atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/status/fsync_recorder.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric {
namespace {

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_path_ = std::filesystem::canonical(dir_.path()).string();
    path_ = absl::StrCat(dir_path_, "/state.json");
    testing::ResetFsyncs();
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
  const std::vector<std::string> paths = testing::FsyncedPaths();
  // The data is synced under its temporary name (so before the rename),
  // then the directory that now names it.
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_THAT(paths[0], StartsWith(absl::StrCat(path_, ".tmp-")));
  EXPECT_EQ(paths[1], dir_path_);
}

TEST_F(AtomicFileTest, FailedFsyncKeepsThePreviousFileAndLeavesNoTemporary) {
  ASSERT_THAT(WriteFileAtomically(path_, "old"), IsOk());
  testing::FailFsyncsWith(ENOSPC);
  absl::Status written = WriteFileAtomically(path_, "new");
  EXPECT_THAT(written, StatusIs(absl::StatusCode::kResourceExhausted,
                                absl::StrCat("cannot fsync ", path_, ".tmp-")));
  testing::FailFsyncsWith(0);
  EXPECT_EQ(*ReadFileLimited(path_, 100), "old");
  EXPECT_THAT(Files(), ElementsAre("state.json"));
}

TEST_F(AtomicFileTest, FailedRenameLeavesNoTemporary) {
  // A non-empty directory where the file should be: rename(2) fails.
  ASSERT_EQ(::mkdir(path_.c_str(), 0700), 0);
  dir_.Write("state.json/occupied", "x");
  EXPECT_THAT(
      WriteFileAtomically(path_, "new"),
      StatusIs(absl::StatusCode::kFailedPrecondition, absl::StrCat("cannot rename onto ", path_)));
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
