// Test PKIs and temp dirs, generated at run time (no key material is ever
// committed). The tests and the benchmarks share them: this file and
// test_pki.cc make the GTest-free library tf_domain_pki, which a configure
// with TF_BUILD_TESTS=OFF still builds for bench/.
//
//   testing::TestDomain contoso("contoso.test");
//   pki::IssuedCertificate fe = contoso.IssueNode("frontend", "fe1", "fe1.contoso.test");
//   testing::TempDir dir;
//   std::string chain_path = dir.Write("fe1.crt", contoso.ChainPem(fe));
//   std::string key_path = dir.Write("fe1.key", fe.key.ToPem(), 0600);
//
// Every helper aborts the binary with a message on failure: a test fixture
// (or a benchmark) that silently half-built its PKI would make later
// assertions (or figures) lie.
#ifndef TRUSTFABRIC_TESTS_TESTING_TEST_PKI_H_
#define TRUSTFABRIC_TESTS_TESTING_TEST_PKI_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/pki/certificate.h"
#include "common/pki/issue.h"
#include "common/pki/private_key.h"

namespace trustfabric::testing {

struct LeafOptions {
  // Validity as in pki::CertificateSpec (InfinitePast: default).
  absl::Time not_before = absl::InfinitePast();
  absl::Time not_after = absl::InfinitePast();
  pki::KeyType key_type = pki::KeyType::kEcP256;
  // URI SANs added after the node's SPIFFE ID (e.g. a second spiffe:// ID).
  std::vector<std::string> extra_uri_names;
  // Leave out the node's SPIFFE ID (extra_uri_names still apply).
  bool no_uri = false;
};

// A trust domain's test PKI: root CA -> intermediate CA (pathlen 0, so it
// cannot sign another CA) -> leaves. Names derive from the domain only, so two
// TestDomains of one domain are same-named impostors of each other. Immutable
// after construction, so one instance may be shared by parallel tests.
class TestDomain {
 public:
  // Generates root and intermediate (EC P-256), named after the domain.
  explicit TestDomain(std::string trust_domain);

  const std::string& trust_domain() const { return trust_domain_; }
  const pki::IssuedCertificate& root() const { return root_; }
  const pki::IssuedCertificate& intermediate() const { return intermediate_; }

  // Leaf signed by the intermediate: DNS SAN `dns_name`, URI SAN
  // spiffe://<domain>/<role>/<name>, serverAuth + clientAuth.
  pki::IssuedCertificate IssueNode(const std::string& role, const std::string& name,
                                   const std::string& dns_name, const LeafOptions& opts = {}) const;

  std::string RootPem() const;
  // `leaf` followed by the intermediate, as a node presents its chain.
  std::string ChainPem(const pki::IssuedCertificate& leaf) const;

 private:
  std::string trust_domain_;
  pki::IssuedCertificate root_;
  pki::IssuedCertificate intermediate_;
};

// One TestDomain per trust domain for the whole test binary, made on first
// use (key generation is the slow part of most fixtures). Thread-safe.
const TestDomain& SharedTestDomain(const std::string& trust_domain);

// A token-signing certificate (digitalSignature only, CN `cn`) of
// `key_type`, signed by `issuer` (self-signed when null), valid from
// `not_before` to `not_after` (InfinitePast: pki::CertificateSpec's default).
pki::IssuedCertificate SigningCertificate(const std::string& cn, pki::KeyType key_type,
                                          const pki::IssuedCertificate* issuer = nullptr,
                                          absl::Time not_before = absl::InfinitePast(),
                                          absl::Time not_after = absl::InfinitePast());
// A self-signed RSA-2048 token-signing certificate (like a high-trust add-in).
pki::IssuedCertificate SelfSignedSigningCert(const std::string& cn);
// An RSA-2048 token-signing certificate signed by `ca`.
pki::IssuedCertificate SigningCertUnder(const pki::IssuedCertificate& ca, const std::string& cn);

// The contents of the file at `path` ("" when it cannot be read).
std::string ReadFile(const std::string& path);

// A unique directory under $TEST_TMPDIR (or the system temp dir), removed
// with its contents at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `contents` to path()/name (creating parent directories) with
  // permission bits `mode`; returns the full path.
  std::string Write(const std::string& name, const std::string& contents, int mode = 0644) const;

 private:
  std::string path_;
};

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_TESTING_TEST_PKI_H_
