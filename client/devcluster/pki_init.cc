// Development PKI generation; see pki_init.h.
#include "client/devcluster/pki_init.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/pki/certificate.h"
#include "common/pki/encoding.h"
#include "common/pki/issue.h"
#include "common/pki/private_key.h"
#include "common/pki/spiffe.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"
#include "nlohmann/json.hpp"

namespace trustfabric::devcluster {
namespace {

namespace fs = std::filesystem;

constexpr char kManifestName[] = "manifest.json";
constexpr int kManifestVersion = 1;

struct NodeSpec {
  pki::Role role;
  const char* name;  // also the DNS label: <name>.<domain>
};

// The nodes of a one-of-each development domain.
constexpr NodeSpec kNodes[] = {
    {pki::Role::kControl, "control1"},
    {pki::Role::kRegistrar, "registrar1"},
    {pki::Role::kFrontend, "fe1"},
    {pki::Role::kEdge, "edge1"},
};
constexpr NodeSpec kAdmin = {pki::Role::kAdmin, "admin1"};

absl::Status CheckOptions(const PkiInitOptions& options) {
  if (options.domains.empty()) return absl::InvalidArgumentError("domains: none given");
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < options.domains.size(); ++i) {
    const std::string& d = options.domains[i];
    if (!pki::IsValidDnsName(d)) {
      return absl::InvalidArgumentError(
          absl::StrCat("domains[", i, "]: \"", d.size() > 253 ? d.substr(0, 253) + "..." : d,
                       "\" is not a lower-case dns name with at least two labels"));
    }
    if (!seen.insert(d).second) {
      return absl::InvalidArgumentError(absl::StrCat("domains[", i, "]: duplicate ", d));
    }
  }
  if (options.out_dir.empty()) return absl::InvalidArgumentError("out: empty directory name");
  if (options.pkcs12_password.empty()) {
    return absl::InvalidArgumentError("pkcs12_password: must not be empty");
  }
  if (options.ca_lifetime <= options.leaf_lifetime ||
      options.leaf_lifetime <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "lifetimes: leaf lifetime must be positive and shorter than the ca lifetime");
  }
  return absl::OkStatus();
}

// Refuses to overwrite anything that looks like an earlier PKI.
absl::Status CheckNotExisting(const PkiInitOptions& options) {
  std::error_code ec;
  const fs::path out(options.out_dir);
  if (fs::exists(out, ec) && !fs::is_directory(out, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("out: ", options.out_dir, " exists and is not a directory"));
  }
  if (options.force) return absl::OkStatus();
  std::vector<fs::path> existing;
  if (fs::exists(out / kManifestName, ec)) existing.push_back(out / kManifestName);
  for (const std::string& d : options.domains) {
    if (fs::exists(out / d, ec)) existing.push_back(out / d);
  }
  if (!existing.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("out: a pki already exists at ",
                                                      existing.front().string(),
                                                      "; pass --force to overwrite it"));
  }
  return absl::OkStatus();
}

// X.509 caps CN and O at 64 characters (RFC 5280 ub-common-name); a DNS
// name may be up to 253, so long names fall back to shorter subjects. The
// SANs, not the subject, carry the identity.
constexpr size_t kMaxSubjectField = 64;

std::string SubjectField(std::string preferred, std::string fallback) {
  return preferred.size() <= kMaxSubjectField ? preferred : fallback;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

class DomainBuilder {
 public:
  DomainBuilder(const PkiInitOptions& options, std::string domain, std::string realm,
                PkiInitResult* result)
      : options_(options),
        domain_(std::move(domain)),
        organization_(SubjectField(domain_, "")),
        realm_(std::move(realm)),
        result_(result) {}

  absl::Status Build() {
    std::error_code ec;
    const fs::path dir = fs::path(options_.out_dir) / domain_;
    fs::create_directories(dir, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("mkdir ", dir.string(), ": ", ec.message()));
    }

    pki::CertificateSpec root_spec;
    root_spec.common_name = SubjectField(absl::StrCat(domain_, " root ca"), "root ca");
    root_spec.organization = organization_;
    root_spec.is_ca = true;
    root_spec.lifetime = options_.ca_lifetime;
    TF_ASSIGN_OR_RETURN(pki::IssuedCertificate root, pki::Issue(root_spec, nullptr));
    TF_RETURN_IF_ERROR(Emit(MakeEntry("root_ca", "root"), root, {root.certificate}));

    // The intermediate may sign only leaves, and outlives none of them.
    pki::CertificateSpec inter_spec;
    inter_spec.common_name =
        SubjectField(absl::StrCat(domain_, " intermediate ca"), "intermediate ca");
    inter_spec.organization = organization_;
    inter_spec.is_ca = true;
    inter_spec.path_length = 0;
    inter_spec.lifetime = options_.ca_lifetime / 2;
    TF_ASSIGN_OR_RETURN(pki::IssuedCertificate inter, pki::Issue(inter_spec, &root));
    TF_RETURN_IF_ERROR(
        Emit(MakeEntry("intermediate_ca", "intermediate"), inter, {inter.certificate}));

    for (const NodeSpec& node : kNodes) {
      TF_RETURN_IF_ERROR(Node("node", node, inter));
    }
    TF_RETURN_IF_ERROR(Node("admin", kAdmin, inter));

    TF_RETURN_IF_ERROR(App("app1", nullptr));
    TF_RETURN_IF_ERROR(App("app2", &root));
    return absl::OkStatus();
  }

 private:
  PkiEntry MakeEntry(const std::string& kind, const std::string& name) const {
    PkiEntry e;
    e.domain = domain_;
    e.kind = kind;
    e.name = name;
    e.cert_path = absl::StrCat(domain_, "/", name, ".crt");
    e.key_path = absl::StrCat(domain_, "/", name, ".key");
    return e;
  }

  std::string Full(const std::string& relative) const {
    return (fs::path(options_.out_dir) / relative).string();
  }

  absl::Status Emit(PkiEntry entry, const pki::IssuedCertificate& issued,
                    const std::vector<pki::Certificate>& chain) {
    entry.sha256 = issued.certificate.Sha256Hex();
    entry.not_after = issued.certificate.NotAfter();
    TF_RETURN_IF_ERROR(WriteFileAtomically(Full(entry.cert_path), pki::ToPemBundle(chain), 0644));
    const std::string key_pem = issued.key.ToPem();
    if (key_pem.empty()) return absl::InternalError("private key: pem encoding failed");
    TF_RETURN_IF_ERROR(WriteFileAtomically(Full(entry.key_path), key_pem, 0600));
    result_->entries.push_back(std::move(entry));
    return absl::OkStatus();
  }

  absl::Status Node(const std::string& kind, const NodeSpec& node,
                    const pki::IssuedCertificate& inter) {
    pki::SpiffeId id{domain_, node.role, node.name};
    const std::string fqdn = absl::StrCat(node.name, ".", domain_);
    pki::CertificateSpec spec;
    spec.common_name = SubjectField(fqdn, node.name);
    spec.organization = organization_;
    spec.dns_names = {fqdn};
    spec.uri_names = {id.ToString()};
    spec.lifetime = options_.leaf_lifetime;
    TF_ASSIGN_OR_RETURN(pki::IssuedCertificate leaf, pki::Issue(spec, &inter));
    PkiEntry entry = MakeEntry(kind, node.name);
    entry.role = std::string(pki::RoleName(node.role));
    entry.spiffe_id = id.ToString();
    entry.dns_name = fqdn;
    return Emit(std::move(entry), leaf, {leaf.certificate, inter.certificate});
  }

  // Token-signing applications: RSA-2048 for RS256, the add-in default.
  absl::Status App(const std::string& name, const pki::IssuedCertificate* root) {
    pki::CertificateSpec spec;
    spec.common_name = SubjectField(absl::StrCat(name, " token signing (", domain_, ")"),
                                    absl::StrCat(name, " token signing"));
    spec.organization = organization_;
    spec.signing_only = true;
    spec.key_type = pki::KeyType::kRsa2048;
    spec.lifetime = options_.leaf_lifetime;
    TF_ASSIGN_OR_RETURN(pki::IssuedCertificate cert, pki::Issue(spec, root));
    std::vector<pki::Certificate> chain;
    if (root != nullptr) chain.push_back(root->certificate);
    TF_ASSIGN_OR_RETURN(std::string p12, pki::MakePkcs12(cert.key, cert.certificate, chain,
                                                         options_.pkcs12_password));
    PkiEntry entry = MakeEntry("token_signing", name);
    entry.pkcs12_path = absl::StrCat(domain_, "/", name, ".p12");
    entry.client_id = RandomGuid();
    entry.issuer_name = absl::StrCat(entry.client_id, "@", realm_);
    entry.self_signed = root == nullptr;
    TF_RETURN_IF_ERROR(WriteFileAtomically(Full(entry.pkcs12_path), p12, 0600));
    return Emit(std::move(entry), cert, {cert.certificate});
  }

  const PkiInitOptions& options_;
  const std::string domain_;
  const std::string organization_;
  const std::string realm_;
  PkiInitResult* const result_;
};

nlohmann::json EntryJson(const PkiEntry& e) {
  nlohmann::json j = {
      {"domain", e.domain},
      {"kind", e.kind},
      {"name", e.name},
      {"cert", e.cert_path},
      {"key", e.key_path},
      {"sha256", e.sha256},
      {"not_after", Rfc3339(e.not_after)},
  };
  if (!e.role.empty()) j["role"] = e.role;
  if (!e.spiffe_id.empty()) j["spiffe_id"] = e.spiffe_id;
  if (!e.dns_name.empty()) j["dns_name"] = e.dns_name;
  if (e.kind == "token_signing") {
    j["pkcs12"] = e.pkcs12_path;
    j["client_id"] = e.client_id;
    j["issuer_name"] = e.issuer_name;
    j["self_signed"] = e.self_signed;
  }
  return j;
}

std::string ManifestJson(const PkiInitResult& result) {
  nlohmann::json domains = nlohmann::json::array();
  for (const PkiDomain& d : result.domains) {
    nlohmann::json entries = nlohmann::json::array();
    for (const PkiEntry& e : result.entries) {
      if (e.domain == d.domain) entries.push_back(EntryJson(e));
    }
    domains.push_back({{"domain", d.domain}, {"realm", d.realm}, {"entries", entries}});
  }
  nlohmann::json manifest = {
      {"version", kManifestVersion},
      {"generated_at", Rfc3339(absl::Now())},
      {"domains", domains},
  };
  return manifest.dump(2) + "\n";
}

}  // namespace

std::string RandomGuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) {
    // RAND_bytes fails only without an entropy source; a GUID must never
    // repeat, so there is no sensible fallback.
    std::abort();
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  const std::string hex =
      pki::HexEncode(absl::string_view(reinterpret_cast<const char*>(b), sizeof(b)));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

absl::StatusOr<PkiInitResult> RunPkiInit(const PkiInitOptions& options) {
  TF_RETURN_IF_ERROR(CheckOptions(options));
  TF_RETURN_IF_ERROR(CheckNotExisting(options));
  std::error_code ec;
  fs::create_directories(options.out_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("mkdir ", options.out_dir, ": ", ec.message()));
  }
  PkiInitResult result;
  result.out_dir = options.out_dir;
  result.manifest_path = (fs::path(options.out_dir) / kManifestName).string();
  for (const std::string& domain : options.domains) {
    PkiDomain d{domain, RandomGuid()};
    result.domains.push_back(d);
    TF_RETURN_IF_ERROR(
        Annotate(DomainBuilder(options, d.domain, d.realm, &result).Build(), domain));
  }
  TF_RETURN_IF_ERROR(WriteFileAtomically(result.manifest_path, ManifestJson(result), 0644));
  return result;
}

std::string FormatPkiInitSummary(const PkiInitResult& result) {
  std::string out = absl::StrCat("development pki written to ", result.out_dir, "\n");
  for (const PkiDomain& d : result.domains) {
    absl::StrAppend(&out, "\n", d.domain, "  realm ", d.realm, "\n");
    for (const PkiEntry& e : result.entries) {
      if (e.domain != d.domain) continue;
      std::string what;
      if (e.kind == "node" || e.kind == "admin") {
        what = absl::StrCat(e.spiffe_id, "  dns ", e.dns_name);
      } else if (e.kind == "token_signing") {
        what = absl::StrCat("issuer ", e.issuer_name,
                            e.self_signed ? "  (self-signed)" : "  (chained to root)");
      } else {
        what = e.kind == "root_ca" ? "root ca" : "intermediate ca";
      }
      absl::StrAppend(&out, absl::StrFormat("  %-13s %-32s %s\n", e.name, e.cert_path, what));
    }
  }
  const absl::Time earliest = [&] {
    absl::Time t = absl::InfiniteFuture();
    for (const PkiEntry& e : result.entries) t = std::min(t, e.not_after);
    return t;
  }();
  absl::StrAppend(&out, "\nkeys are mode 0600; certificates expire from ", Rfc3339(earliest),
                  "\nmanifest: ", result.manifest_path, "\n");
  return out;
}

}  // namespace trustfabric::devcluster
