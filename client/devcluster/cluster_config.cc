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
  app.name = name;
  TF_ASSIGN_OR_RETURN(app.client_id, ManifestString(*e, "client_id"));
  app.issuer_id = app.client_id;
  TF_ASSIGN_OR_RETURN(app.registered_issuer_name, ManifestString(*e, "issuer_name"));
  app.self_signed = e->value("self_signed", false);
  app.signing_root_name = app.self_signed ? absl::StrCat(name, "-signing") : root_name;
  TF_ASSIGN_OR_RETURN(std::string cert, ManifestString(*e, "cert"));
  TF_ASSIGN_OR_RETURN(std::string key, ManifestString(*e, "key"));
  TF_ASSIGN_OR_RETURN(std::string p12, ManifestString(*e, "pkcs12"));
  app.cert_file = Join(pki_dir, cert);
  app.key_file = Join(pki_dir, key);
  app.pkcs12_file = Join(pki_dir, p12);
  app.pkcs12_password = kClusterPkcs12Password;
  return app;
}

// --- cluster.json ----------------------------------------------------------

json EndpointJson(const ClusterEndpoint& e) {
  return {{"address", e.address}, {"server_name", e.server_name}};
}

json ServiceJson(const ClusterService& s) {
  json listen = {{"internal", s.address}};
  if (!s.client_address.empty()) listen["client"] = s.client_address;
  if (!s.federation_address.empty()) listen["federation"] = s.federation_address;
  return {{"id", s.id},
          {"name", s.name},
          {"domain", s.domain},
          {"role", s.role},
          {"binary", s.binary},
          {"dns_name", s.dns_name},
          {"config", s.config_file},
          {"cert", s.certificate_file},
          {"key", s.key_file},
          {"state_dir", s.state_dir},
          {"log", s.log_file},
          {"pid_file", s.pid_file},
          {"address", s.address},
          {"listen", listen}};
}

json AppJson(const ClusterApp& a) {
  return {{"name", a.name},
          {"client_id", a.client_id},
          {"issuer_id", a.issuer_id},
          {"registered_issuer_name", a.registered_issuer_name},
          {"self_signed", a.self_signed},
          {"signing_root_name", a.signing_root_name},
          {"cert", a.cert_file},
          {"key", a.key_file},
          {"pkcs12", a.pkcs12_file},
          {"pkcs12_password", a.pkcs12_password}};
}

json DomainJson(const ClusterDomain& d) {
  json apps = json::array();
  for (const ClusterApp& a : d.apps) apps.push_back(AppJson(a));
  return {{"domain", d.domain},
          {"realm", d.realm},
          {"partner", d.partner},
          {"root_name", d.root_name},
          {"root", d.root_file},
          {"partner_root_name", d.partner_root_name},
          {"admin_cert", d.admin_cert_file},
          {"admin_key", d.admin_key_file},
          {"control", EndpointJson(d.control)},
          {"frontend", EndpointJson(d.frontend)},
          {"federation", EndpointJson(d.federation)},
          {"apps", apps}};
}

// Field readers for ParseClusterJson: each names the path that is wrong.
class JsonReader {
 public:
  absl::Status status() const { return status_; }

  std::string String(const json& object, const char* key, const std::string& path,
                     bool required = true) {
    if (!status_.ok()) return "";
    if (!object.contains(key) || !object[key].is_string()) {
      if (required || object.contains(key)) {
        status_ = absl::InvalidArgumentError(
            absl::StrCat("cluster.json: ", path, ".", key, ": expected a string"));
      }
      return "";
    }
    return object[key].get<std::string>();
  }

  bool Bool(const json& object, const char* key, const std::string& path) {
    if (!status_.ok()) return false;
    if (!object.contains(key) || !object[key].is_boolean()) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat("cluster.json: ", path, ".", key, ": expected true or false"));
      return false;
    }
    return object[key].get<bool>();
  }

  const json& Object(const json& object, const char* key, const std::string& path) {
    static const json* const kEmpty = new json(json::object());
    if (!status_.ok()) return *kEmpty;
    if (!object.contains(key) || !object[key].is_object()) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat("cluster.json: ", path, ".", key, ": expected an object"));
      return *kEmpty;
    }
    return object[key];
  }

  const json& Array(const json& object, const char* key, const std::string& path) {
    static const json* const kEmpty = new json(json::array());
    if (!status_.ok()) return *kEmpty;
    if (!object.contains(key) || !object[key].is_array()) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat("cluster.json: ", path, ".", key, ": expected an array"));
      return *kEmpty;
    }
    return object[key];
  }

  ClusterEndpoint Endpoint(const json& object, const char* key, const std::string& path) {
    const json& e = Object(object, key, path);
    const std::string here = absl::StrCat(path, ".", key);
    return {String(e, "address", here), String(e, "server_name", here)};
  }

 private:
  absl::Status status_;
};

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

const ClusterApp* ClusterDomain::FindApp(absl::string_view name) const {
  for (const ClusterApp& a : apps) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

const ClusterDomain* ClusterLayout::FindDomain(absl::string_view domain) const {
  for (const ClusterDomain& d : domains) {
    if (d.domain == domain) return &d;
  }
  return nullptr;
}

const ClusterService* ClusterLayout::FindService(absl::string_view domain,
                                                 absl::string_view name) const {
  for (const ClusterService& s : services) {
    if (s.domain == domain && s.name == name) return &s;
  }
  return nullptr;
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
  layout.dir = dir;
  layout.subnet = subnet;
  layout.pki_dir = Join(dir, "pki");
  layout.manifest_file = Join(layout.pki_dir, "manifest.json");
  layout.logs_dir = Join(dir, "logs");
  layout.pids_dir = Join(dir, "pids");
  layout.cluster_json = Join(dir, "cluster.json");

  constexpr int kDomainCount = sizeof(kClusterDomains) / sizeof(kClusterDomains[0]);
  for (int i = 0; i < kDomainCount; ++i) {
    const std::string name = kClusterDomains[i];
    const json* md = FindManifestDomain(manifest, name);
    if (md == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("manifest: no domain ", name));
    }
    ClusterDomain d;
    d.domain = name;
    d.realm = md->value("realm", "");
    if (d.realm.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("manifest: domain ", name, " has no realm"));
    }
    d.partner = kClusterDomains[(i + 1) % kDomainCount];
    d.root_name = ClusterRootName(d.domain);
    d.partner_root_name = ClusterRootName(d.partner);
    TF_ASSIGN_OR_RETURN(const json* root, ManifestEntry(*md, "root"));
    TF_ASSIGN_OR_RETURN(std::string root_cert, ManifestString(*root, "cert"));
    d.root_file = Join(layout.pki_dir, root_cert);
    TF_ASSIGN_OR_RETURN(const json* admin, ManifestEntry(*md, "admin1"));
    TF_ASSIGN_OR_RETURN(std::string admin_cert, ManifestString(*admin, "cert"));
    TF_ASSIGN_OR_RETURN(std::string admin_key, ManifestString(*admin, "key"));
    d.admin_cert_file = Join(layout.pki_dir, admin_cert);
    d.admin_key_file = Join(layout.pki_dir, admin_key);
    for (const char* app : {"app1", "app2"}) {
      TF_ASSIGN_OR_RETURN(ClusterApp a, AppFromManifest(*md, layout.pki_dir, app, d.root_name));
      d.apps.push_back(std::move(a));
    }

    const std::string domain_dir = Join(dir, name);
    for (const ServiceSpec& spec : kServices) {
      ClusterService s;
      s.name = spec.name;
      s.domain = name;
      s.id = absl::StrCat(name, "-", spec.name);
      s.role = spec.role;
      s.binary = spec.binary;
      s.dns_name = absl::StrCat(spec.name, ".", name);
      TF_ASSIGN_OR_RETURN(const json* entry, ManifestEntry(*md, spec.name));
      TF_ASSIGN_OR_RETURN(std::string cert, ManifestString(*entry, "cert"));
      TF_ASSIGN_OR_RETURN(std::string key, ManifestString(*entry, "key"));
      if (entry->value("dns_name", "") != s.dns_name) {
        return absl::InvalidArgumentError(
            absl::StrCat("manifest: entry ", spec.name, " of ", name, " is not for ", s.dns_name));
      }
      s.certificate_file = Join(layout.pki_dir, cert);
      s.key_file = Join(layout.pki_dir, key);
      s.config_file = Join(domain_dir, absl::StrCat(spec.name, ".yaml"));
      s.state_dir = Join(domain_dir, absl::StrCat("state/", spec.name));
      s.log_file = Join(layout.logs_dir, absl::StrCat(s.id, ".log"));
      s.pid_file = Join(layout.pids_dir, absl::StrCat(s.id, ".pid"));
      const std::string host = ClusterHost(subnet, i, spec.host);
      s.address = HostPort(host, spec.port);
      if (s.role == "frontend") {
        s.client_address = HostPort(host, kFrontendClientPort);
        d.frontend = {s.client_address, s.dns_name};
      }
      if (s.role == "edge") {
        s.federation_address = HostPort(host, kEdgeFederationPort);
        d.federation = {s.federation_address, s.dns_name};
      }
      if (s.role == "control") d.control = {s.address, s.dns_name};
      layout.services.push_back(std::move(s));
    }
    layout.domains.push_back(std::move(d));
  }
  return layout;
}

namespace {

// The service's own loopback host with the metrics port.
std::string MetricsAddress(const ClusterService& service) {
  return absl::StrCat(service.address.substr(0, service.address.rfind(':')), ":", kMetricsPort);
}

}  // namespace

v1::ControlPlaneConfig ControlConfigFor(const ClusterLayout& layout,
                                        const ClusterService& service) {
  const ClusterDomain& d = *layout.FindDomain(service.domain);
  v1::ControlPlaneConfig c;
  c.set_trust_domain(d.domain);
  c.set_realm(d.realm);
  c.mutable_listen()->set_address(service.address);
  c.mutable_identity()->set_certificate_file(service.certificate_file);
  c.mutable_identity()->set_key_file(service.key_file);
  c.mutable_identity()->set_refresh_interval_seconds(1);
  c.set_seed_root_name(d.root_name);
  c.set_seed_root_file(d.root_file);
  c.set_store("sqlite");
  c.set_sqlite_path(Join(service.state_dir, "control.db"));
  c.set_metrics_address(MetricsAddress(service));
  c.set_log_level("info");
  return c;
}

v1::NodeConfig NodeConfigFor(const ClusterLayout& layout, const ClusterService& service) {
  const ClusterDomain& d = *layout.FindDomain(service.domain);
  v1::NodeConfig c;
  c.set_role(service.role);
  c.set_trust_domain(d.domain);
  c.set_realm(d.realm);
  c.set_dns_name(service.dns_name);
  c.mutable_identity()->set_certificate_file(service.certificate_file);
  c.mutable_identity()->set_key_file(service.key_file);
  c.mutable_identity()->set_refresh_interval_seconds(1);
  v1::TrustAgentConfig* agent = c.mutable_trust_agent();
  v1::ControlEndpoint* control = agent->add_control_planes();
  control->set_address(d.control.address);
  control->set_server_name(d.control.server_name);
  agent->set_bootstrap_bundle_file(d.root_file);
  agent->set_state_dir(service.state_dir);
  agent->set_max_staleness_seconds(kMaxStalenessSeconds);
  agent->set_staleness_policy(v1::FAIL_STATIC);
  c.mutable_listen()->set_address(service.address);
  const ClusterService* registrar = layout.FindService(d.domain, "registrar1");
  const ClusterService* edge = layout.FindService(d.domain, "edge1");
  if (service.role == "frontend") {
    c.mutable_client_listen()->set_address(service.client_address);
    c.mutable_registrar()->set_address(registrar->address);
    c.mutable_registrar()->set_server_name(registrar->dns_name);
    c.mutable_edge()->set_address(edge->address);
    c.mutable_edge()->set_server_name(edge->dns_name);
  }
  if (service.role == "edge") {
    c.mutable_federation_listen()->set_address(service.federation_address);
    c.mutable_registrar()->set_address(registrar->address);
    c.mutable_registrar()->set_server_name(registrar->dns_name);
  }
  for (const ClusterService& s : layout.services) {
    if (s.domain == d.domain) (*c.mutable_addresses())[s.dns_name] = s.address;
  }
  c.set_metrics_address(MetricsAddress(service));
  c.set_log_level("info");
  return c;
}

std::string ClusterJson(const ClusterLayout& layout) {
  json domains = json::array();
  for (const ClusterDomain& d : layout.domains) domains.push_back(DomainJson(d));
  json services = json::array();
  for (const ClusterService& s : layout.services) services.push_back(ServiceJson(s));
  json doc = {{"version", kClusterJsonVersion},
              {"dir", layout.dir},
              {"subnet", layout.subnet},
              {"pki_dir", layout.pki_dir},
              {"manifest", layout.manifest_file},
              {"logs_dir", layout.logs_dir},
              {"pids_dir", layout.pids_dir},
              {"domains", domains},
              {"services", services}};
  return doc.dump(2) + "\n";
}

absl::StatusOr<ClusterLayout> ParseClusterJson(absl::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError("cluster.json: not a json object");
  }
  if (!doc.contains("version") || !doc["version"].is_number_integer() ||
      doc["version"].get<int>() != kClusterJsonVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster.json: version: expected ", kClusterJsonVersion));
  }
  if (!doc.contains("subnet") || !doc["subnet"].is_number_integer()) {
    return absl::InvalidArgumentError("cluster.json: subnet: expected an integer");
  }
  JsonReader r;
  ClusterLayout layout;
  layout.subnet = doc["subnet"].get<int>();
  TF_RETURN_IF_ERROR(Annotate(CheckSubnet(layout.subnet), "cluster.json"));
  layout.dir = r.String(doc, "dir", "");
  layout.pki_dir = r.String(doc, "pki_dir", "");
  layout.manifest_file = r.String(doc, "manifest", "");
  layout.logs_dir = r.String(doc, "logs_dir", "");
  layout.pids_dir = r.String(doc, "pids_dir", "");
  layout.cluster_json = Join(layout.dir, "cluster.json");

  const json& domains = r.Array(doc, "domains", "");
  for (size_t i = 0; i < domains.size(); ++i) {
    const json& dj = domains[i];
    const std::string path = absl::StrCat("domains[", i, "]");
    ClusterDomain d;
    d.domain = r.String(dj, "domain", path);
    d.realm = r.String(dj, "realm", path);
    d.partner = r.String(dj, "partner", path);
    d.root_name = r.String(dj, "root_name", path);
    d.root_file = r.String(dj, "root", path);
    d.partner_root_name = r.String(dj, "partner_root_name", path);
    d.admin_cert_file = r.String(dj, "admin_cert", path);
    d.admin_key_file = r.String(dj, "admin_key", path);
    d.control = r.Endpoint(dj, "control", path);
    d.frontend = r.Endpoint(dj, "frontend", path);
    d.federation = r.Endpoint(dj, "federation", path);
    const json& apps = r.Array(dj, "apps", path);
    for (size_t j = 0; j < apps.size(); ++j) {
      const json& aj = apps[j];
      const std::string app_path = absl::StrCat(path, ".apps[", j, "]");
      ClusterApp a;
      a.name = r.String(aj, "name", app_path);
      a.client_id = r.String(aj, "client_id", app_path);
      a.issuer_id = r.String(aj, "issuer_id", app_path);
      a.registered_issuer_name = r.String(aj, "registered_issuer_name", app_path);
      a.self_signed = r.Bool(aj, "self_signed", app_path);
      a.signing_root_name = r.String(aj, "signing_root_name", app_path);
      a.cert_file = r.String(aj, "cert", app_path);
      a.key_file = r.String(aj, "key", app_path);
      a.pkcs12_file = r.String(aj, "pkcs12", app_path);
      a.pkcs12_password = r.String(aj, "pkcs12_password", app_path);
      d.apps.push_back(std::move(a));
    }
    layout.domains.push_back(std::move(d));
  }

  const json& services = r.Array(doc, "services", "");
  for (size_t i = 0; i < services.size(); ++i) {
    const json& sj = services[i];
    const std::string path = absl::StrCat("services[", i, "]");
    ClusterService s;
    s.id = r.String(sj, "id", path);
    s.name = r.String(sj, "name", path);
    s.domain = r.String(sj, "domain", path);
    s.role = r.String(sj, "role", path);
    s.binary = r.String(sj, "binary", path);
    s.dns_name = r.String(sj, "dns_name", path);
    s.config_file = r.String(sj, "config", path);
    s.certificate_file = r.String(sj, "cert", path);
    s.key_file = r.String(sj, "key", path);
    s.state_dir = r.String(sj, "state_dir", path);
    s.log_file = r.String(sj, "log", path);
    s.pid_file = r.String(sj, "pid_file", path);
    s.address = r.String(sj, "address", path);
    const json& listen = r.Object(sj, "listen", path);
    const std::string listen_path = absl::StrCat(path, ".listen");
    s.client_address = r.String(listen, "client", listen_path, /*required=*/false);
    s.federation_address = r.String(listen, "federation", listen_path, /*required=*/false);
    if (r.status().ok() && s.binary != "tfcontrol" && s.binary != "tfnode") {
      return absl::InvalidArgumentError(
          absl::StrCat("cluster.json: ", path, ".binary: expected tfcontrol or tfnode"));
    }
    if (r.status().ok() && layout.FindDomain(s.domain) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("cluster.json: ", path, ".domain: ", s.domain, " is not in domains"));
    }
    layout.services.push_back(std::move(s));
  }
  TF_RETURN_IF_ERROR(r.status());
  if (layout.domains.empty() || layout.services.empty()) {
    return absl::InvalidArgumentError("cluster.json: no domains or no services");
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

  TF_RETURN_IF_ERROR(MakeDirs(layout.logs_dir, fs::perms::owner_all | fs::perms::group_read |
                                                   fs::perms::group_exec | fs::perms::others_read |
                                                   fs::perms::others_exec));
  TF_RETURN_IF_ERROR(MakeDirs(layout.pids_dir, fs::perms::owner_all | fs::perms::group_read |
                                                   fs::perms::group_exec | fs::perms::others_read |
                                                   fs::perms::others_exec));
  for (const ClusterService& s : layout.services) {
    // State holds the control plane's store and the nodes' trust state.
    TF_RETURN_IF_ERROR(MakeDirs(s.state_dir, fs::perms::owner_all));
    const std::string header =
        s.binary == "tfcontrol"
            ? absl::StrCat("# ", s.dns_name, ": tfcontrol --config ", s.config_file, "\n")
            : absl::StrCat("# ", s.dns_name, " (", s.role, "): tfnode --config ", s.config_file,
                           "\n");
    const std::string body = s.binary == "tfcontrol"
                                 ? config::ProtoToYaml(ControlConfigFor(layout, s))
                                 : config::ProtoToYaml(NodeConfigFor(layout, s));
    TF_RETURN_IF_ERROR(WriteFileAtomically(s.config_file, header + body, 0644));
  }
  TF_RETURN_IF_ERROR(WriteFileAtomically(layout.cluster_json, ClusterJson(layout), 0644));
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
