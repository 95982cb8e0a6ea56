// A `tfctl pki init` directory for contoso.test and fabrikam.test, shared by
// the read-only tests of a suite: SharedOutputTest writes it once in
// SetUpTestSuite with TwoDomainPki.
//
//   class PkiInitTest : public SharedOutputTest<PkiInitTest, PkiInitResult> {
//    protected:
//     static void SetUpTestSuite() {
//       PkiInitOptions options;
//       options.pkcs12_password = "p12-secret";
//       WriteSharedOutput(TwoDomainPki(options));  // output_->out_dir
//     }
//   };
#ifndef TRUSTFABRIC_TESTS_CLIENT_DEVCLUSTER_SHARED_PKI_TEST_H_
#define TRUSTFABRIC_TESTS_CLIENT_DEVCLUSTER_SHARED_PKI_TEST_H_

#include <string>

#include "client/devcluster/pki_init.h"
#include "tests/client/devcluster/shared_output_test.h"

namespace trustfabric::devcluster {

// A writer for SharedOutputTest::WriteSharedOutput: RunPkiInit with
// `options` for contoso.test and fabrikam.test into <dir>/pki
// (options.domains and out_dir are set here).
inline auto TwoDomainPki(PkiInitOptions options) {
  options.domains = {"contoso.test", "fabrikam.test"};
  return [options](const std::string& dir) mutable {
    options.out_dir = dir + "/pki";
    return RunPkiInit(options);
  };
}

}  // namespace trustfabric::devcluster

#endif  // TRUSTFABRIC_TESTS_CLIENT_DEVCLUSTER_SHARED_PKI_TEST_H_
