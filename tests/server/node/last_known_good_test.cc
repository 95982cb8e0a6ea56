// The last-known-good file: round trip, the durable write path (observed
// through a wrapped fsync), and refusal of every corruption.
#include "server/node/last_known_good.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/trust/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/status/fsync_recorder.h"
#include "tests/server/node/watch_messages.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::testing {
namespace {

class LastKnownGoodTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_dir_ = absl::StrCat(std::filesystem::canonical(dir_.path()).string(), "/state");
    ASSERT_EQ(::mkdir(state_dir_.c_str(), 0700), 0);
    ResetFsyncs();
  }

  static v1::TrustSnapshot State(uint64_t revision) { return ContosoStateAt(revision); }

  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(state_dir_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  TempDir dir_;
  std::string state_dir_;
};

TEST_F(LastKnownGoodTest, RoundTripKeepsSnapshotAndConfirmationTime) {
  node::LastKnownGoodFile lkg(state_dir_);
  EXPECT_EQ(lkg.path(), absl::StrCat(state_dir_, "/trust_snapshot.lkg"));
  const absl::Time confirmed = absl::FromUnixNanos(1700000000123456789);
  ASSERT_THAT(lkg.Save(State(7), confirmed), IsOk());

  absl::StatusOr<node::LastKnownGood> loaded = lkg.Load();
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->snapshot.SerializeAsString(), State(7).SerializeAsString());
  EXPECT_EQ(loaded->confirmed_at, confirmed);

  // Replacing keeps one file.
  ASSERT_THAT(lkg.Save(State(8), confirmed + absl::Seconds(1)), IsOk());
  EXPECT_EQ(lkg.Load()->snapshot.revision(), 8u);
  EXPECT_THAT(Files(), ElementsAre("trust_snapshot.lkg"));
  struct stat st;
  ASSERT_EQ(::stat(lkg.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(LastKnownGoodTest, HeaderIsReadableAndCarriesLengthAndChecksum) {
  const std::string serialized = State(42).SerializeAsString();
  const std::string contents =
      node::EncodeLastKnownGood(serialized, 42, absl::FromUnixSeconds(1735725600));
  EXPECT_THAT(contents, StartsWith(absl::StrCat("trustfabric-last-known-good v1\n"
                                                "revision 42\n"
                                                "confirmed-at 2025-01-01T10:00:00+00:00\n"
                                                "length ",
                                                serialized.size(), "\nsha256 ")));
  EXPECT_TRUE(absl::EndsWith(contents, absl::StrCat("\n\n", serialized)));
}

TEST_F(LastKnownGoodTest, MissingFileIsNotFound) {
  EXPECT_THAT(node::LastKnownGoodFile(state_dir_).Load(),
              StatusIs(absl::StatusCode::kNotFound, "no such file"));
}

TEST_F(LastKnownGoodTest, SaveSyncsTheFileBeforeTheRenameThenTheDirectory) {
  node::LastKnownGoodFile lkg(state_dir_);
  ASSERT_THAT(lkg.Save(State(3), absl::Now()), IsOk());
  const std::vector<std::string> paths = FsyncedPaths();
  // The data is synced under its temporary name (so before the rename),
  // then the directory that now names it.
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_THAT(paths[0], StartsWith(absl::StrCat(lkg.path(), ".tmp-")));
  EXPECT_EQ(paths[1], state_dir_);
  EXPECT_THAT(Files(), ElementsAre("trust_snapshot.lkg"));
}

TEST_F(LastKnownGoodTest, FailedFsyncKeepsThePreviousFileAndLeavesNoTemporary) {
  node::LastKnownGoodFile lkg(state_dir_);
  ASSERT_THAT(lkg.Save(State(3), absl::Now()), IsOk());
  FailFsyncsWith(EIO);
  absl::Status saved = lkg.Save(State(4), absl::Now());
  EXPECT_FALSE(saved.ok());
  EXPECT_THAT(saved.message(), HasSubstr("last-known-good: cannot fsync"));
  EXPECT_THAT(saved.message(), HasSubstr(".tmp-"));
  EXPECT_EQ(lkg.Load()->snapshot.revision(), 3u);
  EXPECT_THAT(Files(), ElementsAre("trust_snapshot.lkg"));
}

TEST_F(LastKnownGoodTest, FailedRenameLeavesNoTemporary) {
  node::LastKnownGoodFile lkg(state_dir_);
  // A non-empty directory where the file should be: rename(2) fails.
  ASSERT_EQ(::mkdir(lkg.path().c_str(), 0700), 0);
  dir_.Write("state/trust_snapshot.lkg/occupied", "x");
  absl::Status saved = lkg.Save(State(3), absl::Now());
  EXPECT_FALSE(saved.ok());
  EXPECT_THAT(saved.message(), HasSubstr("last-known-good: cannot rename onto"));
  EXPECT_THAT(Files(), ElementsAre("trust_snapshot.lkg"));
  EXPECT_THAT(lkg.Load(), StatusIs(absl::StatusCode::kDataLoss, "not a regular file"));
}

TEST_F(LastKnownGoodTest, MissingDirectoryIsReported) {
  node::LastKnownGoodFile lkg(absl::StrCat(state_dir_, "/absent"));
  EXPECT_THAT(lkg.Save(State(3), absl::Now()),
              StatusIs(absl::StatusCode::kNotFound, "last-known-good: cannot create"));
}

TEST_F(LastKnownGoodTest, TemporariesOfACrashedWriterAreRemoved) {
  dir_.Write("state/trust_snapshot.lkg.tmp-AbC123", "half a snapshot");
  node::LastKnownGoodFile lkg(state_dir_);
  // A crash before the rename leaves the previous state readable.
  EXPECT_THAT(lkg.Load(), StatusIs(absl::StatusCode::kNotFound, "no such file"));
  ASSERT_THAT(lkg.Save(State(3), absl::Now()), IsOk());
  EXPECT_THAT(Files(), ElementsAre("trust_snapshot.lkg"));
}

TEST_F(LastKnownGoodTest, EveryFlippedBitIsRefused) {
  const std::string contents = node::EncodeLastKnownGood(State(9).SerializeAsString(), 9,
                                                         absl::FromUnixNanos(1700000000123456789));
  ASSERT_THAT(node::DecodeLastKnownGood(contents), IsOk());
  int checksum_mismatches = 0;
  for (size_t i = 0; i < contents.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = contents;
      flipped[i] ^= static_cast<char>(1 << bit);
      absl::StatusOr<node::LastKnownGood> decoded = node::DecodeLastKnownGood(flipped);
      ASSERT_THAT(decoded, StatusIs(absl::StatusCode::kDataLoss, "the file is corrupt"))
          << "byte " << i << " bit " << bit;
      if (absl::StrContains(decoded.status().message(), "checksum mismatch")) {
        ++checksum_mismatches;
      }
    }
  }
  // Most flips land in the snapshot, where only the checksum can tell.
  EXPECT_GT(checksum_mismatches, static_cast<int>(contents.size()));
}

TEST_F(LastKnownGoodTest, EveryTruncationIsRefused) {
  const std::string serialized = State(9).SerializeAsString();
  const std::string contents = node::EncodeLastKnownGood(serialized, 9, absl::Now());
  const size_t header = contents.size() - serialized.size();
  for (size_t n = 0; n < contents.size(); ++n) {
    absl::StatusOr<node::LastKnownGood> decoded = node::DecodeLastKnownGood(contents.substr(0, n));
    ASSERT_THAT(decoded, StatusIs(absl::StatusCode::kDataLoss, "the file is corrupt"))
        << "length " << n;
    if (n >= header) {
      EXPECT_THAT(decoded.status().message(),
                  HasSubstr(absl::StrCat("truncated: the header announces ", serialized.size(),
                                         " snapshot bytes but the file holds ", n - header)));
    }
  }
}

TEST_F(LastKnownGoodTest, TruncatedFileOnDiskIsRefusedWithItsPath) {
  node::LastKnownGoodFile lkg(state_dir_);
  ASSERT_THAT(lkg.Save(State(3), absl::Now()), IsOk());
  const std::string contents = ReadFile(lkg.path());
  dir_.Write("state/trust_snapshot.lkg", contents.substr(0, contents.size() / 2), 0600);
  absl::StatusOr<node::LastKnownGood> loaded = lkg.Load();
  EXPECT_THAT(loaded, StatusIs(absl::StatusCode::kDataLoss,
                               absl::StrCat("last-known-good ", lkg.path(), ": truncated")));
}

TEST_F(LastKnownGoodTest, TrailingBytesAndOversizedLengthsAreRefused) {
  const std::string serialized = State(9).SerializeAsString();
  const std::string contents = node::EncodeLastKnownGood(serialized, 9, absl::Now());
  EXPECT_THAT(node::DecodeLastKnownGood(contents + "xyz"),
              StatusIs(absl::StatusCode::kDataLoss, "3 unexpected bytes after the"));

  const std::string huge = absl::StrCat(
      "trustfabric-last-known-good v1\nrevision 9\nconfirmed-at 2025-01-01T10:00:00+00:00\n"
      "length ",
      trust::kMaxSnapshotBytes + 1, "\nsha256 ", std::string(64, 'a'), "\n\n");
  EXPECT_THAT(node::DecodeLastKnownGood(huge),
              StatusIs(absl::StatusCode::kDataLoss, "exceeds the limit"));
}

TEST_F(LastKnownGoodTest, RevisionMustMatchTheSnapshot) {
  const std::string contents =
      node::EncodeLastKnownGood(State(9).SerializeAsString(), 10, absl::Now());
  EXPECT_THAT(node::DecodeLastKnownGood(contents),
              StatusIs(absl::StatusCode::kDataLoss,
                       "the snapshot's revision 9 differs from the header's 10"));
}

}  // namespace
}  // namespace trustfabric::testing
