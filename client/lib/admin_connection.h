// Where tfctl's admin commands connect, and as whom: the connection flags
// (or their environment variables) resolved into ControlClientOptions, with
// a `tfctl pki init` directory as a shortcut for the admin identity, the
// bootstrap root and the control plane's DNS name.
//
//   tfctl --control 127.0.0.1:7000 --pki ./pki --domain contoso.test root list
//   # the same, spelled out:
//   tfctl --control 127.0.0.1:7000 --server-name control1.contoso.test
//         --trust-domain contoso.test --cert pki/contoso.test/admin1.crt
//         --key pki/contoso.test/admin1.key --ca pki/contoso.test/root.crt root list
//
//   client::ConnectionFlags flags;
//   flags.control = "127.0.0.1:7000";
//   flags.pki_dir = "pki";
//   TF_ASSIGN_OR_RETURN(client::ControlClientOptions opts, client::ResolveConnection(flags));
//
// Explicit flags win over the pki directory. Every error names the flag
// (INVALID_ARGUMENT "--ca: cannot read ..."), so tfctl reports it as a usage
// error.
#ifndef TRUSTFABRIC_CLIENT_LIB_ADMIN_CONNECTION_H_
#define TRUSTFABRIC_CLIENT_LIB_ADMIN_CONNECTION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/lib/control_client.h"

namespace trustfabric::client {

// The connection flags as given (empty: not given).
struct ConnectionFlags {
  std::string control;          // --control host:port, TF_CONTROL
  std::string server_name;      // --server-name
  std::string trust_domain;     // --trust-domain / --domain, TF_DOMAIN
  std::string cert;             // --cert
  std::string key;              // --key
  std::string ca;               // --ca (bootstrap root PEM)
  std::string pki_dir;          // --pki, TF_PKI
  std::string timeout = "10s";  // --timeout
};

// What a `tfctl pki init` directory provides for one of its domains. Paths
// are the manifest's, joined to the directory.
struct PkiDefaults {
  std::string trust_domain;
  std::string realm;
  std::string admin_certificate_file;
  std::string admin_key_file;
  std::string root_certificate_file;
  // The DNS name of the domain's control-plane node certificate.
  std::string control_server_name;
};

// Reads dir/manifest.json. `domain` may be empty when the manifest holds
// exactly one domain. INVALID_ARGUMENT "--pki: ..." when the manifest is
// missing or malformed, "--domain: ..." when the domain is not in it (the
// message lists the domains it has).
absl::StatusOr<PkiDefaults> LoadPkiDefaults(const std::string& dir, const std::string& domain);

// OK for "host:port" and "[v6]:port" with a port in 1..65535;
// INVALID_ARGUMENT naming `flag` otherwise.
absl::Status CheckHostPort(absl::string_view address, absl::string_view flag);

// The client options for `flags`: the pki directory (if any) fills what the
// flags leave empty, the bootstrap root file is read, and every setting the
// client needs must end up present. Does not connect.
absl::StatusOr<ControlClientOptions> ResolveConnection(const ConnectionFlags& flags);

// Reads a file named by `flag` (at most 16 MiB); INVALID_ARGUMENT
// "<flag>: cannot read <path>: <reason>" otherwise.
absl::StatusOr<std::string> ReadFlagFile(const std::string& path, absl::string_view flag);

}  // namespace trustfabric::client

#endif  // TRUSTFABRIC_CLIENT_LIB_ADMIN_CONNECTION_H_
