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
#include <string>

#include "client/devcluster/cluster_config.h"
#include "tests/client/devcluster/shared_output_test.h"

namespace trustfabric::devcluster {

template <typename Suite>
class SharedClusterTest : public SharedOutputTest<Suite, ClusterLayout> {
 protected:
  // Writes the suite's cluster with `options`, whose dir is taken relative
  // to a fresh temp dir (empty: the temp dir itself); fails the suite set-up
  // if it is refused.
  static void WriteSharedCluster(ClusterConfigOptions options) {
    SharedClusterTest::WriteSharedOutput([&options](const std::string& dir) {
      options.dir = dir + options.dir;
      return WriteClusterConfig(options);
    });
  }

  // The written cluster's layout (the shared output).
  static inline std::unique_ptr<ClusterLayout>& layout_ = SharedClusterTest::output_;
};

}  // namespace trustfabric::devcluster

#endif  // TRUSTFABRIC_TESTS_CLIENT_DEVCLUSTER_SHARED_CLUSTER_TEST_H_
