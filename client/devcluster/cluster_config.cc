// The cluster topology, its configuration files and cluster.json; see
// cluster_config.h.
#include "client/devcluster/cluster_config.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/devcluster/pki_init.h"
#include "common/config/yaml_proto.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace trustfabric::devcluster {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMaxJsonBytes = 4 << 20;

// The services of one domain, in start order, with the last octet of their
// address and the port of their mutual-TLS listener.
struct ServiceSpec {
  const char* name;
  const char* role;
  const char* binary;
  int host;
  int port;
};
constexpr ServiceSpec kServices[] = {
    {"control1", "control", "tfcontrol", 1, kControlPort},
    {"registrar1", "registrar", "tfnode", 2, kRegistrarPort},
    {"fe1", "frontend", "tfnode", 3, kFrontendInternalPort},
    {"edge1", "edge", "tfnode", 4, kEdgeInternalPort},
};

// Trust state may be a day old before a node complains; it keeps serving.
constexpr uint32_t kMaxStalenessSeconds = 24 * 60 * 60;

std::string Join(const std::string& dir, absl::string_view relative) {
  return (fs::path(dir) / std::string(relative)).string();
}

std::string HostPort(const std::string& host, int port) { return absl::StrCat(host, ":", port); }

absl::Status CheckSubnet(int subnet) {
  if (subnet < kMinClusterSubnet || subnet > kMaxClusterSubnet) {
    return absl::InvalidArgumentError(absl::StrCat("subnet: ", subnet, " is not in ",
                                                   kMinClusterSubnet, "..", kMaxClusterSubnet));
  }
  return absl::OkStatus();
}

// --- the PKI manifest ------------------------------------------------------

const json* FindManifestDomain(const json& manifest, absl::string_view domain) {
  if (!manifest.contains("domains") || !manifest["domains"].is_array()) return nullptr;
  for (const json& d : manifest["domains"]) {
    if (d.is_object() && d.value("domain", "") == domain) return &d;
  }
  return nullptr;
}

absl::StatusOr<const json*> ManifestEntry(const json& domain, absl::string_view name) {
  if (domain.contains("entries") && domain["entries"].is_array()) {
    for (const json& e : domain["entries"]) {
      if (e.is_object() && e.value("name", "") == name) return &e;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("manifest: domain ", domain.value("domain", ""), " has no entry ", name));
}

absl::StatusOr<std::string> ManifestString(const json& entry, const char* key) {
  if (!entry.contains(key) || !entry[key].is_string() || entry[key].get<std::string>().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest: entry ", entry.value("name", ""), " has no ", key));
  }
  return entry[key].get<std::string>();
}

absl::StatusOr<ClusterApp> AppFromManifest(const json& domain, const std::string& pki_dir,
                                           const std::string& name, const std::string& root_name) {
  TF_ASSIGN_OR_RETURN(const json* e, ManifestEntry(domain, name));
  ClusterApp app;
  app.set_name(name);
  TF_ASSIGN_OR_RETURN(*app.mutable_client_id(), ManifestString(*e, "client_id"));
  app.set_issuer_id(app.client_id());
  TF_ASSIGN_OR_RETURN(*app.mutable_registered_issuer_name(), ManifestString(*e, "issuer_name"));
  app.set_self_signed(e->value("self_signed", false));
  app.set_signing_root_name(app.self_signed() ? absl::StrCat(name, "-signing") : root_name);
  TF_ASSIGN_OR_RETURN(std::string cert, ManifestString(*e, "cert"));
  TF_ASSIGN_OR_RETURN(std::string key, ManifestString(*e, "key"));
  TF_ASSIGN_OR_RETURN(std::string p12, ManifestString(*e, "pkcs12"));
  app.set_cert(Join(pki_dir, cert));
  app.set_key(Join(pki_dir, key));
  app.set_pkcs12(Join(pki_dir, p12));
  app.set_pkcs12_password(kClusterPkcs12Password);
  return app;
}

// --- cluster.json ----------------------------------------------------------

// The first empty string field below `message` as a path
// ("domains[0].apps[1].client_id"), or "" when there is none. Only the
// listeners a service may lack (listen.client, listen.federation) may be
// empty.
std::string FirstEmptyField(const google::protobuf::Message& message, const std::string& path) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Descriptor* d = message.GetDescriptor();
  const google::protobuf::Reflection* r = message.GetReflection();
  const bool listen = d == ClusterService::Listen::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string here = path.empty() ? f->name() : absl::StrCat(path, ".", f->name());
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING && !f->is_repeated()) {
      if (r->GetString(message, f).empty() && !(listen && f->name() != "internal")) return here;
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && f->is_repeated()) {
      for (int j = 0; j < r->FieldSize(message, f); ++j) {
        std::string empty =
            FirstEmptyField(r->GetRepeatedMessage(message, f, j), absl::StrCat(here, "[", j, "]"));
        if (!empty.empty()) return empty;
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      std::string empty = FirstEmptyField(r->GetMessage(message, f), here);
      if (!empty.empty()) return empty;
    }
  }
  return "";
}

absl::Status RemoveAll(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("remove ", path.string(), ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& path, fs::perms perms) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", path, ": ", ec.message()));
  fs::permissions(path, perms, ec);
  if (ec) return absl::InternalError(absl::StrCat("chmod ", path, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

const ClusterApp* FindApp(const ClusterDomain& domain, absl::string_view name) {
  for (const ClusterApp& a : domain.apps()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

const ClusterDomain* FindDomain(const ClusterLayout& layout, absl::string_view domain) {
  for (const ClusterDomain& d : layout.domains()) {
    if (d.domain() == domain) return &d;
  }
  return nullptr;
}

const ClusterService* FindService(const ClusterLayout& layout, absl::string_view domain,
                                  absl::string_view name) {
  for (const ClusterService& s : layout.services()) {
    if (s.domain() == domain && s.name() == name) return &s;
  }
  return nullptr;
}

std::string ClusterJsonPath(const ClusterLayout& layout) {
  return Join(layout.dir(), "cluster.json");
}

std::string ClusterHost(int subnet, int domain_index, int host) {
  return absl::StrCat("127.", subnet, ".", domain_index + 1, ".", host);
}

std::string ClusterRootName(absl::string_view domain) {
  std::vector<absl::string_view> labels = absl::StrSplit(domain, '.');
  return absl::StrCat(labels.front(), "-root");
}

absl::StatusOr<ClusterLayout> BuildClusterLayout(const std::string& dir, int subnet,
                                                 absl::string_view manifest_json) {
  TF_RETURN_IF_ERROR(CheckSubnet(subnet));
  json manifest = json::parse(manifest_json.begin(), manifest_json.end(), nullptr,
                              /*allow_exceptions=*/false);
  if (manifest.is_discarded() || !manifest.is_object()) {
    return absl::InvalidArgumentError("manifest: not a json object");
  }
  ClusterLayout layout;
  layout.set_version(kClusterJsonVersion);
  layout.set_dir(dir);
  layout.set_subnet(subnet);
  layout.set_pki_dir(Join(dir, "pki"));
  layout.set_manifest(Join(layout.pki_dir(), "manifest.json"));
  layout.set_logs_dir(Join(dir, "logs"));
  layout.set_pids_dir(Join(dir, "pids"));

  constexpr int kDomainCount = sizeof(kClusterDomains) / sizeof(kClusterDomains[0]);
  for (int i = 0; i < kDomainCount; ++i) {
    const std::string name = kClusterDomains[i];
    const json* md = FindManifestDomain(manifest, name);
    if (md == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("manifest: no domain ", name));
    }
    ClusterDomain& d = *layout.add_domains();
    d.set_domain(name);
    d.set_realm(md->value("realm", ""));
    if (d.realm().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("manifest: domain ", name, " has no realm"));
    }
    d.set_partner(kClusterDomains[(i + 1) % kDomainCount]);
    d.set_root_name(ClusterRootName(d.domain()));
    d.set_partner_root_name(ClusterRootName(d.partner()));
    TF_ASSIGN_OR_RETURN(const json* root, ManifestEntry(*md, "root"));
    TF_ASSIGN_OR_RETURN(std::string root_cert, ManifestString(*root, "cert"));
    d.set_root(Join(layout.pki_dir(), root_cert));
    TF_ASSIGN_OR_RETURN(const json* admin, ManifestEntry(*md, "admin1"));
    TF_ASSIGN_OR_RETURN(std::string admin_cert, ManifestString(*admin, "cert"));
    TF_ASSIGN_OR_RETURN(std::string admin_key, ManifestString(*admin, "key"));
    d.set_admin_cert(Join(layout.pki_dir(), admin_cert));
    d.set_admin_key(Join(layout.pki_dir(), admin_key));
    for (const char* app : {"app1", "app2"}) {
      TF_ASSIGN_OR_RETURN(*d.add_apps(),
                          AppFromManifest(*md, layout.pki_dir(), app, d.root_name()));
    }

    const std::string domain_dir = Join(dir, name);
    for (const ServiceSpec& spec : kServices) {
      ClusterService& s = *layout.add_services();
      s.set_name(spec.name);
      s.set_domain(name);
      s.set_id(absl::StrCat(name, "-", spec.name));
      s.set_role(spec.role);
      s.set_binary(spec.binary);
      s.set_dns_name(absl::StrCat(spec.name, ".", name));
      TF_ASSIGN_OR_RETURN(const json* entry, ManifestEntry(*md, spec.name));
      TF_ASSIGN_OR_RETURN(std::string cert, ManifestString(*entry, "cert"));
      TF_ASSIGN_OR_RETURN(std::string key, ManifestString(*entry, "key"));
      if (entry->value("dns_name", "") != s.dns_name()) {
        return absl::InvalidArgumentError(absl::StrCat("manifest: entry ", spec.name, " of ", name,
                                                       " is not for ", s.dns_name()));
      }
      s.set_cert(Join(layout.pki_dir(), cert));
      s.set_key(Join(layout.pki_dir(), key));
      s.set_config(Join(domain_dir, absl::StrCat(spec.name, ".yaml")));
      s.set_state_dir(Join(domain_dir, absl::StrCat("state/", spec.name)));
      s.set_log(Join(layout.logs_dir(), absl::StrCat(s.id(), ".log")));
      s.set_pid_file(Join(layout.pids_dir(), absl::StrCat(s.id(), ".pid")));
      const std::string host = ClusterHost(subnet, i, spec.host);
      s.set_address(HostPort(host, spec.port));
      s.mutable_listen()->set_internal(s.address());
      v1::Endpoint* endpoint = nullptr;
      if (s.role() == "frontend") {
        s.mutable_listen()->set_client(HostPort(host, kFrontendClientPort));
        endpoint = d.mutable_frontend();
        endpoint->set_address(s.listen().client());
      } else if (s.role() == "edge") {
        s.mutable_listen()->set_federation(HostPort(host, kEdgeFederationPort));
        endpoint = d.mutable_federation();
        endpoint->set_address(s.listen().federation());
      } else if (s.role() == "control") {
        endpoint = d.mutable_control();
        endpoint->set_address(s.address());
      }
      if (endpoint != nullptr) endpoint->set_server_name(s.dns_name());
    }
  }
  return layout;
}

namespace {

// The service's own loopback host with the metrics port.
std::string MetricsAddress(const ClusterService& service) {
  return absl::StrCat(service.address().substr(0, service.address().rfind(':')), ":", kMetricsPort);
}

}  // namespace

v1::ControlPlaneConfig ControlConfigFor(const ClusterLayout& layout,
                                        const ClusterService& service) {
  const ClusterDomain& d = *FindDomain(layout, service.domain());
  v1::ControlPlaneConfig c;
  c.set_trust_domain(d.domain());
  c.set_realm(d.realm());
  c.mutable_listen()->set_address(service.address());
  c.mutable_identity()->set_certificate_file(service.cert());
  c.mutable_identity()->set_key_file(service.key());
  c.mutable_identity()->set_refresh_interval_seconds(1);
  c.set_seed_root_name(d.root_name());
  c.set_seed_root_file(d.root());
  c.set_store("sqlite");
  c.set_sqlite_path(Join(service.state_dir(), "control.db"));
  c.set_metrics_address(MetricsAddress(service));
  c.set_log_level("info");
  return c;
}

v1::NodeConfig NodeConfigFor(const ClusterLayout& layout, const ClusterService& service) {
  const ClusterDomain& d = *FindDomain(layout, service.domain());
  v1::NodeConfig c;
  c.set_role(service.role());
  c.set_trust_domain(d.domain());
  c.set_realm(d.realm());
  c.set_dns_name(service.dns_name());
  c.mutable_identity()->set_certificate_file(service.cert());
  c.mutable_identity()->set_key_file(service.key());
  c.mutable_identity()->set_refresh_interval_seconds(1);
  v1::TrustAgentConfig* agent = c.mutable_trust_agent();
  v1::Endpoint* control = agent->add_control_planes();
  control->set_address(d.control().address());
  control->set_server_name(d.control().server_name());
  agent->set_bootstrap_bundle_file(d.root());
  agent->set_state_dir(service.state_dir());
  agent->set_max_staleness_seconds(kMaxStalenessSeconds);
  agent->set_staleness_policy(v1::FAIL_STATIC);
  c.mutable_listen()->set_address(service.address());
  const ClusterService* registrar = FindService(layout, d.domain(), "registrar1");
  const ClusterService* edge = FindService(layout, d.domain(), "edge1");
  if (service.role() == "frontend") {
    c.mutable_client_listen()->set_address(service.listen().client());
    c.mutable_registrar()->set_address(registrar->address());
    c.mutable_registrar()->set_server_name(registrar->dns_name());
    c.mutable_edge()->set_address(edge->address());
    c.mutable_edge()->set_server_name(edge->dns_name());
  }
  if (service.role() == "edge") {
    c.mutable_federation_listen()->set_address(service.listen().federation());
    c.mutable_registrar()->set_address(registrar->address());
    c.mutable_registrar()->set_server_name(registrar->dns_name());
  }
  for (const ClusterService& s : layout.services()) {
    if (s.domain() == d.domain()) (*c.mutable_addresses())[s.dns_name()] = s.address();
  }
  c.set_metrics_address(MetricsAddress(service));
  c.set_log_level("info");
  return c;
}

std::string ClusterJson(const ClusterLayout& layout) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string text;
  // Only messages with unresolvable Any fields fail; this one has none.
  if (!google::protobuf::util::MessageToJsonString(layout, &text, options).ok()) return "{}";
  return text;
}

absl::StatusOr<ClusterLayout> ParseClusterJson(absl::string_view text) {
  ClusterLayout layout;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(text.data(), text.size()), &layout, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cluster.json: not a json object of a cluster layout: ", parsed.message().ToString()));
  }
  if (layout.version() != kClusterJsonVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster.json: version: expected ", kClusterJsonVersion));
  }
  TF_RETURN_IF_ERROR(Annotate(CheckSubnet(layout.subnet()), "cluster.json"));
  if (layout.domains().empty() || layout.services().empty()) {
    return absl::InvalidArgumentError("cluster.json: no domains or no services");
  }
  if (std::string empty = FirstEmptyField(layout, ""); !empty.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("cluster.json: ", empty, ": expected a string"));
  }
  for (int i = 0; i < layout.services_size(); ++i) {
    const ClusterService& s = layout.services(i);
    const std::string path = absl::StrCat("services[", i, "]");
    if (s.binary() != "tfcontrol" && s.binary() != "tfnode") {
      return absl::InvalidArgumentError(
          absl::StrCat("cluster.json: ", path, ".binary: expected tfcontrol or tfnode"));
    }
    if (FindDomain(layout, s.domain()) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("cluster.json: ", path, ".domain: ", s.domain(), " is not in domains"));
    }
  }
  return layout;
}

absl::StatusOr<ClusterLayout> WriteClusterConfig(const ClusterConfigOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("dir: required");
  TF_RETURN_IF_ERROR(CheckSubnet(options.subnet));
  std::error_code ec;
  fs::path dir = fs::absolute(options.dir, ec).lexically_normal();
  if (ec) return absl::InvalidArgumentError(absl::StrCat("dir: ", ec.message()));
  // "/tmp/x/" normalizes to "/tmp/x/"; paths inside are joined to "/tmp/x".
  if (!dir.has_filename() && dir.has_parent_path() && dir != dir.root_path()) {
    dir = dir.parent_path();
  }
  const std::string root = dir.string();
  const fs::path cluster_json = dir / "cluster.json";
  const fs::path pki = dir / "pki";

  if (!options.force) {
    for (const fs::path& existing : {cluster_json, pki}) {
      if (fs::exists(existing, ec)) {
        return absl::FailedPreconditionError(absl::StrCat(root, " already holds a cluster (",
                                                          existing.filename().string(),
                                                          "); use --force to replace it"));
      }
    }
  } else {
    // cluster.json first: a half-replaced directory never looks complete.
    TF_RETURN_IF_ERROR(RemoveAll(cluster_json));
    TF_RETURN_IF_ERROR(RemoveAll(pki));
    for (const char* domain : kClusterDomains) {
      TF_RETURN_IF_ERROR(RemoveAll(dir / domain / "state"));
      for (const ServiceSpec& spec : kServices) {
        TF_RETURN_IF_ERROR(RemoveAll(dir / domain / absl::StrCat(spec.name, ".yaml")));
      }
    }
  }

  PkiInitOptions pki_options;
  pki_options.domains.assign(std::begin(kClusterDomains), std::end(kClusterDomains));
  pki_options.out_dir = pki.string();
  pki_options.pkcs12_password = kClusterPkcs12Password;
  TF_ASSIGN_OR_RETURN(PkiInitResult pki_result, RunPkiInit(pki_options));
  TF_ASSIGN_OR_RETURN(std::string manifest,
                      ReadFileLimited(pki_result.manifest_path, kMaxJsonBytes));
  TF_ASSIGN_OR_RETURN(ClusterLayout layout, BuildClusterLayout(root, options.subnet, manifest));

  TF_RETURN_IF_ERROR(MakeDirs(layout.logs_dir(),
                              fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec));
  TF_RETURN_IF_ERROR(MakeDirs(layout.pids_dir(),
                              fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec));
  for (const ClusterService& s : layout.services()) {
    // State holds the control plane's store and the nodes' trust state.
    TF_RETURN_IF_ERROR(MakeDirs(s.state_dir(), fs::perms::owner_all));
    const std::string header =
        s.binary() == "tfcontrol"
            ? absl::StrCat("# ", s.dns_name(), ": tfcontrol --config ", s.config(), "\n")
            : absl::StrCat("# ", s.dns_name(), " (", s.role(), "): tfnode --config ", s.config(),
                           "\n");
    const std::string body = s.binary() == "tfcontrol"
                                 ? config::ProtoToYaml(ControlConfigFor(layout, s))
                                 : config::ProtoToYaml(NodeConfigFor(layout, s));
    TF_RETURN_IF_ERROR(WriteFileAtomically(s.config(), header + body, 0644));
  }
  TF_RETURN_IF_ERROR(WriteFileAtomically(ClusterJsonPath(layout), ClusterJson(layout), 0644));
  return layout;
}

absl::StatusOr<ClusterLayout> LoadClusterLayout(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("dir: required");
  const std::string path = Join(dir, "cluster.json");
  absl::StatusOr<std::string> text = ReadFileLimited(path, kMaxJsonBytes);
  if (absl::IsNotFound(text.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("no cluster in ", dir, " (run tfctl cluster config --dir ", dir, ")"));
  }
  if (!text.ok()) return text.status();
  return ParseClusterJson(*text);
}

}  // namespace trustfabric::devcluster
