// A test suite base whose read-only tests share what one generator wrote
// into a fresh temp dir in SetUpTestSuite: a cluster directory
// (shared_cluster_test.h) or a `tfctl pki init` directory
// (shared_pki_test.h). `Suite` is the deriving fixture, so each suite has its
// own directory and output.
//
//   class PkiTest : public SharedOutputTest<PkiTest, PkiInitResult> {
//    protected:
//     static void SetUpTestSuite() {
//       WriteSharedOutput([](const std::string& dir) {
//         PkiInitOptions options;
//         options.out_dir = dir + "/pki";
//         return RunPkiInit(options);
//       });  // into dir_, as output_
//     }
//   };
#ifndef TRUSTFABRIC_TESTS_CLIENT_DEVCLUSTER_SHARED_OUTPUT_TEST_H_
#define TRUSTFABRIC_TESTS_CLIENT_DEVCLUSTER_SHARED_OUTPUT_TEST_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "tests/testing/test_pki.h"

namespace trustfabric::devcluster {

template <typename Suite, typename Output>
class SharedOutputTest : public ::testing::Test {
 protected:
  // Keeps what write(<fresh temp dir>), an absl::StatusOr<Output>, returns
  // as output_; fails the suite set-up if it is an error.
  template <typename Write>
  static void WriteSharedOutput(Write write) {
    dir_ = std::make_unique<::trustfabric::testing::TempDir>();
    absl::StatusOr<Output> output = write(dir_->path());
    ASSERT_TRUE(output.ok()) << output.status();
    output_ = std::make_unique<Output>(*std::move(output));
  }
  static void TearDownTestSuite() {
    output_.reset();
    dir_.reset();
  }

  static inline std::unique_ptr<::trustfabric::testing::TempDir> dir_;
  static inline std::unique_ptr<Output> output_;
};

}  // namespace trustfabric::devcluster

#endif  // TRUSTFABRIC_TESTS_CLIENT_DEVCLUSTER_SHARED_OUTPUT_TEST_H_
