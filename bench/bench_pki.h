// Key material and scratch directories for the benchmarks, generated at run
// time (no key material is ever committed). The benchmarks build without the
// tests (TF_BUILD_TESTS=OFF), so they do not use tests/testing.
//
//   bench::BenchDomain contoso("contoso.test");
//   pki::IssuedCertificate edge = contoso.IssueNode("edge", "edge1", "edge1.contoso.test");
//   bench::ScratchDir dir;
//   std::string chain_file = dir.Write("edge1.crt", contoso.ChainPem(edge));
//   std::string key_file = dir.Write("edge1.key", edge.key.ToPem(), 0600);
//
// Every helper ends the run with a message on failure (bench::Die).
#ifndef TRUSTFABRIC_BENCH_BENCH_PKI_H_
#define TRUSTFABRIC_BENCH_BENCH_PKI_H_

#include <string>

#include "common/pki/issue.h"

namespace trustfabric::bench {

// A trust domain's PKI: root CA -> intermediate CA (pathlen 0) -> node
// leaves, all EC P-256 and named after the domain. Immutable after
// construction.
class BenchDomain {
 public:
  explicit BenchDomain(std::string trust_domain);

  const pki::IssuedCertificate& root() const { return root_; }
  // Signed by the intermediate: DNS SAN `dns_name`, URI SAN
  // spiffe://<domain>/<role>/<name>, serverAuth + clientAuth.
  pki::IssuedCertificate IssueNode(const std::string& role, const std::string& name,
                                   const std::string& dns_name) const;
  std::string RootPem() const;
  // `leaf` followed by the intermediate, as a node presents its chain.
  std::string ChainPem(const pki::IssuedCertificate& leaf) const;

 private:
  std::string trust_domain_;
  pki::IssuedCertificate root_;
  pki::IssuedCertificate intermediate_;
};

// A token-signing certificate (digitalSignature only) of `key_type`,
// self-signed when `issuer` is null.
pki::IssuedCertificate SigningCertificate(const std::string& common_name, pki::KeyType key_type,
                                          const pki::IssuedCertificate* issuer = nullptr);

// A unique directory under $TEST_TMPDIR (or the system temp directory),
// removed with its contents at destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `contents` to path()/name (creating parent directories) with
  // permission bits `mode`; returns the full path.
  std::string Write(const std::string& name, const std::string& contents, int mode = 0644) const;

 private:
  std::string path_;
};

}  // namespace trustfabric::bench

#endif  // TRUSTFABRIC_BENCH_BENCH_PKI_H_
