// `tfctl pki init`: a complete development PKI for any number of domains.
//
// For each trust domain: a root CA, an intermediate CA, node certificates
// for control1, registrar1, fe1 and edge1, an admin certificate, and two
// RSA-2048 token-signing applications (app1 self-signed like a high-trust
// add-in, app2 chained to the root) with PKCS#12 files; plus a realm GUID per
// domain, a client id per application, and a manifest.json describing it all.
//
//   devcluster::PkiInitOptions opts;
//   opts.domains = {"contoso.test", "fabrikam.test"};
//   opts.out_dir = "/tmp/pki";
//   TF_ASSIGN_OR_RETURN(devcluster::PkiInitResult result, devcluster::RunPkiInit(opts));
//   std::cout << devcluster::FormatPkiInitSummary(result);
//
// Layout under out_dir (paths in the manifest are relative to out_dir):
//   manifest.json
//   <domain>/root.crt, root.key, intermediate.crt, intermediate.key
//   <domain>/<name>.crt (leaf + intermediate), <name>.key     nodes, admin1
//   <domain>/<app>.crt, <app>.key, <app>.p12                  app1, app2
// Private keys are written with mode 0600, everything else 0644; each file
// is written to a temporary name and renamed into place.
#ifndef TRUSTFABRIC_CLIENT_DEVCLUSTER_PKI_INIT_H_
#define TRUSTFABRIC_CLIENT_DEVCLUSTER_PKI_INIT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace trustfabric::devcluster {

struct PkiInitOptions {
  // Lower-case DNS names (pki::IsValidDnsName), no duplicates, at least one.
  std::vector<std::string> domains;
  std::string out_dir;
  // Overwrite an existing PKI (files are replaced, nothing else is removed).
  bool force = false;
  // Password of the applications' PKCS#12 files; must not be empty.
  std::string pkcs12_password = "changeit";
  absl::Duration ca_lifetime = absl::Hours(24 * 365 * 10);
  absl::Duration leaf_lifetime = absl::Hours(24 * 365);
};

// One generated certificate (and its key, and for applications its PKCS#12).
struct PkiEntry {
  std::string domain;
  // "root_ca", "intermediate_ca", "node", "admin" or "token_signing".
  std::string kind;
  std::string name;         // "root", "intermediate", "fe1", "admin1", "app1"
  std::string role;         // node and admin roles (pki::RoleName); else empty
  std::string spiffe_id;    // nodes and admin; else empty
  std::string dns_name;     // nodes and admin; else empty
  std::string cert_path;    // relative to out_dir
  std::string key_path;     // relative to out_dir
  std::string pkcs12_path;  // token_signing only
  std::string sha256;       // certificate SHA-256, lower-case hex
  absl::Time not_after;
  // token_signing only: the application's client id (lower-case GUID), its
  // registered issuer name "<client_id>@<realm>", and whether the
  // certificate is self-signed (add-in style) or chains to the root.
  std::string client_id;
  std::string issuer_name;
  bool self_signed = false;
};

struct PkiDomain {
  std::string domain;
  std::string realm;  // lower-case GUID
};

struct PkiInitResult {
  std::string out_dir;
  std::string manifest_path;  // absolute or as given
  std::vector<PkiDomain> domains;
  std::vector<PkiEntry> entries;  // in domain order, root first
};

// INVALID_ARGUMENT for bad options ("domains[1]: ..."); FAILED_PRECONDITION
// when out_dir already holds a PKI (manifest.json or a domain directory) and
// `force` is false; INTERNAL naming the path when a file cannot be written.
absl::StatusOr<PkiInitResult> RunPkiInit(const PkiInitOptions& options);

// A short human-readable summary of what was written.
std::string FormatPkiInitSummary(const PkiInitResult& result);

// A random (version 4) GUID in lower case, e.g. "3f2504e0-4f89-41d3-9a0c-0305e82c3301".
std::string RandomGuid();

}  // namespace trustfabric::devcluster

#endif  // TRUSTFABRIC_CLIENT_DEVCLUSTER_PKI_INIT_H_
