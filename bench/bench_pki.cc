// Benchmark PKI and scratch directories; see bench_pki.h.
#include "bench/bench_pki.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "common/status/atomic_file.h"

namespace trustfabric::bench {
namespace {

// A CA named after `domain`: the root when `issuer` is null (5 years),
// else an intermediate that cannot sign another CA (3 years).
pki::IssuedCertificate DomainCa(const std::string& domain, const pki::IssuedCertificate* issuer) {
  pki::CertificateSpec spec;
  spec.common_name = absl::StrCat(domain, issuer ? " bench intermediate ca" : " bench root ca");
  spec.organization = domain;
  spec.is_ca = true;
  spec.path_length = issuer ? 0 : -1;
  spec.lifetime = absl::Hours(24 * 365 * (issuer ? 3 : 5));
  return Check(pki::Issue(spec, issuer), spec.common_name);
}

}  // namespace

BenchDomain::BenchDomain(std::string trust_domain)
    : trust_domain_(std::move(trust_domain)),
      root_(DomainCa(trust_domain_, nullptr)),
      intermediate_(DomainCa(trust_domain_, &root_)) {}

pki::IssuedCertificate BenchDomain::IssueNode(const std::string& role, const std::string& name,
                                              const std::string& dns_name) const {
  pki::CertificateSpec spec;
  spec.common_name = dns_name;
  spec.organization = trust_domain_;
  spec.dns_names = {dns_name};
  spec.uri_names = {absl::StrCat("spiffe://", trust_domain_, "/", role, "/", name)};
  return Check(pki::Issue(spec, &intermediate_), absl::StrCat("node ", role, "/", name));
}

std::string BenchDomain::RootPem() const { return root_.certificate.ToPem(); }

std::string BenchDomain::ChainPem(const pki::IssuedCertificate& leaf) const {
  return pki::ToPemBundle({leaf.certificate, intermediate_.certificate});
}

pki::IssuedCertificate SigningCertificate(const std::string& common_name, pki::KeyType key_type,
                                          const pki::IssuedCertificate* issuer) {
  pki::CertificateSpec spec;
  spec.common_name = common_name;
  spec.signing_only = true;
  spec.key_type = key_type;
  return Check(pki::Issue(spec, issuer), absl::StrCat("signing certificate ", common_name));
}

ScratchDir::ScratchDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(
      base != nullptr && *base != '\0' ? base : std::filesystem::temp_directory_path().string(),
      "/tf-bench-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) Die(absl::StrCat("mkdtemp ", pattern, " failed"));
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string ScratchDir::Write(const std::string& name, const std::string& contents,
                              int mode) const {
  const std::filesystem::path full = std::filesystem::path(path_) / name;
  std::error_code error;
  std::filesystem::create_directories(full.parent_path(), error);
  if (error) Die(absl::StrCat("mkdir ", full.parent_path().string(), ": ", error.message()));
  Check(WriteFileAtomically(full.string(), contents, mode), "scratch file");
  return full.string();
}

}  // namespace trustfabric::bench
