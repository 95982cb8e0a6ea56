// tfcontrol configuration; see control_config.h.
#include "server/control/control_config.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/config/yaml_proto.h"
#include "common/pki/spiffe.h"
#include "common/status/status.h"
#include "common/trust/validation.h"

namespace trustfabric::control {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", reason));
}

absl::Status Required(absl::string_view field, const std::string& value) {
  if (!value.empty()) return absl::OkStatus();
  return Invalid(field, "is required");
}

// "host:port" as trust::IsValidEndpointAddress, or with port 0.
bool IsListenAddress(const std::string& address) {
  if (absl::EndsWith(address, ":0")) {
    return trust::IsValidEndpointAddress(absl::StrCat(address.substr(0, address.size() - 2), ":1"));
  }
  return trust::IsValidEndpointAddress(address);
}

}  // namespace

absl::Status ValidateConfig(v1::ControlPlaneConfig* c) {
  TF_RETURN_IF_ERROR(Required("trust_domain", c->trust_domain()));
  if (!pki::IsValidDnsName(c->trust_domain())) {
    return Invalid("trust_domain", absl::StrCat(trust::QuoteForMessage(c->trust_domain()),
                                                " is not a valid trust domain"));
  }
  TF_RETURN_IF_ERROR(Required("realm", c->realm()));
  if (!trust::IsLowerCaseGuid(c->realm())) {
    return Invalid("realm",
                   absl::StrCat(trust::QuoteForMessage(c->realm()), " is not a lower-case guid"));
  }
  TF_RETURN_IF_ERROR(Required("listen.address", c->listen().address()));
  if (!IsListenAddress(c->listen().address())) {
    return Invalid("listen.address", absl::StrCat(trust::QuoteForMessage(c->listen().address()),
                                                  " is not a host:port"));
  }
  TF_RETURN_IF_ERROR(Required("identity.certificate_file", c->identity().certificate_file()));
  TF_RETURN_IF_ERROR(Required("identity.key_file", c->identity().key_file()));
  if (c->identity().refresh_interval_seconds() == 0) {
    c->mutable_identity()->set_refresh_interval_seconds(1);
  }
  TF_RETURN_IF_ERROR(Required("seed_root_name", c->seed_root_name()));
  if (!trust::IsValidObjectName(c->seed_root_name())) {
    return Invalid("seed_root_name",
                   absl::StrCat(trust::QuoteForMessage(c->seed_root_name()),
                                " is not a valid name (1..128 characters of [a-z0-9._-])"));
  }
  TF_RETURN_IF_ERROR(Required("seed_root_file", c->seed_root_file()));

  if (c->store().empty()) c->set_store("sqlite");
  if (c->store() == "etcd") {
    return Invalid("store", "etcd is not supported by this build; use sqlite");
  }
  if (c->store() != "sqlite") {
    return Invalid("store", absl::StrCat("unknown store ", trust::QuoteForMessage(c->store()),
                                         " (known: sqlite, etcd)"));
  }
  TF_RETURN_IF_ERROR(Required("sqlite_path", c->sqlite_path()));

  if (c->history_revisions() == 0) c->set_history_revisions(kDefaultHistoryRevisions);
  if (c->history_revisions() > kMaxHistoryRevisions) {
    return Invalid(
        "history_revisions",
        absl::StrCat(c->history_revisions(), " exceeds the maximum of ", kMaxHistoryRevisions));
  }
  if (!c->metrics_address().empty() && !IsListenAddress(c->metrics_address())) {
    return Invalid("metrics_address", absl::StrCat(trust::QuoteForMessage(c->metrics_address()),
                                                   " is not a host:port"));
  }
  if (c->log_level().empty()) c->set_log_level("info");
  const std::string& level = c->log_level();
  if (level != "debug" && level != "info" && level != "warn" && level != "error") {
    return Invalid("log_level", absl::StrCat(trust::QuoteForMessage(level),
                                             " is not one of debug, info, warn, error"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ControlPlaneConfig> LoadConfig(const std::string& path,
                                                  const std::vector<std::string>& overrides) {
  v1::ControlPlaneConfig config;
  if (!path.empty()) TF_RETURN_IF_ERROR(config::MergeYamlFile(path, &config));
  for (const std::string& o : overrides) {
    const size_t eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--set ", trust::QuoteForMessage(o), ": expected key=value"));
    }
    TF_RETURN_IF_ERROR(config::SetField(&config, o.substr(0, eq), o.substr(eq + 1)));
  }
  TF_RETURN_IF_ERROR(ValidateConfig(&config));
  return config;
}

}  // namespace trustfabric::control
