// The local two-domain development cluster behind `tfctl cluster`: its
// topology (ClusterLayout), the directory it lives in, and the writer that
// fills that directory with a development PKI and one configuration file per
// service, without starting anything.
//
//   devcluster::ClusterConfigOptions opts;
//   opts.dir = "/tmp/tf";
//   opts.subnet = 7;
//   TF_ASSIGN_OR_RETURN(devcluster::ClusterLayout layout, devcluster::WriteClusterConfig(opts));
//   // later, from another process:
//   TF_ASSIGN_OR_RETURN(devcluster::ClusterLayout same, devcluster::LoadClusterLayout("/tmp/tf"));
//
// Directory contract (docker-compose and the integration suite rely on it;
// every path written into a file is absolute):
//   DIR/pki/                       `tfctl pki init` output for both domains
//   DIR/<domain>/<svc>.yaml        control1.yaml (tfcontrol), registrar1.yaml,
//                                  fe1.yaml, edge1.yaml (tfnode)
//   DIR/<domain>/state/<svc>/      state: control.db, last-known-good,
//                                  registrations
//   DIR/logs/<domain>-<svc>.log    one log per service
//   DIR/pids/<domain>-<svc>.pid    written by `tfctl cluster up`
//   DIR/cluster.json               the topology below, as JSON
//
// Addresses: subnet N (1..254) puts contoso.test on 127.N.1.{1,2,3,4} and
// fabrikam.test on 127.N.2.{1,2,3,4} for control1, registrar1, fe1, edge1;
// ports are fixed (kControlPort ...), so clusters on different subnets run
// side by side on one machine.
#ifndef TRUSTFABRIC_CLIENT_DEVCLUSTER_CLUSTER_CONFIG_H_
#define TRUSTFABRIC_CLIENT_DEVCLUSTER_CLUSTER_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "trustfabric/v1/config.pb.h"

namespace trustfabric::devcluster {

inline constexpr int kDefaultClusterSubnet = 1;
inline constexpr int kMinClusterSubnet = 1;
inline constexpr int kMaxClusterSubnet = 254;

inline constexpr int kControlPort = 7000;
inline constexpr int kRegistrarPort = 7100;
inline constexpr int kFrontendInternalPort = 7200;
inline constexpr int kFrontendClientPort = 7443;
inline constexpr int kEdgeInternalPort = 7300;
inline constexpr int kEdgeFederationPort = 7400;
// Prometheus metrics of every service, on its own loopback address.
inline constexpr int kMetricsPort = 9100;

// The two domains, in address order (third octet 1 and 2).
inline constexpr const char* kClusterDomains[] = {"contoso.test", "fabrikam.test"};

// Password of the applications' PKCS#12 files in a cluster's PKI.
inline constexpr char kClusterPkcs12Password[] = "changeit";

// Version of cluster.json; LoadClusterLayout refuses others.
inline constexpr int kClusterJsonVersion = 1;

// Audience principal of the tokens clients present to front-ends.
inline constexpr char kFrontendTokenPrincipal[] = "00000003-0000-0ff1-ce00-000000000000";

// A "host:port" and the DNS name its certificate carries.
struct ClusterEndpoint {
  std::string address;
  std::string server_name;
};

// One process of the cluster.
struct ClusterService {
  std::string id;        // "<domain>-<name>", e.g. "contoso.test-fe1"
  std::string name;      // "control1", "registrar1", "fe1", "edge1"
  std::string domain;    // "contoso.test"
  std::string role;      // "control", "registrar", "frontend", "edge"
  std::string binary;    // "tfcontrol" or "tfnode"
  std::string dns_name;  // "fe1.contoso.test"
  // Identity from DIR/pki: leaf + intermediate, and the key.
  std::string certificate_file;
  std::string key_file;
  std::string config_file;
  std::string state_dir;
  std::string log_file;
  std::string pid_file;
  // Mutual-TLS listener of the domain (control API, registrar, front-end
  // Deliver, edge relay); gRPC health is asked here.
  std::string address;
  // Front-ends: the client listener (server TLS + bearer token).
  std::string client_address;
  // Edges: the federation listener for partner edges.
  std::string federation_address;
};

// A token-signing application of a domain (docs/design.md §7).
struct ClusterApp {
  std::string name;  // "app1", also the TokenIssuer name at the control plane
  std::string client_id;
  // Equals client_id: every cluster application is its own issuer.
  std::string issuer_id;
  std::string registered_issuer_name;  // "<client_id>@<realm>"
  // app1 is self-signed (registered as its own TOKEN_SIGNING root authority
  // `signing_root_name`); app2 chains to the domain root.
  bool self_signed = false;
  std::string signing_root_name;
  std::string cert_file;
  std::string key_file;
  std::string pkcs12_file;
  std::string pkcs12_password;
};

struct ClusterDomain {
  std::string domain;   // "contoso.test"
  std::string realm;    // lower-case GUID
  std::string partner;  // the other domain
  // The domain's root CA: the control plane's seed root (MTLS and
  // TOKEN_SIGNING) under `root_name`, every node's bootstrap bundle, and the
  // CA clients verify the front-end with.
  std::string root_name;  // "contoso-root"
  std::string root_file;
  // The partner's root as registered here (MTLS, trust domain = partner).
  std::string partner_root_name;
  std::string admin_cert_file;
  std::string admin_key_file;
  ClusterEndpoint control;     // control1, admin API and trust distribution
  ClusterEndpoint frontend;    // fe1's client listener
  ClusterEndpoint federation;  // edge1's federation listener
  std::vector<ClusterApp> apps;

  const ClusterApp* FindApp(absl::string_view name) const;
};

struct ClusterLayout {
  std::string dir;  // absolute
  int subnet = kDefaultClusterSubnet;
  std::string pki_dir;
  std::string manifest_file;
  std::string logs_dir;
  std::string pids_dir;
  std::string cluster_json;
  // Domains in kClusterDomains order; services per domain in start order
  // (control1, registrar1, fe1, edge1).
  std::vector<ClusterDomain> domains;
  std::vector<ClusterService> services;

  // Null when absent.
  const ClusterDomain* FindDomain(absl::string_view domain) const;
  const ClusterService* FindService(absl::string_view domain, absl::string_view name) const;
};

// "127.<subnet>.<domain_index + 1>.<host>".
std::string ClusterHost(int subnet, int domain_index, int host);

// The "<first label>-root" name under which a domain's root is registered.
std::string ClusterRootName(absl::string_view domain);

// The layout of a cluster in `dir` on `subnet` whose PKI manifest is
// `manifest_json` (realms, application client ids and file paths come from
// it). Pure: touches no file. INVALID_ARGUMENT when `subnet` is out of range
// or the manifest lacks a domain or an entry the cluster needs.
absl::StatusOr<ClusterLayout> BuildClusterLayout(const std::string& dir, int subnet,
                                                 absl::string_view manifest_json);

// The configuration of one service of `layout`.
v1::ControlPlaneConfig ControlConfigFor(const ClusterLayout& layout, const ClusterService& service);
v1::NodeConfig NodeConfigFor(const ClusterLayout& layout, const ClusterService& service);

// cluster.json for `layout`, and back.
std::string ClusterJson(const ClusterLayout& layout);
absl::StatusOr<ClusterLayout> ParseClusterJson(absl::string_view text);

struct ClusterConfigOptions {
  std::string dir;
  int subnet = kDefaultClusterSubnet;
  // Replace an existing cluster configuration: the PKI is generated anew
  // and the services' state directories are emptied (their stored trust
  // state names the old roots).
  // REQUIRES: no service of the existing cluster runs (the caller checks,
  // see RunningServices in cluster_runner.h).
  bool force = false;
};

// Writes the whole directory (PKI, configuration files, empty state and log
// directories, cluster.json last, so its presence means "complete").
// INVALID_ARGUMENT for an empty dir or a subnet out of range;
// FAILED_PRECONDITION when `dir` already holds a cluster (cluster.json or a
// PKI) and `force` is false; INTERNAL naming the path when a file cannot be
// written.
absl::StatusOr<ClusterLayout> WriteClusterConfig(const ClusterConfigOptions& options);

// Reads DIR/cluster.json. FAILED_PRECONDITION "no cluster in DIR (run tfctl
// cluster config)" when it does not exist; INVALID_ARGUMENT when malformed.
absl::StatusOr<ClusterLayout> LoadClusterLayout(const std::string& dir);

}  // namespace trustfabric::devcluster

#endif  // TRUSTFABRIC_CLIENT_DEVCLUSTER_CLUSTER_CONFIG_H_
