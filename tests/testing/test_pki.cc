// Test PKIs and temp dirs; see test_pki.h.
#include "tests/testing/test_pki.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace trustfabric::testing {
namespace {

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "test pki: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::abort();
}

pki::IssuedCertificate IssueOrDie(const pki::CertificateSpec& spec,
                                  const pki::IssuedCertificate* issuer, const std::string& what) {
  absl::StatusOr<pki::IssuedCertificate> issued = pki::Issue(spec, issuer);
  if (!issued.ok()) Die(what, issued.status());
  return *std::move(issued);
}

pki::IssuedCertificate MakeRoot(const std::string& domain) {
  pki::CertificateSpec spec;
  spec.common_name = absl::StrCat(domain, " test root ca");
  spec.organization = domain;
  spec.is_ca = true;
  spec.lifetime = absl::Hours(24 * 365 * 5);
  return IssueOrDie(spec, nullptr, absl::StrCat(domain, " root"));
}

pki::IssuedCertificate MakeIntermediate(const std::string& domain,
                                        const pki::IssuedCertificate& root) {
  pki::CertificateSpec spec;
  spec.common_name = absl::StrCat(domain, " test intermediate ca");
  spec.organization = domain;
  spec.is_ca = true;
  spec.path_length = 0;
  spec.lifetime = absl::Hours(24 * 365 * 3);
  return IssueOrDie(spec, &root, absl::StrCat(domain, " intermediate"));
}

}  // namespace

const TestDomain& SharedTestDomain(const std::string& trust_domain) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* domains = new std::map<std::string, std::unique_ptr<TestDomain>>();
  absl::MutexLock lock(&mu);
  std::unique_ptr<TestDomain>& domain = (*domains)[trust_domain];
  if (domain == nullptr) domain = std::make_unique<TestDomain>(trust_domain);
  return *domain;
}

TestDomain::TestDomain(std::string trust_domain)
    : trust_domain_(std::move(trust_domain)),
      root_(MakeRoot(trust_domain_)),
      intermediate_(MakeIntermediate(trust_domain_, root_)) {}

pki::IssuedCertificate TestDomain::IssueNode(const std::string& role, const std::string& name,
                                             const std::string& dns_name,
                                             const LeafOptions& opts) const {
  pki::CertificateSpec spec;
  spec.common_name = dns_name.empty() ? name : dns_name;
  spec.organization = trust_domain_;
  if (!dns_name.empty()) spec.dns_names = {dns_name};
  if (!opts.no_uri) {
    spec.uri_names.push_back(absl::StrCat("spiffe://", trust_domain_, "/", role, "/", name));
  }
  for (const std::string& uri : opts.extra_uri_names) spec.uri_names.push_back(uri);
  spec.not_before = opts.not_before;
  spec.not_after = opts.not_after;
  spec.key_type = opts.key_type;
  return IssueOrDie(spec, &intermediate_, absl::StrCat("node ", role, "/", name));
}

std::string TestDomain::RootPem() const { return root_.certificate.ToPem(); }

std::string TestDomain::ChainPem(const pki::IssuedCertificate& leaf) const {
  return pki::ToPemBundle({leaf.certificate, intermediate_.certificate});
}

pki::IssuedCertificate SigningCertificate(const std::string& cn, pki::KeyType key_type,
                                          const pki::IssuedCertificate* issuer,
                                          absl::Time not_before, absl::Time not_after) {
  pki::CertificateSpec spec;
  spec.common_name = cn;
  spec.signing_only = true;
  spec.key_type = key_type;
  spec.not_before = not_before;
  spec.not_after = not_after;
  return IssueOrDie(spec, issuer, absl::StrCat("signing certificate ", cn));
}

pki::IssuedCertificate SelfSignedSigningCert(const std::string& cn) {
  return SigningCertificate(cn, pki::KeyType::kRsa2048);
}

pki::IssuedCertificate SigningCertUnder(const pki::IssuedCertificate& ca, const std::string& cn) {
  return SigningCertificate(cn, pki::KeyType::kRsa2048, &ca);
}

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(
      base != nullptr && *base != '\0' ? base : std::filesystem::temp_directory_path().string(),
      "/tf-test-XXXXXX");
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    Die("temp dir", absl::InternalError(absl::StrCat("mkdtemp ", tmpl, " failed")));
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& name, const std::string& contents, int mode) const {
  const std::filesystem::path full = std::filesystem::path(path_) / name;
  std::error_code ec;
  std::filesystem::create_directories(full.parent_path(), ec);
  if (ec) Die("temp dir write", absl::InternalError(absl::StrCat("mkdir: ", ec.message())));
  {
    std::ofstream out(full, std::ios::binary | std::ios::trunc);
    out << contents;
    if (!out) Die("temp dir write", absl::InternalError(absl::StrCat("write ", full.string())));
  }
  if (chmod(full.c_str(), static_cast<mode_t>(mode)) != 0) {
    Die("temp dir write", absl::InternalError(absl::StrCat("chmod ", full.string())));
  }
  return full.string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace trustfabric::testing
