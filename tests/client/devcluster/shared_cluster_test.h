// A test suite base whose read-only tests share one cluster directory,
// written once by WriteClusterConfig in SetUpTestSuite. `Suite` is the
// deriving fixture, so each suite has its own directory and layout.
//
//   class ClusterConfigTest : public SharedClusterTest<ClusterConfigTest> {
//    protected:
//     static void SetUpTestSuite() {
//       ClusterConfigOptions options;
//       options.subnet = 37;
//       WriteSharedCluster(options);  // into dir_, as layout_
//     }
//   };
#ifndef TRUSTFABRIC_TESTS_CLIENT_DEVCLUSTER_SHARED_CLUSTER_TEST_H_
#define TRUSTFABRIC_TESTS_CLIENT_DEVCLUSTER_SHARED_CLUSTER_TEST_H_

#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "client/devcluster/cluster_config.h"
#include "gtest/gtest.h"
#include "tests/testing/test_pki.h"

namespace trustfabric::devcluster {

template <typename Suite>
class SharedClusterTest : public ::testing::Test {
 protected:
  // Writes the suite's cluster with `options`, whose dir is taken relative
  // to a fresh temp dir (empty: the temp dir itself); fails the suite set-up
  // if it is refused.
  static void WriteSharedCluster(ClusterConfigOptions options) {
    dir_ = std::make_unique<::trustfabric::testing::TempDir>();
    options.dir = dir_->path() + options.dir;
    absl::StatusOr<ClusterLayout> layout = WriteClusterConfig(options);
    ASSERT_TRUE(layout.ok()) << layout.status();
    layout_ = std::make_unique<ClusterLayout>(*std::move(layout));
  }
  static void TearDownTestSuite() {
    layout_.reset();
    dir_.reset();
  }

  static inline std::unique_ptr<::trustfabric::testing::TempDir> dir_;
  static inline std::unique_ptr<ClusterLayout> layout_;
};

}  // namespace trustfabric::devcluster

#endif  // TRUSTFABRIC_TESTS_CLIENT_DEVCLUSTER_SHARED_CLUSTER_TEST_H_
