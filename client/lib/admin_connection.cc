// Connection settings of the admin commands; see admin_connection.h.
#include "client/lib/admin_connection.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/pki/spiffe.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"
#include "nlohmann/json.hpp"

namespace trustfabric::client {
namespace {

namespace fs = std::filesystem;

constexpr char kManifestName[] = "manifest.json";
constexpr size_t kMaxFlagFileBytes = size_t{16} << 20;

absl::Status Usage(absl::string_view flag, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", message));
}

// The string member `key` of `entry`, "" when absent; throws
// nlohmann::json::type_error when it is not a string.
std::string Field(const nlohmann::json& entry, const char* key) {
  auto it = entry.find(key);
  if (it == entry.end()) return "";
  return it->get<std::string>();
}

const nlohmann::json* FindEntry(const nlohmann::json& entries, absl::string_view kind,
                                absl::string_view role) {
  for (const nlohmann::json& e : entries) {
    if (Field(e, "kind") == kind && (role.empty() || Field(e, "role") == role)) return &e;
  }
  return nullptr;
}

absl::StatusOr<PkiDefaults> DefaultsFromManifest(const nlohmann::json& manifest,
                                                 const std::string& dir,
                                                 const std::string& manifest_path,
                                                 const std::string& domain) {
  if (!manifest.is_object() || !manifest.contains("domains") || !manifest["domains"].is_array()) {
    return Usage("--pki", absl::StrCat(manifest_path, ": no domains list"));
  }
  const nlohmann::json& domains = manifest["domains"];
  std::vector<std::string> names;
  for (const nlohmann::json& d : domains) names.push_back(Field(d, "domain"));
  const nlohmann::json* chosen = nullptr;
  if (domain.empty()) {
    if (domains.size() != 1) {
      return Usage("--domain", absl::StrCat("required: ", manifest_path, " has domains ",
                                            absl::StrJoin(names, ", ")));
    }
    chosen = &domains[0];
  } else {
    for (const nlohmann::json& d : domains) {
      if (Field(d, "domain") == domain) chosen = &d;
    }
    if (chosen == nullptr) {
      return Usage("--domain", absl::StrCat(domain, " is not in ", manifest_path, " (it has ",
                                            absl::StrJoin(names, ", "), ")"));
    }
  }
  PkiDefaults out;
  out.trust_domain = Field(*chosen, "domain");
  out.realm = Field(*chosen, "realm");
  if (!chosen->contains("entries") || !(*chosen)["entries"].is_array()) {
    return Usage("--pki",
                 absl::StrCat(manifest_path, ": domain ", out.trust_domain, " has no entries"));
  }
  const nlohmann::json& entries = (*chosen)["entries"];
  const nlohmann::json* admin = FindEntry(entries, "admin", "");
  const nlohmann::json* root = FindEntry(entries, "root_ca", "");
  const nlohmann::json* control = FindEntry(entries, "node", "control");
  auto missing = [&](absl::string_view what) {
    return Usage("--pki",
                 absl::StrCat(manifest_path, ": domain ", out.trust_domain, " has no ", what));
  };
  if (admin == nullptr) return missing("admin certificate");
  if (root == nullptr) return missing("root certificate");
  if (control == nullptr) return missing("control-plane node certificate");
  out.admin_certificate_file = (fs::path(dir) / Field(*admin, "cert")).string();
  out.admin_key_file = (fs::path(dir) / Field(*admin, "key")).string();
  out.root_certificate_file = (fs::path(dir) / Field(*root, "cert")).string();
  out.control_server_name = Field(*control, "dns_name");
  if (out.control_server_name.empty()) return missing("control-plane dns name");
  return out;
}

void FillEmpty(std::string* value, const std::string& fallback) {
  if (value->empty()) *value = fallback;
}

}  // namespace

absl::StatusOr<std::string> ReadFlagFile(const std::string& path, absl::string_view flag) {
  if (path.empty()) return Usage(flag, "empty path");
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return Usage(flag, absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return Usage(flag, absl::StrCat(path, " is not a regular file"));
  if (static_cast<size_t>(st.st_size) > kMaxFlagFileBytes) {
    return Usage(flag, absl::StrCat(path, " is larger than 16 MiB"));
  }
  absl::StatusOr<std::string> text = ReadFileLimited(path, kMaxFlagFileBytes);
  if (!text.ok()) return Usage(flag, std::string(text.status().message()));
  return text;
}

absl::StatusOr<PkiDefaults> LoadPkiDefaults(const std::string& dir, const std::string& domain) {
  const std::string manifest_path = (fs::path(dir) / kManifestName).string();
  TF_ASSIGN_OR_RETURN(std::string text, ReadFlagFile(manifest_path, "--pki"));
  nlohmann::json manifest = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded()) {
    return Usage("--pki", absl::StrCat(manifest_path, ": not valid json"));
  }
  try {
    return DefaultsFromManifest(manifest, dir, manifest_path, domain);
  } catch (const nlohmann::json::exception& e) {
    return Usage("--pki", absl::StrCat(manifest_path, ": malformed manifest: ", e.what()));
  }
}

absl::Status CheckHostPort(absl::string_view address, absl::string_view flag) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return Usage(flag, absl::StrCat("\"", address, "\" is not host:port"));
  }
  absl::string_view host = address.substr(0, colon);
  if (host.front() == '[' && host.back() != ']') {
    return Usage(flag, absl::StrCat("\"", address, "\" is not [v6]:port"));
  }
  if (host.front() != '[' && host.find(':') != absl::string_view::npos) {
    return Usage(flag, absl::StrCat("\"", address, "\": write an ipv6 host as [v6]:port"));
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port == 0 || port > 65535) {
    return Usage(flag, absl::StrCat("\"", address, "\" has no port in 1..65535"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ControlClientOptions> ResolveConnection(const ConnectionFlags& flags) {
  ConnectionFlags f = flags;
  ControlClientOptions opts;
  if (!absl::ParseDuration(f.timeout, &opts.timeout) || opts.timeout <= absl::ZeroDuration()) {
    return Usage("--timeout",
                 absl::StrCat("\"", f.timeout, "\" is not a positive duration (e.g. 10s)"));
  }
  if (!f.pki_dir.empty()) {
    TF_ASSIGN_OR_RETURN(PkiDefaults d, LoadPkiDefaults(f.pki_dir, f.trust_domain));
    FillEmpty(&f.trust_domain, d.trust_domain);
    FillEmpty(&f.server_name, d.control_server_name);
    FillEmpty(&f.cert, d.admin_certificate_file);
    FillEmpty(&f.key, d.admin_key_file);
    FillEmpty(&f.ca, d.root_certificate_file);
  }
  if (f.control.empty()) {
    return Usage("--control", "required: the control plane's host:port (or set TF_CONTROL)");
  }
  TF_RETURN_IF_ERROR(CheckHostPort(f.control, "--control"));
  if (f.trust_domain.empty()) {
    return Usage("--domain", "required: the trust domain to administer (or set TF_DOMAIN)");
  }
  if (!pki::IsValidDnsName(f.trust_domain)) {
    return Usage("--domain", absl::StrCat("\"", f.trust_domain, "\" is not a dns name"));
  }
  if (f.server_name.empty()) {
    return Usage("--server-name", "required: the control plane's dns name (or use --pki)");
  }
  if (!pki::IsValidDnsName(f.server_name)) {
    return Usage("--server-name", absl::StrCat("\"", f.server_name, "\" is not a dns name"));
  }
  if (f.cert.empty()) return Usage("--cert", "required: the admin certificate (or use --pki)");
  if (f.key.empty()) return Usage("--key", "required: the admin key (or use --pki)");
  if (f.ca.empty()) return Usage("--ca", "required: the bootstrap root bundle (or use --pki)");
  TF_RETURN_IF_ERROR(ReadFlagFile(f.cert, "--cert").status());
  TF_RETURN_IF_ERROR(ReadFlagFile(f.key, "--key").status());
  TF_ASSIGN_OR_RETURN(opts.bootstrap_roots_pem, ReadFlagFile(f.ca, "--ca"));
  opts.address = f.control;
  opts.server_name = f.server_name;
  opts.trust_domain = f.trust_domain;
  opts.certificate_file = f.cert;
  opts.key_file = f.key;
  return opts;
}

}  // namespace trustfabric::client
