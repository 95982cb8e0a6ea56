// Control-plane identities and configuration; see control_config.h.
#include "tests/testing/control_config.h"

#include "absl/strings/str_cat.h"

namespace trustfabric::testing {

tls::ClientIdentity WriteIdentity(const TestDomain& domain, const TempDir& dir,
                                  const std::string& subdir, const std::string& role,
                                  const std::string& name, const std::string& dns) {
  pki::IssuedCertificate leaf = domain.IssueNode(role, name, dns);
  const std::string stem = absl::StrCat(subdir, "/", name);
  tls::ClientIdentity id;
  id.certificate_file = dir.Write(absl::StrCat(stem, ".crt"), domain.ChainPem(leaf));
  id.key_file = dir.Write(absl::StrCat(stem, ".key"), leaf.key.ToPem(), 0600);
  return id;
}

v1::ControlPlaneConfig ContosoControlConfig(const TestDomain& contoso, const TempDir& dir,
                                            const std::string& subdir,
                                            const std::string& seed_root_file,
                                            const std::string& sqlite_path) {
  const tls::ClientIdentity id = WriteIdentity(contoso, dir, subdir, "control", "cp1", kControlDns);
  v1::ControlPlaneConfig config;
  config.set_trust_domain(kContosoDomain);
  config.set_realm(kContosoRealm);
  config.mutable_listen()->set_address("127.0.0.1:0");
  config.mutable_identity()->set_certificate_file(id.certificate_file);
  config.mutable_identity()->set_key_file(id.key_file);
  config.set_seed_root_name("contoso-root");
  config.set_seed_root_file(seed_root_file);
  config.set_sqlite_path(sqlite_path);
  return config;
}

}  // namespace trustfabric::testing
