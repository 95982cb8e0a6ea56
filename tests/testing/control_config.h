// An in-process control plane of contoso.test as the control-plane tests and
// the control-plane benchmark start it: node identity files written from a
// TestDomain, and the ControlPlaneConfig that serves on 127.0.0.1:0 with its
// own identity, the domain's root as seed root and a store in a temp dir.
// GTest-free (part of tf_domain_pki's family, built for bench/ too).
//
//   const TestDomain& contoso = SharedTestDomain(kContosoDomain);
//   TempDir dir;
//   v1::ControlPlaneConfig config = ContosoControlConfig(
//       contoso, dir, "cp1", dir.Write("root.pem", contoso.RootPem()), dir.path() + "/cp.db");
//   tls::ClientIdentity fe1 =
//       WriteIdentity(contoso, dir, "fe1", "frontend", "fe1", "fe1.contoso.test");
#ifndef TRUSTFABRIC_TESTS_TESTING_CONTROL_CONFIG_H_
#define TRUSTFABRIC_TESTS_TESTING_CONTROL_CONFIG_H_

#include <string>

#include "common/tls/client_security.h"
#include "tests/testing/test_pki.h"
#include "trustfabric/v1/config.pb.h"

namespace trustfabric::testing {

// Writes a leaf of `domain` for spiffe://<domain>/<role>/<name> with DNS SAN
// `dns` as dir/<subdir>/<name>.crt (leaf + intermediate) and its key as
// dir/<subdir>/<name>.key (0600); returns the two paths.
tls::ClientIdentity WriteIdentity(const TestDomain& domain, const TempDir& dir,
                                  const std::string& subdir, const std::string& role,
                                  const std::string& name, const std::string& dns);

// The configuration of a control plane of contoso.test (realm kContosoRealm)
// listening on 127.0.0.1:0 as spiffe://contoso.test/control/cp1 (DNS
// kControlDns, identity written under dir/<subdir>), seeded with the root
// authority "contoso-root" read from `seed_root_file`, storing in
// `sqlite_path`.
v1::ControlPlaneConfig ContosoControlConfig(const TestDomain& contoso, const TempDir& dir,
                                            const std::string& subdir,
                                            const std::string& seed_root_file,
                                            const std::string& sqlite_path);

// The names of that control plane; the realm is the one the transport tests'
// contoso.test uses too.
inline constexpr char kContosoDomain[] = "contoso.test";
inline constexpr char kContosoRealm[] = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
inline constexpr char kControlDns[] = "cp1.contoso.test";

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_TESTING_CONTROL_CONFIG_H_
