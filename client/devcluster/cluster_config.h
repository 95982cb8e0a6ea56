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
//   DIR/cluster.json               the topology (ClusterLayout) as JSON
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
#include "trustfabric/v1/cluster.pb.h"
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

// The topology is the cluster.json message (proto/trustfabric/v1/cluster.proto).
using ClusterService = v1::ClusterService;
using ClusterApp = v1::ClusterApp;
using ClusterDomain = v1::ClusterDomain;
using ClusterLayout = v1::ClusterLayout;

// Lookups by name; null when absent.
const ClusterDomain* FindDomain(const ClusterLayout& layout, absl::string_view domain);
const ClusterService* FindService(const ClusterLayout& layout, absl::string_view domain,
                                  absl::string_view name);
const ClusterApp* FindApp(const ClusterDomain& domain, absl::string_view name);

// DIR/cluster.json of `layout`.
std::string ClusterJsonPath(const ClusterLayout& layout);

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

// cluster.json for `layout` (protobuf's JSON mapping with the proto field
// names, every field printed), and back. ParseClusterJson ignores unknown
// keys and refuses, with INVALID_ARGUMENT naming the path
// ("domains[0].apps[1].client_id"), a version other than
// kClusterJsonVersion, a subnet out of range, an empty field other than a
// listen.client or listen.federation, an unknown binary, and a service of a
// domain not in `domains`.
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
