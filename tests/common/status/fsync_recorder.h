// Observes and fails the fsync(2) calls of the code under test, for the
// tests of durable writes (atomic_file_test, last_known_good_test). A test
// binary linking this must be linked with -Wl,--wrap=fsync, which routes
// every fsync call into the recorder.
//
//   testing::ResetFsyncs();
//   ASSERT_THAT(WriteFileAtomically(path, "x"), IsOk());
//   EXPECT_THAT(testing::FsyncedPaths(), ElementsAre(StartsWith(path + ".tmp-"), dir));
//   testing::FailFsyncsWith(EIO);  // later fsyncs fail with EIO, syncing nothing
#ifndef TRUSTFABRIC_TESTS_COMMON_STATUS_FSYNC_RECORDER_H_
#define TRUSTFABRIC_TESTS_COMMON_STATUS_FSYNC_RECORDER_H_

#include <string>
#include <vector>

namespace trustfabric::testing {

// The paths of the descriptors fsync was called on since the last
// ResetFsyncs, in order (failed calls included).
std::vector<std::string> FsyncedPaths();
// From now on fsync fails with `error` (0: succeeds again).
void FailFsyncsWith(int error);
// Forgets the paths and lets fsync succeed.
void ResetFsyncs();

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_COMMON_STATUS_FSYNC_RECORDER_H_
